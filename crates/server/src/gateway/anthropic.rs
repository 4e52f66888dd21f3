//! The Anthropic-compatible endpoint: `POST /v1/messages`.

use super::{Dialect, Endpoint, Shaped, serve};
use crate::AppState;
use crate::error::ApiError;
use crate::guard::prompt_slots;
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
    let slots = prompt_slots(req)?;
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(Shaped { slots, stream, dialect: Dialect::Anthropic, translatable: false })
}
