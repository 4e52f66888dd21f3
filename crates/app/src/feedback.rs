//! A pilot's one-click question — is this motivating, confusing or
//! unfair? — about one subject (the score, the leaderboard, a nudge, a
//! budget), with an optional comment. Only the pilot's cohort answers, at
//! most once a week per subject, while the pilot runs; each answer keeps
//! the reward model and scoring-rules version the person was shown, so
//! the pilot's report sets it beside what the incentive did. Comments are
//! governance's to read; a cohort's managers see the counts when the
//! cohort is at least `min_group_size` people.

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Code};
use crate::pilots::window;
use crate::scores::Period;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokenwise_ledger::Feedback;
use tokenwise_pilots::FeedbackTally;
use tokenwise_policy::{Pilot, Role};

const MAX_COMMENT_CHARS: usize = 2_000;
/// The answers the question offers.
pub const ANSWERS: [&str; 3] = ["motivating", "confusing", "unfair"];
/// What an answer can be about.
pub const SUBJECTS: [&str; 4] = ["score", "leaderboard", "nudge", "budget"];

/// `POST /api/v1/feedback` (and the dashboard's form, whose CSRF field
/// the form reader takes off before this is read).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackAnswer {
    /// The pilot's id.
    pub pilot: String,
    /// `motivating`, `confusing` or `unfair`.
    pub answer: String,
    /// `score`, `leaderboard`, `nudge` or `budget`.
    pub about: String,
    /// A sentence in the person's words, optional.
    #[serde(default)]
    pub comment: Option<String>,
}

/// An answer as kept.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackView {
    pub id: String,
    pub user: String,
    pub pilot: Option<String>,
    pub about: Option<String>,
    /// ISO week, `2026-W48`.
    pub week: Option<String>,
    pub period: String,
    pub answer: String,
    pub comment: Option<String>,
    /// The reward model and scoring-rules version the person was shown.
    pub model: String,
    pub rules_version: String,
    /// RFC 3339.
    pub at: String,
}

impl From<Feedback> for FeedbackView {
    fn from(f: Feedback) -> FeedbackView {
        FeedbackView {
            id: f.id,
            user: f.user_id,
            pilot: f.pilot,
            about: f.about,
            week: f.week,
            period: f.period,
            answer: f.answer,
            comment: f.comment,
            model: f.model,
            rules_version: f.rules_version,
            at: f.at.to_string(),
        }
    }
}

/// A pilot's answers counted per ISO week and subject, for its cohort's
/// managers (no comments, no names).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackCounts {
    pub pilot: String,
    pub cohort_size: usize,
    /// Per week from the pilot's start (0: its first week) and subject.
    pub counts: Vec<FeedbackTally>,
}

/// `2026-W48`: the ISO week of `at` in the org's time zone.
pub fn iso_week(tz: &jiff::tz::TimeZone, at: Timestamp) -> String {
    let w = at.to_zoned_datetime(tz.clone()).date().iso_week_date();
    format!("{:04}-W{:02}", w.year(), w.week())
}

fn checked(a: &FeedbackAnswer) -> AppResult<(String, String, Option<String>)> {
    let answer = a.answer.trim().to_ascii_lowercase();
    if !ANSWERS.contains(&answer.as_str()) {
        return Err(AppError::invalid(format!("answer must be one of {}, got `{}`", ANSWERS.join(", "), a.answer)));
    }
    let about = a.about.trim().to_ascii_lowercase();
    if !SUBJECTS.contains(&about.as_str()) {
        return Err(AppError::invalid(format!("about must be one of {}, got `{}`", SUBJECTS.join(", "), a.about)));
    }
    let comment = a.comment.as_ref().map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(AppError::invalid(format!("comment is longer than {MAX_COMMENT_CHARS} characters")));
    }
    Ok((answer, about, comment))
}

impl App {
    /// The pilot running now whose cohort has `user` in it (the one
    /// [`App::shown_to`] shows them), as a list: none or one.
    pub async fn pilots_asking(&self, user: &str) -> AppResult<Vec<&Pilot>> {
        let decided = self.store.pilot_decisions().await.map_err(|e| AppError::internal(e.to_string()))?;
        Ok(crate::pilots::shown::running(&self.policy, &decided, user, self.clock.now()).into_iter().collect())
    }

