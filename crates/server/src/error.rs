//! One table of error codes: code → HTTP status → type. Every refusal the
//! gateway or the API makes goes through it, in the contract's shape
//! `{"error": {"type", "code", "message"}}`. The top-level `"type": "error"`
//! makes the same body a valid Anthropic error too, so both SDKs raise
//! their own exception classes with our code inside.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    PolicyViolation,
    BudgetExceeded,
    RateLimited,
    InvalidRequest,
    /// The body is larger than `server.max_request_bytes` (413).
    TooLarge,
    Unauthorized,
    /// The provider failed or sent something unusable (502).
    UpstreamError,
    /// The provider did not answer in time (504).
    UpstreamTimeout,
    /// Something on our side failed (500), e.g. the ledger is unreachable.
    Internal,
}

impl Code {
    /// (HTTP status, contract code, error type).
    pub fn parts(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Code::PolicyViolation => (StatusCode::FORBIDDEN, "policy_violation", "permission_error"),
            Code::BudgetExceeded => (StatusCode::PAYMENT_REQUIRED, "budget_exceeded", "billing_error"),
            Code::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "rate_limit_error"),
            Code::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request", "invalid_request_error"),
            Code::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "request_too_large"),
            Code::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "authentication_error"),
            Code::UpstreamError => (StatusCode::BAD_GATEWAY, "upstream_error", "api_error"),
            Code::UpstreamTimeout => (StatusCode::GATEWAY_TIMEOUT, "upstream_error", "timeout_error"),
            Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "api_error"),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.parts().1
    }

    pub fn status(self) -> StatusCode {
        self.parts().0
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub retry_after: Option<HeaderValue>,
    pub request_id: Option<String>,
    /// Sent as `x-tokenwise-nudge` too.
    pub nudge: Option<String>,
    /// For budget refusals: `x-tokenwise-budget-remaining-usd`.
    pub remaining: Option<tokenwise_core::Nanos>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), retry_after: None, request_id: None, nudge: None, remaining: None }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::InvalidRequest, message)
    }

    pub fn with_nudge(mut self, nudge: Option<&str>) -> ApiError {
        self.nudge = nudge.map(str::to_string);
        self
    }

    pub fn with_request_id(mut self, id: &str) -> ApiError {
        self.request_id = Some(id.to_string());
        self
    }

    /// The body alone (also sent as an SSE error event mid-stream).
    pub fn body(&self) -> serde_json::Value {
        let (_, code, kind) = self.code.parts();
        json!({"type": "error", "error": {"type": kind, "code": code, "message": self.message, "param": null}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.code.status(), axum::Json(self.body())).into_response();
        if let Some(ra) = self.retry_after {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, ra);
        }
        if let Some(id) = self.request_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok()) {
            r.headers_mut().insert(crate::REQUEST_ID, id);
        }
        if let Some(n) = self.nudge.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
            r.headers_mut().insert(crate::gateway::NUDGE, n);
        }
        if let Some(v) = self.remaining.and_then(|n| HeaderValue::from_str(&n.to_usd_string()).ok()) {
            r.headers_mut().insert(crate::gateway::REMAINING, v);
        }
        r
    }
}

impl From<tokenwise_ledger::StoreError> for ApiError {
    fn from(e: tokenwise_ledger::StoreError) -> ApiError {
        tracing::error!(error = %e, "ledger error");
        ApiError::new(Code::Internal, format!("the ledger is unavailable: {e}"))
    }
}
