//! OpenAI-compatible endpoints: chat completions, embeddings, models.

use super::{Dialect, Endpoint, Shaped, serve};
use crate::error::ApiError;
use crate::guard::{Slot, message_slots};
use crate::{AppState, auth, meta};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use tokenwise_ledger::Operation;
use tokenwise_policy::{ModelKind, WireFormat};

const CHAT: Endpoint = Endpoint {
    operation: Operation::ChatCompletions,
    kind: ModelKind::Chat,
    format: WireFormat::Openai,
    path: "/chat/completions",
};

const EMBEDDINGS: Endpoint = Endpoint {
    operation: Operation::Embeddings,
    kind: ModelKind::Embedding,
    format: WireFormat::Openai,
    path: "/embeddings",
};

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(state, headers, body, CHAT, shape_chat).await
}

fn shape_chat(req: &mut Value) -> Result<Shaped, ApiError> {
    let mut slots = Vec::new();
    if !message_slots(req, &mut slots) {
        return Err(ApiError::invalid("`messages` is required"));
    }
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let client_wants_usage = req.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    if stream {
        // Always meter streams: ask for the usage chunk; it is withheld
        // from clients that did not ask for it.
        match req.get_mut("stream_options").and_then(Value::as_object_mut) {
            Some(o) => {
                o.insert("include_usage".into(), Value::Bool(true));
            }
            None => req["stream_options"] = json!({"include_usage": true}),
        }
    }
    let translatable = super::translate::translatable(req);
    Ok(Shaped { slots, stream, dialect: Dialect::OpenAiChat { client_wants_usage }, translatable })
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(state, headers, body, EMBEDDINGS, shape_embeddings).await
}

fn shape_embeddings(req: &mut Value) -> Result<Shaped, ApiError> {
    let slot = |pointer: String, text: String| Slot { pointer, text };
    let slots: Vec<Slot> = match req.get("input") {
        Some(Value::String(s)) => vec![slot("/input".into(), s.clone())],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => slot(format!("/input/{i}"), s.clone()),
                // Pre-tokenised input holds no text to scan; for estimates,
                // one placeholder word per token id. The pointer leads to an
                // array, so redaction never writes there.
                Value::Array(ids) => slot(format!("/input/{i}/-"), " a".repeat(ids.len())),
                other => slot(format!("/input/{i}"), other.to_string()),
            })
            .collect(),
        _ => return Err(ApiError::invalid("`input` is required: a string or an array of strings")),
    };
    Ok(Shaped { slots, stream: false, dialect: Dialect::OpenAiEmbeddings, translatable: false })
}

/// The models this key may use: those of its use case (from the header or
/// the key's default), else those of every use case.
pub async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let listed = async {
        let caller = auth::authenticate(&state.policy, state.store.as_ref(), &headers).await?;
        let policy = &state.policy;
        let named = headers.get(meta::USE_CASE).is_some() || caller.key.use_case.is_some();
        let mut ids: Vec<&String> = if named {
            meta::resolve(policy, &caller, &headers)?.use_case.allowed_models.iter().collect()
        } else {
            policy.use_cases.values().flat_map(|u| u.allowed_models.iter()).collect()
        };
        ids.sort();
        ids.dedup();
        let models: Vec<&tokenwise_policy::Model> = ids.into_iter().filter_map(|id| policy.models.get(id)).collect();
        // The Anthropic SDK lists models at the same path, in its own shape.
        let body = if headers.contains_key("anthropic-version") {
            let data: Vec<Value> = models
                .iter()
                .map(|m| json!({"type": "model", "id": m.id, "display_name": m.id, "created_at": "1970-01-01T00:00:00Z"}))
                .collect();
            json!({"data": data, "has_more": false,
                   "first_id": models.first().map(|m| &m.id), "last_id": models.last().map(|m| &m.id)})
        } else {
            let data: Vec<Value> = models
                .iter()
                .map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.upstream}))
                .collect();
            json!({"object": "list", "data": data})
        };
        Ok::<_, ApiError>(axum::Json(body).into_response())
    };
    match listed.await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}
