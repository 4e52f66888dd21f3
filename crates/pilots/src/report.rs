//! The whole pilot report from per-person weekly rows.

use crate::effect::{self, Estimate, GuardLevel, Person};
use crate::metric::{Metric, Tally};
use crate::words;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which side of the comparison a person is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    Cohort,
    Control,
}

/// What one person did in one week. Weeks count from the pilot's start:
/// 0 is its first week, −1 the week before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub person: String,
    pub week: i32,
    pub tally: Tally,
}

/// One feedback answer, in the week it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Answer {
    pub week: i32,
    /// `score`, `leaderboard`, `nudge` or `budget`.
    pub about: String,
    /// `motivating`, `confusing` or `unfair`.
    pub answer: String,
    pub comment: Option<String>,
    /// The scoring-rules version the person was shown.
    pub rules_version: String,
}

/// When a guard metric's worsening is flagged: token burn up by more than
/// a share, template drift up (the latest-version share down) by more than
/// some points, exceptions up, quality down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Guards {
    /// A fraction: 0.10 flags token burn up more than 10%.
    pub token_burn: f64,
    /// A fraction of calls: 0.05 flags 5 percentage points more drift.
    pub template_drift: f64,
    /// Exceptions asked a person-week.
    pub exceptions: f64,
    /// On the 1–5 scale.
    pub quality: f64,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards { token_burn: 0.10, template_drift: 0.05, exceptions: 0.25, quality: 0.25 }
    }
}

impl Guards {
    fn list(&self) -> [(Metric, f64); 4] {
        [
            (Metric::TokenBurn, self.token_burn),
            (Metric::LatestTemplateShare, self.template_drift),
            (Metric::ExceptionsRequested, self.exceptions),
            (Metric::Quality, self.quality),
        ]
    }
}

/// What the report is built from.
#[derive(Debug, Clone)]
pub struct Input {
    pub pilot: String,
    /// Weeks before the start compared with the weeks during.
    pub weeks_before: u32,
    pub weeks_during: u32,
    /// The first day of each week, from week −`weeks_before`.
    pub week_starts: Vec<String>,
    pub cohort: Vec<String>,
    pub control: Vec<String>,
    pub rows: Vec<Row>,
    pub feedback: Vec<Answer>,
    pub guards: Guards,
    pub resamples: u32,
}

/// One week: each group's sums and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WeekRow {
    pub week: i32,
    /// Its first day.
    pub start: String,
    /// `before` or `during`.
    pub phase: String,
    pub cohort: Tally,
    pub control: Tally,
    /// Metric name → value (none without a denominator).
    pub cohort_metrics: BTreeMap<String, Option<f64>>,
    pub control_metrics: BTreeMap<String, Option<f64>>,
}

/// A guard metric and whether it worsened beyond its threshold, with the
/// uncertainty of that: `flagged` only when the whole interval is past the
/// threshold; `level` is `watch` when only the estimate is.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GuardFlag {
    pub estimate: Estimate,
    pub threshold: f64,
    pub level: GuardLevel,
    /// `level` is `flagged`: worse beyond the threshold with 95% confidence.
    pub flagged: bool,
    pub sentence: String,
}

/// Answers of one week about one subject.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct FeedbackTally {
    pub week: i32,
    pub about: String,
    pub motivating: u32,
    pub confusing: u32,
    pub unfair: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PilotReport {
    pub pilot: String,
    pub cohort_size: usize,
    pub control_size: usize,
    pub weeks: Vec<WeekRow>,
    /// Spend per outcome: the effect the pilot is judged by.
    pub headline: Estimate,
    /// Every metric's difference-in-differences.
    pub effects: Vec<Estimate>,
    pub guards: Vec<GuardFlag>,
    /// The headline and the guards in one sentence.
    pub summary: String,
    pub feedback: Vec<FeedbackTally>,
    /// The answers with their comments (governance only).
    pub comments: Vec<Answer>,
    pub resamples: u32,
}

fn people(input: &Input, group: &[String]) -> Vec<Person> {
    let weeks_before = u64::from(input.weeks_before);
    let weeks_during = u64::from(input.weeks_during);
    let mut by: BTreeMap<&str, Person> = group
        .iter()
        .map(|p| {
            let mut person = Person::default();
            person.before.person_weeks = weeks_before;
            person.during.person_weeks = weeks_during;
            (p.as_str(), person)
        })
        .collect();
    for r in &input.rows {
        if let Some(p) = by.get_mut(r.person.as_str()) {
            let side = if r.week < 0 { &mut p.before } else { &mut p.during };
            let keep = side.person_weeks;
            side.add(&r.tally);
            side.person_weeks = keep;
        }
    }
    by.into_values().collect()
}

