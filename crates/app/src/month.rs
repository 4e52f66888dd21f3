//! A period at a glance, for the dashboard: what one person or one team
//! spent each day (from the daily activity rollup, never the raw events),
//! and each of a person's tasks beside the usual cost of its template or
//! use case, with the approved template that usually costs less. Who may
//! read what is `access`'s: a person's own, a manager's team, everything
//! for governance, finance and admins.

use crate::App;
use crate::access::{Sight, narrow};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::scores::Period;
use crate::tasks::Baselines;
use jiff::Timestamp;
use serde::Serialize;
use tokenwise_core::Nanos;
use tokenwise_policy::Policy;

/// Whose spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendOf {
    User(String),
    Team(String),
}

/// Spend per day of a period (index 0 is its first day, in the org's time).
#[derive(Debug, Clone, Serialize)]
pub struct DailySpend {
    pub period: String,
    #[serde(skip)]
    pub start: Timestamp,
    pub days: Vec<Nanos>,
    pub calls: u64,
    pub total: Nanos,
    /// Whole days of the period gone by at the time of reading (0..=days).
    pub elapsed_days: u16,
}

/// One task of a person in a period, beside the usual.
#[derive(Debug, Clone, Serialize)]
pub struct TaskCost {
    pub task: String,
    pub use_case: Option<String>,
    pub template: Option<String>,
    /// Whether the template the task began with is an approved one.
    pub approved: bool,
    pub calls: u64,
    pub cost: Nanos,
    pub last_call: Timestamp,
    /// The usual cost it is compared with, and what it is of (`template
    /// X@1` or `use case Y`); None when no usual is known yet.
    pub usual: Option<Nanos>,
    pub usual_of: Option<String>,
    /// The approved template of the use case that usually costs least,
    /// and its usual, when the task used none or an unapproved one and it
    /// costs less than the usual compared with.
    pub suggested: Option<String>,
    pub suggested_usual: Option<Nanos>,
}

fn period_of(app: &App, label: Option<&str>) -> AppResult<Period> {
    match label {
        Some(l) => Period::parse(&app.policy, l),
        None => Ok(Period::containing(&app.policy, app.clock.now())),
    }
}

/// `task` beside the baselines.
pub fn compare(policy: &Policy, b: &Baselines, t: TaskCost) -> TaskCost {
    let by_template = t.template.as_deref().and_then(|k| b.templates.get(k).map(|u| (format!("template {k}"), *u)));
    let by_use_case = || t.use_case.as_deref().and_then(|k| b.use_cases.get(k).map(|u| (format!("use case {k}"), *u)));
    let Some((of, usual)) = by_template.or_else(by_use_case) else { return t };
    let cheaper = (!t.approved)
        .then(|| {
            policy
                .templates
                .values()
                .filter(|x| x.approved && Some(x.use_case.as_str()) == t.use_case.as_deref())
                .filter_map(|x| b.templates.get(&x.key()).map(|u| (u.median, x.key())))
                .filter(|(m, _)| *m < usual.median)
                .min()
        })
        .flatten();
    TaskCost {
        usual: Some(usual.median),
        usual_of: Some(of),
        suggested: cheaper.as_ref().map(|(_, k)| k.clone()),
        suggested_usual: cheaper.map(|(m, _)| m),
        ..t
    }
}

impl App {
    /// What `who` spent each day of a period: a person the caller may see,
    /// or a team (a manager's own; governance, finance and admins any).
    pub async fn daily_spend(&self, caller: &Caller, who: &SpendOf, period: Option<&str>) -> AppResult<DailySpend> {
        let policy = &self.policy;
        match who {
            SpendOf::User(u) if !Sight::of(&caller.user).sees_user(policy, u) => {
                return Err(AppError::denied("your role may not read another person's spend"));
            }
            SpendOf::Team(t) => {
                narrow(policy, &caller.user, None, Some(t.clone()), "spend")?;
            }
            SpendOf::User(_) => {}
        }
        let p = period_of(self, period)?;
        let rows = self.store.activity(p.start, p.end).await?;
        let mut days = vec![Nanos::ZERO; usize::from(p.days)];
        let mut calls = 0;
        for r in rows.iter().filter(|r| match who {
            SpendOf::User(u) => &r.user_id == u,
            SpendOf::Team(t) => policy.users.get(&r.user_id).is_some_and(|x| &x.team == t),
        }) {
            if let Some(d) = days.get_mut(usize::from(r.day)) {
                *d = d.saturating_add(r.cost);
            }
            calls += r.calls;
        }
        let total = days.iter().fold(Nanos::ZERO, |a, d| a.saturating_add(*d));
        let now = self.clock.now().clamp(p.start, p.end);
        let secs = now.duration_since(p.start).as_secs().max(0);
        let gone = (secs + 86_399) / 86_400;
        let elapsed_days = u16::try_from(gone).unwrap_or(p.days).min(p.days);
        Ok(DailySpend { period: p.label, start: p.start, days, calls, total, elapsed_days })
    }

