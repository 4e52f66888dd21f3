//! One table of error codes: code → HTTP status → type. Every refusal the
//! gateway or the API makes goes through it, in the contract's shape
//! `{"error": {"type", "code", "message"}}`. The top-level `"type": "error"`
//! makes the same body a valid Anthropic error too, so both SDKs raise
//! their own exception classes with our code inside. A refusal may add
//! structured fields beside those three (a 402 names the budget, scope,
//! period and amounts), so no client parses them out of the message.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

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
    /// Extra members of the body's `error` object, after the contract's.
    fields: Map<String, Value>,
}

/// The members every error body has; extra fields never replace them.
const CONTRACT_FIELDS: [&str; 4] = ["type", "code", "message", "param"];

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
            request_id: None,
            nudge: None,
            remaining: None,
            fields: Map::new(),
        }
    }

    /// Adds a structured field to the body's `error` object. The contract's
    /// own members (`type`, `code`, `message`, `param`) cannot be replaced.
    pub fn with_field(mut self, name: &str, value: impl Into<Value>) -> ApiError {
        if !CONTRACT_FIELDS.contains(&name) {
            self.fields.insert(name.to_string(), value.into());
        }
        self
    }

    /// An extra field, if set.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
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
    pub fn body(&self) -> Value {
        let (_, code, kind) = self.code.parts();
        let mut error = Map::new();
        error.insert("type".into(), json!(kind));
        error.insert("code".into(), json!(code));
        error.insert("message".into(), json!(self.message));
        error.insert("param".into(), Value::Null);
        error.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        json!({"type": "error", "error": error})
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_sit_beside_the_contract_and_never_replace_it() {
        let e = ApiError::new(Code::BudgetExceeded, "no room")
            .with_field("budget", "per-person-daily")
            .with_field("needed_usd", "0.0015")
            .with_field("code", "overwritten")
            .with_field("message", 7);
        let b = e.body();
        assert_eq!(b["type"], "error");
        assert_eq!(b["error"]["code"], "budget_exceeded");
        assert_eq!(b["error"]["type"], "billing_error");
        assert_eq!(b["error"]["message"], "no room");
        assert_eq!(b["error"]["budget"], "per-person-daily");
        assert_eq!(b["error"]["needed_usd"], "0.0015");
        assert_eq!(b["error"].as_object().unwrap().len(), 6, "{b}");
        assert_eq!(e.field("budget"), Some(&json!("per-person-daily")));
        // Without extra fields, the body is exactly the contract's shape.
        let plain = ApiError::invalid("bad").body();
        assert_eq!(
            plain,
            json!({"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_request", "message": "bad", "param": null}})
        );
    }
}
