//! The tokenwise policy file.
//!
//! Reading happens in two steps, as TensorZero does it: the TOML is read
//! into raw serde types (`deny_unknown_fields`), then validated into checked
//! types with every cross-reference resolved. Unlike a plain `toml::from_str`,
//! each section and each named entry is deserialised on its own, so one
//! typo does not hide the rest: `check-config` reports every error in one
//! run, each with file, line, column and a hint.

pub mod access;
mod allow;
pub mod anomalies;
pub mod budgets;
pub mod dashboard;
pub mod decision;
mod diag;
pub mod ingest;
mod load;
mod model;
pub mod prices;
pub mod rate_limits;
pub mod raw;
mod validate;

pub use access::UseCaseRefusal;
pub use allow::{Allow, AllowMatch};
pub use diag::{Diagnostic, KeyPath, Report, Severity, line_col};
pub use load::{Loaded, load_file, load_str};
pub use model::*;
pub use raw::{
    Action, Category, Durability, Enforcement, ExceptionApproval, ModelKind, OutputAction, Period, PromptRetention,
    RiskTier, Role, Visibility, WireFormat,
};
pub use validate::{default_dlp, resolve_database};
