//! Reports for finance and governance, as pure functions: rows read from
//! the ledger go in, a report comes out. No I/O here; `tokenwise-app`
//! reads the rows and checks who may see what.
//!
//! - [`chargeback`]: spend by team, project, cost centre and use case, as
//!   JSON or CSV; [`focus`]: the same usage as a FinOps FOCUS dataset.
//! - [`health`]: whether the program works — spend per outcome over time,
//!   template reuse, adoption, adherence, escalations, duplicate builds.
//! - [`reconcile`]: a provider's own usage/cost export against the ledger,
//!   per UTC day, model and token kind.
//!
//! Money stays integer nano-dollars throughout; it becomes text only when a
//! report is written ([`decimal`]), exactly.

pub mod alloc;
pub mod chargeback;
pub mod csv;
pub mod decimal;
pub mod focus;
pub mod health;
pub mod kinds;
pub mod reconcile;

pub use chargeback::{Chargeback, ChargebackRow, Directory, OutcomeCount, UsageLine};
pub use kinds::TokenKind;

/// A report could not be made from its input (a provider export that
/// does not read, an unknown format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

impl ReportError {
    pub fn new(msg: impl Into<String>) -> ReportError {
        ReportError(msg.into())
    }
}
