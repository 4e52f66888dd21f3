//! Casting a policy's people as personas. Every gaming persona is given to
//! a member of a team large enough to compare against (six or more), each
//! in a different team where it can be; the author of a template that
//! several teams may use is its template author; people with an
//! exploration use case may be explorers; the rest are honest workers of
//! varied skill. The seed decides who is who.

use crate::persona::Persona;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use tokenwise_core::Track;
use tokenwise_policy::{Audience, Policy, Role, User};

/// Teams this small are not where a gaming persona is hidden: their
/// aggregates are withheld and peers are too few to compare against.
const MIN_TEAM_FOR_GAMING: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user: String,
    pub team: String,
    pub persona: Persona,
    /// Who validates this person's outcomes: their team's manager, or the
    /// first governance person for a manager's own.
    pub validator: String,
    /// Production use cases this person may use, their main one first.
    pub use_cases: Vec<String>,
    /// An exploration use case this person may use, if any.
    pub sandbox: Option<String>,
    /// The pilot this person is in the cohort of, and the day of the
    /// simulated month (0-based) from which it runs.
    pub pilot: Option<(String, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Company {
    pub people: Vec<Person>,
}

impl Company {
    pub fn person(&self, user: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.user == user)
    }

    /// Puts the cohort of each of the policy's pilots in it, from the
    /// pilot's first day counted from `first` (the simulated month's first
    /// day); a pilot that began before the month runs from its first day.
    pub fn start_pilots(&mut self, policy: &Policy, first: jiff::civil::Date) {
        for pilot in &policy.pilots {
            let from = first.until(pilot.start).map_or(0, |s| s.get_days().max(0));
            let Ok(from) = u16::try_from(from) else { continue };
            for p in self.people.iter_mut().filter(|p| pilot.cohort.contains(&p.user) && p.pilot.is_none()) {
                p.pilot = Some((pilot.id.clone(), from));
            }
        }
    }
}

fn use_cases_of(policy: &Policy, u: &User) -> (Vec<String>, Option<String>) {
    let mut production: Vec<&tokenwise_policy::UseCase> =
        policy.use_cases.values().filter(|c| c.available_to.admits(u) && c.track == Track::Production).collect();
    // The main use case is the narrowest one: a team's own work before
    // what everyone may use.
    production.sort_by_key(|c| (matches!(c.available_to, Audience::Everyone), c.id.clone()));
    let sandbox = policy
        .use_cases
        .values()
        .find(|c| c.available_to.admits(u) && c.track == Track::Exploration)
        .map(|c| c.id.clone());
    (production.into_iter().map(|c| c.id.clone()).collect(), sandbox)
}

/// The author of the first approved template whose use case everyone, or
/// three teams or more, may use: the one whose reuse other teams can show.
fn shared_template_author(policy: &Policy) -> Option<String> {
    policy
        .templates
        .values()
        .filter(|t| t.approved)
        .find(|t| {
            policy.use_cases.get(&t.use_case).is_some_and(|c| match &c.available_to {
                Audience::Everyone => true,
                Audience::Only { teams, .. } => teams.len() >= 3,
            })
        })
        .map(|t| t.author.clone())
}

/// Casts every person of the policy.
pub fn cast(policy: &Policy, seed: u64) -> Company {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut persona: BTreeMap<String, Persona> = BTreeMap::new();
    if let Some(author) = shared_template_author(policy) {
        persona.insert(author, Persona::TemplateAuthor);
    }
    let mut by_team: BTreeMap<&str, Vec<&User>> = BTreeMap::new();
    for u in policy.users.values() {
        by_team.entry(u.team.as_str()).or_default().push(u);
    }
    let mut large: Vec<&str> =
        by_team.iter().filter(|(_, m)| m.len() >= MIN_TEAM_FOR_GAMING).map(|(t, _)| *t).collect();
    large.shuffle(&mut rng);
    let mut candidates: BTreeMap<&str, Vec<&User>> = BTreeMap::new();
    for t in &large {
        let mut members: Vec<&User> = by_team[t]
            .iter()
            .copied()
            .filter(|u| u.role == Role::Member && !use_cases_of(policy, u).0.is_empty())
            .collect();
        members.shuffle(&mut rng);
        candidates.insert(t, members);
    }
    for (i, gaming) in Persona::GAMING.iter().enumerate() {
        // Round the teams, each persona in the next team with someone left.
        let pick = (0..large.len()).map(|k| large[(i + k) % large.len()]).find_map(|t| {
            candidates.get(t).and_then(|m| m.iter().find(|u| !persona.contains_key(&u.id)).map(|u| u.id.clone()))
        });
        if let Some(user) = pick {
            persona.insert(user, *gaming);
        }
    }
    let mut explorers = 0;
    for u in policy.users.values() {
        if persona.contains_key(&u.id) {
            continue;
        }
        let (production, sandbox) = use_cases_of(policy, u);
        let p = if sandbox.is_some() && u.role == Role::Member && explorers < 2 && rng.random_bool(0.5) {
            explorers += 1;
            Persona::Explorer
        } else if production.is_empty() && sandbox.is_some() {
            Persona::Explorer
        } else {
            match rng.random_range(0..20) {
                0..5 => Persona::EfficientExpert,
                5..8 => Persona::Newcomer,
                _ => Persona::Average,
            }
        };
        persona.insert(u.id.clone(), p);
    }
    let governance: BTreeSet<&str> =
        policy.users.values().filter(|u| u.role == Role::Governance).map(|u| u.id.as_str()).collect();
    let people = policy
        .users
        .values()
        .filter_map(|u| {
            let (use_cases, sandbox) = use_cases_of(policy, u);
            let manager = policy.teams.get(&u.team).map(|t| t.manager.clone())?;
            let validator = if manager == u.id {
                governance.iter().find(|g| **g != u.id).map_or(manager, |g| (*g).to_string())
            } else {
                manager
            };
            let persona = *persona.get(&u.id)?;
            if use_cases.is_empty() && sandbox.is_none() {
                return None;
            }
            Some(Person {
                user: u.id.clone(),
                team: u.team.clone(),
                persona,
                validator,
                use_cases,
                sandbox,
                pilot: None,
            })
        })
        .collect();
    Company { people }
}
