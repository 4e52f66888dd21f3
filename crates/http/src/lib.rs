//! The HTTP glue shared by the gateway (`/v1`), the JSON API (`/api/v1`)
//! and, later, the dashboard: an [`AppError`] rendered in the contract's
//! shape, the caller as an extractor, and JSON/query extractors whose
//! rejections are contract errors too. Nothing here decides anything; the
//! application layer does.

pub mod headers;

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tokenwise_app::{App, AppError, Caller, Code};

/// An application error on its way out as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

/// The contract's error response: status from the code table, body
/// `{"type": "error", "error": {...}}`, and the headers that go with it.
pub fn error_response(e: &AppError) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (status, axum::Json(e.body())).into_response();
    let h = r.headers_mut();
    if let Some(ra) = e.retry_after.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert(axum::http::header::RETRY_AFTER, ra);
    }
    set(h, headers::REQUEST_ID, e.request_id.as_deref());
    set(h, headers::NUDGE, e.nudge.as_deref());
    set(h, headers::REMAINING, e.remaining.map(|n| n.to_usd_string()).as_deref());
    set(h, headers::TASK_COST, e.task_cost.map(|n| n.to_usd_string()).as_deref());
    r
}

/// Sets a header when the value is present and valid header text.
pub fn set(h: &mut HeaderMap, name: &'static str, value: Option<&str>) {
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        h.insert(name, v);
    }
}

/// The API key a request presents: `Authorization: Bearer KEY` (OpenAI
/// SDKs) or `x-api-key: KEY` (Anthropic SDKs).
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        // The scheme is case-insensitive (RFC 9110): `Bearer`, `bearer`, `BEARER`.
        let v = v.trim();
        if let Some((scheme, k)) = v.split_once([' ', '\t'])
            && scheme.eq_ignore_ascii_case("bearer")
        {
            return Some(k.trim());
        }
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

impl<S> FromRequestParts<S> for Authed
where
    Arc<App>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Authed, ApiError> {
        let app = Arc::<App>::from_ref(state);
        Ok(Authed(app.authenticate(presented_key(&parts.headers)).await?))
    }
}

/// A JSON body whose rejection is a contract error naming what is wrong.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Json<T>, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(e) => Err(ApiError(json_rejection(&e))),
        }
    }
}

fn json_rejection(e: &JsonRejection) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::new(Code::TooLarge, "the request body is too large (server.max_request_bytes)");
    }
    AppError::invalid(format!("bad request body: {}", e.body_text()))
}

/// A JSON body already read as bytes (when the raw bytes matter too, as
/// for a signed request), or the contract's error naming what is wrong.
/// Errors read as the [`Json`] extractor's do (naming the field at fault).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    axum::Json::<T>::from_bytes(body).map(|axum::Json(v)| v).map_err(|e| json_rejection(&e))
}

/// Query parameters whose rejection is a contract error.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Query<T>, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(ApiError(query_rejection(&e))),
        }
    }
}

fn query_rejection(e: &QueryRejection) -> AppError {
    AppError::invalid(format!("bad query: {}", e.body_text()))
}

/// A raw body, or the contract's error for one too large or unreadable.
pub fn body_or_error(body: Result<Bytes, BytesRejection>, limit: u64) -> Result<Bytes, AppError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(
                Code::TooLarge,
                format!("the request body is larger than {limit} bytes (server.max_request_bytes)"),
            )
        } else {
            AppError::invalid(format!("cannot read the request body: {e}"))
        }
    })
}
