//! Leaderboards: a period's `balanced` board (or another model's) as one
//! person may see it, org-wide or for one team. Each team's visibility
//! decides who sees its people: `public` everyone; `team` its members, its
//! manager, governance and admins; `private` nobody but the person (a
//! private scorecard: never on anyone else's board); `pseudonymous`
//! everyone, under a pseudonym that is stable for the period and cannot be
//! recomputed without the server's secret. Team rows over fewer than
//! `min_group_size` people are shown to governance and admins only.
//!
//! A pilot's cohort, while the pilot runs, is shown its board as well:
//! under its reward model and rules version (unless a model is asked
//! for), only as far as its `board` visibility reaches from the reader
//! (`team`: their own team; `private`: their own row, unranked;
//! `pseudonymous`: everyone else under pseudonyms) — the more private of
//! that and the teams' own visibilities wins —, and without badges when
//! the pilot has them off.

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pilots::Seen;
use crate::scores::{self, Period};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tokenwise_policy::{Policy, Role, User, Visibility};
use tokenwise_scoring::Score;

/// `GET /api/v1/leaderboard?period=&scope=&model=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardRequest {
    pub period: Option<String>,
    /// `org` (default) or `team:ID`.
    pub scope: Option<String>,
    pub model: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Leaderboard {
    pub period: String,
    pub scope: String,
    pub model: String,
    pub rules_version: String,
    /// The pilot whose design the caller is shown (its reward model and
    /// rules version, its board visibility, its badges on or off); none
    /// for anyone not in a running pilot's cohort.
    pub pilot: Option<String>,
    /// People first, then teams; ranked among what the caller sees (rank 0:
    /// unranked, a pilot's private scorecard).
    pub entries: Vec<Entry>,
    /// Why rows are missing, without saying whose.
    pub withheld: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = LeaderboardEntry)]
pub struct Entry {
    pub rank: u32,
    /// `user:ID`, `team:ID`, or a pseudonym `anon-…`.
    pub subject: String,
    /// The caller's own row.
    pub you: bool,
    pub score: f64,
    pub efficiency: f64,
    pub quality: f64,
    pub compliance: f64,
    pub badges: Vec<String>,
}

/// How a person appears to the viewer: by name, by pseudonym, or not at all.
enum Shown {
    Named,
    Pseudonym,
    Hidden,
}

fn shown(policy: &Policy, viewer: &User, person: &str) -> Shown {
    if viewer.id == person {
        return Shown::Named;
    }
    let Some(team) = policy.users.get(person).and_then(|u| policy.teams.get(&u.team)) else { return Shown::Hidden };
    let privileged = matches!(viewer.role, Role::Governance | Role::Admin);
    match team.visibility {
        Visibility::Public => Shown::Named,
        Visibility::Team if viewer.team == team.id || team.manager == viewer.id || privileged => Shown::Named,
        Visibility::Team | Visibility::Private => Shown::Hidden,
        Visibility::Pseudonymous => Shown::Pseudonym,
    }
}

/// A stable name for a person within one period, keyed by the server's secret.
fn pseudonym(secret: &str, period: &str, person: &str) -> String {
    let digest = Sha256::digest(format!("{secret}\n{period}\n{person}").as_bytes());
    format!("anon-{}", hex::encode(&digest[..4]))
}

fn entry(s: &Score, subject: String, you: bool) -> Entry {
    Entry {
        rank: 0,
        subject,
        you,
        score: s.score,
        efficiency: s.efficiency,
        quality: s.quality,
        compliance: s.compliance,
        badges: s.badges.clone(),
    }
}

