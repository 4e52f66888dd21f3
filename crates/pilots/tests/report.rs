//! The pilot report on constructed histories: an effect that is there is
//! found with an interval that excludes zero, one that is not is not, a
//! guard metric is flagged only when its interval is past the threshold
//! (watched when only its estimate is); and properties of the estimate.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tokenwise_core::Nanos;
use tokenwise_pilots::{Answer, GuardLevel, Guards, Input, Metric, Row, Tally, build};

const BEFORE: u32 = 4;
const DURING: u32 = 6;

/// A small deterministic generator for test noise.
struct Noise(u64);

impl Noise {
    /// Uniform in [1 − spread, 1 + spread].
    fn around_one(&mut self, spread: f64) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let u = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        1.0 + spread * (2.0 * u - 1.0)
    }
}

/// A pilot of `BEFORE` + `DURING` weeks over `rows`, default guards, 1,000 resamples.
fn input(pilot: &str, cohort: Vec<String>, control: Vec<String>, rows: Vec<Row>) -> Input {
    Input {
        pilot: pilot.into(),
        weeks_before: BEFORE,
        weeks_during: DURING,
        week_starts: Vec::new(),
        cohort,
        control,
        rows,
        feedback: Vec::new(),
        guards: Guards::default(),
        resamples: 1000,
    }
}

/// `n` people per group; each person-week has about ten validated
/// outcomes at about $0.50 each, people differing by ±30% and weeks by
/// ±20%. During the pilot the cohort's spend is multiplied by `cohort_factor`
/// and its tokens by `token_factor`.
fn history(n: usize, seed: u64, cohort_factor: f64, token_factor: f64) -> Input {
    let mut noise = Noise(seed);
    let cohort: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let control: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let mut rows = Vec::new();
    for (person, in_cohort) in cohort.iter().map(|p| (p, true)).chain(control.iter().map(|p| (p, false))) {
        let level = noise.around_one(0.3);
        for week in -(BEFORE as i32)..DURING as i32 {
            let during = week >= 0 && in_cohort;
            let outcomes = (10.0 * noise.around_one(0.2)).round() as u64;
            let per = 0.5e9 * level * noise.around_one(0.2) * if during { cohort_factor } else { 1.0 };
            let tokens = (20_000.0 * level * noise.around_one(0.2) * if during { token_factor } else { 1.0 }) as u64;
            let tally = Tally {
                calls: outcomes * 3,
                tokens,
                spend: Nanos((per * outcomes as f64) as i64),
                outcomes,
                reported: outcomes,
                quality_sum: 4 * outcomes,
                quality_n: outcomes,
                ..Tally::default()
            };
            rows.push(Row { person: person.clone(), week, tally });
        }
    }
    input("p1", cohort, control, rows)
}

#[test]
fn a_fall_in_the_cohorts_spend_per_outcome_is_found_with_an_interval_below_zero() {
    let report = build(&history(15, 7, 0.8, 1.0));
    let h = &report.headline;
    let (effect, low, high) = (h.effect.unwrap(), h.low.unwrap(), h.high.unwrap());
    assert!((effect + 0.2).abs() < 0.06, "about −20%, got {effect}");
    assert!(high < 0.0, "the interval excludes zero: {low}..{high}");
    assert!(report.summary.starts_with("spend per outcome fell"), "{}", report.summary);
    assert!(report.summary.contains("95% CI"), "{}", report.summary);
    assert!(report.summary.contains("; token burn "), "the guard beside it: {}", report.summary);
    assert!(report.guards.iter().all(|g| !g.flagged), "nothing else moved: {:?}", report.guards);
}

#[test]
fn with_no_effect_the_interval_includes_zero() {
    for seed in [1, 2, 3] {
        let report = build(&history(15, seed, 1.0, 1.0));
        let h = &report.headline;
        let (low, high) = (h.low.unwrap(), h.high.unwrap());
        assert!(low <= 0.0 && high >= 0.0, "seed {seed}: {low}..{high}");
        assert!(report.summary.contains("no clear effect"), "{}", report.summary);
    }
}

#[test]
fn token_burn_rising_is_flagged_even_when_spend_per_outcome_falls() {
    let report = build(&history(15, 11, 0.8, 1.4));
    let burn = report.guards.iter().find(|g| g.estimate.metric == Metric::TokenBurn).unwrap();
    assert!(burn.flagged, "{burn:?}");
    assert!(report.summary.contains("token burn rose"), "{}", report.summary);
    assert!(report.summary.contains("beyond the 10% guard"), "{}", report.summary);
}

