//! The storage interface, one trait per capability. Each backend (SQLite
//! embedded, PostgreSQL at scale) lives in its own crate with its own
//! migrations and one module per capability, and one shared test-suite
//! (`tokenwise-store-tests`, also one module per capability) runs against
//! both.
//!
//! | capability | trait | what it keeps |
//! |---|---|---|
//! | events | [`EventStore`] | usage events: insert, get, list, spend |
//! | keys | [`KeyStore`] | API keys (hashed) and how fast a revocation is seen |
//! | audit | [`AuditStore`] | the hash-chained audit log |
//! | budgets | [`BudgetStore`] | envelopes, holds, alerts, unlocks |
//! | exceptions | [`ExceptionStore`] | budget exceptions and their approval |
//! | scores | [`ScoreStore`] | calls summed for scoring, scoring rules by version |
//! | outcomes | [`OutcomeStore`] | outcomes and their validation, appeals, badge awards |
//! | tasks | [`TaskStore`] | each person's task's running totals, baselines |
//! | reports | [`ReportStore`] | calls summed per charge period for chargeback and reconciliation |
//! | anomalies | [`AnomalyStore`] | calls per day and model, prompt groups, findings, incidents |
//! | sessions | [`SessionStore`] | the dashboard's sessions (hashed tokens) |
//! | feedback | [`FeedbackStore`] | pilots: answers to the feedback question, decisions (promoted, ended) |
//! | prompts | [`PromptStore`] | prompts kept under a use case's retention policy, until purged |
//!
//! [`Store`] is every capability at once; it has a blanket impl, so a
//! backend implements the capability traits and gets `Store` for free, and
//! code that needs one capability can take just that trait
//! (`&dyn AuditStore`). `use tokenwise_ledger::prelude::*` brings every
//! trait into scope, which calling their methods needs.
//!
//! ## Adding a capability (outcomes, scores, reports, …)
//! 1. `store/outcomes.rs`: `#[async_trait] pub trait OutcomeStore: Send + Sync`
//!    with its query types next to it; document what each method promises.
//! 2. Here: `mod outcomes; pub use outcomes::*;`, add `OutcomeStore` to
//!    `Store`'s supertraits and to the blanket impl's bounds, and to
//!    [`prelude`].
//! 3. Each backend: a migration and an `outcomes.rs` module implementing it.
//! 4. `tokenwise-store-tests`: an `outcomes.rs` module with the cases, listed
//!    in `store_suite!`, so both backends must pass them.

pub mod anomalies;
mod audit;
mod budgets;
mod dashboard;
mod events;
mod exceptions;
mod keys;
mod outcomes;
mod prompts;
pub mod reports;
pub mod scores;
mod tasks;

pub use anomalies::{
    AnomalyRecord, AnomalyStore, EvidenceQuery, EvidenceRow, Incident, ModelDay, RepeatRow, SketchGroup,
};
pub use audit::AuditStore;
pub use budgets::BudgetStore;
pub use dashboard::{Feedback, FeedbackStore, PilotDecision, Session, SessionStore};
pub use events::{BlockingWriter, EventQuery, EventStore, GroupBy, SpendQuery, SpendRow};
pub use exceptions::ExceptionStore;
pub use keys::KeyStore;
pub use outcomes::{AppealQuery, OutcomeQuery, OutcomeStore};
pub use prompts::{PromptStore, StoredPrompt};
pub use reports::{DecisionCount, ReportStore, SharedPrompt, UsageTotals};
pub use scores::{ActivityRow, ScoreStore};
pub use tasks::TaskStore;

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

/// Which backend a store is, for logs and `Debug`.
pub trait StoreBackend: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Every capability: what `tokenwise serve` and the CLI open.
pub trait Store:
    StoreBackend
    + EventStore
    + KeyStore
    + AuditStore
    + BudgetStore
    + ExceptionStore
    + OutcomeStore
    + ScoreStore
    + TaskStore
    + ReportStore
    + AnomalyStore
    + SessionStore
    + FeedbackStore
    + PromptStore
{
}

impl<T> Store for T where
    T: StoreBackend
        + EventStore
        + KeyStore
        + AuditStore
        + BudgetStore
        + ExceptionStore
        + OutcomeStore
        + ScoreStore
        + TaskStore
        + ReportStore
        + AnomalyStore
        + SessionStore
        + FeedbackStore
        + PromptStore
{
}

impl std::fmt::Debug for dyn Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.backend())
    }
}

/// The store traits, to call their methods: `use tokenwise_ledger::prelude::*;`.
pub mod prelude {
    pub use super::{
        AnomalyStore, AuditStore, BudgetStore, EventStore, ExceptionStore, FeedbackStore, KeyStore, OutcomeStore,
        PromptStore, ReportStore, ScoreStore, SessionStore, Store, StoreBackend, TaskStore,
    };
}
