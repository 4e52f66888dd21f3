//! Scores, reward models and their comparison for a period, as each
//! caller may see them. The formulas live in `tokenwise-scoring`; this
//! module reads the period's facts, keeps the rules version they were
//! scored under, and filters what comes back by who is asking.

pub mod facts;
mod outcomes;
mod results;

pub use facts::Period;
pub use results::Scored;

use crate::App;
use crate::access::Sight;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::pilots::{Seen, Shown};
use jiff::Timestamp;
use serde::Deserialize;
use tokenwise_ledger::Store;
use tokenwise_policy::{Policy, Role};
use tokenwise_scoring::badges::{self, Award};
use tokenwise_scoring::{Board, Comparison, Model, Rules};

/// `GET /api/v1/scores?period=&model=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScoresRequest {
    pub period: Option<String>,
    pub model: Option<String>,
    /// Score under the rules this version stood for (kept in the ledger
    /// when it was first used) instead of the policy's current ones.
    pub rules_version: Option<String>,
}

/// `GET /api/v1/scores/compare?period=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareRequest {
    pub period: Option<String>,
}

pub fn model(name: Option<&str>) -> AppResult<Model> {
    name.map_or(Ok(Model::Balanced), |m| m.parse::<Model>().map_err(|e| AppError::invalid(e.to_string())))
}

/// A period's board under one model, everyone on it, with the badges the
/// period earned; the rules version is kept so the period can be scored
/// again under the same rules.
pub async fn board(
    store: &dyn Store,
    policy: &Policy,
    period: &Period,
    model: Model,
    now: Timestamp,
) -> AppResult<(Board, Vec<Award>)> {
    let rules = &policy.scoring.rules;
    keep(store, rules, period).await?;
    board_under(store, policy, period, model, rules, now).await
}

/// The board under given rules (the policy's, or a kept version's).
pub async fn board_under(
    store: &dyn Store,
    policy: &Policy,
    period: &Period,
    model: Model,
    rules: &Rules,
    now: Timestamp,
) -> AppResult<(Board, Vec<Award>)> {
    let facts = read_facts(store, policy, period).await?;
    // Tallies and axes once, for the board and the badges alike.
    let subjects = tokenwise_scoring::Subjects::of(&facts, rules);
    let mut board = tokenwise_scoring::score_subjects(model, &subjects, &facts, rules);
    let awards = award(store, &badges::awards_for(&facts, rules, &subjects), period, now).await?;
    badges::attach(&mut board, &awards);
    flag(store, &mut board, period).await?;
    Ok((board, awards))
}

/// Adds a line to the breakdown of each person flagged in the period (as
/// the last detection pass left the flags; suppressed ones excepted). A
/// flag never changes the score: what it flags — spend, repetition — is
/// already priced into efficiency, and a flag is a question for review,
/// which may be appealed, not a verdict.
async fn flag(store: &dyn Store, board: &mut Board, period: &Period) -> AppResult<()> {
    let flags = store.anomalies(&period.label).await.map_err(|e| AppError::internal(e.to_string()))?;
    for s in &mut board.scores {
        for a in flags.iter().filter(|a| a.subject == s.subject && !a.suppressed()) {
            s.breakdown.push(tokenwise_scoring::Line {
                axis: "anomaly",
                fact: format!(
                    "flagged for review: {} ({}, {} severity): {}",
                    a.detector, a.id, a.severity, a.explanation
                ),
                value: 0.0,
                rule: "anomaly flags are shown for review and never change the score (spend already lowers \
                       efficiency); the subject may appeal, and an upheld appeal removes the flag"
                    .into(),
            });
        }
    }
    Ok(())
}

/// Stores the badges the facts earn, each once (per subject, badge and
/// key, whatever the period), and returns those given in this period.
async fn award(store: &dyn Store, earned: &[Award], period: &Period, now: Timestamp) -> AppResult<Vec<Award>> {
    let internal = |e: tokenwise_ledger::StoreError| AppError::internal(e.to_string());
    let stored: Vec<tokenwise_ledger::Award> = earned
        .iter()
        .map(|a| tokenwise_ledger::Award {
            subject: a.subject.clone(),
            badge: a.badge.clone(),
            key: a.key.clone(),
            period: period.label.clone(),
            awarded_at: now,
            explanation: a.explanation.clone(),
        })
        .collect();
    store.award_badges(&stored).await.map_err(internal)?;
    let given = store.awards(None, Some(&period.label)).await.map_err(internal)?;
    Ok(given
        .into_iter()
        .map(|a| Award { subject: a.subject, badge: a.badge, key: a.key, explanation: a.explanation })
        .collect())
}

