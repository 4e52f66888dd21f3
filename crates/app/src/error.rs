//! One table of error codes: code → HTTP status → type. Every refusal
//! tokenwise makes — at the gateway, in the API, later in the dashboard —
//! is an [`AppError`] with one of these codes; the HTTP edge only renders
//! it in the contract's shape `{"error": {"type", "code", "message", …}}`.
//! Structured fields (a budget refusal's `budget`, `scope`, `period`,
//! `remaining_usd`, `needed_usd`) travel beside the message, so no client
//! parses amounts out of text.

use serde_json::{Map, Value};
use tokenwise_core::Nanos;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    PolicyViolation,
    BudgetExceeded,
    RateLimited,
    InvalidRequest,
    /// The body is larger than `server.max_request_bytes` (413).
    TooLarge,
    /// No route takes this method at this path (405).
    MethodNotAllowed,
    /// The request's headers are larger than the server reads (431).
    HeadersTooLarge,
    Unauthorized,
    /// Nothing by that id (404), e.g. an exception that does not exist.
    NotFound,
    /// The thing is no longer in a state that allows it (409): an outcome
    /// already decided, a subject already appealed.
    Conflict,
    /// A pilot's question answered by someone outside its cohort (403).
    NotInCohort,
    /// A second answer about the same subject of a pilot in one week (409).
    AlreadyAnswered,
    /// The provider failed or sent something unusable (502).
    UpstreamError,
    /// The provider did not answer in time (504).
    UpstreamTimeout,
    /// Something on our side failed (500), e.g. the ledger is unreachable.
    Internal,
}

impl Code {
    /// Every code, for documents that list them (the OpenAPI error schema).
    pub const ALL: [Code; 15] = [
        Code::PolicyViolation,
        Code::BudgetExceeded,
        Code::RateLimited,
        Code::InvalidRequest,
        Code::TooLarge,
        Code::MethodNotAllowed,
        Code::HeadersTooLarge,
        Code::Unauthorized,
        Code::NotFound,
        Code::Conflict,
        Code::NotInCohort,
        Code::AlreadyAnswered,
        Code::UpstreamError,
        Code::UpstreamTimeout,
        Code::Internal,
    ];

    /// (HTTP status, contract code, error type).
    pub fn parts(self) -> (u16, &'static str, &'static str) {
        match self {
            Code::PolicyViolation => (403, "policy_violation", "permission_error"),
            Code::BudgetExceeded => (402, "budget_exceeded", "billing_error"),
            Code::RateLimited => (429, "rate_limited", "rate_limit_error"),
            Code::InvalidRequest => (400, "invalid_request", "invalid_request_error"),
            Code::TooLarge => (413, "invalid_request", "request_too_large"),
            Code::MethodNotAllowed => (405, "invalid_request", "invalid_request_error"),
            Code::HeadersTooLarge => (431, "invalid_request", "invalid_request_error"),
            Code::Unauthorized => (401, "unauthorized", "authentication_error"),
            Code::NotFound => (404, "not_found", "not_found_error"),
            Code::Conflict => (409, "conflict", "conflict_error"),
            Code::NotInCohort => (403, "not_in_cohort", "permission_error"),
            Code::AlreadyAnswered => (409, "already_answered", "conflict_error"),
            Code::UpstreamError => (502, "upstream_error", "api_error"),
            Code::UpstreamTimeout => (504, "upstream_error", "timeout_error"),
            Code::Internal => (500, "internal_error", "api_error"),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.parts().1
    }

    pub fn status(self) -> u16 {
        self.parts().0
    }
}

/// A refusal or failure. Boxed: it travels in every `Result` of the app,
/// and is built on the cold path only. Its fields read through `Deref`.
#[derive(Debug, Clone)]
pub struct AppError(Box<Problem>);

/// What an [`AppError`] says.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: Code,
    pub message: String,
    /// Sent as `retry-after` (a provider's 429).
    pub retry_after: Option<String>,
    pub request_id: Option<String>,
    /// Advice, also sent as `x-tokenwise-nudge`.
    pub nudge: Option<String>,
    /// For budget refusals: also `x-tokenwise-budget-remaining-usd`.
    pub remaining: Option<Nanos>,
    /// For a refused or failed call that names a task: what the task has
    /// cost so far, `x-tokenwise-task-cost-usd`.
    pub task_cost: Option<Nanos>,
    /// Extra fields inside `error`, beside type, code and message.
    pub fields: Map<String, Value>,
}

pub type AppResult<T> = Result<T, AppError>;

impl std::ops::Deref for AppError {
    type Target = Problem;

    fn deref(&self) -> &Problem {
        &self.0
    }
}

