//! The vocabulary every other tokenwise crate speaks: money as integer
//! nano-dollars, token usage by kind, DLP finding kinds and work tracks.
//! Nothing here does I/O.

mod clock;
mod envelope;
mod kinds;
mod money;
mod scope;
mod usage;

pub use clock::Clock;
pub use envelope::EnvelopeSpec;
pub use kinds::{Decision, FindingKind, Track, UnknownName};
pub use money::{MoneyError, Nanos, PricePerMtok};
pub use scope::{EnvelopeKey, ParseScopeError, Scope};
pub use usage::{Rates, TokenUsage};

/// For [`named_enum!`]: its schema impls name utoipa through this crate, so
/// crates that only declare enums need no utoipa dependency of their own.
#[doc(hidden)]
pub use utoipa as __utoipa;