#[test]
fn quality_falling_and_template_drift_are_flagged() {
    let mut input = history(10, 5, 1.0, 1.0);
    for r in input.rows.iter_mut().filter(|r| r.person.starts_with('c') && r.week >= 0) {
        r.tally.quality_sum = 3 * r.tally.quality_n;
    }
    for r in &mut input.rows {
        let drifted = r.person.starts_with('c') && r.week >= 0;
        r.tally.template_calls = 10;
        r.tally.latest_template_calls = if drifted { 6 } else { 10 };
    }
    let report = build(&input);
    let flagged: Vec<Metric> = report.guards.iter().filter(|g| g.flagged).map(|g| g.estimate.metric).collect();
    assert_eq!(flagged, vec![Metric::LatestTemplateShare, Metric::Quality]);
    assert!(
        report.summary.contains("quality fell 1.00 (95% CI 1.00–1.00), beyond the 0.25 guard"),
        "{}",
        report.summary
    );
    assert!(report.guards.iter().filter(|g| g.flagged).all(|g| g.level == GuardLevel::Flagged));
}

/// Everyone burns 20,000 tokens a week and has ten outcomes at $0.50;
/// during the pilot each cohort member's tokens are multiplied by their
/// own factor. The control group does not change.
fn burn_history(factors: &[f64]) -> Input {
    let cohort: Vec<String> = (0..factors.len()).map(|i| format!("c{i}")).collect();
    let control: Vec<String> = (0..factors.len()).map(|i| format!("k{i}")).collect();
    let tally = |tokens: f64| Tally {
        calls: 30,
        tokens: tokens.round() as u64,
        spend: Nanos(5_000_000_000),
        outcomes: 10,
        reported: 10,
        ..Tally::default()
    };
    let mut rows = Vec::new();
    for week in -(BEFORE as i32)..DURING as i32 {
        for (person, factor) in cohort.iter().zip(factors) {
            let f = if week >= 0 { *factor } else { 1.0 };
            rows.push(Row { person: person.clone(), week, tally: tally(20_000.0 * f) });
        }
        for person in &control {
            rows.push(Row { person: person.clone(), week, tally: tally(20_000.0) });
        }
    }
    input("burn", cohort, control, rows)
}

fn burn(report: &tokenwise_pilots::PilotReport) -> &tokenwise_pilots::GuardFlag {
    report.guards.iter().find(|g| g.estimate.metric == Metric::TokenBurn).unwrap()
}

#[test]
fn a_guard_is_flagged_only_when_its_interval_is_past_the_threshold() {
    // The same 40% rise in token burn: every cohort member up 40%, or
    // half of them down 80% and half up 160%.
    let clear = build(&burn_history(&[1.4; 6]));
    let noisy = build(&burn_history(&[0.2, 2.6, 0.2, 2.6, 0.2, 2.6]));
    let (c, n) = (burn(&clear), burn(&noisy));
    assert!((c.estimate.effect.unwrap() - 0.4).abs() < 1e-9, "{c:?}");
    assert!((n.estimate.effect.unwrap() - 0.4).abs() < 1e-9, "the same point estimate: {n:?}");

    assert_eq!(c.level, GuardLevel::Flagged, "{c:?}");
    assert!(c.flagged);
    assert!(c.estimate.low.unwrap() > c.threshold, "its whole interval is past the guard: {c:?}");
    assert!(clear.summary.contains("token burn rose 40% (95% CI 40–40%), beyond the 10% guard"), "{}", clear.summary);

    assert!(n.estimate.low.unwrap() < n.threshold, "a wide interval reaching inside the guard: {n:?}");
    assert_eq!(n.level, GuardLevel::Watch, "{n:?}");
    assert!(!n.flagged, "not flagged as certain: {n:?}");
    assert!(!noisy.summary.contains("beyond the 10% guard"), "{}", noisy.summary);
    assert!(
        noisy.summary.contains("token burn rose 40% (95% CI")
            && noisy.summary.contains("past the 10% guard by its estimate but not with 95% confidence: watch it"),
        "{}",
        noisy.summary
    );
}

#[test]
fn a_rise_within_the_guard_is_neither_flagged_nor_watched() {
    let report = build(&burn_history(&[1.05; 6]));
    let b = burn(&report);
    assert_eq!(b.level, GuardLevel::Within, "{b:?}");
    assert!(report.summary.contains("token burn rose 5%, within the 10% guard"), "{}", report.summary);
}

#[test]
fn with_one_person_a_side_a_rise_past_the_guard_is_only_watched() {
    // One person a side: every resample would be that person, an interval
    // of no width that says nothing of how people vary; none is drawn.
    let report = build(&burn_history(&[1.4]));
    let b = burn(&report);
    assert!((b.estimate.effect.unwrap() - 0.4).abs() < 1e-9, "{b:?}");
    assert_eq!((b.estimate.low, b.estimate.high), (None, None), "{b:?}");
    assert_eq!(b.level, GuardLevel::Watch, "{b:?}");
    assert!(report.summary.contains("(too few people for an interval): watch it"), "{}", report.summary);
}

#[test]
fn the_same_history_gives_the_same_report() {
    assert_eq!(build(&history(8, 3, 0.9, 1.0)), build(&history(8, 3, 0.9, 1.0)));
}

