//! Tasks: each person's task's running totals, kept by the stores in the
//! same transaction as the usage events that name it (see
//! [`EventStore::commit_events`](super::EventStore::commit_events)), so they
//! never disagree with the ledger; and the usual cost of a task, per
//! template and per use case.

use super::StoreError;
use crate::task::{TaskBaseline, TaskSoFar, TaskTotals};
use async_trait::async_trait;
use jiff::Timestamp;

#[async_trait]
pub trait TaskStore: Send + Sync {
    /// The calls and cost so far of `user`'s task `task` (one index probe);
    /// None when no row names it.
    async fn task_cost(&self, user: &str, task: &str) -> Result<Option<TaskSoFar>, StoreError>;

    /// One row per task whose last call was in `[from, to)`, oldest last
    /// call first.
    async fn tasks_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<TaskTotals>, StoreError>;

    /// One person's tasks whose last call was in `[from, to)`, newest last
    /// call first, at most `limit` (what their month on the dashboard
    /// lists; read by the person's key, never the whole period).
    async fn person_tasks(
        &self,
        user: &str,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<TaskTotals>, StoreError>;

    /// The rows of these (person, task) pairs, those that exist: what the
    /// scoring needs of the tasks behind a period's outcomes (their first
    /// template and prompt hash), read by key, never the whole table.
    async fn tasks_of(&self, keys: &[(String, String)]) -> Result<Vec<TaskTotals>, StoreError>;

    /// The median cost of the tasks whose last call was in `[from, to)` and
    /// that cost something, per template and per use case (a task counts
    /// for the first template and use case it named), with how many tasks
    /// each is of. Computed by the database: nothing per task leaves it.
    async fn task_baselines(&self, from: Timestamp, to: Timestamp) -> Result<Vec<TaskBaseline>, StoreError>;
}
