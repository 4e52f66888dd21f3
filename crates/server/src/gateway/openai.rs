//! OpenAI-compatible endpoints: chat completions, embeddings, models.

use super::{Call, Dialect, body_or_error, route, spawn_call};
use crate::error::{ApiError, Code};
use crate::metering::{Draft, DraftInput, content_text};
use crate::{AppState, auth, meta};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use tokenwise_ledger::{Operation, UsageEvent};
use tokenwise_policy::{ModelKind, WireFormat};

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = UsageEvent::new_id();
    spawn_call(id.clone(), chat(state, headers, body, id)).await
}

fn object(body: &Bytes) -> Result<Value, ApiError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    Ok(v)
}

fn requested_model(req: &Value) -> Result<String, ApiError> {
    req.get("model").and_then(Value::as_str).map(str::to_string).ok_or_else(|| ApiError::invalid("`model` is required"))
}

fn upstream_of(
    state: &AppState,
    model: &tokenwise_policy::Model,
) -> Result<Arc<crate::upstream::UpstreamClient>, ApiError> {
    state
        .upstreams
        .get(&model.upstream)
        .cloned()
        .ok_or_else(|| ApiError::new(Code::Internal, format!("upstream `{}` is not configured", model.upstream)))
}

async fn chat(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: String,
) -> Result<Response, ApiError> {
    let (started, ts) = (Instant::now(), Timestamp::now());
    let body = body_or_error(body, state.policy.server.max_request_bytes)?;
    let caller = auth::authenticate(&state.policy, state.store.as_ref(), &state.keys, &headers).await?;
    let mut req = object(&body)?;
    let requested = requested_model(&req)?;
    let texts: Vec<String> = req
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid("`messages` is required"))?
        .iter()
        .map(|m| content_text(m.get("content").unwrap_or(&Value::Null)))
        .collect();
    let policy = state.policy.clone();
    let meta = meta::resolve(&policy, &caller, &headers)?;
    let (model, price) = route(&policy, meta.use_case, &requested, ModelKind::Chat, WireFormat::Openai, ts)?;
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let client_wants_usage = req.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    req["model"] = Value::String(model.upstream_model.clone());
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
    let draft = Draft::new(DraftInput {
        id,
        ts,
        started,
        caller: &caller,
        meta: &meta,
        operation: Operation::ChatCompletions,
        requested_model: &requested,
        model,
        price,
        streamed: stream,
        prompt_texts: &texts,
    });
    let call = Call {
        upstream: upstream_of(&state, model)?,
        state: state.clone(),
        draft,
        path: "/chat/completions",
        body: Bytes::from(serde_json::to_vec(&req).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?),
        client_headers: headers,
        dialect: Dialect::OpenAiChat { client_wants_usage },
        prompt: texts,
    };
    call.execute(stream).await
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = UsageEvent::new_id();
    spawn_call(id.clone(), embed(state, headers, body, id)).await
}

async fn embed(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: String,
) -> Result<Response, ApiError> {
    let (started, ts) = (Instant::now(), Timestamp::now());
    let body = body_or_error(body, state.policy.server.max_request_bytes)?;
    let caller = auth::authenticate(&state.policy, state.store.as_ref(), &state.keys, &headers).await?;
    let mut req = object(&body)?;
    let requested = requested_model(&req)?;
    let texts: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                // Pre-tokenised input: one placeholder word per token id.
                Value::Array(ids) => " a".repeat(ids.len()),
                other => other.to_string(),
            })
            .collect(),
        _ => return Err(ApiError::invalid("`input` is required: a string or an array of strings")),
    };
    let policy = state.policy.clone();
    let meta = meta::resolve(&policy, &caller, &headers)?;
    let (model, price) = route(&policy, meta.use_case, &requested, ModelKind::Embedding, WireFormat::Openai, ts)?;
    req["model"] = Value::String(model.upstream_model.clone());
    let draft = Draft::new(DraftInput {
        id,
        ts,
        started,
        caller: &caller,
        meta: &meta,
        operation: Operation::Embeddings,
        requested_model: &requested,
        model,
        price,
        streamed: false,
        prompt_texts: &texts,
    });
    let call = Call {
        upstream: upstream_of(&state, model)?,
        state: state.clone(),
        draft,
        path: "/embeddings",
        body: Bytes::from(serde_json::to_vec(&req).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?),
        client_headers: headers,
        dialect: Dialect::OpenAiEmbeddings,
        prompt: texts,
    };
    call.execute(false).await
}

/// The models this key may use: those of its use case (from the header or
/// the key's default), else those of every use case.
pub async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let listed = async {
        let caller = auth::authenticate(&state.policy, state.store.as_ref(), &state.keys, &headers).await?;
        let policy = &state.policy;
        let named = headers.get(meta::USE_CASE).is_some() || caller.key.use_case.is_some();
        let mut ids: Vec<&String> = if named {
            meta::resolve(policy, &caller, &headers)?.use_case.allowed_models.iter().collect()
        } else {
            policy.use_cases.values().flat_map(|u| u.allowed_models.iter()).collect()
        };
        ids.sort();
        ids.dedup();
        let data: Vec<Value> = ids
            .into_iter()
            .filter_map(|id| policy.models.get(id))
            .map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.upstream}))
            .collect();
        Ok::<_, ApiError>(axum::Json(json!({"object": "list", "data": data})).into_response())
    };
    match listed.await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}
