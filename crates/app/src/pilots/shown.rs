//! What a person is shown now: one function, [`App::shown_to`], decides it
//! for the scores, the leaderboard, `/me` and the feedback an answer is
//! tied to. While a pilot runs with the person in its cohort (between its
//! first and last day, and not yet promoted or ended), the person sees
//! their score under the pilot's reward model and rules version, the
//! board as the pilot's `board` visibility allows, and badges only if the
//! pilot has them on. Everyone else — the control group included — sees
//! the org's default: the last promoted pilot's reward model (else
//! `balanced`), the policy's rules, the board as the teams' visibilities
//! allow, and their badges.
//!
//! Badges are earned and kept in the ledger during a pilot with badges
//! off, exactly as for everyone else, so the history stays comparable;
//! they are only not shown to the cohort until the pilot is over.

use crate::App;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use serde::Serialize;
use tokenwise_ledger::PilotDecision;
use tokenwise_policy::{Pilot, Policy, User, Visibility};
use tokenwise_scoring::Model;

/// The design one person is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shown {
    /// The pilot running with the person in its cohort, if any.
    pub pilot: Option<String>,
    pub model: Model,
    pub rules_version: String,
    /// The pilot's board visibility, seen from the cohort; none: the
    /// teams' own visibilities.
    pub board: Option<Visibility>,
    pub badges: bool,
}

impl Shown {
    /// The pilot's design, or the org's default.
    pub fn of(pilot: Option<&Pilot>, default_model: Model, policy: &Policy) -> Shown {
        match pilot {
            Some(p) => Shown {
                pilot: Some(p.id.clone()),
                model: p.reward_model,
                rules_version: p.rules_version.clone(),
                board: Some(p.board),
                badges: p.badges,
            },
            None => Shown {
                pilot: None,
                model: default_model,
                rules_version: policy.scoring.rules.version(),
                board: None,
                badges: true,
            },
        }
    }

    /// How the reader sees `person` on a board, by the pilot's visibility
    /// alone (the teams' own visibilities apply as well): `public` and
    /// `pseudonymous` show everyone (the latter under pseudonyms), `team`
    /// the reader's own team, `private` the reader only.
    pub fn sees(&self, viewer: &User, person: &User) -> Seen {
        if viewer.id == person.id {
            return Seen::Named;
        }
        match self.board {
            None | Some(Visibility::Public) => Seen::Named,
            Some(Visibility::Team) if person.team == viewer.team => Seen::Named,
            Some(Visibility::Team | Visibility::Private) => Seen::Hidden,
            Some(Visibility::Pseudonymous) => Seen::Pseudonym,
        }
    }

    /// Whether the reader sees team `team`'s row: every team's but under
    /// `team` (their own only) and `private` (none).
    pub fn sees_team(&self, viewer: &User, team: &str) -> bool {
        match self.board {
            Some(Visibility::Private) => false,
            Some(Visibility::Team) => viewer.team == team,
            _ => true,
        }
    }

    /// Whether the reader is shown a ranked board (`private`: their own
    /// scorecard, unranked).
    pub fn ranked(&self) -> bool {
        self.board != Some(Visibility::Private)
    }

    /// The pilot's visibility in words, for the `withheld` lines.
    pub fn board_words(&self) -> &'static str {
        match self.board {
            Some(Visibility::Team) => "your team's board",
            Some(Visibility::Private) => "your own scorecard",
            Some(Visibility::Pseudonymous) => "a pseudonymous board",
            _ => "the whole board",
        }
    }
}

/// How a person appears to a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Named,
    Pseudonym,
    Hidden,
}

/// The pilot running at `now` with `user` in its cohort, not yet decided.
/// The policy lets nobody be in two cohorts on the same day, so there is
/// at most one; the first in the file is taken all the same.
pub fn running<'p>(policy: &'p Policy, decided: &[PilotDecision], user: &str, now: Timestamp) -> Option<&'p Pilot> {
    policy.pilots.iter().find(|p| {
        let (start, end) = super::window(policy, p);
        p.cohort.contains(user) && !decided.iter().any(|d| d.pilot == p.id) && start <= now && now < end
    })
}

/// The reward model unasked for: the last promoted pilot's, else `balanced`.
pub fn default_model(decided: &[PilotDecision]) -> Model {
    let promoted = decided.iter().rev().find(|d| d.decision == "promoted");
    promoted.and_then(|d| d.reward_model.parse().ok()).unwrap_or(Model::Balanced)
}

impl App {
    /// What `user` is shown now.
    pub async fn shown_to(&self, user: &str) -> AppResult<Shown> {
        let decided = self.store.pilot_decisions().await.map_err(|e| AppError::internal(e.to_string()))?;
        let pilot = running(&self.policy, &decided, user, self.clock.now());
        Ok(Shown::of(pilot, default_model(&decided), &self.policy))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use tokenwise_policy::Role;

    fn user(id: &str, team: &str) -> User {
        User { id: id.into(), name: id.into(), email: None, team: team.into(), role: Role::Member }
    }

    fn shown(board: Option<Visibility>) -> Shown {
        Shown {
            pilot: board.map(|_| "p".into()),
            model: Model::Outcome,
            rules_version: "s2-x".into(),
            board,
            badges: false,
        }
    }

    #[test]
    fn each_visibility_shows_the_cohort_what_it_shows_a_teams_readers() {
        let (me, mate, other) = (user("a", "support"), user("b", "support"), user("c", "sales"));
        let seen = |b| {
            let s = shown(b);
            (
                s.sees(&me, &me),
                s.sees(&me, &mate),
                s.sees(&me, &other),
                s.sees_team(&me, "support"),
                s.sees_team(&me, "sales"),
            )
        };
        use Seen::{Hidden, Named, Pseudonym};
        assert_eq!(seen(None), (Named, Named, Named, true, true), "no pilot: the teams' own rules alone");
        assert_eq!(seen(Some(Visibility::Public)), (Named, Named, Named, true, true));
        assert_eq!(seen(Some(Visibility::Team)), (Named, Named, Hidden, true, false));
        assert_eq!(seen(Some(Visibility::Private)), (Named, Hidden, Hidden, false, false));
        assert_eq!(seen(Some(Visibility::Pseudonymous)), (Named, Pseudonym, Pseudonym, true, true));
        assert!(!shown(Some(Visibility::Private)).ranked());
        assert!(shown(Some(Visibility::Team)).ranked());
    }

    #[test]
    fn the_default_follows_the_last_promotion() {
        let d = |pilot: &str, decision: &str, model: &str| PilotDecision {
            pilot: pilot.into(),
            decision: decision.into(),
            reward_model: model.into(),
            rules_version: "s2-x".into(),
            decided_by: "g".into(),
            at: Timestamp::UNIX_EPOCH,
        };
        assert_eq!(default_model(&[]), Model::Balanced);
        assert_eq!(default_model(&[d("a", "promoted", "outcome"), d("b", "ended", "efficiency")]), Model::Outcome);
        assert_eq!(
            default_model(&[d("a", "promoted", "outcome"), d("b", "promoted", "efficiency")]),
            Model::Efficiency
        );
    }
}
