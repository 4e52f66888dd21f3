//! The metered gateway under `/v1`: OpenAI chat completions, responses,
//! embeddings and models, Anthropic messages and their token count. Each request goes through named steps
//! ([`flow`]): read → route → scan → hold → call → meter → record, and is
//! answered only once its usage event is durable.
//!
//! Each call runs in a task of its own, so a client that hangs up does not
//! abort the metering of a call the provider may already be billing: the
//! task finishes, records the event (marked `cancelled`), and only then ends.

mod call;
mod endpoints;
mod flow;
mod models;
mod outscan;
#[cfg(test)]
mod relay_bench;
mod stream;
#[cfg(test)]
mod streams;
pub mod upstream;

use anyhow::Context;
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use tokenwise_app::App;
use upstream::UpstreamClient;

/// The gateway's state: the application and a pooled client per upstream.
/// Cheap to clone (two pointers).
#[derive(Debug, Clone)]
pub struct Gateway {
    pub app: Arc<App>,
    upstreams: Arc<HashMap<String, Arc<UpstreamClient>>>,
}

impl FromRef<Gateway> for Arc<App> {
    fn from_ref(g: &Gateway) -> Arc<App> {
        g.app.clone()
    }
}

impl Gateway {
    /// One client per upstream of the policy, with its timeouts and
    /// credentials.
    pub fn new(app: Arc<App>) -> anyhow::Result<Gateway> {
        let mut upstreams = HashMap::new();
        for (id, u) in &app.policy.upstreams {
            let client = UpstreamClient::new(u).with_context(|| format!("upstream `{id}`"))?;
            upstreams.insert(id.clone(), Arc::new(client));
        }
        Ok(Gateway { app, upstreams: Arc::new(upstreams) })
    }
}

/// The `/v1` routes.
pub fn routes() -> Router<Gateway> {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/responses", post(responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/models", get(models::list))
}

async fn chat_completions(
    State(g): State<Gateway>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    flow::serve(g, headers, body, endpoints::CHAT, None).await
}

async fn responses(State(g): State<Gateway>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    flow::serve(g, headers, body, endpoints::RESPONSES, None).await
}

async fn embeddings(State(g): State<Gateway>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    flow::serve(g, headers, body, endpoints::EMBEDDINGS, None).await
}

// Anthropic's endpoints pass their query string on (Claude Code sends
// `?beta=true`); the OpenAI ones have none that means anything upstream.
async fn messages(
    State(g): State<Gateway>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    flow::serve(g, headers, body, endpoints::MESSAGES, query).await
}

async fn count_tokens(
    State(g): State<Gateway>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    flow::serve(g, headers, body, endpoints::COUNT_TOKENS, query).await
}

/// TLS to real providers uses rustls with the ring provider.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
