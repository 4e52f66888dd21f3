//! A budget envelope: one budget's allowance for one scope in one period.
//! The policy says which envelopes a call draws on; the ledger keeps their
//! holds and captures.

use crate::Nanos;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvelopeSpec {
    /// `budget|scope|period-start`, e.g. `per-person-daily|user:ivan.petrov|2026-11-28`.
    pub key: String,
    pub budget_id: String,
    /// `org`, `team:support`, `user:ivan.petrov`…
    pub scope: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    /// Base allowance plus unlocked tranches (or an exception's cap).
    pub limit: Nanos,
    pub hard: bool,
    pub alert_at_percent: Vec<u32>,
}
