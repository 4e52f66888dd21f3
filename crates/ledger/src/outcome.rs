//! Outcomes, appeals and badge awards: what work produced, who vouched for
//! it, who contested a decision, and what recognition was given.
//!
//! An [`Outcome`] is a unit of work reported by a person (or signed by an
//! integration) and joined to the calls that produced it by its task. It
//! starts pending; the user's manager or governance validates or rejects it
//! once. The subject of a rejection may file one [`Appeal`]; governance
//! upholds it (the outcome becomes validated) or dismisses it. An [`Award`]
//! is a badge given to a person or team once for one thing.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokenwise_core::Nanos;

tokenwise_core::named_enum!(
    /// Where an outcome stands: pending counts at the policy's reduced
    /// weight, validated fully, rejected not at all.
    OutcomeStatus, "outcome status", {
        Pending => "pending",
        Validated => "validated",
        Rejected => "rejected",
    }
);

tokenwise_core::named_enum!(
    /// What a validator decides about a pending outcome.
    OutcomeDecision, "decision", {
        Validated => "validated",
        Rejected => "rejected",
    }
);

impl OutcomeDecision {
    /// The status the outcome moves to.
    pub fn status(self) -> OutcomeStatus {
        match self {
            OutcomeDecision::Validated => OutcomeStatus::Validated,
            OutcomeDecision::Rejected => OutcomeStatus::Rejected,
        }
    }
}

tokenwise_core::named_enum!(
    /// What an appeal contests: a rejected outcome, or (later) an anomaly flag.
    AppealSubject, "appeal subject", {
        Outcome => "outcome",
        Anomaly => "anomaly",
    }
);

tokenwise_core::named_enum!(
    AppealStatus, "appeal status", {
        Open => "open",
        Upheld => "upheld",
        Dismissed => "dismissed",
    }
);

tokenwise_core::named_enum!(
    /// What governance decides about an open appeal.
    AppealDecision, "decision", {
        Upheld => "upheld",
        Dismissed => "dismissed",
    }
);

impl AppealDecision {
    pub fn status(self) -> AppealStatus {
        match self {
            AppealDecision::Upheld => AppealStatus::Upheld,
            AppealDecision::Dismissed => AppealStatus::Dismissed,
        }
    }
}

/// One reported result of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `out_` and a UUIDv7 (time-ordered).
    pub id: String,
    /// The task id the calls that produced it were sent with
    /// (`x-tokenwise-task`).
    pub task: String,
    /// Whose work it is.
    pub user_id: String,
    /// The user's team when it was reported.
    pub team_id: String,
    pub use_case: String,
    /// What kind of result, e.g. `ticket_resolved`, `pr_merged`.
    pub kind: String,
    /// What it is worth: the hours reported times the org's hour value, or
    /// the dollars reported, exactly.
    pub value: Nanos,
    /// The hours reported, in thousandths of an hour; None when the value
    /// was reported in dollars.
    pub value_hours_milli: Option<i64>,
    /// A URL or an id where the result can be checked.
    pub evidence: Option<String>,
    /// The reporter's own rating, 1–5.
    pub quality: Option<u8>,
    /// The work had to be escalated to someone else.
    pub escalated: bool,
    /// The result contained an error that had to be corrected.
    pub error: bool,
    pub status: OutcomeStatus,
    /// A user id, or `integration:ID` for a signed post.
    pub reported_by: String,
    /// Posted by an integration with a valid signature: workflow evidence.
    pub signed: bool,
    pub reported_at: Timestamp,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    /// The validator's rating, 1–5.
    pub decided_quality: Option<u8>,
    /// Whether a metered call carried this task (for this user) when the
    /// outcome was reported; an unmetered outcome is accepted but marked.
    pub metered: bool,
}

impl Outcome {
    pub fn new_id() -> String {
        format!("out_{}", uuid::Uuid::now_v7().simple())
    }

    /// The hours reported, if the value was reported in hours.
    pub fn value_hours(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        self.value_hours_milli.map(|m| m as f64 / 1000.0)
    }
}

/// A contest of a decision, filed once per subject by the person it is
/// about, decided once by governance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appeal {
    /// `apl_` and a UUIDv7.
    pub id: String,
    pub subject_kind: AppealSubject,
    /// The outcome's (or anomaly's) id.
    pub subject_id: String,
    /// Who filed it: the person the subject is about.
    pub appellant: String,
    pub comment: String,
    pub status: AppealStatus,
    pub filed_at: Timestamp,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decision_comment: Option<String>,
}

impl Appeal {
    pub fn new_id() -> String {
        format!("apl_{}", uuid::Uuid::now_v7().simple())
    }

    /// `outcome:ID` or `anomaly:ID`.
    pub fn subject(&self) -> String {
        format!("{}:{}", self.subject_kind, self.subject_id)
    }
}

/// A badge given to a person or team, once for each thing it was for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    /// `user:ID` or `team:ID`.
    pub subject: String,
    /// The badge's id, e.g. `template-reused`.
    pub badge: String,
    /// What it was for (a template id, a use case…): a subject gets a badge
    /// once per key.
    pub key: String,
    /// The period it was earned in, `YYYY-MM`.
    pub period: String,
    pub awarded_at: Timestamp,
    /// Why, in plain words.
    pub explanation: String,
}
