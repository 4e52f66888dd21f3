//! The pilot report as pure functions: what each person in a pilot's
//! cohort and control group did each week, before and during the pilot,
//! goes in; the weekly table, the effect (a difference-in-differences
//! with a bootstrap confidence interval), the guard metrics that worsened
//! and the feedback tallies come out. No I/O; `tokenwise-app` reads the
//! rows from the ledger and checks who may see the report.
//!
//! - [`metric`]: what is measured, as ratios of sums (spend per outcome,
//!   share of calls on approved templates…), and which way is worse.
//! - [`effect`]: the difference-in-differences and its interval: people
//!   are resampled with replacement within each group by a seeded
//!   generator, so the same history always gives the same report.
//! - [`report`]: the whole report and its sentence in plain words.

pub mod effect;
pub mod metric;
pub mod report;
mod rng;
pub mod words;

pub use effect::{Effect, Estimate, GuardLevel};
pub use metric::{Kind, Metric, Tally};
pub use report::{Answer, FeedbackTally, Group, GuardFlag, Guards, Input, PilotReport, Row, WeekRow, build};
