//! Outcomes: a person reports a result of their work (a ticket resolved, a
//! pull request merged, hours saved), joined to the calls that produced it
//! by the task id those calls carried (`x-tokenwise-task`). Their team's
//! manager, governance or an admin validates or rejects it once — never the
//! person whose outcome it is. Integrations listed in the policy may post
//! outcomes signed with HMAC-SHA256 instead of an API key
//! ([`crate::integrations`]): workflow evidence, still pending until
//! validated. An outcome whose task no metered call of its person carried
//! is accepted but marked (`metered: false`), so scoring and anomaly
//! detection can tell. Every step goes to the audit log.

use crate::App;
use crate::access::{Sight, may_report_for, may_validate, narrow, why_not_validate};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::integrations::SignedBy;
use crate::meta::permit;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokenwise_core::Nanos;
use tokenwise_ledger::{
    AuditAction, AuditDraft, Outcome, OutcomeDecision, OutcomeQuery, OutcomeStatus, from_micros, to_micros,
};
use tokenwise_policy::{Policy, User};

/// Bounds on what a report may carry.
pub const MAX_TASK_CHARS: usize = 200;
pub const MAX_KIND_CHARS: usize = 64;
pub const MAX_EVIDENCE_CHARS: usize = 2_000;
/// One outcome worth more than this many hours, or dollars, is not one outcome.
pub const MAX_HOURS: f64 = 1_000.0;
pub const MAX_USD: i64 = 1_000_000;

/// `POST /api/v1/outcomes`: `value_hours` or `value_usd`, exactly one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeReport {
    /// The task id the calls were sent with.
    pub task: String,
    /// Whose work it is; the caller when left out (a signed post must say).
    #[serde(default)]
    pub user: Option<String>,
    pub use_case: String,
    /// e.g. `ticket_resolved`, `pr_merged`, `document_published`.
    pub kind: String,
    #[serde(default)]
    pub value_hours: Option<f64>,
    /// Dollars, as a decimal string or a number.
    #[serde(default)]
    pub value_usd: Option<Value>,
    #[serde(default)]
    pub evidence: Option<String>,
    /// 1–5.
    #[serde(default)]
    pub quality: Option<u8>,
    #[serde(default)]
    pub escalated: bool,
    #[serde(default)]
    pub error: bool,
}

/// The answer to a report: the contract's `id` and `status`, and whether a
/// metered call carried its task (an unmetered outcome is accepted but
/// marked).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutcomeReceipt {
    pub id: String,
    pub status: OutcomeStatus,
    pub metered: bool,
}

/// `POST /api/v1/outcomes/{id}/validate`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    pub decision: OutcomeDecision,
    /// The validator's rating, 1–5.
    #[serde(default)]
    pub quality: Option<u8>,
}

/// `GET /api/v1/outcomes?status=&user=&team=&task=&from=&to=&limit=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutcomeFilter {
    pub status: Option<String>,
    pub user: Option<String>,
    pub team: Option<String>,
    pub task: Option<String>,
    /// RFC 3339, inclusive (on the time it was reported).
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutcomeList {
    pub outcomes: Vec<OutcomeView>,
}

/// An outcome as people see it: its value as an exact decimal string.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutcomeView {
    pub id: String,
    pub task: String,
    pub user: String,
    pub team: String,
    pub use_case: String,
    pub kind: String,
    pub value_usd: String,
    /// As reported, when the value was given in hours.
    pub value_hours: Option<f64>,
    pub evidence: Option<String>,
    pub quality: Option<u8>,
    pub escalated: bool,
    pub error: bool,
    pub status: OutcomeStatus,
    pub reported_by: String,
    pub signed: bool,
    pub metered: bool,
    #[schema(value_type = String, format = DateTime)]
    pub reported_at: Timestamp,
    pub decided_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    pub decided_quality: Option<u8>,
}

impl From<&Outcome> for OutcomeView {
    fn from(o: &Outcome) -> OutcomeView {
        OutcomeView {
            id: o.id.clone(),
            task: o.task.clone(),
            user: o.user_id.clone(),
            team: o.team_id.clone(),
            use_case: o.use_case.clone(),
            kind: o.kind.clone(),
            value_usd: o.value.to_usd_string(),
            value_hours: o.value_hours(),
            evidence: o.evidence.clone(),
            quality: o.quality,
            escalated: o.escalated,
            error: o.error,
            status: o.status,
            reported_by: o.reported_by.clone(),
            signed: o.signed,
            metered: o.metered,
            reported_at: o.reported_at,
            decided_by: o.decided_by.clone(),
            decided_at: o.decided_at,
            decided_quality: o.decided_quality,
        }
    }
}

/// What the audit log keeps of an outcome when it is reported.
fn report_details(o: &Outcome) -> Value {
    json!({"task": o.task, "user": o.user_id, "team": o.team_id, "use_case": o.use_case, "kind": o.kind,
           "value_usd": o.value.to_usd_string(), "value_hours": o.value_hours(), "evidence": o.evidence,
           "quality": o.quality, "escalated": o.escalated, "error": o.error, "signed": o.signed,
           "metered": o.metered})
}

