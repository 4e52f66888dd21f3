//! Exceptions: `POST /api/v1/exceptions` asks; `…/{id}/approve` and
//! `…/{id}/deny` decide (the manager of the team concerned, or governance;
//! never the requester, and never the person the exception is for). Every
//! step goes to the audit log.

use super::team_of;
use crate::error::{ApiError, Code};
use crate::{AppState, auth};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use tokenwise_core::Nanos;
use tokenwise_ledger::{AuditAction, AuditDraft, Exception, ExceptionStatus, from_micros, to_micros};
use tokenwise_policy::{Policy, Role, User};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// `user:ID`, `team:ID`, `project:ID`, `use_case:ID` or `org`.
    scope: String,
    reason_code: String,
    justification: String,
    /// How long it lasts once approved.
    #[serde(default)]
    duration_hours: Option<f64>,
    #[serde(default)]
    duration_days: Option<f64>,
    /// Dollars, as a decimal string or number.
    cap_usd: serde_json::Value,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    data_class: Option<String>,
}

fn respond(r: Result<serde_json::Value, ApiError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn scope_exists(policy: &Policy, scope: &str) -> bool {
    match scope.split_once(':') {
        None => scope == "org",
        Some(("user", id)) => policy.users.contains_key(id),
        Some(("team", id)) => policy.teams.contains_key(id),
        Some(("project", id)) => policy.projects.contains_key(id),
        Some(("use_case", id)) => policy.use_cases.contains_key(id),
        _ => false,
    }
}

/// Whether `scope` is `who` alone: an exception that benefits its decider.
fn is_self(who: &str, scope: &str) -> bool {
    scope.strip_prefix("user:") == Some(who)
}

fn may_decide(policy: &Policy, who: &User, scope: &str) -> bool {
    if is_self(&who.id, scope) {
        return false;
    }
    match who.role {
        Role::Governance | Role::Admin => true,
        Role::Manager => {
            team_of(policy, scope).is_some_and(|t| policy.teams.get(t).is_some_and(|team| team.manager == who.id))
        }
        _ => false,
    }
}

/// Who may decide an exception for `scope`, by name: the manager of the
/// team concerned, governance and admins; never those in `except` (the
/// caller, the requester) nor the person the exception is for.
fn deciders(policy: &Policy, scope: &str, except: &[&str]) -> String {
    let may = |id: &str| !except.contains(&id) && !is_self(id, scope);
    let manager = team_of(policy, scope)
        .and_then(|t| policy.teams.get(t))
        .filter(|t| may(&t.manager))
        .map(|t| format!("`{}` (manager of {}) or ", t.manager, t.id));
    let others: Vec<String> = policy
        .users
        .values()
        .filter(|u| matches!(u.role, Role::Governance | Role::Admin) && may(&u.id))
        .map(|u| format!("`{}`", u.id))
        .collect();
    format!("{}governance or an admin ({})", manager.unwrap_or_default(), others.join(", "))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<Ask>, JsonRejection>,
) -> Response {
    respond(
        async {
            let caller = auth::authenticate(&state.policy, state.store.as_ref(), &headers).await?;
            let Json(ask) = body.map_err(|e| ApiError::invalid(format!("bad exception request: {}", e.body_text())))?;
            let policy = &state.policy;
            if !scope_exists(policy, &ask.scope) {
                return Err(ApiError::invalid(format!(
                    "`{}` is not a scope; use user:ID, team:ID, project:ID, use_case:ID or org",
                    ask.scope
                )));
            }
            if !policy.exceptions.reason_codes.contains(&ask.reason_code) {
                return Err(ApiError::invalid(format!(
                    "unknown reason code `{}`; the policy's: {}",
                    ask.reason_code,
                    policy.exceptions.reason_codes.join(", ")
                )));
            }
            if ask.justification.trim().len() < 10 {
                return Err(ApiError::invalid("say why in a sentence: justification needs at least 10 characters"));
            }
            let hours = match (ask.duration_hours, ask.duration_days) {
                (Some(h), None) => h,
                (None, Some(d)) => d * 24.0,
                _ => return Err(ApiError::invalid("give duration_hours or duration_days")),
            };
            let max_hours = f64::from(policy.exceptions.max_days) * 24.0;
            if !(hours > 0.0 && hours <= max_hours) {
                return Err(ApiError::invalid(format!(
                    "the duration must be more than 0 and at most {max_hours} hours"
                )));
            }
            let cap = match &ask.cap_usd {
                serde_json::Value::String(s) => Nanos::parse_usd(s),
                serde_json::Value::Number(n) => {
                    n.as_f64().map_or(Err(tokenwise_core::MoneyError::NotANumber(n.to_string())), Nanos::from_usd_f64)
                }
                other => Err(tokenwise_core::MoneyError::NotANumber(other.to_string())),
            }
            .map_err(|e| ApiError::invalid(format!("cap_usd: {e}")))?;
            if cap <= Nanos::ZERO {
                return Err(ApiError::invalid("cap_usd must be more than zero"));
            }
            if let Some(m) = ask.models.iter().find(|m| !policy.models.contains_key(*m)) {
                return Err(ApiError::invalid(format!("unknown model `{m}`")));
            }
            if let Some(c) = ask.data_class.as_ref().filter(|c| policy.classes.get(c).is_none()) {
                return Err(ApiError::invalid(format!(
                    "unknown data class `{c}`; known: {}",
                    policy.classes.names().join(", ")
                )));
            }
            #[allow(clippy::cast_possible_truncation)]
            let duration_secs = (hours * 3600.0).round() as i64;
            let e = Exception {
                id: Exception::new_id(),
                scope: ask.scope,
                reason_code: ask.reason_code,
                justification: ask.justification,
                requested_by: caller.user.id.clone(),
                status: ExceptionStatus::Pending,
                cap,
                duration_secs,
                models: ask.models,
                data_class: ask.data_class,
                created_at: from_micros(to_micros(Timestamp::now())),
                decided_by: None,
                decided_at: None,
                valid_until: None,
            };
            state.store.insert_exception(&e).await?;
            state
                .auditor
                .submit(AuditDraft::new(&caller.user.id, AuditAction::ExceptionRequest, &e.id, exception_details(&e)))
                .await;
            Ok(exception_json(&e))
        }
        .await,
    )
}

fn exception_details(e: &Exception) -> serde_json::Value {
    json!({"scope": e.scope, "reason_code": e.reason_code, "justification": e.justification, "cap_usd": e.cap.to_usd_string(),
           "duration_secs": e.duration_secs, "models": e.models, "data_class": e.data_class, "status": e.status.as_str(),
           "valid_until": e.valid_until})
}

fn exception_json(e: &Exception) -> serde_json::Value {
    let mut v = exception_details(e);
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), json!(e.id));
        o.insert("requested_by".into(), json!(e.requested_by));
        o.insert("decided_by".into(), json!(e.decided_by));
        o.insert("decided_at".into(), json!(e.decided_at));
    }
    v
}

