//! `[[pilots]]` → checked pilots: unique ids; every team, person and use
//! case named declared; cohort and control resolved to people and never
//! sharing one; the end on or after the start; a known reward model and
//! rules version; nobody in two cohorts on the same day.

use super::{V, path};
use crate::diag::{KeyPath, suggest};
use crate::model::{Pilot, PilotGuards, UseCase, User};
use crate::raw::{RawGuards, RawMembers, RawPilot};
use jiff::civil::Date;
use std::collections::{BTreeMap, BTreeSet};

/// What a pilot may name.
pub(super) struct Known<'a> {
    pub users: &'a BTreeMap<String, User>,
    pub use_cases: &'a BTreeMap<String, UseCase>,
    /// The version of the policy's `[scoring]` rules.
    pub rules: Option<String>,
}

pub(super) fn pilots(v: &mut V<'_>, raw: &[Option<RawPilot>], known: &Known<'_>) -> Vec<Pilot> {
    let mut out: Vec<Pilot> = Vec::new();
    for (i, entry) in raw.iter().enumerate() {
        let Some(r) = entry else { continue };
        let p = path(&["pilots"]).index(i);
        v.ident(p.key("id"), &r.id, "pilot");
        if out.iter().any(|o| o.id == r.id) {
            v.err(p.key("id"), format!("pilot `{}` is defined twice", r.id), Some("give each pilot its own id".into()));
        }
        if let Some(pilot) = pilot(v, &p, r, known) {
            overlapping(v, &p, &pilot, &out);
            out.push(pilot);
        }
    }
    out
}

/// A person is shown one incentive design at a time: nobody may be in the
/// cohorts of two pilots whose days overlap.
fn overlapping(v: &mut V<'_>, p: &KeyPath, pilot: &Pilot, earlier: &[Pilot]) {
    for o in earlier.iter().filter(|o| o.start <= pilot.end && pilot.start <= o.end) {
        if let Some(both) = pilot.cohort.intersection(&o.cohort).next() {
            let msg = format!(
                "`{both}` is in the cohorts of pilots `{}` and `{}`, whose days overlap ({} to {}, {} to {})",
                o.id, pilot.id, o.start, o.end, pilot.start, pilot.end
            );
            let hint = "a person is shown one pilot's design at a time: run them one after the other, or give them \
                        cohorts apart";
            v.err_key(p.key("cohort"), msg, Some(hint.into()));
        }
    }
}

/// The people of the teams and persons named, each reference checked.
fn members(v: &mut V<'_>, p: &KeyPath, m: &RawMembers, users: &BTreeMap<String, User>) -> BTreeSet<String> {
    let names = v.names;
    let mut out = BTreeSet::new();
    for (j, t) in m.teams.iter().enumerate() {
        if v.reference(p.key("teams").index(j), "team", t, &names.teams) {
            out.extend(users.values().filter(|u| &u.team == t).map(|u| u.id.clone()));
        }
    }
    for (j, u) in m.users.iter().enumerate() {
        if v.reference(p.key("users").index(j), "user", u, &names.users) {
            out.insert(u.clone());
        }
    }
    out
}

fn day(v: &mut V<'_>, p: KeyPath, text: &str) -> Option<Date> {
    let parsed = text.parse::<Date>().ok();
    if parsed.is_none() {
        v.err(p, format!("`{text}` is not a date"), Some("write it as YYYY-MM-DD, e.g. 2026-09-01".into()));
    }
    parsed
}

fn pilot(v: &mut V<'_>, p: &KeyPath, r: &RawPilot, known: &Known<'_>) -> Option<Pilot> {
    let cohort = members(v, &p.key("cohort"), &r.cohort, known.users);
    if r.cohort.teams.is_empty() && r.cohort.users.is_empty() {
        let hint = "e.g. cohort = { teams = [\"support\"] } or cohort = { users = [\"ivan\", \"maria\"] }";
        v.err_key(p.key("cohort"), "a pilot's cohort names no team and no person", Some(hint.into()));
    }
    let names = v.names;
    for (j, u) in r.use_cases.iter().enumerate() {
        v.reference(p.key("use_cases").index(j), "use case", u, &names.use_cases);
    }
    let control = control(v, p, r, known, &cohort);
    let (start, end) = (day(v, p.key("start"), &r.start.0), day(v, p.key("end"), &r.end.0));
    if let (Some(s), Some(e)) = (start, end) {
        dates(v, p, s, e);
    }
    let baseline_weeks = r.baseline_weeks.unwrap_or(4);
    if !(1..=26).contains(&baseline_weeks) {
        let hint = "the weeks before the start the report compares with, e.g. 4";
        v.err(p.key("baseline_weeks"), "baseline_weeks must be from 1 to 26", Some(hint.into()));
    }
    let model = r.reward_model.parse::<tokenwise_scoring::Model>().ok();
    if model.is_none() {
        let known_models = tokenwise_scoring::Model::ALL.iter().map(|m| m.as_str());
        let msg = format!("unknown reward model `{}`", r.reward_model);
        v.err(p.key("reward_model"), msg, Some(suggest(&r.reward_model, known_models)));
    }
    let rules_version = rules_version(v, p, r, known)?;
    let guards = guards(v, &p.key("guards"), r.guards.as_ref());
    Some(Pilot {
        id: r.id.clone(),
        description: r.description.clone(),
        cohort_teams: r.cohort.teams.clone(),
        cohort_users: r.cohort.users.clone(),
        control_named: r.control.is_some(),
        cohort,
        control: control?,
        use_cases: r.use_cases.clone(),
        start: start?,
        end: end?,
        baseline_weeks,
        reward_model: model?,
        rules_version,
        board: r.board,
        badges: r.badges,
        guards,
    })
}

