//! Exceptions: a person asks for more room in a scope for a while, up to a
//! cap, for a reason from the policy's list; the manager of the team
//! concerned or governance approves or denies it (never the person who
//! asked, never for themselves); approvers list what waits for them. Every
//! step goes to the audit log.

use crate::App;
use crate::access::{Sight, may_decide, scope_exists, why_no_exception, why_not_decide};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokenwise_core::{Nanos, Scope};
use tokenwise_ledger::{AuditAction, AuditDraft, Exception, ExceptionStatus, from_micros, to_micros};

/// The longest justification an exception may give (characters).
pub const MAX_JUSTIFICATION_CHARS: usize = 2_000;
/// The most models an exception may name.
pub const MAX_MODELS: usize = 64;

/// `POST /api/v1/exceptions`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionAsk {
    /// `user:ID`, `team:ID`, `project:ID`, `use_case:ID` or `org`.
    pub scope: String,
    pub reason_code: String,
    pub justification: String,
    /// How long it lasts once approved: hours or days.
    #[serde(default)]
    pub duration_hours: Option<f64>,
    #[serde(default)]
    pub duration_days: Option<f64>,
    /// Dollars, as a decimal string or number.
    pub cap_usd: Value,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub data_class: Option<String>,
}

/// `GET /api/v1/exceptions?status=&scope=&mine=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExceptionFilter {
    pub status: Option<String>,
    pub scope: Option<String>,
    /// Only those the caller may decide (what waits for them).
    #[serde(default)]
    pub decidable: Option<bool>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExceptionList {
    pub exceptions: Vec<ExceptionView>,
}

/// An exception as people see it: money as an exact decimal string.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExceptionView {
    pub id: String,
    #[schema(value_type = String)]
    pub scope: Scope,
    pub reason_code: String,
    pub justification: String,
    pub cap_usd: String,
    pub duration_secs: i64,
    pub models: Vec<String>,
    pub data_class: Option<String>,
    pub status: ExceptionStatus,
    pub requested_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    pub decided_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_until: Option<Timestamp>,
}

impl From<&Exception> for ExceptionView {
    fn from(e: &Exception) -> ExceptionView {
        ExceptionView {
            id: e.id.clone(),
            scope: e.scope.clone(),
            reason_code: e.reason_code.clone(),
            justification: e.justification.clone(),
            cap_usd: e.cap.to_usd_string(),
            duration_secs: e.duration_secs,
            models: e.models.clone(),
            data_class: e.data_class.clone(),
            status: e.status,
            requested_by: e.requested_by.clone(),
            created_at: e.created_at,
            decided_by: e.decided_by.clone(),
            decided_at: e.decided_at,
            valid_until: e.valid_until,
        }
    }
}

/// What the audit log keeps of an exception at each step.
fn audit_details(e: &Exception) -> Value {
    json!({"scope": e.scope, "reason_code": e.reason_code, "justification": e.justification, "cap_usd": e.cap.to_usd_string(),
           "duration_secs": e.duration_secs, "models": e.models, "data_class": e.data_class, "status": e.status.as_str(),
           "valid_until": e.valid_until})
}

/// The newest this many are listed; older ones are read by id.
const LIST_LIMIT: u32 = 500;

fn parse_scope(text: &str) -> AppResult<Scope> {
    text.parse::<Scope>().map_err(|e| AppError::invalid(e.to_string()))
}

fn cap_of(v: &Value) -> AppResult<Nanos> {
    let cap = match v {
        Value::String(s) => Nanos::parse_usd(s),
        Value::Number(n) => {
            n.as_f64().map_or(Err(tokenwise_core::MoneyError::NotANumber(n.to_string())), Nanos::from_usd_f64)
        }
        other => Err(tokenwise_core::MoneyError::NotANumber(other.to_string())),
    }
    .map_err(|e| AppError::invalid(format!("cap_usd: {e}")))?;
    if cap <= Nanos::ZERO {
        return Err(AppError::invalid("cap_usd must be more than zero"));
    }
    Ok(cap)
}

