//! What a period's scores follow from: the calls people made (rolled up,
//! so a month of millions of calls arrives as a few rows per person and
//! day) and the outcomes they reported, with what the policy says about
//! use cases, templates and teams. The application layer reads these from
//! the ledger; this crate never does I/O.

use std::collections::{BTreeMap, BTreeSet};
use tokenwise_core::Nanos;

/// Calls of one person on one day, for one use case and template: summed.
/// Any finer grouping of the same calls scores the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub user: String,
    /// Day of the period, 0-based (clean-day badges count them).
    pub day: u16,
    pub use_case: Option<String>,
    /// `id@version` as sent, if any.
    pub template: Option<String>,
    /// Calls made, refused ones included.
    pub calls: u64,
    /// Calls the policy blocked (data a model may not see): refusals for
    /// want of budget are not violations.
    pub blocked: u64,
    /// Calls allowed only after the policy acted on findings (masked or
    /// rerouted): sensitive data was sent to the gateway.
    pub flagged: u64,
    /// Allowed calls on a template the policy marks approved.
    pub approved_template_calls: u64,
    /// Calls that drew on a granted budget exception.
    pub exception_calls: u64,
    /// Every token: input, output, cached, reasoning.
    pub tokens: u64,
    pub cost: Nanos,
}

/// Where an outcome stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pending,
    Validated,
    Rejected,
}

/// Use case, kind, template and first prompt hash.
pub type Identity = (String, String, String, String);

/// One reported outcome, with what the scoring needs of its task.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub id: String,
    pub user: String,
    pub use_case: String,
    pub kind: String,
    /// What it is worth (hours at the org's rate, or money), exactly.
    pub value: Nanos,
    pub status: Status,
    /// Posted by an integration with a valid signature: workflow evidence.
    pub signed: bool,
    /// The manager's rating if decided with one, else the reported one (1–5).
    pub quality: Option<u8>,
    pub escalated: bool,
    pub error: bool,
    /// A metered call carried its task.
    pub metered: bool,
    /// What makes two outcomes "the same action": the template and the first
    /// prompt's hash of its task (none when the task had no calls).
    pub template: Option<String>,
    pub prompt_hash: Option<String>,
    /// Order of reporting (microseconds); ties broken by id.
    pub at: i64,
}

impl Outcome {
    /// Identical actions (same use case, kind, template and prompt) earn
    /// less each time.
    pub fn identity(&self) -> Identity {
        (
            self.use_case.clone(),
            self.kind.clone(),
            self.template.clone().unwrap_or_default(),
            self.prompt_hash.clone().unwrap_or_default(),
        )
    }
}

/// What the policy says about a use case, for scoring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseCaseFacts {
    /// What one usual outcome costs in model calls: the baseline tokens at
    /// the default model's price.
    pub baseline_cost: Nanos,
    /// What one usual outcome is worth.
    pub outcome_value: Nanos,
    /// Exploration use cases are scored on learning outcomes.
    pub exploration: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFacts {
    pub author: String,
    pub approved: bool,
}

/// Everything one period's scores follow from.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `YYYY-MM`.
    pub period: String,
    pub days: u16,
    pub activity: Vec<Activity>,
    pub outcomes: Vec<Outcome>,
    /// Person → team.
    pub teams: BTreeMap<String, String>,
    pub use_cases: BTreeMap<String, UseCaseFacts>,
    /// `id@version` → facts.
    pub templates: BTreeMap<String, TemplateFacts>,
    /// (person, use case) pairs with a validated outcome before the period.
    pub validated_before: BTreeSet<(String, String)>,
}

impl Facts {
    pub fn team_of(&self, user: &str) -> Option<&str> {
        self.teams.get(user).map(String::as_str)
    }
}
