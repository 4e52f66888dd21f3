//! The one-click question on a scorecard — is this motivating, confusing
//! or unfair? — with an optional comment. Each answer is kept with the
//! person, the period, the reward model and the rules version the person
//! was looking at, so a pilot's report can set it beside what the
//! incentive did to behaviour. Anyone answers about their own scorecard
//! only; governance and admins read the answers.

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::scores::{Period, model};
use serde::{Deserialize, Serialize};
use tokenwise_ledger::Feedback;
use tokenwise_policy::Role;

const MAX_COMMENT_CHARS: usize = 2_000;
/// The answers the question offers.
pub const ANSWERS: [&str; 3] = ["motivating", "confusing", "unfair"];

/// `POST /api/v1/feedback`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackAnswer {
    /// `motivating`, `confusing` or `unfair`.
    pub answer: String,
    /// A sentence in the person's words, optional.
    #[serde(default)]
    pub comment: Option<String>,
    /// The scorecard's period, `YYYY-MM` (default: the current one).
    #[serde(default)]
    pub period: Option<String>,
    /// The reward model the scorecard showed (default `balanced`).
    #[serde(default)]
    pub model: Option<String>,
}

/// An answer as kept.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackView {
    pub id: String,
    pub user: String,
    pub period: String,
    pub answer: String,
    pub comment: Option<String>,
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
            period: f.period,
            answer: f.answer,
            comment: f.comment,
            model: f.model,
            rules_version: f.rules_version,
            at: f.at.to_string(),
        }
    }
}

impl App {
    /// Keeps the caller's answer about their own scorecard.
    pub async fn give_feedback(&self, caller: &Caller, a: FeedbackAnswer) -> AppResult<FeedbackView> {
        let answer = a.answer.trim().to_ascii_lowercase();
        if !ANSWERS.contains(&answer.as_str()) {
            return Err(AppError::invalid(format!("answer must be one of {}, got `{}`", ANSWERS.join(", "), a.answer)));
        }
        let comment = a.comment.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
            return Err(AppError::invalid(format!("comment is longer than {MAX_COMMENT_CHARS} characters")));
        }
        let now = self.clock.now();
        let period = match a.period.as_deref() {
            Some(l) => Period::parse(&self.policy, l)?,
            None => Period::containing(&self.policy, now),
        };
        let model = model(a.model.as_deref())?;
        let f = Feedback {
            id: format!("fb_{}", uuid::Uuid::now_v7().simple()),
            user_id: caller.user.id.clone(),
            period: period.label,
            answer,
            comment,
            model: model.as_str().to_string(),
            rules_version: self.policy.scoring.rules.version(),
            at: now,
        };
        self.store.insert_feedback(&f).await?;
        Ok(f.into())
    }

    /// Answers given, oldest first: one's own, or everyone's for
    /// governance and admins (who run pilots).
    pub async fn feedback_given(&self, caller: &Caller, period: Option<&str>) -> AppResult<Vec<FeedbackView>> {
        let user = match caller.user.role {
            Role::Governance | Role::Admin => None,
            _ => Some(caller.user.id.as_str()),
        };
        Ok(self.store.feedback(user, period).await?.into_iter().map(FeedbackView::from).collect())
    }
}
