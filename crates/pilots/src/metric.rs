//! What a pilot measures. Every metric is a ratio of sums over the people
//! and weeks it covers, so a group's figure is never an average of
//! per-person ratios (one person with one outcome cannot swing it).

use serde::Serialize;
use tokenwise_core::Nanos;

/// What some people did over some weeks, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    /// People × weeks the sums cover: the denominator of per-person rates.
    pub person_weeks: u64,
    pub calls: u64,
    /// Input (cached included) plus output tokens.
    pub tokens: u64,
    /// Nano-dollars.
    #[schema(value_type = i64)]
    pub spend: Nanos,
    /// Calls naming a template; on an approved one; on the newest version
    /// of their template the policy lists.
    pub template_calls: u64,
    pub approved_template_calls: u64,
    pub latest_template_calls: u64,
    /// Budget exceptions asked for, and calls that drew on one.
    pub exceptions_requested: u64,
    pub exception_calls: u64,
    /// Calls whose findings were masked or rerouted; calls blocked.
    pub violations: u64,
    pub blocks: u64,
    /// Anomalies fired about the person.
    pub anomalies: u64,
    /// Outcomes reported; of those, validated.
    pub reported: u64,
    pub outcomes: u64,
    /// Quality marks (1–5) of validated outcomes: their sum and count.
    pub quality_sum: u64,
    pub quality_n: u64,
    /// Reported outcomes escalated, or in error.
    pub escalated: u64,
    pub errors: u64,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.person_weeks += o.person_weeks;
        self.calls = self.calls.saturating_add(o.calls);
        self.tokens = self.tokens.saturating_add(o.tokens);
        self.spend = self.spend.saturating_add(o.spend);
        self.template_calls += o.template_calls;
        self.approved_template_calls += o.approved_template_calls;
        self.latest_template_calls += o.latest_template_calls;
        self.exceptions_requested += o.exceptions_requested;
        self.exception_calls += o.exception_calls;
        self.violations += o.violations;
        self.blocks += o.blocks;
        self.anomalies += o.anomalies;
        self.reported += o.reported;
        self.outcomes += o.outcomes;
        self.quality_sum += o.quality_sum;
        self.quality_n += o.quality_n;
        self.escalated += o.escalated;
        self.errors += o.errors;
    }
}

/// How a change in a metric is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A ratio that can only be compared relative to itself: the effect is
    /// a fraction (−0.18 is "fell 18%").
    Relative,
    /// A share of calls or outcomes (0–1): the effect is a difference in
    /// percentage points (stored as a fraction, −0.04 is 4 points).
    Share,
    /// A level on its own scale (quality 1–5, exceptions a person-week):
    /// the effect is a difference in that unit.
    Level,
}

/// One measured quantity of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    SpendPerOutcome,
    TokensPerOutcome,
    CallsPerOutcome,
    /// Tokens a person-week.
    TokenBurn,
    ApprovedTemplateShare,
    /// Calls with a template on its newest version: falls as templates drift.
    LatestTemplateShare,
    /// Exceptions asked for a person-week.
    ExceptionsRequested,
    ExceptionCallShare,
    ViolationRate,
    BlockRate,
    /// Anomalies a person-week.
    Anomalies,
    EscalationRate,
    ErrorRate,
    Quality,
}

#[allow(clippy::cast_precision_loss)]
fn ratio(num: f64, den: u64) -> Option<f64> {
    (den > 0).then(|| num / den as f64)
}

impl Metric {
    pub const ALL: [Metric; 14] = [
        Metric::SpendPerOutcome,
        Metric::TokensPerOutcome,
        Metric::CallsPerOutcome,
        Metric::TokenBurn,
        Metric::ApprovedTemplateShare,
        Metric::LatestTemplateShare,
        Metric::ExceptionsRequested,
        Metric::ExceptionCallShare,
        Metric::ViolationRate,
        Metric::BlockRate,
        Metric::Anomalies,
        Metric::EscalationRate,
        Metric::ErrorRate,
        Metric::Quality,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::SpendPerOutcome => "spend_per_outcome",
            Metric::TokensPerOutcome => "tokens_per_outcome",
            Metric::CallsPerOutcome => "calls_per_outcome",
            Metric::TokenBurn => "token_burn",
            Metric::ApprovedTemplateShare => "approved_template_share",
            Metric::LatestTemplateShare => "latest_template_share",
            Metric::ExceptionsRequested => "exceptions_requested",
            Metric::ExceptionCallShare => "exception_call_share",
            Metric::ViolationRate => "violation_rate",
            Metric::BlockRate => "block_rate",
            Metric::Anomalies => "anomalies",
            Metric::EscalationRate => "escalation_rate",
            Metric::ErrorRate => "error_rate",
            Metric::Quality => "quality",
        }
    }

    /// The metric in a sentence.
    pub fn words(self) -> &'static str {
        match self {
            Metric::SpendPerOutcome => "spend per outcome",
            Metric::TokensPerOutcome => "tokens per outcome",
            Metric::CallsPerOutcome => "calls per outcome",
            Metric::TokenBurn => "token burn",
            Metric::ApprovedTemplateShare => "the share of calls on approved templates",
            Metric::LatestTemplateShare => "the share of template calls on the latest version",
            Metric::ExceptionsRequested => "exceptions asked for a person-week",
            Metric::ExceptionCallShare => "the share of calls on an exception",
            Metric::ViolationRate => "the share of calls with a policy finding",
            Metric::BlockRate => "the share of calls blocked",
            Metric::Anomalies => "anomalies a person-week",
            Metric::EscalationRate => "the escalation rate",
            Metric::ErrorRate => "the error rate",
            Metric::Quality => "quality",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Metric::SpendPerOutcome | Metric::TokensPerOutcome | Metric::CallsPerOutcome | Metric::TokenBurn => {
                Kind::Relative
            }
            Metric::ExceptionsRequested | Metric::Anomalies | Metric::Quality => Kind::Level,
            _ => Kind::Share,
        }
    }

    /// Whether a rise is the bad direction.
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, Metric::ApprovedTemplateShare | Metric::LatestTemplateShare | Metric::Quality)
    }

    /// The metric over a tally; none when its denominator is zero. Spend
    /// per outcome is in dollars, for reading only.
    #[allow(clippy::cast_precision_loss)]
    pub fn value(self, t: &Tally) -> Option<f64> {
        match self {
            Metric::SpendPerOutcome => ratio(t.spend.0 as f64 / 1e9, t.outcomes),
            Metric::TokensPerOutcome => ratio(t.tokens as f64, t.outcomes),
            Metric::CallsPerOutcome => ratio(t.calls as f64, t.outcomes),
            Metric::TokenBurn => ratio(t.tokens as f64, t.person_weeks),
            Metric::ApprovedTemplateShare => ratio(t.approved_template_calls as f64, t.calls),
            Metric::LatestTemplateShare => ratio(t.latest_template_calls as f64, t.template_calls),
            Metric::ExceptionsRequested => ratio(t.exceptions_requested as f64, t.person_weeks),
            Metric::ExceptionCallShare => ratio(t.exception_calls as f64, t.calls),
            Metric::ViolationRate => ratio(t.violations as f64, t.calls),
            Metric::BlockRate => ratio(t.blocks as f64, t.calls),
            Metric::Anomalies => ratio(t.anomalies as f64, t.person_weeks),
            Metric::EscalationRate => ratio(t.escalated as f64, t.reported),
            Metric::ErrorRate => ratio(t.errors as f64, t.reported),
            Metric::Quality => ratio(t.quality_sum as f64, t.quality_n),
        }
    }
}
