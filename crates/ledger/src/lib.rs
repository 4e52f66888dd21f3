//! The ledger: what happened (usage events), who may call (API keys, stored
//! hashed), what was decided (the hash-chained audit log), and the storage
//! traits every backend implements, one per capability under one `Store`
//! (see [`store`]). Group commit lives here too, so every backend gets the
//! same durability contract.

pub mod audit;
pub mod budget;
pub mod digest;
pub mod escrow;
pub mod event;
pub mod exception;
pub mod keys;
pub mod outcome;
pub mod recorder;
pub mod rollup;
pub mod store;
pub mod task;

pub use audit::{AuditAction, AuditDraft, AuditEntry, ChainBreak, GENESIS_HASH, verify_chain, verify_store};
pub use event::{Decision, EventSource, Operation, Status, UsageEvent, UsageEventBuilder};
pub use exception::{Exception, ExceptionStatus};
pub use keys::{ApiKey, KeyCache, NewKey};
pub use outcome::{
    Appeal, AppealDecision, AppealStatus, AppealSubject, Award, Outcome, OutcomeDecision, OutcomeStatus,
};
pub use recorder::{Auditor, Recorder, RecorderStats};
pub use store::{
    ActivityRow, AnomalyRecord, AnomalyStore, AppealQuery, AuditStore, BlockingWriter, BudgetStore, DecisionCount,
    EventQuery, EventStore, ExceptionStore, Feedback, FeedbackStore, GroupBy, Incident, KeyStore, OutcomeQuery,
    OutcomeStore, PilotDecision, PromptStore, ReportStore, ScoreStore, Session, SessionStore, SharedPrompt, SpendQuery,
    SpendRow, Store, StoreBackend, StoreError, StoredPrompt, TaskStore, UsageTotals, prelude,
};
pub use task::{BaselineOf, Committed, TaskBaseline, TaskDelta, TaskSoFar, TaskTotals};

/// Microseconds since the Unix epoch: how both backends store time, so the
/// same query means the same thing on SQLite and PostgreSQL.
pub fn to_micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub fn from_micros(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
