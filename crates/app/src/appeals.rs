//! Appeals: the person whose outcome was rejected may contest the rejection
//! once, with a comment, and the subject of an anomaly flag may contest the
//! flag once. Governance decides — never the appellant, never the one who
//! took the decision appealed. Upholding an appeal validates the outcome in
//! the same step, or suppresses the flag for good (it is no longer listed,
//! alerted or shown on a score). Every step goes to the audit log.

use crate::App;
use crate::access::{Sight, why_not_decide_appeal};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokenwise_ledger::{
    Appeal, AppealDecision, AppealQuery, AppealStatus, AppealSubject, AuditAction, AuditDraft, Outcome, OutcomeStatus,
    StoreError, from_micros, to_micros,
};

/// A comment says why, in a sentence.
const MIN_COMMENT_CHARS: usize = 10;
const MAX_COMMENT_CHARS: usize = 2_000;
/// The newest this many are listed.
const LIST_LIMIT: u32 = 500;

/// `POST /api/v1/appeals`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealFiling {
    /// `outcome:ID` or `anomaly:ID`.
    pub subject: String,
    pub comment: String,
}

/// `POST /api/v1/appeals/{id}/decide`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealRuling {
    pub decision: AppealDecision,
    pub comment: String,
}

/// `GET /api/v1/appeals?status=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AppealFilter {
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppealList {
    pub appeals: Vec<AppealView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AppealView {
    pub id: String,
    /// `outcome:ID` or `anomaly:ID`.
    pub subject: String,
    pub appellant: String,
    pub comment: String,
    pub status: AppealStatus,
    #[schema(value_type = String, format = DateTime)]
    pub filed_at: Timestamp,
    pub decided_by: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    pub decision_comment: Option<String>,
}

impl From<&Appeal> for AppealView {
    fn from(a: &Appeal) -> AppealView {
        AppealView {
            id: a.id.clone(),
            subject: a.subject(),
            appellant: a.appellant.clone(),
            comment: a.comment.clone(),
            status: a.status,
            filed_at: a.filed_at,
            decided_by: a.decided_by.clone(),
            decided_at: a.decided_at,
            decision_comment: a.decision_comment.clone(),
        }
    }
}

fn comment(text: &str) -> AppResult<String> {
    let t = text.trim();
    let n = t.chars().count();
    if !(MIN_COMMENT_CHARS..=MAX_COMMENT_CHARS).contains(&n) {
        return Err(AppError::invalid(format!(
            "say why in a sentence: `comment` needs {MIN_COMMENT_CHARS} to {MAX_COMMENT_CHARS} characters"
        )));
    }
    Ok(t.to_string())
}

/// `outcome:ID` or `anomaly:ID` → what is appealed and its id.
fn subject(subject: &str) -> AppResult<(AppealSubject, &str)> {
    let bad = || AppError::invalid(format!("`subject` must be `outcome:ID` or `anomaly:ID`, not `{subject}`"));
    let (kind, id) = subject.split_once(':').ok_or_else(bad)?;
    let kind = kind.parse::<AppealSubject>().map_err(|e| AppError::invalid(e.to_string()))?;
    if id.trim().is_empty() {
        return Err(bad());
    }
    Ok((kind, id.trim()))
}

fn new_appeal(kind: AppealSubject, id: &str, caller: &Caller, comment: String, at: Timestamp) -> Appeal {
    Appeal {
        id: Appeal::new_id(),
        subject_kind: kind,
        subject_id: id.to_string(),
        appellant: caller.user.id.clone(),
        comment,
        status: AppealStatus::Open,
        filed_at: from_micros(to_micros(at)),
        decided_by: None,
        decided_at: None,
        decision_comment: None,
    }
}

impl App {
    /// The caller appeals the rejection of their own outcome, or a flag
    /// about them, once.
    pub async fn file_appeal(&self, caller: &Caller, f: AppealFiling) -> AppResult<AppealView> {
        let (kind, id) = subject(&f.subject)?;
        let comment = comment(&f.comment)?;
        if kind == AppealSubject::Anomaly {
            return self.appeal_anomaly(caller, id, comment).await;
        }
        let outcome = self.store.get_outcome(id).await?.filter(|o| self.may_see_outcome(caller, o));
        let Some(o) = outcome else {
            return Err(AppError::not_found(format!("no outcome `{id}`")));
        };
        if o.user_id != caller.user.id {
            return Err(AppError::denied(format!(
                "only `{}`, whose outcome it is, may appeal its rejection",
                o.user_id
            )));
        }
        if o.status != OutcomeStatus::Rejected {
            return Err(AppError::invalid(format!(
                "outcome `{id}` is {}: only a rejected outcome can be appealed",
                o.status
            )));
        }
        let appeal = new_appeal(AppealSubject::Outcome, &o.id, caller, comment, self.clock.now());
        match self.store.insert_appeal(&appeal).await {
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::conflict(format!(
                    "outcome `{id}` has been appealed already: a decision may be appealed once"
                )));
            }
            other => other?,
        }
        let details = json!({"subject": appeal.subject(), "comment": appeal.comment, "rejected_by": o.decided_by});
        self.auditor.submit(AuditDraft::new(&caller.user.id, AuditAction::AppealFile, &appeal.id, details)).await;
        Ok(AppealView::from(&appeal))
    }

    /// The subject of a flag contests it, once.
    async fn appeal_anomaly(&self, caller: &Caller, id: &str, comment: String) -> AppResult<AppealView> {
        let found = self.store.get_anomaly(id).await?;
        let Some(a) = found.filter(|a| crate::anomalies::sees(&self.policy, &caller.user, &a.user_id)) else {
            return Err(AppError::not_found(format!("no anomaly `{id}`")));
        };
        if a.user_id != caller.user.id {
            return Err(AppError::denied(format!("only `{}`, whom the flag is about, may appeal it", a.user_id)));
        }
        let appeal = new_appeal(AppealSubject::Anomaly, &a.id, caller, comment, self.clock.now());
        match self.store.insert_appeal(&appeal).await {
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::conflict(format!(
                    "anomaly `{id}` has been appealed already: a flag may be appealed once"
                )));
            }
            other => other?,
        }
        let details = json!({"subject": appeal.subject(), "comment": appeal.comment, "detector": a.detector,
                             "window": a.window});
        self.auditor.submit(AuditDraft::new(&caller.user.id, AuditAction::AppealFile, &appeal.id, details)).await;
        Ok(AppealView::from(&appeal))
    }

    /// Governance upholds (the outcome becomes validated, or the flag is
    /// suppressed) or dismisses an open appeal, once.
    pub async fn decide_appeal(&self, caller: &Caller, id: &str, r: AppealRuling) -> AppResult<AppealView> {
        let Some(appeal) = self.store.get_appeal(id).await? else {
            return Err(AppError::not_found(format!("no appeal `{id}`")));
        };
        let outcome = match appeal.subject_kind {
            AppealSubject::Outcome => self.store.get_outcome(&appeal.subject_id).await?,
            AppealSubject::Anomaly => None,
        };
        let decided_by = outcome.as_ref().and_then(|o| o.decided_by.as_deref());
        if let Some(why) = why_not_decide_appeal(&self.policy, &caller.user, &appeal.appellant, decided_by) {
            return Err(AppError::denied(why));
        }
        let note = comment(&r.comment)?;
        let decided = self
            .store
            .decide_appeal(id, r.decision, &caller.user.id, &note, self.clock.now())
            .await?
            .ok_or_else(|| AppError::not_found(format!("no appeal `{id}`")))?;
        self.audit_appeal_decision(caller, &decided, outcome.as_ref()).await;
        Ok(AppealView::from(&decided))
    }

    /// `appeal.decide`, and `outcome.validate` for the outcome an upheld
    /// appeal validated.
    async fn audit_appeal_decision(&self, caller: &Caller, a: &Appeal, outcome: Option<&Outcome>) {
        let who = &caller.user.id;
        let suppresses = (a.status == AppealStatus::Upheld && a.subject_kind == AppealSubject::Anomaly)
            .then(|| format!("anomaly:{}", a.subject_id));
        let details = json!({"subject": a.subject(), "appellant": a.appellant, "decision": a.status,
                             "comment": a.decision_comment, "suppresses": suppresses});
        self.auditor.submit(AuditDraft::new(who, AuditAction::AppealDecide, &a.id, details)).await;
        if let (AppealStatus::Upheld, Some(o)) = (a.status, outcome) {
            let details = json!({"user": o.user_id, "team": o.team_id, "task": o.task, "decision": "validated",
                                 "appeal": a.id, "overturns": o.decided_by});
            self.auditor.submit(AuditDraft::new(who, AuditAction::OutcomeValidate, &o.id, details)).await;
        }
    }

    /// Appeals newest first: one's own, those of people the caller may see
    /// (a manager their team's), all for governance.
    pub async fn appeals(&self, caller: &Caller, f: AppealFilter) -> AppResult<AppealList> {
        let status = f
            .status
            .as_deref()
            .map(|s| s.parse::<AppealStatus>().map_err(|e| AppError::invalid(e.to_string())))
            .transpose()?;
        let all = self.store.list_appeals(&AppealQuery { status, appellant: None, limit: LIST_LIMIT }).await?;
        let sight = Sight::of(&caller.user);
        let shown = all
            .iter()
            .filter(|a| a.appellant == caller.user.id || sight.sees_user(&self.policy, &a.appellant))
            .map(AppealView::from)
            .collect();
        Ok(AppealList { appeals: shown })
    }
}
