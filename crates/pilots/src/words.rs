//! The report in plain words: "spend per outcome fell 18% (95% CI 9–26%)
//! against the control group; token burn did not rise".

use crate::effect::{Estimate, GuardLevel};
use crate::metric::Kind;

/// A magnitude in the metric's unit, without its sign.
pub fn amount(kind: Kind, x: f64) -> String {
    match kind {
        Kind::Relative => format!("{:.0}%", (x * 100.0).abs()),
        Kind::Share => format!("{:.1} percentage points", (x * 100.0).abs()),
        Kind::Level => format!("{:.2}", x.abs()),
    }
}

fn bare(kind: Kind, x: f64) -> String {
    match kind {
        Kind::Relative => format!("{:.0}", (x * 100.0).abs()),
        Kind::Share => format!("{:.1}", (x * 100.0).abs()),
        Kind::Level => format!("{:.2}", x.abs()),
    }
}

fn signed(kind: Kind, x: f64) -> String {
    let sign = if x < 0.0 { "−" } else { "+" };
    format!("{sign}{}", bare(kind, x))
}

fn unit(kind: Kind) -> &'static str {
    match kind {
        Kind::Relative => "%",
        Kind::Share => " points",
        Kind::Level => "",
    }
}

/// The interval: "95% CI 9–26%" on one side of zero, else
/// "95% CI −12% to +6%".
pub fn interval(kind: Kind, low: f64, high: f64) -> String {
    if low > 0.0 || high < 0.0 {
        let (a, b) = if high < 0.0 { (high, low) } else { (low, high) };
        format!("95% CI {}–{}{}", bare(kind, a), bare(kind, b), unit(kind))
    } else {
        format!("95% CI {}{u} to {}{u}", signed(kind, low), signed(kind, high), u = unit(kind))
    }
}

/// The headline effect against the control group.
pub fn headline(e: &Estimate) -> String {
    let what = e.metric.words();
    let Some(effect) = e.effect else {
        return format!(
            "{what} cannot be compared yet: a group has no validated outcomes (or no activity) before or during the pilot"
        );
    };
    let verb = if effect < 0.0 { "fell" } else { "rose" };
    match (e.low, e.high) {
        (Some(l), Some(h)) if e.excludes_zero() => {
            format!("{what} {verb} {} ({}) against the control group", amount(e.kind, effect), interval(e.kind, l, h))
        }
        (Some(l), Some(h)) => format!(
            "{what} moved {}{} ({}) against the control group: no clear effect",
            signed(e.kind, effect),
            unit(e.kind),
            interval(e.kind, l, h)
        ),
        _ => format!(
            "{what} {verb} {} against the control group (too few people for an interval)",
            amount(e.kind, effect)
        ),
    }
}

/// A guard metric's clause: "token burn did not rise", "token burn rose
/// 14% (95% CI 12–17%), beyond the 10% guard", "token burn rose 14% (95% CI
/// −3% to +30%): past the 10% guard by its estimate, not with 95%
/// confidence — watch it".
pub fn guard(e: &Estimate, threshold: f64, level: GuardLevel) -> String {
    let what = e.metric.words();
    let worse = if e.metric.higher_is_worse() { "rose" } else { "fell" };
    let limit = amount(e.kind, threshold);
    let ci = match (e.low, e.high) {
        (Some(l), Some(h)) => format!(" ({})", interval(e.kind, l, h)),
        _ => String::new(),
    };
    let Some(w) = e.worsening() else { return format!("{what} cannot be compared yet") };
    match level {
        GuardLevel::Unknown => format!("{what} cannot be compared yet"),
        _ if w <= 0.0 => format!("{what} did not {}", if e.metric.higher_is_worse() { "rise" } else { "fall" }),
        GuardLevel::Flagged => format!("{what} {worse} {}{ci}, beyond the {limit} guard", amount(e.kind, w)),
        GuardLevel::Watch if ci.is_empty() => format!(
            "{what} {worse} {}, past the {limit} guard by its estimate (too few people for an interval): watch it",
            amount(e.kind, w)
        ),
        GuardLevel::Watch => format!(
            "{what} {worse} {}{ci}, past the {limit} guard by its estimate but not with 95% confidence: watch it",
            amount(e.kind, w)
        ),
        GuardLevel::Within => format!("{what} {worse} {}, within the {limit} guard", amount(e.kind, w)),
    }
}