pub async fn comparison(store: &dyn Store, policy: &Policy, period: &Period) -> AppResult<Comparison> {
    let rules = &policy.scoring.rules;
    keep(store, rules, period).await?;
    let facts = read_facts(store, policy, period).await?;
    Ok(tokenwise_scoring::compare(&facts, rules))
}

/// Everything a period's scores follow from: the policy, the calls, the
/// outcomes with their tasks.
pub async fn read_facts(store: &dyn Store, policy: &Policy, period: &Period) -> AppResult<tokenwise_scoring::Facts> {
    let mut facts = facts::read_calls(store, policy, period).await?;
    outcomes::read(store, policy, period, &mut facts).await?;
    Ok(facts)
}

/// The rules a kept version stood for. A version of another algorithm
/// cannot be reproduced by this build, and says so.
pub async fn kept_rules(store: &dyn Store, version: &str) -> AppResult<Rules> {
    let algorithm = version.split('-').next().unwrap_or_default();
    if algorithm != tokenwise_scoring::rules::ALGORITHM {
        return Err(AppError::invalid(format!(
            "rules version `{version}` is of scoring algorithm `{algorithm}`; this build computes `{}`",
            tokenwise_scoring::rules::ALGORITHM
        )));
    }
    let json = store.rules(version).await.map_err(|e| AppError::internal(e.to_string()))?;
    let json = json.ok_or_else(|| AppError::not_found(format!("no scores were ever made under rules `{version}`")))?;
    let rules: Rules = serde_json::from_str(&json)
        .map_err(|e| AppError::internal(format!("the kept rules `{version}` do not read back: {e}")))?;
    if rules.version() != version {
        return Err(AppError::internal(format!("the kept rules `{version}` read back as `{}`", rules.version())));
    }
    Ok(rules)
}

async fn keep(store: &dyn Store, rules: &Rules, period: &Period) -> AppResult<()> {
    let json = serde_json::to_string(rules).map_err(|e| AppError::internal(e.to_string()))?;
    store.keep_rules(&rules.version(), &json, period.start).await.map_err(|e| AppError::internal(e.to_string()))
}

/// Whether `caller` may see a subject's score. People: as the ledger
/// (own, team, all). Teams: members and managers their own; governance and
/// admins all — and only governance and admins a team of fewer than
/// `min_group_size` people on the board.
fn sees(policy: &Policy, caller: &Caller, subject: &str, team_sizes: &dyn Fn(&str) -> usize) -> bool {
    let sight = Sight::of(&caller.user);
    let privileged = matches!(caller.user.role, Role::Governance | Role::Admin);
    if let Some(user) = subject.strip_prefix("user:") {
        return privileged || sight.sees_user(policy, user) && !matches!(caller.user.role, Role::Finance);
    }
    let team = subject.trim_start_matches("team:");
    if privileged {
        return true;
    }
    team == caller.user.team && team_sizes(team) >= policy.scoring.min_group_size as usize
}

impl App {
    fn period(&self, label: Option<&str>) -> AppResult<Period> {
        match label {
            Some(l) => Period::parse(&self.policy, l),
            None => Ok(Period::containing(&self.policy, self.clock.now())),
        }
    }

    /// A period's scores as the caller may see them, under what the caller
    /// is shown ([`App::shown_to`]) unless a model or rules version is
    /// asked for. A pilot's cohort sees its board visibility and its
    /// badges on or off whatever they ask.
    pub async fn scores(&self, caller: &Caller, r: ScoresRequest) -> AppResult<Board> {
        let period = self.period(r.period.as_deref())?;
        let shown = self.shown_to(&caller.user.id).await?;
        let model = match r.model.as_deref() {
            Some(m) => model(Some(m))?,
            None => shown.model,
        };
        let version = r.rules_version.as_deref().unwrap_or(&shown.rules_version);
        let (mut board, _) = self.board_of(&period, model, version).await?;
        let sizes = team_sizes(&board, &self.policy);
        board.scores.retain(|s| sees(&self.policy, caller, &s.subject, &|t| sizes.get(t).copied().unwrap_or(0)));
        as_shown(&self.policy, &caller.user, &shown, &mut board);
        Ok(board)
    }

