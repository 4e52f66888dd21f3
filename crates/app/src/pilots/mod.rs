//! Pilots: an incentive design tried on a cohort for a period, against a
//! control group (`[[pilots]]` in the policy). Governance lists them, reads
//! each one's report (`report`: what the incentive did to behaviour, beside
//! how the cohort felt about it), and promotes a pilot's reward model and
//! rules version to the org's default or ends it — once, audited. Scores
//! keep naming the rules version they were computed with, so the history
//! before and after a promotion stays comparable.

mod facts;
pub mod report;
pub mod shown;

pub use shown::{Seen, Shown};

use crate::App;
use crate::access::may_oversee;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokenwise_ledger::{AuditAction, AuditDraft, PilotDecision, Store};
use tokenwise_policy::{Pilot, Policy};

const WEEK: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A pilot as governance sees it in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PilotView {
    pub id: String,
    pub description: Option<String>,
    /// `scheduled`, `running`, `finished` (its dates are past, nothing
    /// decided), `promoted` or `ended`.
    pub status: String,
    /// First and last day, inclusive.
    pub start: String,
    pub end: String,
    pub cohort_teams: Vec<String>,
    pub cohort_users: Vec<String>,
    pub cohort_size: usize,
    pub control_size: usize,
    /// Whether the control group was named (else: everyone else who may
    /// use the pilot's use cases).
    pub control_named: bool,
    pub use_cases: Vec<String>,
    pub reward_model: String,
    pub rules_version: String,
    /// What the cohort is shown: its board's visibility, badges on or off.
    pub board: String,
    pub badges: bool,
    pub decision: Option<DecisionView>,
}

/// What governance decided.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    /// `promoted` or `ended`.
    pub decision: String,
    pub reward_model: String,
    pub rules_version: String,
    pub decided_by: String,
    /// RFC 3339.
    pub at: String,
}

impl From<PilotDecision> for DecisionView {
    fn from(d: PilotDecision) -> DecisionView {
        DecisionView {
            decision: d.decision,
            reward_model: d.reward_model,
            rules_version: d.rules_version,
            decided_by: d.decided_by,
            at: d.at.to_string(),
        }
    }
}

/// `[start, end)` of a pilot's days in the org's time zone: the first
/// day's midnight to the midnight after its last day.
pub fn window(policy: &Policy, p: &Pilot) -> (Timestamp, Timestamp) {
    let tz = &policy.org.time_zone;
    let at = |d: jiff::civil::Date| d.to_zoned_datetime(tz.clone()).map(|z| z.timestamp()).unwrap_or_default();
    let after = p.end.tomorrow().unwrap_or(p.end);
    (at(p.start), at(after))
}

fn status(policy: &Policy, p: &Pilot, decision: Option<&PilotDecision>, now: Timestamp) -> String {
    if let Some(d) = decision {
        return d.decision.clone();
    }
    let (start, end) = window(policy, p);
    match now {
        t if t < start => "scheduled",
        t if t < end => "running",
        _ => "finished",
    }
    .into()
}

pub(crate) fn view(policy: &Policy, p: &Pilot, decision: Option<PilotDecision>, now: Timestamp) -> PilotView {
    PilotView {
        id: p.id.clone(),
        description: p.description.clone(),
        status: status(policy, p, decision.as_ref(), now),
        start: p.start.to_string(),
        end: p.end.to_string(),
        cohort_teams: p.cohort_teams.clone(),
        cohort_users: p.cohort_users.clone(),
        cohort_size: p.cohort.len(),
        control_size: p.control.len(),
        control_named: p.control_named,
        use_cases: p.use_cases.clone(),
        reward_model: p.reward_model.as_str().into(),
        rules_version: p.rules_version.clone(),
        board: format!("{:?}", p.board).to_ascii_lowercase(),
        badges: p.badges,
        decision: decision.map(DecisionView::from),
    }
}

