//! The six reward models over the same facts. `balanced` is the default;
//! the others are the classic designs, kept so a governance team can see
//! on its own history what each would have rewarded.

use crate::axes::{Axes, Line, round};
use crate::facts::Facts;
use crate::rules::Rules;
use crate::tally::{self, Tally};
use serde::Serialize;
use std::collections::BTreeMap;

tokenwise_core::named_enum!(
    /// A reward model.
    Model, "reward model", {
        /// Tokens used: what withdrawn token leaderboards rank by.
        RawTokens => "raw_tokens",
        /// The efficiency axis alone.
        Efficiency => "efficiency",
        /// Credited outcome value.
        Outcome => "outcome",
        /// Credited outcome value × the compliance axis.
        ComplianceWeighted => "compliance_weighted",
        /// Everyone gets their team's balanced result.
        Team => "team",
        /// Weighted geometric mean of the axes, blended with the team's.
        Balanced => "balanced",
    }
);

/// One subject's score (the contract's score JSON).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Score {
    pub subject: String,
    pub rank: u32,
    pub score: f64,
    pub efficiency: f64,
    pub quality: f64,
    pub compliance: f64,
    pub breakdown: Vec<Line>,
    pub badges: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub model: Model,
    pub period: String,
    pub rules_version: String,
    pub scores: Vec<Score>,
    /// The pilot whose design the reader is shown (its reward model and
    /// rules version, its board visibility, its badges on or off): set by
    /// the application while a pilot runs with the reader in its cohort;
    /// none for everyone else.
    pub pilot: Option<String>,
}

/// A subject's facts and axes, before a model turns them into a score.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub id: String,
    pub tally: Tally,
    pub axes: Axes,
    /// The team's subject id, for a person.
    pub team: Option<String>,
}

/// Every person and team with activity or outcomes in the period.
pub(crate) fn subjects(facts: &Facts, rules: &Rules) -> Vec<Subject> {
    let people = tally::people(facts, rules);
    let teams = tally::teams(facts, &people);
    let mut out = Vec::new();
    // Only rejected, unmetered or off-track claims make nobody a subject: a board is not entered by
    // claiming work that was turned down.
    for (user, t) in people.iter().filter(|(_, t)| t.calls > 0 || t.weight > 0.0) {
        let team = facts.team_of(user).map(|t| format!("team:{t}"));
        out.push(Subject { id: format!("user:{user}"), axes: Axes::of(t), tally: t.clone(), team });
    }
    let active: std::collections::BTreeSet<String> = out.iter().filter_map(|s| s.team.clone()).collect();
    for (team, (t, _)) in teams.iter().filter(|(team, _)| active.contains(&format!("team:{team}"))) {
        out.push(Subject { id: format!("team:{team}"), axes: Axes::of(t), tally: t.clone(), team: None });
    }
    out
}

/// A person's own result: the composite of their axes, raised by their
/// templates' reuse by other teams, 0..100.
fn individual(s: &Subject, rules: &Rules) -> f64 {
    let bonus = 1.0 + rules.reuse_bonus * (1.0 - (-f64::from(s.tally.reuse_teams) / 2.0).exp2());
    (100.0 * rules.composite(s.axes.as_array()) * bonus).min(100.0)
}

/// The team's share of recognition goes to people who delivered, as far as
/// they kept the rules and their claims held up: with no individual result
/// (no counted outcome) there is none, and a person whose calls were
/// blocked or whose claims were rejected takes only that part of it — a
/// good team does not carry a free rider up the board.
fn balanced(s: &Subject, team: f64, rules: &Rules) -> f64 {
    let own = individual(s, rules);
    if own <= 0.0 {
        return 0.0;
    }
    let earned = s.axes.compliance * crate::axes::validation_rate(&s.tally);
    rules.team_share * team * earned + (1.0 - rules.team_share) * own
}

fn max_of(subjects: &[Subject], person: bool, f: impl Fn(&Subject) -> f64) -> f64 {
    subjects.iter().filter(|s| s.id.starts_with("user:") == person).map(f).fold(0.0, f64::max)
}

/// Every subject's tally and axes for one period, computed once and then
/// scored under any model and searched for badges.
#[derive(Debug, Clone)]
pub struct Subjects(pub(crate) Vec<Subject>);

impl Subjects {
    pub fn of(facts: &Facts, rules: &Rules) -> Subjects {
        Subjects(subjects(facts, rules))
    }
}

