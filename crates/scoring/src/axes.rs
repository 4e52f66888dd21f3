//! The three axes of a subject, each 0..1, with the facts and the rule
//! behind each: what a person reading their score is shown.
//!
//! None of them grows with volume alone. Efficiency divides what the
//! counted outcomes should have cost by what was spent, so every extra
//! token lowers it. Quality and compliance are rates per counted outcome,
//! never per call, so repeating calls cannot dilute a violation or buy a
//! better share.

use crate::tally::Tally;
use serde::Serialize;

/// One line of a breakdown: which axis, the fact, its figure, the rule.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub axis: &'static str,
    pub fact: String,
    pub value: f64,
    pub rule: String,
}

fn line(axis: &'static str, fact: impl Into<String>, value: f64, rule: impl Into<String>) -> Line {
    Line { axis, fact: fact.into(), value: round(value, 4), rule: rule.into() }
}

pub fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}

fn usd(nanos: f64) -> String {
    format!("${:.4}", nanos / 1e9)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Axes {
    pub efficiency: f64,
    pub quality: f64,
    pub compliance: f64,
    pub lines: Vec<Line>,
}

impl Axes {
    pub fn of(t: &Tally) -> Axes {
        let mut lines = Vec::new();
        let efficiency = efficiency(t, &mut lines);
        let quality = quality(t, &mut lines);
        let compliance = compliance(t, &mut lines);
        Axes { efficiency, quality, compliance, lines }
    }

    pub fn as_array(&self) -> [f64; 3] {
        [self.efficiency, self.quality, self.compliance]
    }
}

/// ρ = baseline cost of the counted outcomes / spend; efficiency = ρ / (1 + ρ):
/// 0.5 at the baseline, towards 1 when far cheaper, 0 with no outcome.
fn efficiency(t: &Tally, lines: &mut Vec<Line>) -> f64 {
    let spent = t.cost as f64;
    let e = if t.baseline <= 0.0 {
        0.0
    } else if spent <= 0.0 {
        1.0
    } else {
        let rho = t.baseline / spent;
        rho / (1.0 + rho)
    };
    lines.push(line(
        "efficiency",
        format!(
            "counted outcomes would cost {} at their use cases' baselines; {} spent on {} calls ({} in exploration)",
            usd(t.baseline),
            usd(spent),
            t.calls,
            usd(t.exploration_cost as f64)
        ),
        e,
        "ρ = baseline cost / spend, efficiency = ρ / (1 + ρ); validated and signed outcomes count fully, \
         pending ones at the unvalidated weight, rejected or unmetered ones not at all, the n-th identical one at 2^(−(n−1)/half-life)",
    ));
    if t.off_track > 0 {
        lines.push(line(
            "efficiency",
            format!("{} outcomes of a kind their use case's track does not score", t.off_track),
            0.0,
            "exploration use cases earn on learning outcomes (the policy's learning_kinds, e.g. a template created or \
             promoted to production), production use cases on operational ones; the other kinds count nothing",
        ));
    }
    e
}

/// Claims decided that held up, smoothed towards the middle so one decision
/// cannot make a perfect record: (validated + 1) / (decided + 2).
pub fn validation_rate(t: &Tally) -> f64 {
    (t.validated as f64 + 1.0) / ((t.validated + t.rejected) as f64 + 2.0)
}

/// Validation rate, rating, escalations and errors, each smoothed towards
/// the middle so one outcome cannot make a perfect record.
fn quality(t: &Tally, lines: &mut Vec<Line>) -> f64 {
    let validation = validation_rate(t);
    let rating = (t.rating + 1.0) / (t.rated as f64 + 2.0);
    let escalation = t.escalated_weight / (t.weight + 1.0);
    let errors = t.error_weight / (t.weight + 1.0);
    let q = 0.4 * validation + 0.3 * rating + 0.15 * (1.0 - escalation) + 0.15 * (1.0 - errors);
    lines.push(line(
        "quality",
        format!(
            "{} validated, {} rejected, {} pending ({} signed by an integration)",
            t.validated, t.rejected, t.pending, t.signed
        ),
        validation,
        "validation rate = (validated + 1) / (decided + 2)",
    ));
    lines.push(line(
        "quality",
        format!("{} outcomes rated", t.rated),
        rating,
        "rating = (Σ (stars − 1) / 4 + 1) / (rated + 2)",
    ));
    lines.push(line(
        "quality",
        format!("escalated {:.2}, errors {:.2} of {:.2} counted outcome credit", t.escalated_weight, t.error_weight, t.weight),
        q,
        "quality = 0.4 validation + 0.3 rating + 0.15 (1 − escalated / (credit + 1)) + 0.15 (1 − errors / (credit + 1))",
    ));
    q
}

/// Blocked and flagged calls per counted outcome, and the share of
/// outcomes made on approved templates.
fn compliance(t: &Tally, lines: &mut Vec<Line>) -> f64 {
    let per = t.weight + 1.0;
    let blocked = 1.0 / (1.0 + t.blocked as f64 / per);
    let flagged = 1.0 / (1.0 + t.flagged as f64 / per);
    let templates = (t.approved_weight + 1.0) / (t.weight + 2.0);
    let c = 0.6 * blocked + 0.2 * flagged + 0.2 * templates;
    lines.push(line(
        "compliance",
        format!(
            "{} blocked and {} masked or rerouted of {} calls; {} calls on a granted exception",
            t.blocked, t.flagged, t.calls, t.exception_calls
        ),
        c,
        "compliance = 0.6 / (1 + blocked / (credit + 1)) + 0.2 / (1 + flagged / (credit + 1)) \
         + 0.2 (approved-template credit + 1) / (credit + 2): per counted outcome, never per call",
    ));
    lines.push(line(
        "compliance",
        format!(
            "{:.2} of {:.2} outcome credit on approved templates ({} calls on them)",
            t.approved_weight, t.weight, t.approved_template_calls
        ),
        templates,
        "template share = (approved-template credit + 1) / (credit + 2)",
    ));
    c
}
