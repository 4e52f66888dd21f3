//! Detectors over outcomes beside the rollup: spend and calls per outcome
//! far above peers, outcomes with no metered call behind them, and gateway
//! use that fell while outcomes kept coming (work moved elsewhere).

use crate::facts::{DAY_US, Facts, OutcomeFact};
use crate::finding::{Detector, Draft, Evidence, Finding, Lookup, Severity, bounded, day_label, numbers, usd};
use crate::stats::{Spread, round};
use crate::thresholds::Thresholds;
use crate::usage::period_totals;
use serde_json::json;
use std::collections::BTreeMap;

#[allow(clippy::cast_precision_loss)]
fn f(x: u64) -> f64 {
    x as f64
}

fn judged(facts: &Facts) -> impl Iterator<Item = &OutcomeFact> {
    facts.outcomes.iter().filter(|o| o.day >= facts.first_day && o.day <= facts.last_day())
}

/// Counted outcomes per use case and person, with their ids.
fn outcomes_by_use_case(facts: &Facts) -> BTreeMap<&str, BTreeMap<&str, Vec<String>>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
    for o in judged(facts).filter(|o| o.counted) {
        out.entry(o.use_case.as_str()).or_default().entry(o.user.as_str()).or_default().push(o.id.clone());
    }
    out
}

/// Which per-outcome figure a detector compares.
#[derive(Clone, Copy)]
enum PerOutcome {
    Cost,
    Calls,
}

