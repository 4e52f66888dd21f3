//! The effect of a pilot as a difference-in-differences: how the cohort's
//! metric moved from before to during, against how the control group's
//! moved over the same weeks. Its 95% interval comes from a bootstrap
//! over people: each resample draws the cohort's people and the control's
//! with replacement (keeping each person's weeks together), sums their
//! tallies and takes the difference again. The generator is seeded, so
//! the same history always gives the same interval.

use crate::metric::{Kind, Metric, Tally};
use crate::rng::SplitMix64;
use serde::Serialize;

/// What one person did before and during the pilot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Person {
    pub before: Tally,
    pub during: Tally,
}

/// A metric's four cells and its difference-in-differences.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
// Named apart in the OpenAPI document: `Estimate` is the check's.
#[schema(as = PilotEstimate)]
pub struct Estimate {
    pub metric: Metric,
    pub kind: Kind,
    pub cohort_before: Option<f64>,
    pub cohort_during: Option<f64>,
    pub control_before: Option<f64>,
    pub control_during: Option<f64>,
    /// The difference-in-differences: a fraction for `relative` metrics
    /// (−0.18: the cohort's fell 18% more than the control's), else a
    /// difference in the metric's unit (shares as fractions). None when a
    /// cell has no denominator.
    pub effect: Option<f64>,
    /// The 95% bootstrap interval (it always contains `effect`).
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// The headline: which metric and what it says.
pub type Effect = Estimate;

/// The difference-in-differences of four cells.
pub fn did(kind: Kind, cohort: (Option<f64>, Option<f64>), control: (Option<f64>, Option<f64>)) -> Option<f64> {
    let (cb, cd, kb, kd) = (cohort.0?, cohort.1?, control.0?, control.1?);
    let d = match kind {
        Kind::Relative => {
            if cb <= 0.0 || kb <= 0.0 || kd <= 0.0 {
                return None;
            }
            (cd / cb) / (kd / kb) - 1.0
        }
        Kind::Share | Kind::Level => (cd - cb) - (kd - kb),
    };
    d.is_finite().then_some(d)
}

fn sums(people: &[Person]) -> (Tally, Tally) {
    people.iter().fold((Tally::default(), Tally::default()), |(mut b, mut d), p| {
        b.add(&p.before);
        d.add(&p.during);
        (b, d)
    })
}

fn cells(metric: Metric, cohort: &(Tally, Tally), control: &(Tally, Tally)) -> Option<f64> {
    did(
        metric.kind(),
        (metric.value(&cohort.0), metric.value(&cohort.1)),
        (metric.value(&control.0), metric.value(&control.1)),
    )
}

fn draw(people: &[Person], rng: &mut SplitMix64) -> (Tally, Tally) {
    let mut out = (Tally::default(), Tally::default());
    for _ in 0..people.len() {
        if let Some(p) = people.get(rng.below(people.len())) {
            out.0.add(&p.before);
            out.1.add(&p.during);
        }
    }
    out
}

/// The `q` quantile of sorted values, interpolated.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q * last as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    let a = *sorted.get(i)?;
    let b = sorted.get(i + 1).copied().unwrap_or(a);
    Some(a + (b - a) * frac)
}

/// People a group needs for an interval: resampling one person always
/// draws that person, an interval of no width that says nothing of how
/// people differ.
pub const MIN_PEOPLE: usize = 2;

/// Every metric's estimate with its interval from `resamples` bootstrap
/// draws seeded by `seed`. An interval needs [`MIN_PEOPLE`] in each group
/// and at least half the draws to give a difference (a group with no
/// outcomes in a draw gives none).
pub fn estimate(metrics: &[Metric], cohort: &[Person], control: &[Person], resamples: u32, seed: u64) -> Vec<Estimate> {
    let (c, k) = (sums(cohort), sums(control));
    let mut draws: Vec<Vec<f64>> = vec![Vec::new(); metrics.len()];
    if cohort.len() >= MIN_PEOPLE && control.len() >= MIN_PEOPLE {
        let mut rng = SplitMix64::new(seed);
        for _ in 0..resamples {
            let (dc, dk) = (draw(cohort, &mut rng), draw(control, &mut rng));
            for (m, out) in metrics.iter().zip(draws.iter_mut()) {
                if let Some(d) = cells(*m, &dc, &dk) {
                    out.push(d);
                }
            }
        }
    }
    metrics
        .iter()
        .zip(draws)
        .map(|(m, mut d)| {
            let effect = cells(*m, &c, &k);
            d.sort_by(f64::total_cmp);
            let enough = d.len() * 2 >= resamples as usize && !d.is_empty();
            let (low, high) = match (effect, enough) {
                (Some(e), true) => (quantile(&d, 0.025).map(|l| l.min(e)), quantile(&d, 0.975).map(|h| h.max(e))),
                _ => (None, None),
            };
            Estimate {
                metric: *m,
                kind: m.kind(),
                cohort_before: m.value(&c.0),
                cohort_during: m.value(&c.1),
                control_before: m.value(&k.0),
                control_during: m.value(&k.1),
                effect,
                low,
                high,
            }
        })
        .collect()
}

impl Estimate {
    /// The interval lies wholly on one side of zero.
    pub fn excludes_zero(&self) -> bool {
        match (self.low, self.high) {
            (Some(l), Some(h)) => l > 0.0 || h < 0.0,
            _ => false,
        }
    }

    /// The change in the bad direction, in the metric's unit (positive:
    /// worse), or none.
    pub fn worsening(&self) -> Option<f64> {
        self.effect.map(|e| if self.metric.higher_is_worse() { e } else { -e })
    }

    /// The 95% interval as worsenings: (the bound nearest "no worse",
    /// the worst bound), or none without an interval.
    pub fn worsening_interval(&self) -> Option<(f64, f64)> {
        let (l, h) = (self.low?, self.high?);
        Some(if self.metric.higher_is_worse() { (l, h) } else { (-h, -l) })
    }
}

/// How sure the report is that a guard metric worsened past its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardLevel {
    /// No estimate: a group has no denominator before or during.
    Unknown,
    /// The estimate is not past the threshold.
    Within,
    /// The estimate is past the threshold but its 95% interval reaches back
    /// inside it (or there are too few people for an interval): possibly
    /// worse, to be watched, not yet a finding.
    Watch,
    /// The whole 95% interval is past the threshold: its bound nearest
    /// zero is a worsening beyond the guard.
    Flagged,
}

impl GuardLevel {
    /// The level of an estimate against a threshold (a worsening, in the
    /// metric's unit).
    pub fn of(e: &Estimate, threshold: f64) -> GuardLevel {
        match (e.worsening(), e.worsening_interval()) {
            (None, _) => GuardLevel::Unknown,
            (Some(w), _) if w <= threshold => GuardLevel::Within,
            (Some(_), Some((nearest, _))) if nearest > threshold => GuardLevel::Flagged,
            (Some(_), _) => GuardLevel::Watch,
        }
    }
}