/// A report's fields, checked.
struct Vetted {
    task: String,
    kind: String,
    value: Nanos,
    hours_milli: Option<i64>,
    evidence: Option<String>,
    quality: Option<u8>,
}

fn printable(name: &str, v: &str, max: usize) -> AppResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(AppError::invalid(format!("`{name}` must be 1 to {max} printable characters")));
    }
    Ok(v.to_string())
}

fn kind_of(kind: &str) -> AppResult<String> {
    let ok = !kind.is_empty()
        && kind.len() <= MAX_KIND_CHARS
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(AppError::invalid(format!(
            "`kind` must be 1 to {MAX_KIND_CHARS} letters, digits, `_`, `-` or `.`, e.g. `ticket_resolved`"
        )));
    }
    Ok(kind.to_string())
}

pub(crate) fn rating(name: &str, q: Option<u8>) -> AppResult<Option<u8>> {
    match q {
        Some(q) if !(1..=5).contains(&q) => Err(AppError::invalid(format!("`{name}` must be from 1 to 5, not {q}"))),
        other => Ok(other),
    }
}

/// The outcome's worth: hours at the org's hour value (kept to the
/// thousandth of an hour, multiplied in integers), or dollars exactly.
fn value_of(policy: &Policy, hours: Option<f64>, usd: Option<&Value>) -> AppResult<(Nanos, Option<i64>)> {
    match (hours, usd) {
        (Some(h), None) => {
            if !(h.is_finite() && (0.0..=MAX_HOURS).contains(&h)) {
                return Err(AppError::invalid(format!("`value_hours` must be from 0 to {MAX_HOURS}, not {h}")));
            }
            #[allow(clippy::cast_possible_truncation)]
            let milli = (h * 1000.0).round() as i64;
            let value = i128::from(policy.org.hour_value.0) * i128::from(milli) / 1000;
            Ok((Nanos(i64::try_from(value).unwrap_or(i64::MAX)), Some(milli)))
        }
        (None, Some(v)) => {
            let value = match v {
                Value::String(s) => Nanos::parse_usd(s),
                Value::Number(n) => {
                    n.as_f64().map_or(Err(tokenwise_core::MoneyError::NotANumber(n.to_string())), Nanos::from_usd_f64)
                }
                other => Err(tokenwise_core::MoneyError::NotANumber(other.to_string())),
            }
            .map_err(|e| AppError::invalid(format!("value_usd: {e}")))?;
            if value > Nanos::from_whole_usd(MAX_USD) {
                return Err(AppError::invalid(format!("`value_usd` must be at most {MAX_USD}")));
            }
            Ok((value, None))
        }
        (Some(_), Some(_)) => Err(AppError::invalid("give `value_hours` or `value_usd`, not both")),
        (None, None) => Err(AppError::invalid("give the outcome's worth as `value_hours` or `value_usd`")),
    }
}

fn time(name: &str, v: Option<&str>) -> AppResult<Option<Timestamp>> {
    v.map(|s| {
        s.parse::<Timestamp>()
            .map_err(|_| AppError::invalid(format!("`{name}` must be an RFC 3339 time such as 2026-11-01T00:00:00Z")))
    })
    .transpose()
}

