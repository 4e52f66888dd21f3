//! Header names of the interface contract, and reading the metadata
//! headers into the application's terms.

use axum::http::HeaderMap;
use tokenwise_app::AppError;
use tokenwise_app::integrations::SignedHeaders;
use tokenwise_app::meta::MetaHeaders;

pub const REQUEST_ID: &str = "x-tokenwise-request-id";
pub const COST: &str = "x-tokenwise-cost-usd";
pub const NUDGE: &str = "x-tokenwise-nudge";
pub const REMAINING: &str = "x-tokenwise-budget-remaining-usd";
/// What the call's task has cost so far, when it names one.
pub const TASK_COST: &str = "x-tokenwise-task-cost-usd";
pub const USE_CASE: &str = "x-tokenwise-use-case";
pub const TEMPLATE: &str = "x-tokenwise-template";
pub const TASK: &str = "x-tokenwise-task";
pub const TRACK: &str = "x-tokenwise-track";
pub const DESTINATION: &str = "x-tokenwise-destination";
/// Not in the contract: lets one key work across projects.
pub const PROJECT: &str = "x-tokenwise-project";
/// A signed post (an outcome from an integration): who signed it, when,
/// and `sha256=HEX` of `TIMESTAMP.BODY`.
pub const INTEGRATION: &str = "x-tokenwise-integration";
pub const TIMESTAMP: &str = "x-tokenwise-timestamp";
pub const SIGNATURE: &str = "x-tokenwise-signature";

/// A header's text, trimmed; None when absent or blank. UTF-8 is text
/// (a task or destination may be named in any language), other bytes not.
fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, AppError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => match std::str::from_utf8(v.as_bytes()) {
            Ok(s) if s.trim().is_empty() => Ok(None),
            Ok(s) => Ok(Some(s.trim())),
            Err(_) => Err(AppError::invalid(format!("header `{name}` is not valid text"))),
        },
    }
}

/// The `x-tokenwise-*` metadata a request sends.
pub fn meta(headers: &HeaderMap) -> Result<MetaHeaders<'_>, AppError> {
    Ok(MetaHeaders {
        use_case: header(headers, USE_CASE)?,
        template: header(headers, TEMPLATE)?,
        task: header(headers, TASK)?,
        track: header(headers, TRACK)?,
        destination: header(headers, DESTINATION)?,
        project: header(headers, PROJECT)?,
    })
}

/// The signature headers a request sends, if any.
pub fn signed(headers: &HeaderMap) -> Result<SignedHeaders<'_>, AppError> {
    Ok(SignedHeaders {
        integration: header(headers, INTEGRATION)?,
        timestamp: header(headers, TIMESTAMP)?,
        signature: header(headers, SIGNATURE)?,
    })
}
