//! The Anthropic-compatible endpoint: `POST /v1/messages`.

use super::{Call, Dialect, body_or_error, route, spawn_call};
use crate::error::{ApiError, Code};
use crate::metering::{Draft, DraftInput, content_text};
use crate::{AppState, auth, meta};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use jiff::Timestamp;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokenwise_ledger::{Operation, UsageEvent};
use tokenwise_policy::{ModelKind, WireFormat};

pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = UsageEvent::new_id();
    spawn_call(id.clone(), flow(state, headers, body, id)).await
}

async fn flow(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    id: String,
) -> Result<Response, ApiError> {
    let (started, ts) = (Instant::now(), Timestamp::now());
    let body = body_or_error(body, state.policy.server.max_request_bytes)?;
    let caller = auth::authenticate(&state.policy, state.store.as_ref(), &state.keys, &headers).await?;
    let mut req: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))?;
    if !req.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    let requested = req
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::invalid("`model` is required"))?;
    let mut texts: Vec<String> = req.get("system").map(content_text).into_iter().filter(|s| !s.is_empty()).collect();
    texts.extend(
        req.get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::invalid("`messages` is required"))?
            .iter()
            .map(|m| content_text(m.get("content").unwrap_or(&Value::Null))),
    );
    let policy = state.policy.clone();
    let meta = meta::resolve(&policy, &caller, &headers)?;
    let (model, price) = route(&policy, meta.use_case, &requested, ModelKind::Chat, WireFormat::Anthropic, ts)?;
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    req["model"] = Value::String(model.upstream_model.clone());
    let draft = Draft::new(DraftInput {
        id,
        ts,
        started,
        caller: &caller,
        meta: &meta,
        operation: Operation::Messages,
        requested_model: &requested,
        model,
        price,
        streamed: stream,
        prompt_texts: &texts,
    });
    let upstream = state
        .upstreams
        .get(&model.upstream)
        .cloned()
        .ok_or_else(|| ApiError::new(Code::Internal, format!("upstream `{}` is not configured", model.upstream)))?;
    let call = Call {
        upstream,
        state: state.clone(),
        draft,
        path: "/v1/messages",
        body: Bytes::from(serde_json::to_vec(&req).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?),
        client_headers: headers,
        dialect: Dialect::Anthropic,
        prompt: texts,
    };
    call.execute(stream).await
}