    /// A person's tasks whose last call fell in the period, newest first
    /// (at most `limit`, read by the person's key), each beside the usual
    /// cost of its kind.
    pub async fn task_costs(
        &self,
        caller: &Caller,
        user: &str,
        period: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<TaskCost>> {
        if !Sight::of(&caller.user).sees_user(&self.policy, user) {
            return Err(AppError::denied("your role may not read another person's tasks"));
        }
        let p = period_of(self, period)?;
        let rows = self.store.person_tasks(user, p.start, p.end, limit).await?;
        let baselines = self.task_baselines.current();
        let out: Vec<TaskCost> = rows
            .into_iter()
            .map(|t| {
                let approved =
                    t.template.as_deref().and_then(|k| self.policy.templates.get(k)).is_some_and(|x| x.approved);
                let cost = TaskCost {
                    task: t.task,
                    use_case: t.use_case,
                    template: t.template,
                    approved,
                    calls: t.calls,
                    cost: t.cost,
                    last_call: t.last_ts,
                    usual: None,
                    usual_of: None,
                    suggested: None,
                    suggested_usual: None,
                };
                compare(&self.policy, &baselines, cost)
            })
            .collect();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tasks::Usual;
    use crate::testing::acme;

    fn task(template: Option<&str>, approved: bool, cost: i64) -> TaskCost {
        TaskCost {
            task: "T-1".into(),
            use_case: Some("support-reply".into()),
            template: template.map(String::from),
            approved,
            calls: 3,
            cost: Nanos(cost),
            last_call: Timestamp::UNIX_EPOCH,
            usual: None,
            usual_of: None,
            suggested: None,
            suggested_usual: None,
        }
    }

    fn baselines() -> Baselines {
        let usual = |n: i64| Usual { median: Nanos(n), tasks: 9 };
        Baselines {
            templates: [
                ("support-refund@3".to_string(), usual(3_500_000)),
                ("support-refund@4".to_string(), usual(9_000_000)),
            ]
            .into(),
            use_cases: [("support-reply".to_string(), usual(5_000_000))].into(),
            at: None,
        }
    }

    #[test]
    fn a_task_is_compared_with_its_template_else_its_use_case_and_pointed_to_a_cheaper_approved_one() {
        let (p, b) = (acme(), baselines());
        // Its template's usual first; an approved template needs no advice.
        let t = compare(&p, &b, task(Some("support-refund@3"), true, 40_000_000));
        assert_eq!((t.usual, t.usual_of.as_deref()), (Some(Nanos(3_500_000)), Some("template support-refund@3")));
        assert_eq!(t.suggested, None);
        // An unapproved template: the approved one that usually costs less.
        let t = compare(&p, &b, task(Some("support-refund@4"), false, 40_000_000));
        assert_eq!(t.usual, Some(Nanos(9_000_000)));
        assert_eq!((t.suggested.as_deref(), t.suggested_usual), (Some("support-refund@3"), Some(Nanos(3_500_000))));
        // No template: the use case's usual, and the same advice.
        let t = compare(&p, &b, task(None, false, 1_000_000));
        assert_eq!(t.usual_of.as_deref(), Some("use case support-reply"));
        assert_eq!(t.suggested.as_deref(), Some("support-refund@3"));
        // Nothing known yet: no comparison, no advice.
        let t = compare(&p, &Baselines::default(), task(None, false, 1_000_000));
        assert_eq!((t.usual, t.suggested), (None, None));
    }
}