impl App {
    /// Checks a report against the policy: the use case exists and is one
    /// `user` may use, and every field is within bounds.
    fn vet_outcome(&self, user: &User, r: &OutcomeReport) -> AppResult<Vetted> {
        let policy = &self.policy;
        let Some(use_case) = policy.use_cases.get(&r.use_case) else {
            let known: Vec<&str> = policy.use_cases.keys().map(String::as_str).collect();
            return Err(AppError::invalid(format!("unknown use case `{}`; known: {}", r.use_case, known.join(", "))));
        };
        permit(policy, user, use_case)?;
        let evidence = match r.evidence.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) => Some(printable("evidence", e, MAX_EVIDENCE_CHARS)?),
        };
        let (value, hours_milli) = value_of(policy, r.value_hours, r.value_usd.as_ref())?;
        Ok(Vetted {
            task: printable("task", &r.task, MAX_TASK_CHARS)?,
            kind: kind_of(&r.kind)?,
            value,
            hours_milli,
            evidence,
            quality: rating("quality", r.quality)?,
        })
    }

    fn known_user(&self, id: &str) -> AppResult<&User> {
        self.policy.users.get(id).ok_or_else(|| AppError::invalid(format!("unknown user `{id}`")))
    }

    /// Checks, stores and audits an outcome of `user` reported by `reporter`.
    async fn record_outcome(
        &self,
        r: OutcomeReport,
        user: &User,
        reporter: &str,
        signed: bool,
    ) -> AppResult<OutcomeReceipt> {
        let v = self.vet_outcome(user, &r)?;
        let metered = self.store.task_is_metered(&v.task, &user.id).await?;
        let o = Outcome {
            id: Outcome::new_id(),
            task: v.task,
            user_id: user.id.clone(),
            team_id: user.team.clone(),
            use_case: r.use_case,
            kind: v.kind,
            value: v.value,
            value_hours_milli: v.hours_milli,
            evidence: v.evidence,
            quality: v.quality,
            escalated: r.escalated,
            error: r.error,
            status: OutcomeStatus::Pending,
            reported_by: reporter.to_string(),
            signed,
            reported_at: from_micros(to_micros(self.clock.now())),
            decided_by: None,
            decided_at: None,
            decided_quality: None,
            metered,
        };
        self.store.insert_outcome(&o).await?;
        self.auditor.submit(AuditDraft::new(reporter, AuditAction::OutcomeReport, &o.id, report_details(&o))).await;
        Ok(OutcomeReceipt { id: o.id, status: o.status, metered })
    }

    /// An outcome reported with an API key: the caller's own, or (as the
    /// manager of the person's team, governance or an admin) someone else's.
    pub async fn report_outcome(&self, caller: &Caller, r: OutcomeReport) -> AppResult<OutcomeReceipt> {
        let user = match r.user.as_deref() {
            None => caller.user.clone(),
            Some(id) => self.known_user(id)?.clone(),
        };
        if !may_report_for(&self.policy, &caller.user, &user) {
            let manager = self.policy.teams.get(&user.team).map(|t| t.manager.as_str()).unwrap_or("their manager");
            return Err(AppError::denied(format!(
                "`{}` may not report outcomes for `{}`: people report their own; `{manager}` (manager of {}), governance or an admin may report for them",
                caller.user.id, user.id, user.team
            )));
        }
        self.record_outcome(r, &user, &caller.user.id, false).await
    }

    /// An outcome posted by an integration whose signature over the body
    /// was checked ([`App::verify_signed`]); it must name its user.
    pub async fn report_signed_outcome(&self, by: SignedBy<'_>, r: OutcomeReport) -> AppResult<OutcomeReceipt> {
        let Some(id) = r.user.as_deref() else {
            return Err(AppError::invalid("a signed outcome names its `user`"));
        };
        let user = self.known_user(id)?.clone();
        self.record_outcome(r, &user, &by.reporter(), true).await
    }

    /// Validates or rejects a pending outcome: by the manager of its team,
    /// governance or an admin, never its own person; once (409 after).
    pub async fn validate_outcome(&self, caller: &Caller, id: &str, v: Validation) -> AppResult<OutcomeView> {
        // Not filtered by sight: one who may not decide is told who may.
        let Some(o) = self.store.get_outcome(id).await? else {
            return Err(AppError::not_found(format!("no outcome `{id}`")));
        };
        if let Some(why) = why_not_validate(&self.policy, &caller.user, &o.user_id, &o.team_id) {
            return Err(AppError::denied(why));
        }
        let quality = rating("quality", v.quality)?;
        let decided = self
            .store
            .decide_outcome(id, v.decision, &caller.user.id, quality, self.clock.now())
            .await?
            .ok_or_else(|| AppError::not_found(format!("no outcome `{id}`")))?;
        let action = match v.decision {
            OutcomeDecision::Validated => AuditAction::OutcomeValidate,
            OutcomeDecision::Rejected => AuditAction::OutcomeReject,
        };
        let details = json!({"user": decided.user_id, "team": decided.team_id, "task": decided.task,
                             "decision": v.decision, "quality": quality, "value_usd": decided.value.to_usd_string()});
        self.auditor.submit(AuditDraft::new(&caller.user.id, action, id, details)).await;
        Ok(OutcomeView::from(&decided))
    }

    pub(crate) fn may_see_outcome(&self, caller: &Caller, o: &Outcome) -> bool {
        o.reported_by == caller.user.id
            || Sight::of(&caller.user).sees_user(&self.policy, &o.user_id)
            || may_validate(&self.policy, &caller.user, &o.user_id, &o.team_id)
    }

    /// One outcome, if the caller may see it; otherwise as if it did not exist.
    pub async fn outcome(&self, caller: &Caller, id: &str) -> AppResult<OutcomeView> {
        let found = self.store.get_outcome(id).await?;
        found
            .filter(|o| self.may_see_outcome(caller, o))
            .map(|o| OutcomeView::from(&o))
            .ok_or_else(|| AppError::not_found(format!("no outcome `{id}`")))
    }

    /// Outcomes newest first, within what the caller may see (as events):
    /// members their own, managers their team's (`status=pending` is their
    /// backlog), governance, finance and admins all.
    pub async fn outcomes(&self, caller: &Caller, f: OutcomeFilter) -> AppResult<OutcomeList> {
        let (user_id, team_id) = narrow(&self.policy, &caller.user, f.user, f.team, "outcomes")?;
        let status = f
            .status
            .as_deref()
            .map(|s| s.parse::<OutcomeStatus>().map_err(|e| AppError::invalid(e.to_string())))
            .transpose()?;
        let q = OutcomeQuery {
            user_id,
            team_id,
            status,
            task: f.task,
            from: time("from", f.from.as_deref())?,
            to: time("to", f.to.as_deref())?,
            limit: f.limit.unwrap_or(100),
        };
        let found = self.store.list_outcomes(&q).await?;
        Ok(OutcomeList { outcomes: found.iter().map(OutcomeView::from).collect() })
    }
}