/// The control group: named, or everyone else who may use the pilot's use
/// cases (those the cohort may use when none are listed). Nobody in both.
fn control(
    v: &mut V<'_>,
    p: &KeyPath,
    r: &RawPilot,
    known: &Known<'_>,
    cohort: &BTreeSet<String>,
) -> Option<BTreeSet<String>> {
    let group = match &r.control {
        Some(m) => {
            let group = members(v, &p.key("control"), m, known.users);
            for both in group.intersection(cohort) {
                let msg = format!("`{both}` is in both the cohort and the control group");
                let hint = "a person is compared in one group only: take them out of `control` (or the cohort)";
                v.err_key(p.key("control"), msg, Some(hint.into()));
            }
            group
        }
        None => {
            let in_scope = |uc: &UseCase| r.use_cases.is_empty() || r.use_cases.contains(&uc.id);
            let cases: Vec<&UseCase> = known
                .use_cases
                .values()
                .filter(|uc| in_scope(uc))
                .filter(|uc| cohort.iter().filter_map(|c| known.users.get(c)).any(|u| uc.available_to.admits(u)))
                .collect();
            known
                .users
                .values()
                .filter(|u| !cohort.contains(&u.id) && cases.iter().any(|uc| uc.available_to.admits(u)))
                .map(|u| u.id.clone())
                .collect()
        }
    };
    if group.is_empty() && !cohort.is_empty() {
        let hint = "name one: control = { teams = [\"…\"] }, or widen the pilot's use_cases";
        v.err_key(p.key("control"), "the control group is empty: nobody to compare the cohort with", Some(hint.into()));
        return None;
    }
    Some(group)
}

fn dates(v: &mut V<'_>, p: &KeyPath, start: Date, end: Date) {
    if end < start {
        let msg = format!("the pilot ends ({end}) before it starts ({start})");
        v.err(p.key("end"), msg, Some("the end is the pilot's last day, on or after `start`".into()));
        return;
    }
    let days = start.until(end).map(|s| s.get_days() + 1).unwrap_or(0);
    if !(14..=180).contains(&days) {
        let msg = format!("the pilot runs {days} days");
        v.warn(
            p.key("end"),
            msg,
            Some("pilots are meant to run 60–90 days: long enough to see behaviour change".into()),
        );
    }
}

fn rules_version(v: &mut V<'_>, p: &KeyPath, r: &RawPilot, known: &Known<'_>) -> Option<String> {
    let current = known.rules.clone()?;
    match &r.rules_version {
        None => Some(current),
        Some(asked) if *asked == current => Some(current),
        Some(asked) => {
            let msg = format!("unknown scoring-rules version `{asked}`");
            let hint =
                format!("the policy's [scoring] rules are version `{current}`: write that, or leave rules_version out");
            v.err(p.key("rules_version"), msg, Some(hint));
            None
        }
    }
}

fn guards(v: &mut V<'_>, p: &KeyPath, raw: Option<&RawGuards>) -> PilotGuards {
    let d = PilotGuards::default();
    let Some(g) = raw else { return d };
    let mut within = |key: &str, value: Option<f64>, max: f64, default: f64| -> f64 {
        match value {
            Some(x) if !(0.0..=max).contains(&x) => {
                v.err(p.key(key), format!("{key} must be from 0 to {max}, got {x}"), None);
                default
            }
            Some(x) => x,
            None => default,
        }
    };
    PilotGuards {
        token_burn: within("token_burn_percent", g.token_burn_percent, 1000.0, d.token_burn * 100.0) / 100.0,
        template_drift: within("template_drift_points", g.template_drift_points, 100.0, d.template_drift * 100.0)
            / 100.0,
        exceptions: within("exceptions_per_person_week", g.exceptions_per_person_week, 100.0, d.exceptions),
        quality: within("quality_points", g.quality_points, 4.0, d.quality),
    }
}
