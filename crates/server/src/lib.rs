//! The HTTP edge of tokenwise: the metered OpenAI/Anthropic-compatible
//! gateway under `/v1` and the JSON API under `/api/v1`, served by
//! `tokenwise serve`.

// Refusals carry their headers (retry-after, nudge, remaining budget) in the
// error value; it is built on the cold path only.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod auth;
pub mod budgets;
pub mod error;
pub mod gateway;
pub mod guard;
pub mod meta;
pub mod metering;
pub mod store;
pub mod tokenize;
pub mod upstream;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokenwise_ledger::{AuditAction, AuditDraft, Auditor, Recorder, Store};
use tokenwise_policy::Policy;

pub const REQUEST_ID: &str = "x-tokenwise-request-id";

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub policy: Arc<Policy>,
    pub store: Arc<dyn Store>,
    pub recorder: Recorder,
    pub upstreams: HashMap<String, Arc<upstream::UpstreamClient>>,
    pub guard: guard::Guard,
    pub auditor: Auditor,
    pub budgets: budgets::Budgets,
}

/// TLS to real providers uses rustls with the ring provider.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn router(state: Arc<AppState>) -> Router {
    let limit = usize::try_from(state.policy.server.max_request_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/v1/chat/completions", post(gateway::openai::chat_completions))
        .route("/v1/embeddings", post(gateway::openai::embeddings))
        .route("/v1/models", get(gateway::openai::models))
        .route("/v1/messages", post(gateway::anthropic::messages))
        .route("/api/v1/events", get(api::events::list))
        .route("/api/v1/check", post(api::check::check))
        .route("/api/v1/budgets", get(api::budgets::list))
        .route("/api/v1/exceptions", post(api::exceptions::create))
        .route("/api/v1/exceptions/{id}/approve", post(api::exceptions::approve))
        .route("/api/v1/exceptions/{id}/deny", post(api::exceptions::deny))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Serves the gateway on `listener` until `shutdown` resolves, then drains
/// in-flight requests and flushes the ledger. `policy_text` is hashed into
/// the audit log so every decision can be traced to the policy in force.
pub async fn serve(
    policy: Policy,
    policy_text: &str,
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    install_crypto();
    tokenize::warm_up();
    let mut upstreams = HashMap::new();
    for (id, u) in &policy.upstreams {
        upstreams.insert(
            id.clone(),
            Arc::new(upstream::UpstreamClient::new(u).with_context(|| format!("upstream `{id}`"))?),
        );
    }
    store
        .append_audit(&AuditDraft::new(
            "system",
            AuditAction::PolicyLoad,
            &policy.source.display().to_string(),
            serde_json::json!({"sha256": hex::encode(Sha256::digest(policy_text.as_bytes()))}),
        ))
        .await
        .context("cannot write to the audit log")?;
    let policy_lease = policy.server.hold_lease_secs;
    let guard = guard::Guard::new(&policy.dlp).context("cannot build the DLP scanner from the policy")?;
    let (recorder, writer) = Recorder::spawn(store.clone());
    let (auditor, audit_writer) = Auditor::spawn(store.clone());
    let state = Arc::new(AppState {
        policy: Arc::new(policy),
        store,
        recorder,
        upstreams,
        guard,
        auditor,
        budgets: budgets::Budgets::new(std::time::Duration::from_secs(policy_lease)),
    });
    tokio::spawn(budgets::maintain(Arc::downgrade(&state), Box::new(budgets::NoResults)));
    let app = router(state.clone());
    // Streams are many small writes: without TCP_NODELAY each can wait on
    // the client's delayed ACK (~40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("the server failed")?;
    // In-flight calls have finished; let the writer commit what is queued.
    drop(state);
    writer.await.context("the ledger writer failed")?;
    audit_writer.await.context("the audit writer failed")?;
    Ok(())
}
