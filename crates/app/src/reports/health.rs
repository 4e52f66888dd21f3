//! `GET /api/v1/reports/health`: program health for a month, from the
//! daily rollup (calls per person, day, use case and template), the
//! period's outcomes and the prompts that began tasks of several teams —
//! never a scan of the raw events.

use super::internal;
use crate::App;
use crate::access::report_scope;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::scores::Period;
use serde::Deserialize;
use std::collections::BTreeMap;
use tokenwise_ledger::{OutcomeStatus, Store};
use tokenwise_policy::{Policy, Role};
use tokenwise_reports::health::{self, Activity, Bucket, Health, Input, Outcome, Task, Template};

/// `GET /api/v1/reports/health?period=&bucket=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HealthRequest {
    pub period: Option<String>,
    /// `week` (default) or `day`: the step of spend per outcome over time.
    pub bucket: Option<String>,
}

pub fn bucket(s: Option<&str>) -> AppResult<Bucket> {
    match s.unwrap_or("week") {
        "week" => Ok(Bucket::Week),
        "day" => Ok(Bucket::Day),
        other => Err(AppError::invalid(format!("bucket `{other}` is not one of week, day"))),
    }
}

/// The period's facts, of every team or one.
pub async fn input(
    store: &dyn Store,
    policy: &Policy,
    period: &Period,
    team: Option<&str>,
    step: Bucket,
) -> AppResult<Input> {
    let team_of = |user: &str| policy.users.get(user).map(|u| u.team.clone()).unwrap_or_default();
    let ours = |t: &str| team.is_none_or(|x| x == t);
    let rows = store.activity(period.start, period.end).await.map_err(internal)?;
    let activity: Vec<Activity> = rows
        .into_iter()
        .map(|r| Activity {
            team: team_of(&r.user_id),
            user: r.user_id,
            day: r.day,
            template: r.template,
            calls: r.calls,
            blocked: r.blocked,
            flagged: r.flagged,
            exception_calls: r.exception_calls,
            cost: r.cost,
        })
        .filter(|a| ours(&a.team))
        .collect();
    let day_of = |t: jiff::Timestamp| {
        let secs = (t.as_second() - period.start.as_second()).max(0) / 86_400;
        u16::try_from(secs).unwrap_or(u16::MAX)
    };
    let outcomes: Vec<Outcome> = store
        .outcomes_between(period.start, period.end)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|o| ours(&o.team_id))
        .map(|o| Outcome {
            day: day_of(o.reported_at),
            validated: o.status == OutcomeStatus::Validated,
            rejected: o.status == OutcomeStatus::Rejected,
            escalated: o.escalated,
            error: o.error,
            team: o.team_id,
        })
        .collect();
    let tasks: Vec<Task> = store
        .shared_prompts(period.start, period.end)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|t| ours(&t.team_id))
        .map(|t| Task { team: t.team_id, template: t.template, prompt_hash: Some(t.prompt_hash), count: t.tasks })
        .collect();
    let templates = policy
        .templates
        .values()
        .map(|t| Template {
            key: t.key(),
            id: t.id.clone(),
            author_team: policy.users.get(&t.author).map(|u| u.team.clone()),
            approved: t.approved,
            use_case: t.use_case.clone(),
            description: t.description.clone(),
        })
        .collect();
    let mut people: BTreeMap<String, u64> = BTreeMap::new();
    for u in policy.users.values().filter(|u| ours(&u.team)) {
        *people.entry(u.team.clone()).or_default() += 1;
    }
    let first_day = period.start.to_zoned_datetime(policy.org.time_zone.clone()).date();
    Ok(Input {
        period: period.label.clone(),
        first_day,
        days: period.days,
        bucket: step,
        activity,
        outcomes,
        tasks,
        templates,
        people,
    })
}

impl App {
    /// Whether `caller` may see program health of `team` (None: every
    /// team), and whether they see small teams' figures too (governance and
    /// admins): a team smaller than `min_group_size` is shown to them only.
    pub(crate) fn health_of(&self, caller: &Caller, team: Option<&str>) -> AppResult<bool> {
        let min = u64::from(self.policy.scoring.min_group_size);
        let size = |t: &str| self.policy.users.values().filter(|u| u.team == t).count() as u64;
        let privileged = matches!(caller.user.role, Role::Governance | Role::Admin);
        if let Some(t) = team.filter(|t| !privileged && size(t) < min) {
            return Err(AppError::denied(format!(
                "team `{t}` has fewer than {min} people: its figures are shown to governance only"
            )));
        }
        Ok(privileged)
    }

    /// Program health: finance, governance and admins see the org and
    /// every team; a manager their own team. Per-team figures of a team
    /// smaller than `min_group_size` are for governance and admins only.
    pub async fn health(&self, caller: &Caller, r: HealthRequest) -> AppResult<Health> {
        let team = report_scope(&caller.user)?;
        let step = bucket(r.bucket.as_deref())?;
        let period = self.report_period(r.period.as_deref())?;
        let min = u64::from(self.policy.scoring.min_group_size);
        let size = |t: &str| self.policy.users.values().filter(|u| u.team == t).count() as u64;
        let privileged = self.health_of(caller, team.as_deref())?;
        let input = input(self.store.as_ref(), &self.policy, &period, team.as_deref(), step).await?;
        let mut h = health::health(&input);
        if !privileged {
            let small = |t: &str| t != health::ORG && size(t) < min;
            h.adoption.retain(|r| !small(&r.team));
            h.adherence.retain(|r| !small(&r.team));
            h.escalation.retain(|r| !small(&r.team));
        }
        Ok(h)
    }
}