    /// Keeps the caller's answer: a member of the pilot's cohort, while it
    /// runs, once a week per subject.
    pub async fn give_feedback(&self, caller: &Caller, a: FeedbackAnswer) -> AppResult<FeedbackView> {
        let (answer, about, comment) = checked(&a)?;
        let p = self.pilot_named(&a.pilot)?;
        let me = &caller.user.id;
        if !p.cohort.contains(me) {
            let msg = format!("`{me}` is not in pilot `{}`'s cohort: only its cohort answers its question", p.id);
            return Err(AppError::new(Code::NotInCohort, msg));
        }
        // What the person is shown now: the answer is about that.
        let shown = self.shown_to(me).await?;
        if shown.pilot.as_deref() != Some(p.id.as_str()) {
            let msg =
                format!("pilot `{}` is not running (it runs {} to {}, unless already decided)", p.id, p.start, p.end);
            return Err(AppError::conflict(msg));
        }
        let now = self.clock.now();
        let week = iso_week(&self.policy.org.time_zone, now);
        let f = Feedback {
            id: format!("fb_{}", uuid::Uuid::now_v7().simple()),
            user_id: me.clone(),
            pilot: Some(p.id.clone()),
            about: Some(about.clone()),
            week: Some(week.clone()),
            period: Period::containing(&self.policy, now).label,
            answer,
            comment,
            model: shown.model.as_str().to_string(),
            rules_version: shown.rules_version,
            at: now,
        };
        if !self.store.insert_feedback(&f).await? {
            let msg = format!(
                "you already answered about the {about} in pilot `{}` this week ({week}): one answer a week per subject",
                p.id
            );
            return Err(AppError::new(Code::AlreadyAnswered, msg));
        }
        Ok(f.into())
    }

    /// Answers given, oldest first, optionally of one pilot: one's own, or
    /// everyone's (with comments) for governance and admins.
    pub async fn feedback_given(&self, caller: &Caller, pilot: Option<&str>) -> AppResult<Vec<FeedbackView>> {
        let user = match caller.user.role {
            Role::Governance | Role::Admin => None,
            _ => Some(caller.user.id.as_str()),
        };
        Ok(self.store.feedback(user, pilot).await?.into_iter().map(FeedbackView::from).collect())
    }

    /// A pilot's answers counted per week and subject: for governance and
    /// admins, and for the managers of the cohort's people when the cohort
    /// is at least `min_group_size` people.
    pub async fn feedback_counts(&self, caller: &Caller, id: &str) -> AppResult<FeedbackCounts> {
        let p = self.pilot_named(id)?;
        let oversees = matches!(caller.user.role, Role::Governance | Role::Admin);
        if !oversees {
            let manages = p
                .cohort
                .iter()
                .filter_map(|u| self.policy.users.get(u))
                .any(|u| self.policy.teams.get(&u.team).is_some_and(|t| t.manager == caller.user.id));
            if !manages {
                return Err(AppError::denied(format!(
                    "pilot `{id}`'s feedback counts are for governance and the managers of its cohort"
                )));
            }
            let min = usize::try_from(self.policy.scoring.min_group_size).unwrap_or(usize::MAX);
            if p.cohort.len() < min {
                return Err(AppError::denied(format!(
                    "pilot `{id}`'s cohort is {} people, fewer than min_group_size ({min}): its counts are shown to governance only",
                    p.cohort.len()
                )));
            }
        }
        let (start, _) = window(&self.policy, p);
        let answers = self.store.feedback(None, Some(id)).await?;
        let week = |t: Timestamp| i32::try_from(t.duration_since(start).as_secs().div_euclid(7 * 86_400)).unwrap_or(0);
        let counted: Vec<tokenwise_pilots::Answer> = answers
            .into_iter()
            .map(|f| tokenwise_pilots::Answer {
                week: week(f.at),
                about: f.about.unwrap_or_default(),
                answer: f.answer,
                comment: None,
                rules_version: f.rules_version,
            })
            .collect();
        Ok(FeedbackCounts {
            pilot: id.to_string(),
            cohort_size: p.cohort.len(),
            counts: tokenwise_pilots::report::tallies(&counted),
        })
    }
}