impl std::ops::DerefMut for AppError {
    fn deref_mut(&mut self) -> &mut Problem {
        &mut self.0
    }
}

impl AppError {
    pub fn new(code: Code, message: impl Into<String>) -> AppError {
        AppError(Box::new(Problem {
            code,
            message: message.into(),
            retry_after: None,
            request_id: None,
            nudge: None,
            remaining: None,
            task_cost: None,
            fields: Map::new(),
        }))
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(Code::InvalidRequest, message)
    }

    pub fn denied(message: impl Into<String>) -> AppError {
        AppError::new(Code::PolicyViolation, message)
    }

    /// A failure on our side whose `detail` (a database's or a parser's
    /// own words) is logged with a reference and never sent: the client
    /// reads only that something failed here, and the reference to quote.
    pub fn internal(detail: impl Into<String>) -> AppError {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        let reference = reference.get(..12).unwrap_or(&reference).to_string();
        tracing::error!(reference = %reference, detail = %detail.into(), "internal error");
        AppError::new(
            Code::Internal,
            format!("tokenwise failed on its side; the server's log has the details under reference {reference}"),
        )
        .with_field("reference", reference)
    }

    /// A failure on our side told in our own words (`message` must carry
    /// no text from a database, a parser or the system).
    pub fn failure(message: impl Into<String>) -> AppError {
        AppError::new(Code::Internal, message)
    }

    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(Code::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> AppError {
        AppError::new(Code::Conflict, message)
    }

    pub fn with_nudge(mut self, nudge: Option<&str>) -> AppError {
        self.nudge = nudge.map(str::to_string);
        self
    }

    /// With what the call's task has cost so far, if it names one.
    pub fn with_task_cost(mut self, so_far: Option<tokenwise_ledger::TaskSoFar>) -> AppError {
        self.task_cost = so_far.map(|t| t.cost);
        self
    }

    pub fn with_request_id(mut self, id: &str) -> AppError {
        self.request_id = Some(id.to_string());
        self
    }

    pub fn with_field(mut self, name: &str, value: impl Into<Value>) -> AppError {
        self.fields.insert(name.to_string(), value.into());
        self
    }

    /// The body alone (also sent as an SSE error event mid-stream). The
    /// top-level `"type": "error"` makes it a valid Anthropic error too.
    pub fn body(&self) -> Value {
        let (_, code, kind) = self.code.parts();
        let mut error = Map::new();
        error.insert("type".into(), kind.into());
        error.insert("code".into(), code.into());
        error.insert("message".into(), self.message.clone().into());
        error.insert("param".into(), Value::Null);
        for (k, v) in &self.fields {
            // `param` (the field at fault) may be set; the three never are.
            if k == "param" {
                error.insert(k.clone(), v.clone());
            } else {
                error.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let mut body = Map::new();
        body.insert("type".into(), "error".into());
        body.insert("error".into(), Value::Object(error));
        Value::Object(body)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for AppError {}

impl From<tokenwise_ledger::StoreError> for AppError {
    fn from(e: tokenwise_ledger::StoreError) -> AppError {
        // A conflict is the ledger refusing a second decision or a
        // duplicate, not a failure.
        if let tokenwise_ledger::StoreError::Conflict(what) = e {
            return AppError::conflict(what);
        }
        AppError::internal(format!("the ledger is unavailable: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sit_beside_the_contract_fields_and_never_replace_them() {
        let e = AppError::new(Code::BudgetExceeded, "no room")
            .with_field("budget", "per-person-daily")
            .with_field("code", "overridden?");
        let b = e.body();
        assert_eq!(b["error"]["code"], "budget_exceeded");
        assert_eq!(b["error"]["budget"], "per-person-daily");
        assert_eq!(b["type"], "error");
        assert_eq!(Code::TooLarge.status(), 413);
        let conflict =
            AppError::from(tokenwise_ledger::StoreError::Conflict("outcome out_1 is already validated".into()));
        assert_eq!((conflict.code.status(), conflict.code.as_str()), (409, "conflict"));
    }

    #[test]
    fn a_database_error_is_logged_never_sent() {
        let leak = "no such table: usage_events (SQLITE_ERROR) at /var/lib/tokenwise/secret.db";
        let e = AppError::from(tokenwise_ledger::StoreError::Backend(leak.into()));
        let sent = e.body().to_string();
        assert_eq!(e.code.status(), 500);
        assert!(!sent.contains("usage_events") && !sent.contains("secret.db"), "{sent}");
        let reference = e.fields["reference"].as_str().unwrap_or_default().to_string();
        assert_eq!(reference.len(), 12);
        assert!(e.message.contains(&reference), "{}", e.message);
    }
}
