//! Outcomes and their validation, appeals, and badge awards.

use super::StoreError;
use crate::outcome::{Appeal, AppealDecision, AppealStatus, Award, Outcome, OutcomeDecision, OutcomeStatus};
use async_trait::async_trait;
use jiff::Timestamp;

/// Filters for listing outcomes; newest first.
#[derive(Debug, Clone, Default)]
pub struct OutcomeQuery {
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub status: Option<OutcomeStatus>,
    pub task: Option<String>,
    /// Inclusive lower bound on the time it was reported.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound.
    pub to: Option<Timestamp>,
    /// At most this many (0: 100; the stores cap it at 1,000).
    pub limit: u32,
}

impl OutcomeQuery {
    pub const MAX_LIMIT: u32 = 1_000;

    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 100,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

/// Filters for listing appeals; newest first.
#[derive(Debug, Clone, Default)]
pub struct AppealQuery {
    pub status: Option<AppealStatus>,
    pub appellant: Option<String>,
    /// At most this many (0: 100; capped at 1,000).
    pub limit: u32,
}

impl AppealQuery {
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 100,
            n => n.min(OutcomeQuery::MAX_LIMIT),
        }
    }
}

#[async_trait]
pub trait OutcomeStore: Send + Sync {
    /// Stores a new outcome; an id already stored is a `Conflict`.
    async fn insert_outcome(&self, o: &Outcome) -> Result<(), StoreError>;

    async fn get_outcome(&self, id: &str) -> Result<Option<Outcome>, StoreError>;

    /// Moves a pending outcome to validated or rejected, recording who, when
    /// and their rating. Only a pending outcome moves: when it is already
    /// decided — even by a concurrent caller on another replica a moment
    /// ago — this is a `Conflict`, so of two deciders exactly one wins.
    /// None when there is no such outcome.
    async fn decide_outcome(
        &self,
        id: &str,
        decision: OutcomeDecision,
        by: &str,
        quality: Option<u8>,
        at: Timestamp,
    ) -> Result<Option<Outcome>, StoreError>;

    /// Outcomes matching every filter given, newest first (reported time,
    /// then id), at most the query's limit.
    async fn list_outcomes(&self, query: &OutcomeQuery) -> Result<Vec<Outcome>, StoreError>;

    /// Every outcome reported in `[from, to)`, oldest first (reported time,
    /// then id): what scoring reads.
    async fn outcomes_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Outcome>, StoreError>;

    /// Whether any usage event of `user` carries `task`.
    async fn task_is_metered(&self, task: &str, user: &str) -> Result<bool, StoreError>;

    /// Files an appeal. There is at most one per subject: a second one for
    /// the same subject (whoever files it, whatever became of the first)
    /// is a `Conflict`.
    async fn insert_appeal(&self, a: &Appeal) -> Result<(), StoreError>;

    async fn get_appeal(&self, id: &str) -> Result<Option<Appeal>, StoreError>;

    /// Decides an open appeal, once (a decided one is a `Conflict`; None
    /// when there is no such appeal). Upholding an appeal of a rejected
    /// outcome validates that outcome (decided by `by` at `at`, the
    /// rejection's rating cleared) in the same transaction.
    async fn decide_appeal(
        &self,
        id: &str,
        decision: AppealDecision,
        by: &str,
        comment: &str,
        at: Timestamp,
    ) -> Result<Option<Appeal>, StoreError>;

    /// Appeals matching the filters, newest first (filed time, then id).
    async fn list_appeals(&self, query: &AppealQuery) -> Result<Vec<Appeal>, StoreError>;

    /// Records an award unless the subject already has this badge for this
    /// key; true if it was new.
    async fn award_badge(&self, award: &Award) -> Result<bool, StoreError>;

    /// Records many awards in one transaction, each unless already given;
    /// returns how many were new.
    async fn award_badges(&self, awards: &[Award]) -> Result<u64, StoreError>;

    /// Awards, optionally of one subject and of one period, in the order
    /// they were given (time, subject, badge, key).
    async fn awards(&self, subject: Option<&str>, period: Option<&str>) -> Result<Vec<Award>, StoreError>;
}
