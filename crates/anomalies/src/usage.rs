//! Detectors over the daily rollup: a day far above one's own history, a
//! period far above one's peers in a use case, a dear model where the use
//! case's default would do.

use crate::facts::{DAY_US, Facts};
use crate::finding::{Detector, Draft, Evidence, Finding, Lookup, Severity, day_label, numbers, usd};
use crate::stats::{Spread, round};
use crate::thresholds::Thresholds;
use serde_json::json;
use std::collections::BTreeMap;

#[allow(clippy::cast_precision_loss)]
fn f(x: u64) -> f64 {
    x as f64
}

/// Tokens per person and day (every use case and model).
fn tokens_by_day(facts: &Facts) -> BTreeMap<&str, BTreeMap<i64, (u64, u64)>> {
    let mut out: BTreeMap<&str, BTreeMap<i64, (u64, u64)>> = BTreeMap::new();
    for u in &facts.usage {
        let e = out.entry(u.user.as_str()).or_default().entry(u.day).or_default();
        e.0 = e.0.saturating_add(u.tokens);
        e.1 = e.1.saturating_add(u.calls);
    }
    out
}

/// A day whose tokens are far above the person's active days in the
/// trailing `history_days`: far above the median day (robust z and
/// `spike_factor`), and `spike_factor` times the upper quartile too. People
/// work in light and busy days; over a few weeks' history the MAD can see
/// only the light ones, and a busy day no bigger than the busy days before
/// it would pass for a spike. A steady history's upper quartile is its
/// median, so there this asks nothing more.
pub fn own_spikes(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for (user, days) in tokens_by_day(facts) {
        for (&day, &(tokens, calls)) in days.range(facts.first_day..=facts.last_day()) {
            if tokens < t.min_spike_tokens {
                continue;
            }
            let from = day - i64::from(t.history_days);
            let history: Vec<f64> =
                days.range(from..day).filter(|(_, (tk, c))| *c > 0 && *tk > 0).map(|(_, (tk, _))| f(*tk)).collect();
            if history.len() < t.min_history_days as usize {
                continue;
            }
            let Some(s) = Spread::of(&history) else { continue };
            let x = f(tokens);
            if !s.far_above(x, t.spike_z, t.spike_factor) || x < t.spike_factor * s.upper_quartile {
                continue;
            }
            let (z, ratio) = (s.z(x), s.ratio(x));
            let severity =
                if z >= 2.0 * t.spike_z || ratio >= 3.0 * t.spike_factor { Severity::High } else { Severity::Medium };
            let explanation = format!(
                "`{user}` used {tokens} tokens on {} in {calls} calls, {:.1} times their usual day and {:.1} times their \
                 busier days (median {:.0} and upper quartile {:.0} tokens over {} active days of the previous {}; robust \
                 z {:.1})",
                day_label(day),
                ratio,
                x / s.upper_quartile,
                s.median,
                s.upper_quartile,
                s.n,
                t.history_days,
                z
            );
            let evidence = Evidence {
                numbers: numbers([
                    ("tokens", json!(tokens)),
                    ("calls", json!(calls)),
                    ("history_median_tokens", json!(round(s.median, 1))),
                    ("history_mad_tokens", json!(round(s.mad, 1))),
                    ("history_upper_quartile_tokens", json!(round(s.upper_quartile, 1))),
                    ("history_active_days", json!(s.n)),
                    ("robust_z", json!(round(z, 2))),
                    ("ratio", json!(round(ratio, 2))),
                ]),
                event_count: calls,
                ..Evidence::default()
            };
            let lookup = Lookup {
                user: user.to_string(),
                from_us: day * DAY_US,
                to_us: (day + 1) * DAY_US,
                ..Lookup::default()
            };
            out.push(
                Draft {
                    detector: Detector::OwnSpike,
                    user: user.to_string(),
                    use_case: None,
                    window: day_label(day),
                    severity,
                    explanation,
                    evidence,
                    lookup: Some(lookup),
                }
                .finish(&facts.teams),
            );
        }
    }
    out
}

/// Per use case, per person: (tokens, calls, cost) over the judged days of the period.
type PerPerson<'a> = BTreeMap<&'a str, BTreeMap<&'a str, (u64, u64, i64)>>;

pub(crate) fn period_totals(facts: &Facts) -> PerPerson<'_> {
    let mut out: PerPerson<'_> = BTreeMap::new();
    for u in
        facts.usage.iter().filter(|u| u.day >= facts.first_day && u.day <= facts.last_day() && !u.use_case.is_empty())
    {
        let e = out.entry(u.use_case.as_str()).or_default().entry(u.user.as_str()).or_default();
        e.0 = e.0.saturating_add(u.tokens);
        e.1 = e.1.saturating_add(u.calls);
        e.2 = e.2.saturating_add(u.cost.0);
    }
    out
}

fn period_lookup(facts: &Facts, user: &str, use_case: &str) -> Lookup {
    Lookup {
        user: user.to_string(),
        from_us: facts.first_day * DAY_US,
        to_us: (facts.last_day() + 1) * DAY_US,
        use_case: Some(use_case.to_string()),
        ..Lookup::default()
    }
}