impl App {
    /// Checks an ask against the policy: the scope exists, the reason is
    /// one of the policy's, the duration and cap are sensible.
    fn vet(&self, ask: &ExceptionAsk) -> AppResult<(Scope, i64, Nanos)> {
        let policy = &self.policy;
        let scope = parse_scope(&ask.scope)?;
        if !scope_exists(policy, &scope) {
            return Err(AppError::invalid(format!("`{scope}` is not in the policy")));
        }
        if let Some(why) = why_no_exception(policy, &scope) {
            return Err(AppError::denied(why));
        }
        if !policy.exceptions.reason_codes.contains(&ask.reason_code) {
            return Err(AppError::invalid(format!(
                "unknown reason code `{}`; the policy's: {}",
                ask.reason_code,
                policy.exceptions.reason_codes.join(", ")
            )));
        }
        if ask.justification.trim().len() < 10 {
            return Err(AppError::invalid("say why in a sentence: justification needs at least 10 characters"));
        }
        if ask.justification.chars().count() > MAX_JUSTIFICATION_CHARS {
            return Err(AppError::invalid(format!(
                "justification: at most {MAX_JUSTIFICATION_CHARS} characters; say why in a few sentences"
            ))
            .with_field("param", "justification"));
        }
        if ask.models.len() > MAX_MODELS {
            return Err(AppError::invalid(format!("models: at most {MAX_MODELS} models")).with_field("param", "models"));
        }
        let hours = match (ask.duration_hours, ask.duration_days) {
            (Some(h), None) => h,
            (None, Some(d)) => d * 24.0,
            _ => return Err(AppError::invalid("give duration_hours or duration_days")),
        };
        let max_hours = f64::from(policy.exceptions.max_days) * 24.0;
        if !(hours > 0.0 && hours <= max_hours) {
            return Err(AppError::invalid(format!("the duration must be more than 0 and at most {max_hours} hours")));
        }
        if let Some(m) = ask.models.iter().find(|m| !policy.models.contains_key(*m)) {
            return Err(AppError::invalid(format!("unknown model `{m}`")));
        }
        if let Some(c) = ask.data_class.as_ref().filter(|c| policy.classes.get(c).is_none()) {
            return Err(AppError::invalid(format!(
                "unknown data class `{c}`; known: {}",
                policy.classes.names().join(", ")
            )));
        }
        #[allow(clippy::cast_possible_truncation)]
        let secs = (hours * 3600.0).round() as i64;
        Ok((scope, secs, cap_of(&ask.cap_usd)?))
    }

    pub async fn request_exception(&self, caller: &Caller, ask: ExceptionAsk) -> AppResult<ExceptionView> {
        let (scope, duration_secs, cap) = self.vet(&ask)?;
        let e = Exception {
            id: Exception::new_id(),
            scope,
            reason_code: ask.reason_code,
            justification: ask.justification,
            requested_by: caller.user.id.clone(),
            status: ExceptionStatus::Pending,
            cap,
            duration_secs,
            models: ask.models,
            data_class: ask.data_class,
            created_at: from_micros(to_micros(self.clock.now())),
            decided_by: None,
            decided_at: None,
            valid_until: None,
        };
        self.store.insert_exception(&e).await?;
        let entry = AuditDraft::new(&caller.user.id, AuditAction::ExceptionRequest, &e.id, audit_details(&e));
        self.auditor.submit(entry).await;
        Ok(ExceptionView::from(&e))
    }

    /// Approves or denies a pending exception.
    pub async fn decide_exception(&self, caller: &Caller, id: &str, approve: bool) -> AppResult<ExceptionView> {
        // Not filtered by sight: one who may not decide is told who may.
        let Some(e) = self.store.exception(id).await? else {
            return Err(AppError::not_found(format!("no exception `{id}`")));
        };
        if let Some(why) = why_not_decide(&self.policy, &caller.user, &e.scope, &e.requested_by) {
            return Err(AppError::denied(why));
        }
        let Some(decided) = self.store.decide_exception(id, approve, &caller.user.id, self.clock.now()).await? else {
            return Err(AppError::invalid(format!("exception `{id}` is already {}", e.status.as_str())));
        };
        let action = if approve { AuditAction::ExceptionApprove } else { AuditAction::ExceptionDeny };
        self.auditor.submit(AuditDraft::new(&caller.user.id, action, id, audit_details(&decided))).await;
        Ok(ExceptionView::from(&decided))
    }

    /// One exception, if the caller asked for it, may decide it or may see
    /// its scope; otherwise it is as if it did not exist.
    pub async fn visible_exception(&self, caller: &Caller, id: &str) -> AppResult<Exception> {
        let found = self.store.exception(id).await?;
        found
            .filter(|e| self.may_see_exception(caller, e))
            .ok_or_else(|| AppError::not_found(format!("no exception `{id}`")))
    }

    pub async fn exception(&self, caller: &Caller, id: &str) -> AppResult<ExceptionView> {
        Ok(ExceptionView::from(&self.visible_exception(caller, id).await?))
    }

    fn may_see_exception(&self, caller: &Caller, e: &Exception) -> bool {
        e.requested_by == caller.user.id
            || Sight::of(&caller.user).sees_scope(&self.policy, &e.scope)
            || may_decide(&self.policy, &caller.user, &e.scope, &e.requested_by)
    }

    /// Exceptions the caller may see, newest first, by status and scope;
    /// `decidable` keeps only those waiting for the caller's decision.
    pub async fn exceptions(&self, caller: &Caller, f: ExceptionFilter) -> AppResult<ExceptionList> {
        let status = f
            .status
            .as_deref()
            .map(|s| s.parse::<ExceptionStatus>().map_err(|e| AppError::invalid(e.to_string())))
            .transpose()?;
        let scope = f.scope.as_deref().map(parse_scope).transpose()?;
        let scope = scope.as_ref().map(ToString::to_string);
        let all = self.store.list_exceptions(status, scope.as_deref(), LIST_LIMIT).await?;
        let decidable = f.decidable.unwrap_or(false);
        let shown = all
            .iter()
            .filter(|e| self.may_see_exception(caller, e))
            .filter(|e| {
                !decidable
                    || (e.status == ExceptionStatus::Pending
                        && may_decide(&self.policy, &caller.user, &e.scope, &e.requested_by))
            })
            .map(ExceptionView::from)
            .collect();
        Ok(ExceptionList { exceptions: shown })
    }
}