impl App {
    pub async fn leaderboard(&self, caller: &Caller, r: LeaderboardRequest) -> AppResult<Leaderboard> {
        let policy = &self.policy;
        let period = match r.period.as_deref() {
            Some(p) => Period::parse(policy, p)?,
            None => Period::containing(policy, self.clock.now()),
        };
        let design = self.shown_to(&caller.user.id).await?;
        let model = match r.model.as_deref() {
            Some(m) => scores::model(Some(m))?,
            None => design.model,
        };
        let scope = r.scope.unwrap_or_else(|| "org".to_string());
        let team_scope = team_scope(policy, &scope)?;
        let (board, _) = self.board_of(&period, model, &design.rules_version).await?;
        let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let secret = self
            .store
            .server_secret("leaderboard-pseudonyms", &fresh)
            .await
            .map_err(|e| AppError::internal(e.to_string()))?;
        let in_scope = |team: &str| team_scope.as_deref().is_none_or(|t| t == team);
        let privileged = matches!(caller.user.role, Role::Governance | Role::Admin);
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        let mut entries = Vec::new();
        let (mut hidden, mut by_the_pilot) = (0usize, 0usize);
        for s in &board.scores {
            let Some(person) = s.subject.strip_prefix("user:") else { continue };
            let Some(team) = policy.users.get(person).map(|u| u.team.as_str()) else { continue };
            *sizes.entry(team).or_insert(0) += 1;
            if !in_scope(team) {
                continue;
            }
            let by_pilot = policy.users.get(person).map_or(Seen::Hidden, |p| design.sees(&caller.user, p));
            match (by_pilot, shown(policy, &caller.user, person)) {
                (Seen::Hidden, _) => by_the_pilot += 1,
                (_, Shown::Hidden) => hidden += 1,
                (Seen::Named, Shown::Named) => entries.push(entry(s, s.subject.clone(), person == caller.user.id)),
                _ => entries.push(entry(s, pseudonym(&secret, &period.label, person), false)),
            }
        }
        let mut withheld = Vec::new();
        if hidden > 0 {
            withheld.push(format!("{hidden} people whose teams keep their scores to the team or private"));
        }
        if let (Some(pilot), true) = (&design.pilot, by_the_pilot > 0) {
            let who = if by_the_pilot == 1 { "person" } else { "people" };
            withheld.push(format!("{by_the_pilot} {who}: pilot `{pilot}` shows its cohort {}", design.board_words()));
        }
        let mut small = 0usize;
        for s in board.scores.iter().filter(|s| s.subject.starts_with("team:")) {
            let team = s.subject.trim_start_matches("team:");
            if !in_scope(team) || !design.sees_team(&caller.user, team) {
                continue;
            }
            if privileged || sizes.get(team).copied().unwrap_or(0) >= policy.scoring.min_group_size as usize {
                entries.push(entry(s, s.subject.clone(), team == caller.user.team));
            } else {
                small += 1;
            }
        }
        if small > 0 {
            withheld.push(format!(
                "{small} teams with fewer than {} people on the board (shown to governance only)",
                policy.scoring.min_group_size
            ));
        }
        rank(&mut entries);
        as_shown(&design, &mut entries, &mut withheld);
        Ok(Leaderboard {
            period: period.label,
            scope,
            model: model.to_string(),
            rules_version: board.rules_version,
            pilot: design.pilot,
            entries,
            withheld,
        })
    }
}

/// `org` (none) or `team:ID` of a declared team.
fn team_scope(policy: &Policy, scope: &str) -> AppResult<Option<String>> {
    match scope {
        "org" => Ok(None),
        s => match s.strip_prefix("team:") {
            Some(t) if policy.teams.contains_key(t) => Ok(Some(t.to_string())),
            _ => Err(AppError::invalid(format!("scope `{s}` must be `org` or `team:ID` of a declared team"))),
        },
    }
}

/// A pilot's private scorecard unranked, its badges off when it has them off.
fn as_shown(design: &crate::pilots::Shown, entries: &mut [Entry], withheld: &mut Vec<String>) {
    for e in entries.iter_mut() {
        if !design.ranked() {
            e.rank = 0;
        }
        if !design.badges {
            e.badges.clear();
        }
    }
    if let (Some(pilot), false) = (&design.pilot, design.badges) {
        withheld.push(format!("badges: pilot `{pilot}` does not show them to its cohort until it is over"));
    }
}

/// Ranks among what is shown, people and teams apart; the board's order
/// (best first) is kept.
fn rank(entries: &mut [Entry]) {
    let ranks = tokenwise_scoring::models::positions(entries.iter().map(|e| (e.subject.starts_with("team:"), e.score)));
    for (e, r) in entries.iter_mut().zip(ranks) {
        e.rank = r;
    }
}
