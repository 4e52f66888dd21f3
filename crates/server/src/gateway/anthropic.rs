//! The Anthropic-compatible endpoint: `POST /v1/messages`.

use super::{Dialect, Endpoint, Shaped, handle, spawn_call};
use crate::AppState;
use crate::error::ApiError;
use crate::metering::content_text;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use tokenwise_ledger::{Operation, UsageEvent};
use tokenwise_policy::{ModelKind, WireFormat};

const MESSAGES: Endpoint = Endpoint {
    operation: Operation::Messages,
    kind: ModelKind::Chat,
    format: WireFormat::Anthropic,
    path: "/v1/messages",
};

pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let id = UsageEvent::new_id();
    spawn_call(id.clone(), handle(state, headers, body, id, MESSAGES, shape)).await
}

fn shape(req: &mut Value) -> Result<Shaped, ApiError> {
    let mut texts: Vec<String> = req.get("system").map(content_text).into_iter().filter(|s| !s.is_empty()).collect();
    texts.extend(
        req.get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| ApiError::invalid("`messages` is required"))?
            .iter()
            .map(|m| content_text(m.get("content").unwrap_or(&Value::Null))),
    );
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(Shaped { texts, stream, dialect: Dialect::Anthropic })
}
