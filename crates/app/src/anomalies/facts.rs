//! A detection pass's facts, read from the ledger and the policy: the model
//! rollup over the period and the history before it, the calls DLP blocked
//! or masked from the activity rollup, the outcomes, and the prompt groups
//! the prompt and sketch rollups hold (never every event).

use crate::error::AppResult;
use crate::scores::Period;
use jiff::Timestamp;
use std::collections::BTreeMap;
use tokenwise_anomalies::facts::DAY_US;
use tokenwise_anomalies::{
    DayUse, DlpDay, Facts, NearCandidate, OutcomeFact, PromptMember, PromptRepeat, Thresholds, UseCaseFacts,
};
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::store::anomalies::EvidenceQuery;
use tokenwise_ledger::{OutcomeStatus, Store, to_micros};
use tokenwise_policy::Policy;

/// At most this many repeated prompts and candidate near-duplicate groups
/// are read per pass (the most repeated first).
const MAX_GROUPS: u32 = 500;
/// Calls read per candidate near-duplicate group.
const MAX_MEMBERS: u32 = 200;

/// What a million tokens cost on each model when the period starts, three
/// parts input to one output: which models are dearer than a default.
fn model_prices(policy: &Policy, at: Timestamp) -> BTreeMap<String, Nanos> {
    let usage = TokenUsage { input: 750_000, output: 250_000, ..TokenUsage::default() };
    policy.models.values().filter_map(|m| m.price_at(at).map(|p| (m.id.clone(), usage.cost(&p.rates)))).collect()
}

/// The policy's side of the facts and the period's bounds in UTC days.
fn frame(policy: &Policy, period: &Period, now: Timestamp) -> Facts {
    let (start, end) = (to_micros(period.start), to_micros(period.end));
    let first_day = start.div_euclid(DAY_US);
    let end_day = end.div_euclid(DAY_US) + i64::from(end.rem_euclid(DAY_US) != 0);
    Facts {
        period: period.label.clone(),
        first_day,
        end_day,
        as_of_day: (to_micros(now).div_euclid(DAY_US) + 1).clamp(first_day, end_day),
        teams: policy.users.values().map(|u| (u.id.clone(), u.team.clone())).collect(),
        use_cases: policy
            .use_cases
            .values()
            .map(|u| (u.id.clone(), UseCaseFacts { default_model: u.default_model.clone() }))
            .collect(),
        model_prices: model_prices(policy, period.start),
        ..Facts::default()
    }
}

pub async fn read(
    store: &dyn Store,
    policy: &Policy,
    t: &Thresholds,
    period: &Period,
    now: Timestamp,
) -> AppResult<Facts> {
    let mut facts = frame(policy, period, now);
    let from_day = facts.first_day - i64::from(t.history_days) - i64::from(t.shadow_window_days);
    facts.usage = store
        .model_days(from_day, facts.end_day)
        .await?
        .into_iter()
        .map(|r| DayUse {
            day: r.day,
            user: r.user_id,
            use_case: r.use_case,
            model: r.model,
            calls: r.calls,
            tokens: r.tokens,
            cost: r.cost,
        })
        .collect();
    facts.dlp = dlp_days(store, &facts).await?;
    let since = tokenwise_ledger::from_micros(from_day * DAY_US);
    facts.outcomes = store
        .outcomes_between(since, period.end)
        .await?
        .into_iter()
        .map(|o| OutcomeFact {
            day: to_micros(o.reported_at).div_euclid(DAY_US),
            counted: o.status != OutcomeStatus::Rejected,
            id: o.id,
            user: o.user_id,
            use_case: o.use_case,
            metered: o.metered,
        })
        .collect();
    read_prompts(store, t, &mut facts).await?;
    Ok(facts)
}

/// The period's person-days on which DLP blocked or masked a call, from
/// the activity rollup's rows with any (no event is read).
async fn dlp_days(store: &dyn Store, facts: &Facts) -> AppResult<Vec<DlpDay>> {
    Ok(store
        .stopped_days(facts.first_day, facts.end_day)
        .await?
        .into_iter()
        .map(|r| DlpDay { day: r.day, user: r.user_id, use_case: r.use_case, blocked: r.blocked, masked: r.flagged })
        .collect())
}

/// Exact repeats, and candidate near-duplicate groups with their calls,
/// from the prompt and sketch rollups (their indexes hold only what
/// repeats), over the period's UTC days.
async fn read_prompts(store: &dyn Store, t: &Thresholds, facts: &mut Facts) -> AppResult<()> {
    let (d0, d1) = (facts.first_day, facts.end_day);
    facts.repeats = store
        .repeated_prompts(d0, d1, u64::from(t.repeat_min), MAX_GROUPS)
        .await?
        .into_iter()
        .map(|r| PromptRepeat { user: r.user_id, day: r.day, prompt_hash: r.prompt_hash, calls: r.calls })
        .collect();
    for g in store.sketch_groups(d0, d1, u64::from(t.near_min), MAX_GROUPS).await? {
        let q = EvidenceQuery {
            user_id: g.user_id.clone(),
            from_us: g.day * DAY_US,
            to_us: (g.day + 1) * DAY_US,
            band: Some((0, g.band0)),
            limit: MAX_MEMBERS,
            ..EvidenceQuery::default()
        };
        let members = store
            .evidence(&q)
            .await?
            .into_iter()
            .filter_map(|e| {
                Some(PromptMember { event_id: e.id, prompt_hash: e.prompt_hash?, minhash: e.prompt_minhash? })
            })
            .collect();
        facts.near.push(NearCandidate { user: g.user_id, day: g.day, members });
    }
    Ok(())
}
