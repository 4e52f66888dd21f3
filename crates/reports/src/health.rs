//! Program health: the measures that say whether the program works —
//! spend per outcome over time, template reuse across teams, adoption,
//! policy adherence, escalations, and prompts built separately in several
//! teams. Every rate is a count over a count, both given beside it.

use crate::decimal::{per, usd};
use jiff::civil::Date;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tokenwise_core::Nanos;

/// Calls of one person on one day of the period (index from its start),
/// for one use case and template, summed (the ledger's daily rollup).
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub user: String,
    pub team: String,
    pub day: u16,
    pub template: Option<String>,
    pub calls: u64,
    pub blocked: u64,
    pub flagged: u64,
    pub exception_calls: u64,
    pub cost: Nanos,
}

/// An outcome reported in the period.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub day: u16,
    pub team: String,
    pub validated: bool,
    pub rejected: bool,
    pub escalated: bool,
    pub error: bool,
}

/// Tasks whose last call was in the period, of one team, that began with
/// one prompt (its hash) and named one template first. The ledger gives
/// only prompts that began tasks of several teams (`shared_prompts`).
#[derive(Debug, Clone, Default)]
pub struct Task {
    pub team: String,
    pub template: Option<String>,
    pub prompt_hash: Option<String>,
    pub count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Template {
    /// `id@version`.
    pub key: String,
    pub id: String,
    pub author_team: Option<String>,
    pub approved: bool,
    pub use_case: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Week,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub period: String,
    /// The period's first day (in the org's time zone) and its length.
    pub first_day: Date,
    pub days: u16,
    pub bucket: Bucket,
    pub activity: Vec<Activity>,
    pub outcomes: Vec<Outcome>,
    pub tasks: Vec<Task>,
    pub templates: Vec<Template>,
    /// People per team in the policy.
    pub people: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpendPoint {
    pub from: String,
    /// Exclusive.
    pub to: String,
    pub spend_usd: String,
    /// Outcomes not rejected.
    pub outcomes: u64,
    pub validated: u64,
    pub cost_per_outcome_usd: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateReuse {
    pub template: String,
    pub approved: bool,
    pub author_team: Option<String>,
    /// Teams whose people called with it.
    pub teams: Vec<String>,
    /// Of those, teams other than the author's.
    pub reused_by_other_teams: u64,
    pub calls: u64,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Adoption {
    pub team: String,
    pub people: u64,
    pub active_people: u64,
    pub share: f64,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Adherence {
    pub team: String,
    pub calls: u64,
    pub approved_template_calls: u64,
    /// Of the calls not blocked.
    pub approved_template_share: f64,
    pub blocked: u64,
    pub blocked_rate: f64,
    pub flagged: u64,
    pub flagged_rate: f64,
    pub exception_calls: u64,
    pub exception_rate: f64,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Escalation {
    pub team: String,
    /// Outcomes not rejected.
    pub outcomes: u64,
    pub escalated: u64,
    pub escalation_rate: f64,
    pub errors: u64,
    pub error_rate: f64,
}

/// Work built separately in several teams that could have been one
/// shared template.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateBuild {
    /// `same_prompt` (tasks of several teams began with the same prompt,
    /// not through one shared template) or `similar_templates` (templates
    /// of several teams whose names say the same).
    pub signal: &'static str,
    /// The prompt hash's first 16 characters, or the templates' common name.
    pub key: String,
    pub teams: Vec<String>,
    pub templates: Vec<String>,
    /// `same_prompt`: the tasks that began with it; `similar_templates`:
    /// the calls made with those templates in the period.
    pub uses: u64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub period: String,
    pub bucket: Bucket,
    pub spend_per_outcome: Vec<SpendPoint>,
    pub template_reuse: Vec<TemplateReuse>,
    pub adoption: Vec<Adoption>,
    pub adherence: Vec<Adherence>,
    pub escalation: Vec<Escalation>,
    pub duplicate_builds: Vec<DuplicateBuild>,
    /// How each measure is defined, in words.
    pub definitions: Vec<&'static str>,
}

/// The org's row is named `org`; then one per team.
pub const ORG: &str = "org";

pub const DEFINITIONS: [&str; 6] = [
    "spend_per_outcome: the ledger's spend in each day or week over the outcomes reported then that were not rejected",
    "adoption: people with at least one call in the period over the people the policy lists, per team",
    "adherence: calls with an approved template over calls not blocked; blocked, flagged (redacted or rerouted) and exception calls over all calls",
    "escalation: outcomes marked escalated (or with an error) over outcomes not rejected",
    "template_reuse: the teams whose people called with each template; reuse counts teams other than the author's",
    "duplicate_builds: tasks of several teams that began with the same prompt (exact prompt hash; near-duplicate signatures are not compared yet) without one shared template, and templates of several teams whose names are the same once versions and separators are set aside",
];

#[allow(clippy::cast_precision_loss)]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

pub fn health(input: &Input) -> Health {
    Health {
        period: input.period.clone(),
        bucket: input.bucket,
        spend_per_outcome: spend_per_outcome(input),
        template_reuse: template_reuse(input),
        adoption: adoption(input),
        adherence: adherence(input),
        escalation: escalation(input),
        duplicate_builds: duplicate_builds(input),
        definitions: DEFINITIONS.to_vec(),
    }
}

fn spend_per_outcome(input: &Input) -> Vec<SpendPoint> {
    let width = match input.bucket {
        Bucket::Day => 1,
        Bucket::Week => 7,
    };
    let n = usize::from(input.days.div_ceil(width));
    let mut spend = vec![Nanos::ZERO; n];
    let mut counted = vec![0u64; n];
    let mut validated = vec![0u64; n];
    let at = |day: u16| usize::from(day / width).min(n.saturating_sub(1));
    for a in &input.activity {
        if n > 0 {
            spend[at(a.day)] = spend[at(a.day)].saturating_add(a.cost);
        }
    }
    for o in input.outcomes.iter().filter(|o| !o.rejected && n > 0) {
        counted[at(o.day)] += 1;
        validated[at(o.day)] += u64::from(o.validated);
    }
    let date = |d: u16| {
        input
            .first_day
            .checked_add(jiff::Span::new().days(i64::from(d)))
            .map_or_else(|_| String::new(), |x| x.to_string())
    };
    (0..n)
        .map(|i| {
            let from = u16::try_from(i).unwrap_or(u16::MAX).saturating_mul(width);
            SpendPoint {
                from: date(from),
                to: date(from.saturating_add(width).min(input.days)),
                spend_usd: usd(spend[i]),
                outcomes: counted[i],
                validated: validated[i],
                cost_per_outcome_usd: per(spend[i], counted[i]).map(usd),
            }
        })
        .collect()
}

fn template_reuse(input: &Input) -> Vec<TemplateReuse> {
    let mut used: BTreeMap<&str, (BTreeSet<&str>, u64)> = BTreeMap::new();
    for a in &input.activity {
        if let Some(t) = a.template.as_deref() {
            let e = used.entry(t).or_default();
            e.0.insert(&a.team);
            e.1 += a.calls;
        }
    }
    let mut out: Vec<TemplateReuse> = used
        .into_iter()
        .map(|(key, (teams, calls))| {
            let t = input.templates.iter().find(|t| t.key == key);
            let author_team = t.and_then(|t| t.author_team.clone());
            let others = teams.iter().filter(|x| Some(**x) != author_team.as_deref()).count();
            TemplateReuse {
                template: key.to_string(),
                approved: t.is_some_and(|t| t.approved),
                author_team,
                teams: teams.iter().map(ToString::to_string).collect(),
                reused_by_other_teams: others as u64,
                calls,
            }
        })
        .collect();
    out.sort_by(|a, b| b.reused_by_other_teams.cmp(&a.reused_by_other_teams).then(b.calls.cmp(&a.calls)));
    out
}

fn adoption(input: &Input) -> Vec<Adoption> {
    let mut active: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in input.activity.iter().filter(|a| a.calls > 0) {
        active.entry(&a.team).or_default().insert(&a.user);
    }
    let row = |team: &str, people: u64, active: u64| Adoption {
        team: team.to_string(),
        people,
        active_people: active,
        share: ratio(active, people),
    };
    let mut out = vec![row(
        ORG,
        input.people.values().sum(),
        active.iter().filter(|(t, _)| input.people.contains_key(**t)).map(|(_, s)| s.len() as u64).sum(),
    )];
    for (team, people) in &input.people {
        out.push(row(team, *people, active.get(team.as_str()).map_or(0, |s| s.len() as u64)));
    }
    out
}

fn adherence(input: &Input) -> Vec<Adherence> {
    let approved: BTreeSet<&str> = input.templates.iter().filter(|t| t.approved).map(|t| t.key.as_str()).collect();
    let mut rows: BTreeMap<&str, Adherence> = BTreeMap::new();
    for a in &input.activity {
        let ok = a.template.as_deref().is_some_and(|t| approved.contains(t));
        for team in [ORG, a.team.as_str()] {
            let r = rows.entry(team).or_default();
            r.calls += a.calls;
            r.blocked += a.blocked;
            r.flagged += a.flagged;
            r.exception_calls += a.exception_calls;
            if ok {
                r.approved_template_calls += a.calls.saturating_sub(a.blocked);
            }
        }
    }
    rows.entry(ORG).or_default();
    let mut out: Vec<Adherence> = rows
        .into_iter()
        .map(|(team, mut r)| {
            r.team = team.to_string();
            r.approved_template_share = ratio(r.approved_template_calls, r.calls.saturating_sub(r.blocked));
            r.blocked_rate = ratio(r.blocked, r.calls);
            r.flagged_rate = ratio(r.flagged, r.calls);
            r.exception_rate = ratio(r.exception_calls, r.calls);
            r
        })
        .collect();
    out.sort_by_key(|r| r.team != ORG);
    out
}

fn escalation(input: &Input) -> Vec<Escalation> {
    let mut rows: BTreeMap<&str, Escalation> = BTreeMap::new();
    rows.entry(ORG).or_default();
    for o in input.outcomes.iter().filter(|o| !o.rejected) {
        for team in [ORG, o.team.as_str()] {
            let r = rows.entry(team).or_default();
            r.outcomes += 1;
            r.escalated += u64::from(o.escalated);
            r.errors += u64::from(o.error);
        }
    }
    let mut out: Vec<Escalation> = rows
        .into_iter()
        .map(|(team, mut r)| {
            r.team = team.to_string();
            r.escalation_rate = ratio(r.escalated, r.outcomes);
            r.error_rate = ratio(r.errors, r.outcomes);
            r
        })
        .collect();
    out.sort_by_key(|r| r.team != ORG);
    out
}

/// A template's name with versions, separators and filler words set
/// aside: `support-reply-v2` and `Support_Reply` say the same.
pub fn name_signature(id: &str) -> String {
    const FILLER: [&str; 6] = ["v", "template", "tpl", "prompt", "new", "draft"];
    let mut words: Vec<String> = id
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .filter(|w| !w.is_empty())
        .filter(|w| !FILLER.contains(&w.as_str()))
        .filter(|w| !(w.starts_with('v') && w.len() > 1 && w[1..].chars().all(|c| c.is_ascii_digit())))
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    words.sort();
    words.dedup();
    words.join(" ")
}

/// The teams and templates of the tasks that began with one prompt.
#[derive(Default)]
struct SamePrompt<'a> {
    teams: BTreeSet<&'a str>,
    templates: BTreeSet<Option<&'a str>>,
    tasks: u64,
}

fn duplicate_builds(input: &Input) -> Vec<DuplicateBuild> {
    let mut out = Vec::new();
    let mut by_hash: BTreeMap<&str, SamePrompt<'_>> = BTreeMap::new();
    for t in &input.tasks {
        if let Some(h) = t.prompt_hash.as_deref() {
            let e = by_hash.entry(h).or_default();
            e.teams.insert(&t.team);
            e.templates.insert(t.template.as_deref());
            e.tasks += t.count;
        }
    }
    for (hash, SamePrompt { teams, templates, tasks }) in by_hash {
        // One shared template across teams is reuse, not a duplicate.
        let shared = templates.len() == 1 && templates.iter().all(Option::is_some);
        if teams.len() >= 2 && !shared {
            out.push(DuplicateBuild {
                signal: "same_prompt",
                key: hash.chars().take(16).collect(),
                teams: teams.iter().map(ToString::to_string).collect(),
                templates: templates.into_iter().flatten().map(ToString::to_string).collect(),
                uses: tasks,
            });
        }
    }
    let mut by_name: BTreeMap<String, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    let mut latest: BTreeMap<&str, &Template> = BTreeMap::new();
    for t in &input.templates {
        latest.insert(&t.id, t);
    }
    for t in latest.values() {
        let Some(team) = t.author_team.as_deref() else { continue };
        let e = by_name.entry(name_signature(&t.id)).or_default();
        e.0.insert(team);
        e.1.insert(&t.id);
    }
    for (name, (teams, ids)) in by_name {
        if teams.len() >= 2 && ids.len() >= 2 && !name.is_empty() {
            let of_ids = |key: &str| key.split_once('@').is_some_and(|(id, _)| ids.contains(id));
            let calls =
                input.activity.iter().filter(|a| a.template.as_deref().is_some_and(of_ids)).map(|a| a.calls).sum();
            out.push(DuplicateBuild {
                signal: "similar_templates",
                key: name,
                teams: teams.iter().map(ToString::to_string).collect(),
                templates: ids.iter().map(ToString::to_string).collect(),
                uses: calls,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