    /// A period's board under `model` and rules `version`: the policy's
    /// own rules (kept as they are used), or a kept version's.
    pub(crate) async fn board_of(
        &self,
        period: &Period,
        model: Model,
        version: &str,
    ) -> AppResult<(Board, Vec<Award>)> {
        let now = self.clock.now();
        if version == self.policy.scoring.rules.version() {
            return board(self.store.as_ref(), &self.policy, period, model, now).await;
        }
        let rules = kept_rules(self.store.as_ref(), version).await?;
        board_under(self.store.as_ref(), &self.policy, period, model, &rules, now).await
    }

    /// The six models side by side: for governance and admins, who design
    /// incentives (it ranks everyone).
    pub async fn compare(&self, caller: &Caller, r: CompareRequest) -> AppResult<Comparison> {
        if !matches!(caller.user.role, Role::Governance | Role::Admin) {
            return Err(AppError::denied("comparing reward models is for governance and admins"));
        }
        let period = self.period(r.period.as_deref())?;
        comparison(self.store.as_ref(), &self.policy, &period).await
    }
}

/// The board as a pilot's cohort member is shown it: named after the
/// pilot; people and teams the pilot's board visibility keeps from them
/// left out (`team`: other teams'; `private`: everyone else, and their
/// own row unranked, rank 0); badges off when the pilot has them off; and
/// a line on their own breakdown saying under which design they are
/// scored. Anyone not in a running pilot's cohort: unchanged.
pub(crate) fn as_shown(policy: &Policy, viewer: &tokenwise_policy::User, shown: &Shown, board: &mut Board) {
    let Some(pilot) = shown.pilot.clone() else { return };
    let me = format!("user:{}", viewer.id);
    if shown.board == Some(tokenwise_policy::Visibility::Team) {
        // Ranked among the team's people, as on the team's board.
        let mate = |s: &tokenwise_scoring::Score| {
            s.subject.strip_prefix("user:").and_then(|u| policy.users.get(u)).is_some_and(|u| u.team == viewer.team)
        };
        let ranks =
            tokenwise_scoring::models::positions(board.scores.iter().filter(|s| mate(s)).map(|s| (false, s.score)));
        for (s, r) in board.scores.iter_mut().filter(|s| mate(s)).zip(ranks) {
            s.rank = r;
        }
    }
    board.scores.retain(|s| match s.subject.strip_prefix("user:") {
        Some(u) => policy.users.get(u).is_some_and(|person| shown.sees(viewer, person) != Seen::Hidden),
        None => shown.sees_team(viewer, s.subject.trim_start_matches("team:")),
    });
    let same_design = board.model == shown.model && board.rules_version == shown.rules_version;
    for s in &mut board.scores {
        if !shown.badges {
            s.badges.clear();
        }
        if s.subject == me {
            if !shown.ranked() {
                s.rank = 0;
            }
            if same_design {
                s.breakdown.push(tokenwise_scoring::Line {
                    axis: "pilot",
                    fact: format!(
                        "scored under pilot `{pilot}`: the {} reward model, rules {}; shown {}, badges {}",
                        shown.model,
                        shown.rules_version,
                        shown.board_words(),
                        if shown.badges { "on" } else { "off (still earned, shown when the pilot is over)" }
                    ),
                    value: 0.0,
                    rule: "while a pilot runs its cohort sees its reward model, rules version, board and badges; \
                           everyone else sees the org's default; governance compares the two in the pilot's report"
                        .into(),
                });
            }
        }
    }
    board.pilot = Some(pilot);
}

/// People of each team on a board.
fn team_sizes(board: &Board, policy: &Policy) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for s in &board.scores {
        if let Some(team) = s.subject.strip_prefix("user:").and_then(|u| policy.users.get(u)).map(|u| u.team.clone()) {
            *out.entry(team).or_insert(0) += 1;
        }
    }
    out
}
