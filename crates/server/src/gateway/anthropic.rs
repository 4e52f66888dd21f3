//! The Anthropic-compatible endpoint: `POST /v1/messages`.

use super::{Endpoint, Shaped, read_prompt, serve};
use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use tokenwise_ledger::Operation;
use tokenwise_policy::{ModelKind, WireFormat};
use tokenwise_wire::{Api, Dialect};

const MESSAGES: Endpoint = Endpoint {
    operation: Operation::Messages,
    kind: ModelKind::Chat,
    format: WireFormat::Anthropic,
    api: Api::AnthropicMessages,
    path: "/v1/messages",
};

pub async fn messages(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(state, headers, body, MESSAGES, shape).await
}

fn shape(req: &mut Value, api: Api) -> Result<Shaped, ApiError> {
    let prompt = read_prompt(api, req)?;
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    Ok(Shaped { prompt, stream, dialect: Dialect::Anthropic, translatable: false })
}
