//! The Anthropic-compatible endpoint: `POST /v1/messages`.

use super::{Dialect, Endpoint, Shaped, serve};
use crate::AppState;
use crate::error::ApiError;
use crate::guard::{content_slots, message_slots};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use tokenwise_ledger::Operation;
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
    serve(state, headers, body, MESSAGES, shape).await
}

fn shape(req: &mut Value) -> Result<Shaped, ApiError> {
    let mut slots = Vec::new();
    content_slots(req.get("system"), "/system", &mut slots);
    if !message_slots(req, &mut slots) {
        return Err(ApiError::invalid("`messages` is required"));
    }
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(Shaped { slots, stream, dialect: Dialect::Anthropic, translatable: false })
}
