//! The one storage interface. Each backend (SQLite embedded, PostgreSQL at
//! scale) lives in its own crate with its own migrations, and one shared
//! test-suite (`tokenwise-store-tests`) runs against both.

use crate::audit::{AuditDraft, AuditEntry};
use crate::budget::{EnvelopeState, HoldRequest, HoldResult};
use crate::event::UsageEvent;
use crate::exception::Exception;
use crate::keys::ApiKey;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use tokenwise_core::{Nanos, TokenUsage};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the operation.
    #[error("database error: {0}")]
    Backend(String),
    /// A row conflicts with one already stored.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data could not be read back (a bad value in a row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The URL or configuration is wrong.
    #[error("{0}")]
    Config(String),
}

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
    fn insert_events_blocking(&mut self, events: &[UsageEvent]) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Some backends can also write synchronously; see [`BlockingWriter`].
    fn blocking_writer(&self) -> Option<Box<dyn BlockingWriter>> {
        None
    }

    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Stores events in one transaction: all or none. An event whose id is
    /// already stored is skipped, so a retried batch never double-counts.
    /// Returns how many were new. When this returns Ok, they are durable.
    async fn insert_events(&self, events: &[UsageEvent]) -> Result<u64, StoreError>;

    async fn event(&self, id: &str) -> Result<Option<UsageEvent>, StoreError>;

    async fn events(&self, query: &EventQuery) -> Result<Vec<UsageEvent>, StoreError>;

    /// Calls, tokens and cost per group in `[from, to)`, largest cost first.
    async fn spend(&self, query: &SpendQuery) -> Result<Vec<SpendRow>, StoreError>;

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;

    async fn api_keys_for_user(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError>;

    /// Returns false when there was no such active key.
    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// Appends to the audit chain, atomically with respect to every other
    /// appender (other tasks, other replicas).
    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditEntry, StoreError> {
        let mut entries = self.append_audit_batch(std::slice::from_ref(draft)).await?;
        entries.pop().ok_or_else(|| StoreError::Backend("no audit entry written".into()))
    }

    /// Appends several entries in one transaction (the auditor's batches).
    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError>;

    /// Entries with `seq > after_seq`, in order, at most `limit`.
    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    // Budgets. Captures are not a method: recording a usage event whose
    // `budget_keys` are set captures its hold (see `insert_events`).

    /// Places a hold on every part's envelope (creating envelopes as
    /// needed), all or nothing, atomically with respect to every other
    /// holder — other tasks and other replicas. `owner` names this replica:
    /// its holds expire only if it stops renewing them.
    async fn budget_hold(&self, req: &HoldRequest, owner: &str) -> Result<HoldResult, StoreError>;

    /// Extends the leases of `owner`'s holds `ids` — the calls it still has
    /// in flight — to `until`. A hold no call will capture is not renewed,
    /// and expires.
    async fn budget_renew(&self, owner: &str, ids: &[String], until: Timestamp) -> Result<(), StoreError>;

    /// Releases holds whose lease ran out; returns how many.
    async fn budget_expire(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Envelopes whose period contains `at`.
    async fn budget_envelopes(&self, at: Timestamp) -> Result<Vec<EnvelopeState>, StoreError>;

    /// Claims the alert thresholds newly crossed in envelopes of the period
    /// containing `at`: each (envelope, threshold) is returned to exactly one
    /// caller, across replicas, once per period.
    async fn budget_claim_alerts(&self, at: Timestamp) -> Result<Vec<(EnvelopeState, u32)>, StoreError>;

    /// Records that `tranche` of an envelope unlocked; false if it already had.
    async fn budget_unlock(
        &self,
        key: &str,
        tranche: u32,
        at: Timestamp,
        facts: &serde_json::Value,
    ) -> Result<bool, StoreError>;

    /// Unlocked tranches of the given envelopes: (key, tranche).
    async fn budget_unlocks(&self, keys: &[String]) -> Result<Vec<(String, u32)>, StoreError>;

    async fn insert_exception(&self, e: &Exception) -> Result<(), StoreError>;

    async fn exception(&self, id: &str) -> Result<Option<Exception>, StoreError>;

    /// Moves a pending exception to approved (valid from `at` for its
    /// duration) or denied; None if it was not pending.
    async fn decide_exception(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        at: Timestamp,
    ) -> Result<Option<Exception>, StoreError>;

    /// Approved exceptions of these scopes in force at `at`.
    async fn active_exceptions(&self, scopes: &[String], at: Timestamp) -> Result<Vec<Exception>, StoreError>;
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.backend())
    }
}
