//! What the detectors read: the daily rollup (calls per UTC day, person,
//! use case and model — a month of millions of calls in a few rows per
//! person and day), the calls DLP blocked or masked per day and person
//! (the activity rollup), the outcomes, and the prompt groups the store
//! keeps per day and person (prompts sent more than once, and distinct
//! prompts sharing the first band of their sketch). Never raw events.

use std::collections::BTreeMap;
use tokenwise_core::Nanos;

pub const DAY_US: i64 = 86_400_000_000;

/// Calls of one person on one UTC day, in one use case, on one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUse {
    /// UTC days since the epoch.
    pub day: i64,
    pub user: String,
    /// '' when the call named none.
    pub use_case: String,
    pub model: String,
    pub calls: u64,
    pub tokens: u64,
    pub cost: Nanos,
}

/// One reported outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeFact {
    pub id: String,
    pub user: String,
    pub use_case: String,
    /// UTC day it was reported.
    pub day: i64,
    /// Not rejected.
    pub counted: bool,
    /// A metered call carried its task when it was reported.
    pub metered: bool,
}

/// A prompt one person sent `calls` times on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRepeat {
    pub user: String,
    pub day: i64,
    pub prompt_hash: String,
    pub calls: u64,
}

/// One call of a candidate near-duplicate group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptMember {
    pub event_id: String,
    pub prompt_hash: String,
    pub minhash: u64,
}

/// Calls of one person on one UTC day whose sketches share their first
/// band: candidates, confirmed by how many bands they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearCandidate {
    pub user: String,
    pub day: i64,
    pub members: Vec<PromptMember>,
}

/// Calls of one person on one UTC day, in one use case, that DLP acted on:
/// only days with at least one (every call is in [`DayUse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlpDay {
    pub day: i64,
    pub user: String,
    /// '' when the call named none.
    pub use_case: String,
    /// Refused: the prompt held data above every allowed model's clearance.
    pub blocked: u64,
    /// Sent with the findings masked, or rerouted to a model cleared for them.
    pub masked: u64,
}

/// What the policy says about a use case, for the detectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseCaseFacts {
    pub default_model: String,
}

/// Everything one detection pass reads.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `YYYY-MM`.
    pub period: String,
    /// The period's UTC days `[first_day, end_day)`.
    pub first_day: i64,
    pub end_day: i64,
    /// Days up to (not including) this one are judged: the period's end,
    /// or tomorrow for the period in progress.
    pub as_of_day: i64,
    /// From `first_day - history_days` (and the shadow baseline) to `end_day`.
    pub usage: Vec<DayUse>,
    /// The period's days on which DLP blocked or masked someone's calls.
    pub dlp: Vec<DlpDay>,
    /// Reported from the start of the usage to `end_day`.
    pub outcomes: Vec<OutcomeFact>,
    pub repeats: Vec<PromptRepeat>,
    pub near: Vec<NearCandidate>,
    /// Person → team.
    pub teams: BTreeMap<String, String>,
    pub use_cases: BTreeMap<String, UseCaseFacts>,
    /// Model → the price of a million tokens, three parts input to one
    /// output, when the period starts: which models are dearer.
    pub model_prices: BTreeMap<String, Nanos>,
}

impl Facts {
    /// The last day judged (inclusive).
    pub fn last_day(&self) -> i64 {
        self.as_of_day.min(self.end_day) - 1
    }
}
