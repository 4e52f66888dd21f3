//! Badges for behaviour worth copying, each with the fact that earned it.
//! A badge has a key (what it was for: a template, a use case, a period),
//! so the store awards each (subject, badge, key) once.

use crate::facts::{Facts, Status};
use crate::models::{Board, Subjects};
use crate::rules::Rules;
use crate::tally;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Award {
    pub subject: String,
    pub badge: String,
    pub key: String,
    pub explanation: String,
}

/// The fewest people with outcomes before top-decile efficiency means anything.
const DECILE_MIN_PEOPLE: usize = 10;

/// Every badge the period's facts earn.
pub fn awards(facts: &Facts, rules: &Rules) -> Vec<Award> {
    awards_for(facts, rules, &Subjects::of(facts, rules))
}

/// [`awards`] over subjects already computed from the same facts and rules.
pub fn awards_for(facts: &Facts, rules: &Rules, subjects: &Subjects) -> Vec<Award> {
    let mut out = Vec::new();
    template_reuse(facts, rules, &mut out);
    let people: Vec<_> = subjects.0.iter().filter(|s| s.id.starts_with("user:")).collect();
    let mut with_outcomes: Vec<f64> =
        people.iter().filter(|s| s.tally.weight > 0.0).map(|s| s.axes.efficiency).collect();
    if with_outcomes.len() >= DECILE_MIN_PEOPLE {
        with_outcomes.sort_by(f64::total_cmp);
        let at = (with_outcomes.len() * 9).div_ceil(10).min(with_outcomes.len() - 1);
        let threshold = with_outcomes[at];
        for s in people.iter().filter(|s| s.tally.weight > 0.0 && s.axes.efficiency >= threshold) {
            out.push(Award {
                subject: s.id.clone(),
                badge: "top_decile_efficiency".into(),
                key: facts.period.clone(),
                explanation: format!(
                    "efficiency {:.1} in {}, in the top tenth of the {} people with outcomes",
                    100.0 * s.axes.efficiency,
                    facts.period,
                    with_outcomes.len()
                ),
            });
        }
    }
    for s in people.iter().filter(|s| s.tally.clean_days >= rules.badge_clean_days) {
        out.push(Award {
            subject: s.id.clone(),
            badge: "clean_days".into(),
            key: facts.period.clone(),
            explanation: format!(
                "{} days in {} with calls and none blocked or masked",
                s.tally.clean_days, facts.period
            ),
        });
    }
    first_validated(facts, rules, &mut out);
    out.sort();
    out
}

fn template_reuse(facts: &Facts, rules: &Rules, out: &mut Vec<Award>) {
    let mut teams: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for a in facts.activity.iter().filter(|a| a.calls > a.blocked) {
        let Some(key) = &a.template else { continue };
        let Some(t) = facts.templates.get(key) else { continue };
        let id = key.split('@').next().unwrap_or(key).to_string();
        match (facts.team_of(&a.user), facts.team_of(&t.author)) {
            (Some(team), author_team) if Some(team) != author_team => {
                teams.entry((t.author.clone(), id)).or_default().insert(team.to_string());
            }
            _ => {}
        }
    }
    for ((author, id), teams) in teams {
        if teams.len() >= rules.badge_reuse_teams as usize {
            let names: Vec<&str> = teams.iter().map(String::as_str).collect();
            out.push(Award {
                subject: format!("user:{author}"),
                badge: "template_reuse".into(),
                key: id.clone(),
                explanation: format!("template {id} used by {} other teams: {}", teams.len(), names.join(", ")),
            });
        }
    }
}

/// Only an outcome that counts earns it: one with no metered work behind it,
/// or of a kind its track does not score, is not behaviour worth copying.
fn first_validated(facts: &Facts, rules: &Rules, out: &mut Vec<Award>) {
    let mut firsts: BTreeSet<(&str, &str)> = BTreeSet::new();
    let validated = facts.outcomes.iter().filter(|o| o.status == Status::Validated && tally::counts(o, facts, rules));
    for o in validated {
        if facts.validated_before.contains(&(o.user.clone(), o.use_case.clone())) {
            continue;
        }
        if firsts.insert((&o.user, &o.use_case)) {
            out.push(Award {
                subject: format!("user:{}", o.user),
                badge: "first_validated_outcome".into(),
                key: o.use_case.clone(),
                explanation: format!("first validated outcome in use case {}", o.use_case),
            });
        }
    }
}

/// Puts each subject's badges of this period on its score.
pub fn attach(board: &mut Board, awards: &[Award]) {
    let mut by_subject: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for a in awards {
        by_subject.entry(a.subject.as_str()).or_default().push(a.badge.clone());
    }
    for s in &mut board.scores {
        let mut badges = by_subject.get(s.subject.as_str()).cloned().unwrap_or_default();
        badges.sort();
        badges.dedup();
        s.badges = badges;
    }
}
