//! Budget envelopes, holds on them, alerts and unlocks. Captures are not a
//! method: recording a usage event whose `budget_keys` are set captures its
//! hold (see [`EventStore::insert_events`](super::EventStore::insert_events)).

use super::StoreError;
use crate::budget::{EnvelopeSpec, EnvelopeState, HoldRequest, HoldResult};
use crate::escrow::EscrowConfig;
use async_trait::async_trait;
use jiff::Timestamp;

#[async_trait]
pub trait BudgetStore: Send + Sync {
    /// Places a hold on every part's envelope (creating envelopes as
    /// needed), all or nothing, atomically with respect to every other
    /// holder — other tasks and other replicas. `owner` names this replica:
    /// its holds expire only if it stops renewing them.
    async fn budget_hold(&self, req: &HoldRequest, owner: &str) -> Result<HoldResult, StoreError>;

    /// Creates the envelopes not stored yet (an existing one is left as it
    /// is). Usage recorded elsewhere is captured on envelopes with no hold
    /// before it: this makes sure they exist, so the capture counts.
    async fn budget_ensure(&self, specs: &[EnvelopeSpec]) -> Result<(), StoreError>;

    /// Extends the leases of `owner`'s holds `ids` — the calls it still has
    /// in flight — to `until`. A hold no call will capture is not renewed,
    /// and expires.
    async fn budget_renew(&self, owner: &str, ids: &[String], until: Timestamp) -> Result<(), StoreError>;

    /// Releases holds whose lease ran out; returns how many.
    async fn budget_expire(&self, now: Timestamp) -> Result<u64, StoreError>;

    /// Called once replica `owner` has stopped taking calls and its usage
    /// is committed: gives back what it had reserved for itself
    /// (PostgreSQL's escrow allowances), so that money is free at once
    /// instead of when its lease runs out.
    async fn budget_retire(&self, owner: &str) -> Result<(), StoreError> {
        let _ = owner;
        Ok(())
    }

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

    /// Sets how this store holds across replicas (see [`crate::escrow`]).
    /// A store with one writer (SQLite) has nothing to escrow and ignores
    /// it; so does a store called with escrow off.
    fn budget_escrow(&self, _config: &EscrowConfig) {}
}