#[test]
fn feedback_is_tallied_per_week_and_subject_and_comments_kept() {
    let mut input = history(3, 1, 1.0, 1.0);
    let answer = |week, about: &str, answer: &str, comment: Option<&str>| Answer {
        week,
        about: about.into(),
        answer: answer.into(),
        comment: comment.map(Into::into),
        rules_version: "s2-x".into(),
    };
    input.feedback = vec![
        answer(0, "score", "motivating", None),
        answer(0, "score", "unfair", Some("my outcomes were not counted")),
        answer(1, "nudge", "confusing", None),
    ];
    let report = build(&input);
    assert_eq!(report.feedback.len(), 2);
    assert_eq!((report.feedback[0].motivating, report.feedback[0].unfair), (1, 1));
    assert_eq!(report.feedback[1].confusing, 1);
    assert_eq!(report.comments.len(), 1);
}

fn person_rows(person: &str, spend: &[u32], outcomes: &[u8]) -> Vec<Row> {
    spend
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, (s, o))| Row {
            person: person.into(),
            week: i as i32 - 2,
            tally: Tally {
                spend: Nanos(i64::from(*s) * 1000),
                outcomes: u64::from(*o),
                tokens: u64::from(*s),
                ..Tally::default()
            },
        })
        .collect()
}

fn input_of(cohort: Vec<Vec<Row>>, control: Vec<Vec<Row>>) -> Input {
    let names = |g: &Vec<Vec<Row>>| g.iter().filter_map(|r| r.first().map(|r| r.person.clone())).collect();
    Input {
        pilot: "prop".into(),
        weeks_before: 2,
        weeks_during: 2,
        week_starts: Vec::new(),
        cohort: names(&cohort),
        control: names(&control),
        rows: cohort.into_iter().chain(control).flatten().collect(),
        feedback: Vec::new(),
        guards: Guards::default(),
        resamples: 200,
    }
}

fn people(prefix: &'static str) -> impl Strategy<Value = Vec<Vec<Row>>> {
    prop::collection::vec((prop::collection::vec(1u32..1000, 4), prop::collection::vec(1u8..20, 4)), 2..8).prop_map(
        move |ps| ps.iter().enumerate().map(|(i, (s, o))| person_rows(&format!("{prefix}{i}"), s, o)).collect(),
    )
}

fn renamed(group: &[Vec<Row>], prefix: &str) -> Vec<Vec<Row>> {
    group
        .iter()
        .enumerate()
        .map(|(i, rows)| rows.iter().map(|r| Row { person: format!("{prefix}{i}"), ..r.clone() }).collect())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn identical_groups_show_no_effect_and_an_interval_around_zero(group in people("c")) {
        let report = build(&input_of(group.clone(), renamed(&group, "k")));
        for e in &report.effects {
            if let (Some(effect), Some(low), Some(high)) = (e.effect, e.low, e.high) {
                prop_assert!(effect.abs() < 1e-9, "{e:?}");
                prop_assert!(low <= 0.0 && high >= 0.0, "{e:?}");
            }
        }
    }

    #[test]
    fn a_constant_shift_in_the_cohorts_spend_is_the_effect(group in people("c"), pct in 10u32..300) {
        // The cohort is the control group's copy whose spend during the
        // pilot is multiplied by `factor`: the effect is the shift itself.
        let factor = f64::from(pct) / 100.0;
        let shifted: Vec<Vec<Row>> = group.iter().map(|rows| rows.iter().map(|r| {
            let mut r = r.clone();
            if r.week >= 0 {
                r.tally.spend = Nanos((r.tally.spend.0 as f64 * factor).round() as i64);
            }
            r
        }).collect()).collect();
        let h = build(&input_of(shifted, renamed(&group, "k"))).headline;
        prop_assert!((h.effect.unwrap() - (factor - 1.0)).abs() < 1e-3, "{h:?}");
    }

    #[test]
    fn the_interval_contains_the_estimate(group in people("c"), control in people("k")) {
        for e in build(&input_of(group, control)).effects {
            if let (Some(effect), Some(low), Some(high)) = (e.effect, e.low, e.high) {
                prop_assert!(low <= effect && effect <= high, "{e:?}");
            }
        }
    }

    #[test]
    fn a_guard_flagged_with_confidence_is_past_its_threshold_by_estimate_too(
        group in people("c"), control in people("k"),
    ) {
        for g in build(&input_of(group, control)).guards {
            let past = g.estimate.worsening().is_some_and(|w| w > g.threshold);
            let sure = g.estimate.worsening_interval().is_some_and(|(nearest, _)| nearest > g.threshold);
            prop_assert_eq!(g.flagged, sure, "{:?}", g);
            prop_assert_eq!(g.level == GuardLevel::Watch, past && !sure, "{:?}", g);
            prop_assert!(!g.flagged || past, "{:?}", g);
        }
    }
}