/// Scores every subject under one model, best first.
pub fn score(model: Model, facts: &Facts, rules: &Rules) -> Board {
    score_subjects(model, &Subjects::of(facts, rules), facts, rules)
}

/// [`score`] over subjects already computed from the same facts and rules.
pub fn score_subjects(model: Model, subjects: &Subjects, facts: &Facts, rules: &Rules) -> Board {
    let subjects = &subjects.0;
    let team_result: BTreeMap<&str, f64> = subjects
        .iter()
        .filter(|s| s.team.is_none())
        .map(|s| (s.id.as_str(), 100.0 * rules.composite(s.axes.as_array())))
        .collect();
    let team_of = |s: &Subject| match &s.team {
        Some(t) => team_result.get(t.as_str()).copied().unwrap_or(0.0),
        None => team_result.get(s.id.as_str()).copied().unwrap_or(0.0),
    };
    // The most of each relative measure, people and teams apart: computed
    // once, not per subject.
    let measure = |s: &Subject| match model {
        Model::RawTokens => s.tally.tokens as f64,
        Model::Outcome => s.tally.value,
        Model::ComplianceWeighted => s.tally.value * s.axes.compliance,
        _ => 0.0,
    };
    let most = [max_of(subjects, true, measure), max_of(subjects, false, measure)];
    let relative = |s: &Subject| {
        let max = most[usize::from(!s.id.starts_with("user:"))];
        if max > 0.0 { 100.0 * measure(s) / max } else { 0.0 }
    };
    let mut scores: Vec<Score> = subjects
        .iter()
        .map(|s| {
            let (value, rule) = match model {
                Model::RawTokens => (relative(s), "100 × tokens / the most tokens of any subject"),
                Model::Efficiency => (100.0 * s.axes.efficiency, "100 × efficiency"),
                Model::Outcome => (relative(s), "100 × credited outcome value / the most of any subject"),
                Model::ComplianceWeighted => {
                    (relative(s), "100 × credited outcome value × compliance / the most of any subject")
                }
                Model::Team => (team_of(s), "the team's balanced result: 100 × geometric mean of its axes"),
                Model::Balanced if s.team.is_none() => (team_of(s), "100 × weighted geometric mean of the axes"),
                Model::Balanced => (balanced(s, team_of(s), rules),
                    "team share × the team's result × compliance × validation rate + (1 − team share) × 100 × weighted geometric mean of the axes \
                     × (1 + reuse bonus × (1 − 2^(−other teams reusing their templates / 2))); 0 without a counted outcome",
                ),
            };
            let mut breakdown = s.axes.lines.clone();
            breakdown.push(Line { axis: "score", fact: format!("model {model}"), value: round(value, 2), rule: rule.into() });
            Score {
                subject: s.id.clone(),
                rank: 0,
                score: round(value, 2),
                efficiency: round(100.0 * s.axes.efficiency, 2),
                quality: round(100.0 * s.axes.quality, 2),
                compliance: round(100.0 * s.axes.compliance, 2),
                breakdown,
                badges: Vec::new(),
            }
        })
        .collect();
    rank(&mut scores);
    Board { model, period: facts.period.clone(), rules_version: rules.version(), scores, pilot: None }
}

/// People first, then teams, each best first and ranked among their own
/// kind; equal scores share a rank (1, 2, 2, 4), ties listed by subject.
pub fn rank(scores: &mut [Score]) {
    let team = |s: &Score| s.subject.starts_with("team:");
    scores.sort_by(|a, b| {
        team(a).cmp(&team(b)).then_with(|| b.score.total_cmp(&a.score)).then_with(|| a.subject.cmp(&b.subject))
    });
    let ranks = positions(scores.iter().map(|s| (team(s), s.score)));
    for (s, r) in scores.iter_mut().zip(ranks) {
        s.rank = r;
    }
}

/// Competition ranks (1, 2, 2, 4) of rows already in board order, given as
/// (is a team, score): people and teams are ranked apart.
pub fn positions(rows: impl IntoIterator<Item = (bool, f64)>) -> Vec<u32> {
    let mut out = Vec::new();
    let mut previous: Option<(bool, f64, u32)> = None;
    let mut position = 0u32;
    for (kind, score) in rows {
        position = match previous {
            Some((k, _, _)) if k == kind => position + 1,
            _ => 1,
        };
        let rank = match previous {
            Some((k, s, r)) if k == kind && s == score => r,
            _ => position,
        };
        out.push(rank);
        previous = Some((kind, score, rank));
    }
    out
}
