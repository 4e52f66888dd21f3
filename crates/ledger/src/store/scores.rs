//! What scoring reads from the ledger: the period's calls summed per
//! person, day, use case and template (a month of millions of calls in a
//! few rows per person and day), and the scoring rules each version
//! stood for, so a past period re-scores under the rules it was scored by.

use super::StoreError;
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_core::Nanos;

/// Calls of one person on one day of a range, for one use case and
/// template, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    pub user_id: String,
    /// Whole days (24 h) since the range's start.
    pub day: u16,
    pub use_case: Option<String>,
    pub template: Option<String>,
    pub calls: u64,
    /// Calls the policy blocked (`status = blocked`).
    pub blocked: u64,
    /// Allowed calls whose findings were masked or rerouted.
    pub flagged: u64,
    /// Calls that drew on a budget exception.
    pub exception_calls: u64,
    /// Input (cached included) plus output tokens.
    pub tokens: u64,
    pub cost: Nanos,
}

#[async_trait]
pub trait ScoreStore: Send + Sync {
    /// Every usage event in `[from, to)` summed per (person, day, use case,
    /// template), ordered by those keys.
    async fn activity(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ActivityRow>, StoreError>;
    /// Keeps what a rules version stands for; a version already kept is
    /// left as it is (a version names one set of rules).
    async fn keep_rules(&self, version: &str, rules_json: &str, at: Timestamp) -> Result<(), StoreError>;
    /// The rules a version stands for, as kept.
    async fn rules(&self, version: &str) -> Result<Option<String>, StoreError>;
    /// Each (person, use case) with an outcome validated among those reported
    /// before `before`: a first validated outcome is a badge once.
    async fn validated_before(&self, before: Timestamp) -> Result<Vec<(String, String)>, StoreError>;
    /// The server's secret `name`: `fresh` is stored if there is none yet,
    /// and whichever was stored first is returned, on every replica.
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError>;
}
