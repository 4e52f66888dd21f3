//! OpenAI-compatible endpoints: chat completions, embeddings, models.

use super::{Endpoint, Shaped, read_prompt, serve};
use crate::error::ApiError;
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
use tokenwise_wire::{Api, Dialect};

const CHAT: Endpoint = Endpoint {
    operation: Operation::ChatCompletions,
    kind: ModelKind::Chat,
    format: WireFormat::Openai,
    api: Api::OpenAiChat,
    path: "/chat/completions",
};

const EMBEDDINGS: Endpoint = Endpoint {
    operation: Operation::Embeddings,
    kind: ModelKind::Embedding,
    format: WireFormat::Openai,
    api: Api::OpenAiEmbeddings,
    path: "/embeddings",
};

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(state, headers, body, CHAT, shape_chat).await
}

fn shape_chat(req: &mut Value, api: Api) -> Result<Shaped, ApiError> {
    let prompt = read_prompt(api, req)?;
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
    let translatable = tokenwise_wire::translate::translatable(req);
    Ok(Shaped { prompt, stream, dialect: Dialect::OpenAiChat { client_wants_usage }, translatable })
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(state, headers, body, EMBEDDINGS, shape_embeddings).await
}

fn shape_embeddings(req: &mut Value, api: Api) -> Result<Shaped, ApiError> {
    let prompt = read_prompt(api, req)?;
    Ok(Shaped { prompt, stream: false, dialect: Dialect::OpenAiEmbeddings, translatable: false })
}

/// The models this key may use: those of its use case (from the header or
/// the key's default; refused if its user may not use it), else those of
/// every use case its user may use.
pub async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let listed = async {
        let caller = auth::authenticate(&state.policy, state.store.as_ref(), &headers).await?;
        let policy = &state.policy;
        let named = headers.get(meta::USE_CASE).is_some() || caller.key.use_case.is_some();
        let mut ids: Vec<&String> = if named {
            meta::resolve(policy, &caller, &headers)?.use_case.allowed_models.iter().collect()
        } else {
            policy.use_cases_for(&caller.user).flat_map(|u| u.allowed_models.iter()).collect()
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
