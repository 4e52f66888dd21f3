//! Budget exceptions: a person asks for more room in a scope, for a reason
//! from the policy's list, for a while and up to a cap; the right approver
//! grants or denies it; it expires by itself. Every step is audited.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokenwise_core::{EnvelopeKey, Nanos, Scope};

tokenwise_core::named_enum!(
    ExceptionStatus, "exception status", {
        Pending => "pending",
        Approved => "approved",
        Denied => "denied",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub id: String,
    pub scope: Scope,
    pub reason_code: String,
    pub justification: String,
    pub requested_by: String,
    pub status: ExceptionStatus,
    /// How much may be spent under it, beyond the budgets it relieves.
    pub cap: Nanos,
    /// How long it lasts once approved.
    pub duration_secs: i64,
    /// If not empty, it covers calls to these models only.
    pub models: Vec<String>,
    /// If set, it covers prompts of at most this data class only.
    pub data_class: Option<String>,
    pub created_at: Timestamp,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    /// Set on approval: `decided_at + duration`.
    pub valid_until: Option<Timestamp>,
}

impl Exception {
    pub fn new_id() -> String {
        format!("exc_{}", uuid::Uuid::now_v7().simple())
    }

    pub fn is_active(&self, at: Timestamp) -> bool {
        self.status == ExceptionStatus::Approved
            && self.decided_at.is_some_and(|d| d <= at)
            && self.valid_until.is_some_and(|u| at < u)
    }

    /// The envelope that holds its spending.
    pub fn envelope_key(&self) -> String {
        EnvelopeKey::Exception { scope: self.scope.clone(), id: self.id.clone() }.to_string()
    }
}