/// A person whose tokens in a use case over the period are far above the
/// other people's in the same use case.
pub fn peer_spikes(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for (use_case, people) in period_totals(facts) {
        let active: Vec<f64> = people.values().filter(|v| v.0 > 0).map(|v| f(v.0)).collect();
        if active.len() < t.min_peers as usize {
            continue;
        }
        let Some(s) = Spread::of(&active) else { continue };
        for (user, &(tokens, calls, cost)) in &people {
            let x = f(tokens);
            if tokens < t.min_spike_tokens || !s.far_above(x, t.spike_z, t.spike_factor) {
                continue;
            }
            let (z, ratio) = (s.z(x), s.ratio(x));
            let severity =
                if z >= 2.0 * t.spike_z || ratio >= 3.0 * t.spike_factor { Severity::High } else { Severity::Medium };
            let explanation = format!(
                "`{user}` used {tokens} tokens in `{use_case}` in {}, {:.1} times the median person there ({:.0} tokens, \
                 {} people; robust z {:.1}), costing {}",
                facts.period,
                ratio,
                s.median,
                s.n,
                z,
                usd(cost)
            );
            let evidence = Evidence {
                numbers: numbers([
                    ("tokens", json!(tokens)),
                    ("calls", json!(calls)),
                    ("cost_usd", json!(usd(cost))),
                    ("peers", json!(s.n)),
                    ("peer_median_tokens", json!(round(s.median, 1))),
                    ("peer_mad_tokens", json!(round(s.mad, 1))),
                    ("robust_z", json!(round(z, 2))),
                    ("ratio", json!(round(ratio, 2))),
                ]),
                event_count: calls,
                ..Evidence::default()
            };
            out.push(
                Draft {
                    detector: Detector::PeerSpike,
                    user: (*user).to_string(),
                    use_case: Some(use_case.to_string()),
                    window: format!("{} {use_case}", facts.period),
                    severity,
                    explanation,
                    evidence,
                    lookup: Some(period_lookup(facts, user, use_case)),
                }
                .finish(&facts.teams),
            );
        }
    }
    out
}

/// (calls, cost, tokens) per use case, person and model over the judged days.
type ByModel<'a> = BTreeMap<(&'a str, &'a str), BTreeMap<&'a str, (u64, i64)>>;

fn by_model(facts: &Facts) -> ByModel<'_> {
    let mut out: ByModel<'_> = BTreeMap::new();
    for u in
        facts.usage.iter().filter(|u| u.day >= facts.first_day && u.day <= facts.last_day() && !u.use_case.is_empty())
    {
        let e = out.entry((u.use_case.as_str(), u.user.as_str())).or_default().entry(u.model.as_str()).or_default();
        e.0 = e.0.saturating_add(u.calls);
        e.1 = e.1.saturating_add(u.cost.0);
    }
    out
}

/// What the dear calls would have cost at the default model's price, in
/// nano-dollars (integer arithmetic).
fn at_default(cost: i64, price: i64, default_price: i64) -> i64 {
    if price <= 0 {
        return cost;
    }
    i64::try_from(i128::from(cost) * i128::from(default_price) / i128::from(price)).unwrap_or(cost)
}

/// A person who runs most of a use case's calls on a model at least
/// `overuse_price_factor` times dearer than the use case's default.
pub fn model_overuse(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for ((use_case, user), models) in by_model(facts) {
        let Some(uc) = facts.use_cases.get(use_case) else { continue };
        let Some(default_price) = facts.model_prices.get(&uc.default_model).map(|p| p.0) else { continue };
        let all_calls: u64 = models.values().map(|v| v.0).sum();
        #[allow(clippy::cast_precision_loss)]
        let dear: Vec<(&str, u64, i64, i64)> = models
            .iter()
            .filter_map(|(m, &(calls, cost))| {
                let p = facts.model_prices.get(*m)?.0;
                ((p as f64) >= t.overuse_price_factor * (default_price as f64) && *m != uc.default_model)
                    .then_some((*m, calls, cost, p))
            })
            .collect();
        let dear_calls: u64 = dear.iter().map(|d| d.1).sum();
        let share = if all_calls == 0 { 0.0 } else { f(dear_calls) / f(all_calls) };
        if dear_calls < t.overuse_min_calls || share < t.overuse_share {
            continue;
        }
        let dear_cost: i64 = dear.iter().map(|d| d.2).sum();
        let extra: i64 = dear.iter().map(|d| d.2 - at_default(d.2, d.3, default_price)).sum();
        let Some(top) = dear.iter().max_by_key(|d| (d.2, std::cmp::Reverse(d.0))) else { continue };
        let severity = if share >= 0.9 { Severity::Medium } else { Severity::Low };
        let explanation = format!(
            "`{user}` ran {dear_calls} of {all_calls} calls ({:.0}%) in `{use_case}` in {} on models at least {:.1} times \
             dearer than its default `{}` (mostly `{}`): {} spent, about {} more than the default would have cost",
            share * 100.0,
            facts.period,
            t.overuse_price_factor,
            uc.default_model,
            top.0,
            usd(dear_cost),
            usd(extra)
        );
        let evidence = Evidence {
            numbers: numbers([
                ("dear_calls", json!(dear_calls)),
                ("calls", json!(all_calls)),
                ("share", json!(round(share, 3))),
                ("dear_cost_usd", json!(usd(dear_cost))),
                ("extra_cost_usd", json!(usd(extra))),
                ("default_model", json!(uc.default_model)),
                ("models", json!(dear.iter().map(|d| d.0).collect::<Vec<_>>())),
            ]),
            event_count: dear_calls,
            ..Evidence::default()
        };
        let lookup = Lookup { model: Some(top.0.to_string()), ..period_lookup(facts, user, use_case) };
        out.push(
            Draft {
                detector: Detector::ModelOveruse,
                user: user.to_string(),
                use_case: Some(use_case.to_string()),
                window: format!("{} {use_case}", facts.period),
                severity,
                explanation,
                evidence,
                lookup: Some(lookup),
            }
            .finish(&facts.teams),
        );
    }
    out
}