pub async fn approve(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    respond(decide(&state, &headers, &id, true).await)
}

pub async fn deny(State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    respond(decide(&state, &headers, &id, false).await)
}

async fn decide(state: &AppState, headers: &HeaderMap, id: &str, approve: bool) -> Result<serde_json::Value, ApiError> {
    let caller = auth::authenticate(&state.policy, state.store.as_ref(), headers).await?;
    let Some(e) = state.store.exception(id).await? else {
        return Err(ApiError::invalid(format!("no exception `{id}`")));
    };
    if e.requested_by == caller.user.id {
        return Err(ApiError::new(Code::PolicyViolation, "nobody decides their own exception"));
    }
    if !may_decide(&state.policy, &caller.user, &e.scope) {
        let who = deciders(&state.policy, &e.scope, &[&caller.user.id, &e.requested_by]);
        let why = if is_self(&caller.user.id, &e.scope) { "nobody decides an exception for themselves: " } else { "" };
        return Err(ApiError::new(
            Code::PolicyViolation,
            format!("{why}exceptions for `{}` are decided by {who}", e.scope),
        ));
    }
    let Some(decided) = state.store.decide_exception(id, approve, &caller.user.id, Timestamp::now()).await? else {
        return Err(ApiError::invalid(format!("exception `{id}` is already {}", e.status.as_str())));
    };
    let action = if approve { AuditAction::ExceptionApprove } else { AuditAction::ExceptionDeny };
    state.auditor.submit(AuditDraft::new(&caller.user.id, action, id, exception_details(&decided))).await;
    Ok(exception_json(&decided))
}