fn metrics(t: &Tally) -> BTreeMap<String, Option<f64>> {
    Metric::ALL.iter().map(|m| (m.as_str().to_string(), m.value(t))).collect()
}

fn weeks(input: &Input) -> Vec<WeekRow> {
    let cohort: std::collections::BTreeSet<&str> = input.cohort.iter().map(String::as_str).collect();
    let control: std::collections::BTreeSet<&str> = input.control.iter().map(String::as_str).collect();
    let first = -i64::from(input.weeks_before);
    (first..i64::from(input.weeks_during))
        .filter_map(|w| i32::try_from(w).ok())
        .enumerate()
        .map(|(i, week)| {
            let mut c = Tally { person_weeks: cohort.len() as u64, ..Tally::default() };
            let mut k = Tally { person_weeks: control.len() as u64, ..Tally::default() };
            for r in input.rows.iter().filter(|r| r.week == week) {
                let target = if cohort.contains(r.person.as_str()) {
                    &mut c
                } else if control.contains(r.person.as_str()) {
                    &mut k
                } else {
                    continue;
                };
                let keep = target.person_weeks;
                target.add(&r.tally);
                target.person_weeks = keep;
            }
            WeekRow {
                week,
                start: input.week_starts.get(i).cloned().unwrap_or_default(),
                phase: if week < 0 { "before" } else { "during" }.into(),
                cohort_metrics: metrics(&c),
                control_metrics: metrics(&k),
                cohort: c,
                control: k,
            }
        })
        .collect()
}

/// Answers counted per week and subject.
pub fn tallies(answers: &[Answer]) -> Vec<FeedbackTally> {
    let mut by: BTreeMap<(i32, &str), FeedbackTally> = BTreeMap::new();
    for a in answers {
        let t = by.entry((a.week, a.about.as_str())).or_insert_with(|| FeedbackTally {
            week: a.week,
            about: a.about.clone(),
            ..FeedbackTally::default()
        });
        match a.answer.as_str() {
            "motivating" => t.motivating += 1,
            "confusing" => t.confusing += 1,
            _ => t.unfair += 1,
        }
    }
    by.into_values().collect()
}

/// The report. The bootstrap is seeded by the pilot's id.
pub fn build(input: &Input) -> PilotReport {
    let (cohort, control) = (people(input, &input.cohort), people(input, &input.control));
    let seed = crate::rng::seed_of(&input.pilot);
    let effects = effect::estimate(&Metric::ALL, &cohort, &control, input.resamples, seed);
    let find = |m: Metric| effects.iter().find(|e| e.metric == m).cloned();
    let headline = find(Metric::SpendPerOutcome).unwrap_or_else(|| empty(Metric::SpendPerOutcome));
    let guards: Vec<GuardFlag> = input
        .guards
        .list()
        .into_iter()
        .map(|(m, threshold)| {
            let estimate = find(m).unwrap_or_else(|| empty(m));
            let level = GuardLevel::of(&estimate, threshold);
            let sentence = words::guard(&estimate, threshold, level);
            GuardFlag { estimate, threshold, level, flagged: level == GuardLevel::Flagged, sentence }
        })
        .collect();
    PilotReport {
        pilot: input.pilot.clone(),
        cohort_size: input.cohort.len(),
        control_size: input.control.len(),
        weeks: weeks(input),
        summary: summary(&headline, &guards),
        headline,
        effects,
        guards,
        feedback: tallies(&input.feedback),
        comments: input.feedback.iter().filter(|a| a.comment.is_some()).cloned().collect(),
        resamples: input.resamples,
    }
}

fn empty(metric: Metric) -> Estimate {
    Estimate {
        metric,
        kind: metric.kind(),
        cohort_before: None,
        cohort_during: None,
        control_before: None,
        control_during: None,
        effect: None,
        low: None,
        high: None,
    }
}

/// "spend per outcome fell 18% (95% CI 9–26%) against the control group;
/// token burn did not rise", then any other guard flagged or to watch.
fn summary(headline: &Estimate, guards: &[GuardFlag]) -> String {
    let mut parts = vec![words::headline(headline)];
    for g in guards {
        if g.estimate.metric == Metric::TokenBurn || matches!(g.level, GuardLevel::Flagged | GuardLevel::Watch) {
            parts.push(g.sentence.clone());
        }
    }
    parts.join("; ")
}
