//! Usage events: what happened, and what it cost.

use super::StoreError;
use crate::event::UsageEvent;
use crate::task::Committed;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use tokenwise_core::{Nanos, TokenUsage};

/// Filters for listing events; newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub request_id: Option<String>,
    pub task: Option<String>,
    /// Inclusive lower bound on the event time.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound.
    pub to: Option<Timestamp>,
    /// At most this many (the stores cap it at 1,000).
    pub limit: u32,
}

impl EventQuery {
    pub const MAX_LIMIT: u32 = 1_000;

    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 100,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Team,
    User,
    Project,
    UseCase,
    Model,
    /// What the policy decided: allow, redact, reroute, block.
    Decision,
}

impl GroupBy {
    /// The column grouped on; a fixed list, never user text.
    pub fn column(self) -> &'static str {
        match self {
            GroupBy::Team => "team_id",
            GroupBy::User => "user_id",
            GroupBy::Project => "project_id",
            GroupBy::UseCase => "use_case",
            GroupBy::Model => "model",
            GroupBy::Decision => "decision",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SpendQuery {
    pub group_by: GroupBy,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// Spend of one group over a time range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpendRow {
    /// The group's id; None for events without one (e.g. no project).
    pub key: Option<String>,
    pub calls: u64,
    pub usage: TokenUsage,
    pub cost: Nanos,
}

/// A backend that can commit a batch on the calling thread (SQLite). The
/// recorder then runs its group commit on a dedicated thread and skips two
/// thread hand-offs per batch, which is most of what durability costs in
/// latency besides the fsync itself.
pub trait BlockingWriter: Send {
    /// [`EventStore::commit_events`], on the calling thread.
    fn commit_events_blocking(&mut self, events: &[UsageEvent]) -> Result<Committed, StoreError>;

    /// The same commit for callers that need no task totals back (an
    /// import of usage recorded elsewhere): how many events were new. A
    /// backend may skip reading each task's totals back.
    fn import_events_blocking(&mut self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        Ok(self.commit_events_blocking(events)?.new)
    }

    /// Called between batches, once the last one's callers have been
    /// answered: upkeep that must not delay them (SQLite starts its WAL
    /// over here).
    fn after_batch(&mut self) {}
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Some backends can also write synchronously; see [`BlockingWriter`].
    fn blocking_writer(&self) -> Option<Box<dyn BlockingWriter>> {
        None
    }

    /// Stores events in one transaction: all or none. An event whose id is
    /// already stored is skipped, so a retried batch never double-counts.
    /// When this returns Ok, they are durable. In the same transaction, an
    /// event whose `budget_keys` are set captures its hold (see
    /// [`BudgetStore`](super::BudgetStore)), and a new event that names a
    /// task joins its task's running totals (see
    /// [`TaskStore`](super::TaskStore)). Returns how many were new and, per
    /// event, its task's totals once it was counted.
    async fn commit_events(&self, events: &[UsageEvent]) -> Result<Committed, StoreError>;

    /// [`commit_events`](Self::commit_events), returning how many were new.
    async fn insert_events(&self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        Ok(self.commit_events(events).await?.new)
    }

    async fn event(&self, id: &str) -> Result<Option<UsageEvent>, StoreError>;

    /// The usage digest (`crate::digest`) of each window of `recorded_us`
    /// (`[from, to)`; when the row was written), in one pass over the rows
    /// in `(recorded_us, id)` order: how many rows, and their SHA-256.
    async fn digest_recorded(&self, windows: &[(i64, i64)]) -> Result<Vec<(u64, String)>, StoreError>;

    async fn events(&self, query: &EventQuery) -> Result<Vec<UsageEvent>, StoreError>;

    /// Calls, tokens and cost per group in `[from, to)`, largest cost first.
    async fn spend(&self, query: &SpendQuery) -> Result<Vec<SpendRow>, StoreError>;
}
