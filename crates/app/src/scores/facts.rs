//! A period's facts for scoring, read from the ledger and the policy: the
//! calls summed per person and day, the outcomes with their tasks'
//! template and first prompt, each use case's baseline cost.

use crate::error::{AppError, AppResult};
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use std::collections::BTreeMap;
use tokenwise_core::{Nanos, TokenUsage, Track};
use tokenwise_ledger::{ActivityRow, Store};
use tokenwise_policy::Policy;
use tokenwise_scoring::{Activity, Facts, TemplateFacts, UseCaseFacts};

/// A scoring period: a calendar month of the org's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub label: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub days: u16,
}

impl Period {
    /// `YYYY-MM`, in the org's time zone.
    pub fn parse(policy: &Policy, label: &str) -> AppResult<Period> {
        let bad = || AppError::invalid(format!("period `{label}` must be a month written YYYY-MM, e.g. 2026-11"));
        let (y, m) = label.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let (year, month) = (y.parse::<i16>().map_err(|_| bad())?, m.parse::<i8>().map_err(|_| bad())?);
        let first = Date::new(year, month, 1).map_err(|_| bad())?;
        let next = first.checked_add(1.month()).map_err(|_| bad())?;
        let tz = &policy.org.time_zone;
        let at = |d: Date| d.to_zoned_datetime(tz.clone()).map(|z| z.timestamp()).map_err(|_| bad());
        let days = u16::try_from(first.days_in_month()).unwrap_or(31);
        Ok(Period { label: label.to_string(), start: at(first)?, end: at(next)?, days })
    }

    /// Any span, e.g. a budget's week or quarter.
    pub fn between(start: Timestamp, end: Timestamp) -> Period {
        let days = (end.as_second() - start.as_second()).max(0).unsigned_abs().div_ceil(86_400);
        Period { label: format!("{start}..{end}"), start, end, days: u16::try_from(days).unwrap_or(u16::MAX) }
    }

    /// The month `at` falls in.
    pub fn containing(policy: &Policy, at: Timestamp) -> Period {
        let d = at.to_zoned_datetime(policy.org.time_zone.clone()).date();
        let label = format!("{:04}-{:02}", d.year(), d.month());
        Period::parse(policy, &label).unwrap_or(Period { label, start: at, end: at, days: 0 })
    }
}

/// What one usual outcome of each use case costs: its baseline tokens,
/// three parts input to one part output, at its default model's price in
/// effect when the period starts.
pub fn use_case_facts(policy: &Policy, at: Timestamp) -> BTreeMap<String, UseCaseFacts> {
    policy
        .use_cases
        .values()
        .map(|u| {
            let tokens = u.baseline_tokens_per_outcome;
            let usage = TokenUsage { input: tokens - tokens / 4, output: tokens / 4, ..TokenUsage::default() };
            let price = policy.models.get(&u.default_model).and_then(|m| m.price_at(at));
            let baseline_cost = price.map_or(Nanos(0), |p| usage.cost(&p.rates));
            let facts = UseCaseFacts {
                baseline_cost,
                outcome_value: u.outcome_value,
                exploration: u.track == Track::Exploration,
            };
            (u.id.clone(), facts)
        })
        .collect()
}

/// The policy's side of the facts: teams, use cases, templates.
pub fn policy_facts(policy: &Policy, period: &Period) -> Facts {
    Facts {
        period: period.label.clone(),
        days: period.days,
        teams: policy.users.values().map(|u| (u.id.clone(), u.team.clone())).collect(),
        use_cases: use_case_facts(policy, period.start),
        templates: policy
            .templates
            .iter()
            .map(|(k, t)| (k.clone(), TemplateFacts { author: t.author.clone(), approved: t.approved }))
            .collect(),
        ..Facts::default()
    }
}

fn activity(policy: &Policy, r: ActivityRow) -> Activity {
    let approved = r.template.as_ref().and_then(|t| policy.templates.get(t)).is_some_and(|t| t.approved);
    Activity {
        approved_template_calls: if approved { r.calls.saturating_sub(r.blocked) } else { 0 },
        user: r.user_id,
        day: r.day,
        use_case: r.use_case,
        template: r.template,
        calls: r.calls,
        blocked: r.blocked,
        flagged: r.flagged,
        exception_calls: r.exception_calls,
        tokens: r.tokens,
        cost: r.cost,
    }
}

/// The policy's side and the period's calls (the outcomes are added by
/// `scores::read_facts`).
pub async fn read_calls(store: &dyn Store, policy: &Policy, period: &Period) -> AppResult<Facts> {
    let mut facts = policy_facts(policy, period);
    let rows = store.activity(period.start, period.end).await.map_err(|e| AppError::internal(e.to_string()))?;
    facts.activity = rows.into_iter().map(|r| activity(policy, r)).collect();
    Ok(facts)
}