/// The policy's pilot `id`, or a 404 naming the pilots there are.
pub fn named<'p>(policy: &'p Policy, id: &str) -> AppResult<&'p Pilot> {
    policy.pilot(id).ok_or_else(|| {
        let known: Vec<&str> = policy.pilots.iter().map(|p| p.id.as_str()).collect();
        AppError::not_found(format!("no pilot `{id}` in the policy (pilots: {})", known.join(", ")))
    })
}

/// What governance decided about pilot `id`, if anything.
pub async fn decision_of(store: &dyn Store, id: &str) -> AppResult<Option<PilotDecision>> {
    let all = store.pilot_decisions().await.map_err(|e| AppError::internal(e.to_string()))?;
    Ok(all.into_iter().find(|d| d.pilot == id))
}

impl App {
    pub(crate) fn pilot_named(&self, id: &str) -> AppResult<&Pilot> {
        named(&self.policy, id)
    }

    pub(crate) async fn pilot_decision(&self, id: &str) -> AppResult<Option<PilotDecision>> {
        decision_of(self.store.as_ref(), id).await
    }

    /// Every pilot of the policy with its status (governance and admins).
    pub async fn pilots(&self, caller: &Caller) -> AppResult<Vec<PilotView>> {
        may_oversee(&caller.user)?;
        let decisions = self.store.pilot_decisions().await.map_err(|e| AppError::internal(e.to_string()))?;
        let now = self.clock.now();
        Ok(self
            .policy
            .pilots
            .iter()
            .map(|p| view(&self.policy, p, decisions.iter().find(|d| d.pilot == p.id).cloned(), now))
            .collect())
    }

    /// One pilot with its status, for anyone who may read its report.
    pub async fn pilot(&self, caller: &Caller, id: &str) -> AppResult<PilotView> {
        may_oversee(&caller.user)?;
        let p = self.pilot_named(id)?;
        Ok(view(&self.policy, p, self.pilot_decision(id).await?, self.clock.now()))
    }

    /// Makes the pilot's reward model and rules version the org's default
    /// (`promote`) or ends the pilot (`end`): once, by governance, audited.
    pub async fn decide_pilot(&self, caller: &Caller, id: &str, promote: bool) -> AppResult<PilotView> {
        may_oversee(&caller.user)?;
        let p = self.pilot_named(id)?;
        let now = self.clock.now();
        let d = PilotDecision {
            pilot: p.id.clone(),
            decision: if promote { "promoted" } else { "ended" }.into(),
            reward_model: p.reward_model.as_str().into(),
            rules_version: p.rules_version.clone(),
            decided_by: caller.user.id.clone(),
            at: now,
        };
        if !self.store.decide_pilot(&d).await.map_err(|e| AppError::internal(e.to_string()))? {
            let earlier = self.pilot_decision(id).await?.map_or_else(String::new, |e| format!(" ({})", e.decision));
            return Err(AppError::conflict(format!(
                "pilot `{id}` was already decided{earlier}: a pilot is decided once"
            )));
        }
        let action = if promote { AuditAction::PilotPromote } else { AuditAction::PilotEnd };
        let details = serde_json::json!({"reward_model": d.reward_model, "rules_version": d.rules_version});
        self.auditor.submit(AuditDraft::new(&caller.user.id, action, &p.id, details)).await;
        Ok(view(&self.policy, p, Some(d), now))
    }

    /// The reward model scores use when none is asked for: the last pilot
    /// promoted's, else `balanced`.
    pub async fn default_reward_model(&self) -> AppResult<tokenwise_scoring::Model> {
        let all = self.store.pilot_decisions().await.map_err(|e| AppError::internal(e.to_string()))?;
        Ok(shown::default_model(&all))
    }
}

/// Whole weeks (rounded up) from `from` to `to`, none if `to` is not after it.
pub(crate) fn weeks_between(from: Timestamp, to: Timestamp) -> u32 {
    let secs = to.duration_since(from).as_secs();
    if secs <= 0 {
        return 0;
    }
    u32::try_from(secs.div_euclid(WEEK.as_secs()) + i64::from(secs.rem_euclid(WEEK.as_secs()) != 0)).unwrap_or(0)
}