/// Spend (or calls) per counted outcome, per person in a use case, far
/// above the other people's with enough outcomes there.
fn per_outcome(facts: &Facts, t: &Thresholds, what: PerOutcome) -> Vec<Finding> {
    let usage = period_totals(facts);
    let mut out = Vec::new();
    for (use_case, people) in outcomes_by_use_case(facts) {
        let Some(spent) = usage.get(use_case) else { continue };
        // (person, outcome ids, per-outcome figure, calls, cost)
        let rows: Vec<(&str, &Vec<String>, f64, u64, i64)> = people
            .iter()
            .filter(|(_, ids)| ids.len() >= t.min_outcomes as usize)
            .map(|(user, ids)| {
                let (_, calls, cost) = spent.get(user).copied().unwrap_or_default();
                #[allow(clippy::cast_precision_loss)]
                let per = match what {
                    PerOutcome::Cost => cost as f64 / ids.len() as f64,
                    PerOutcome::Calls => f(calls) / ids.len() as f64,
                };
                (*user, ids, per, calls, cost)
            })
            .collect();
        if rows.len() < t.min_peers as usize {
            continue;
        }
        let values: Vec<f64> = rows.iter().map(|r| r.2).collect();
        let Some(s) = Spread::of(&values) else { continue };
        for (user, ids, per, calls, cost) in rows {
            if !s.far_above(per, t.spike_z, t.spike_factor) {
                continue;
            }
            out.push(per_outcome_finding(facts, t, what, use_case, user, ids, per, calls, cost, &s));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn per_outcome_finding(
    facts: &Facts,
    t: &Thresholds,
    what: PerOutcome,
    use_case: &str,
    user: &str,
    ids: &[String],
    per: f64,
    calls: u64,
    cost: i64,
    s: &Spread,
) -> Finding {
    let (z, ratio) = (s.z(per), s.ratio(per));
    let severity =
        if z >= 2.0 * t.spike_z || ratio >= 3.0 * t.spike_factor { Severity::High } else { Severity::Medium };
    #[allow(clippy::cast_possible_truncation)]
    let (detector, figure, median) = match what {
        PerOutcome::Cost => (
            Detector::CostPerOutcome,
            format!("{} per outcome", usd(per as i64)),
            format!("{} per outcome", usd(s.median as i64)),
        ),
        PerOutcome::Calls => (
            Detector::WorkflowSplitting,
            format!("{per:.1} calls per outcome"),
            format!("{:.1} calls per outcome", s.median),
        ),
    };
    let explanation = format!(
        "`{user}` spent {figure} in `{use_case}` in {} ({} calls, {} for {} outcomes), {ratio:.1} times the median person \
         there ({median}, {} people with at least {} outcomes; robust z {z:.1})",
        facts.period,
        calls,
        usd(cost),
        ids.len(),
        s.n,
        t.min_outcomes
    );
    let (outcome_ids, outcome_count) = bounded(ids.to_vec());
    let evidence = Evidence {
        numbers: numbers([
            ("per_outcome", json!(round(per, 3))),
            ("peer_median_per_outcome", json!(round(s.median, 3))),
            ("peers", json!(s.n)),
            ("calls", json!(calls)),
            ("cost_usd", json!(usd(cost))),
            ("outcomes", json!(ids.len())),
            ("robust_z", json!(round(z, 2))),
            ("ratio", json!(round(ratio, 2))),
        ]),
        event_count: calls,
        outcome_ids,
        outcome_count,
        ..Evidence::default()
    };
    let lookup = Lookup {
        user: user.to_string(),
        from_us: facts.first_day * DAY_US,
        to_us: (facts.last_day() + 1) * DAY_US,
        use_case: Some(use_case.to_string()),
        ..Lookup::default()
    };
    Draft {
        detector,
        user: user.to_string(),
        use_case: Some(use_case.to_string()),
        window: format!("{} {use_case}", facts.period),
        severity,
        explanation,
        evidence,
        lookup: Some(lookup),
    }
    .finish(&facts.teams)
}

pub fn cost_per_outcome(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    per_outcome(facts, t, PerOutcome::Cost)
}

pub fn workflow_splitting(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    per_outcome(facts, t, PerOutcome::Calls)
}

/// A person with at least `unmetered_min` outcomes in the period that no
/// metered call carried.
pub fn unmetered_outcomes(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut per: BTreeMap<&str, (Vec<String>, u64)> = BTreeMap::new();
    for o in judged(facts) {
        let e = per.entry(o.user.as_str()).or_default();
        e.1 += 1;
        if !o.metered {
            e.0.push(o.id.clone());
        }
    }
    let mut out = Vec::new();
    for (user, (ids, all)) in per {
        let n = ids.len() as u64;
        if n == 0 || n < u64::from(t.unmetered_min) {
            continue;
        }
        let severity = if n == all && n >= 2 * u64::from(t.unmetered_min) { Severity::High } else { Severity::Medium };
        let explanation = format!(
            "`{user}` reported {n} of {all} outcomes in {} with no metered call behind them: no call through tokenwise \
             carried their tasks when they were reported",
            facts.period
        );
        let (outcome_ids, outcome_count) = bounded(ids);
        let evidence = Evidence {
            numbers: numbers([("unmetered_outcomes", json!(n)), ("outcomes", json!(all))]),
            outcome_ids,
            outcome_count,
            ..Evidence::default()
        };
        out.push(
            Draft {
                detector: Detector::UnmeteredOutcomes,
                user: user.to_string(),
                use_case: None,
                window: facts.period.clone(),
                severity,
                explanation,
                evidence,
                lookup: None,
            }
            .finish(&facts.teams),
        );
    }
    out
}

/// Calls per person over `[from, to)` days, and outcomes (all, and their ids).
fn calls_between(facts: &Facts, from: i64, to: i64) -> BTreeMap<&str, u64> {
    let mut out: BTreeMap<&str, u64> = BTreeMap::new();
    for u in facts.usage.iter().filter(|u| u.day >= from && u.day < to) {
        *out.entry(u.user.as_str()).or_default() += u.calls;
    }
    out
}

/// A person whose calls per day in the last `shadow_window_days` fell by at
/// least `shadow_drop` from the `history_days` before, while they kept
/// reporting outcomes: the work may have moved to tools tokenwise does not
/// see.
pub fn shadow_usage(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let end = facts.last_day() + 1;
    let (w, h) = (i64::from(t.shadow_window_days.max(1)), i64::from(t.history_days.max(1)));
    let (start, base_start) = (end - w, end - w - h);
    if start < facts.first_day {
        return Vec::new();
    }
    let (recent, base) = (calls_between(facts, start, end), calls_between(facts, base_start, start));
    let mut reported: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for o in facts.outcomes.iter().filter(|o| o.day >= start && o.day < end) {
        reported.entry(o.user.as_str()).or_default().push(o.id.clone());
    }
    let mut out = Vec::new();
    for (user, &before) in &base {
        let now = recent.get(user).copied().unwrap_or(0);
        let ids = reported.get(user).cloned().unwrap_or_default();
        #[allow(clippy::cast_precision_loss)]
        let (rate_before, rate_now) = (f(before) / h as f64, f(now) / w as f64);
        let fell = rate_now <= (1.0 - t.shadow_drop) * rate_before;
        if before < t.shadow_min_calls || !fell || ids.len() < t.shadow_min_outcomes as usize {
            continue;
        }
        let drop = if rate_before > 0.0 { 1.0 - rate_now / rate_before } else { 0.0 };
        let explanation = format!(
            "`{user}` made {rate_now:.1} calls a day through tokenwise from {} to {} against {rate_before:.1} a day in the \
             {h} days before ({:.0}% fewer), yet reported {} outcomes in those days: the work may run through tools \
             tokenwise does not see",
            day_label(start),
            day_label(end - 1),
            drop * 100.0,
            ids.len()
        );
        let (outcome_ids, outcome_count) = bounded(ids);
        let evidence = Evidence {
            numbers: numbers([
                ("calls_per_day_recent", json!(round(rate_now, 2))),
                ("calls_per_day_before", json!(round(rate_before, 2))),
                ("drop", json!(round(drop, 3))),
                ("recent_days", json!(w)),
                ("baseline_days", json!(h)),
            ]),
            event_count: now,
            outcome_ids,
            outcome_count,
            ..Evidence::default()
        };
        out.push(
            Draft {
                detector: Detector::ShadowUsage,
                user: (*user).to_string(),
                use_case: None,
                window: facts.period.clone(),
                severity: Severity::Medium,
                explanation,
                evidence,
                lookup: None,
            }
            .finish(&facts.teams),
        );
    }
    out
}
