//! What the anomaly detectors read and what they keep: calls per UTC day,
//! person, use case and model, the calls DLP stopped per day and person
//! (from the activity rollup), each prompt's calls per day and person, and
//! distinct prompts per day and person sharing the first band of their
//! sketch (three rollups the writers keep with the events, so detection
//! never scans the events), the few events a finding cites; the findings
//! themselves (one row per stable id, each alerted once) and incident
//! reviews.

use super::StoreError;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokenwise_core::Nanos;

/// Calls of one person on one UTC day in one use case ('' for none) on
/// one model, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDay {
    pub day: i64,
    pub user_id: String,
    pub use_case: String,
    pub model: String,
    pub calls: u64,
    /// Input (cached included) plus output tokens.
    pub tokens: u64,
    pub cost: Nanos,
}

/// Calls of one person on one UTC day, in one use case ('' for none) and
/// on one template ('' for none), that DLP stopped: from the activity
/// rollup, only its rows with any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedDay {
    pub day: i64,
    pub user_id: String,
    pub use_case: String,
    /// `status = blocked`.
    pub blocked: u64,
    /// Allowed with their findings masked or rerouted.
    pub flagged: u64,
}

/// A prompt one person sent `calls` times on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatRow {
    pub user_id: String,
    pub day: i64,
    pub prompt_hash: String,
    pub calls: u64,
}

/// `prompts` distinct prompts one person sent on one UTC day whose sketches
/// share their first band (`band0`, the low 16 bits): a candidate group of
/// near-duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SketchGroup {
    pub user_id: String,
    pub day: i64,
    pub band0: i64,
    pub prompts: u64,
}

/// Which calls of one person a finding cites: in `[from_us, to_us)`,
/// optionally of one use case, model, prompt or minhash band, or only
/// those DLP stopped; dearest first (then newest), at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceQuery {
    pub user_id: String,
    pub from_us: i64,
    pub to_us: i64,
    pub use_case: Option<String>,
    pub model: Option<String>,
    pub prompt_hash: Option<String>,
    /// (band 0..4, value).
    pub band: Option<(u8, i64)>,
    /// Only calls DLP blocked, or masked or rerouted (the activity
    /// rollup's `blocked` and `flagged`).
    pub dlp: bool,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRow {
    pub id: String,
    pub prompt_hash: Option<String>,
    pub prompt_minhash: Option<u64>,
}

/// A finding as kept: the latest detection's words and evidence under a
/// stable id, when it was first seen and alerted, and what became of an
/// appeal against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyRecord {
    pub id: String,
    pub detector: String,
    /// `user:ID`.
    pub subject: String,
    pub user_id: String,
    pub team_id: Option<String>,
    pub use_case: Option<String>,
    /// `YYYY-MM`: the period it was found in.
    pub period: String,
    pub window: String,
    pub severity: String,
    pub explanation: String,
    /// The evidence as JSON.
    pub evidence: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub alerted_at: Option<Timestamp>,
    /// The appeal's status (`open`, `upheld`, `dismissed`), if one was filed.
    pub appeal: Option<String>,
}

impl AnomalyRecord {
    /// An upheld appeal suppresses the flag for good.
    pub fn suppressed(&self) -> bool {
        self.appeal.as_deref() == Some("upheld")
    }
}

/// An incident review: what happened, why, what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// `inc_` and a UUIDv7.
    pub id: String,
    pub title: String,
    /// `reward_model_flaw`, `unclear_policy`, `poor_experience`, `misuse`, `other`.
    pub category: String,
    /// `open`, `mitigated`, `closed`.
    pub status: String,
    /// When it happened: spend is compared before and after.
    pub occurred_at: Timestamp,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Everything else (summary, linked anomalies and events, the people
    /// concerned, actions) as JSON.
    pub body: String,
}

impl Incident {
    pub fn new_id() -> String {
        format!("inc_{}", uuid::Uuid::now_v7().simple())
    }
}

#[async_trait]
pub trait AnomalyStore: Send + Sync {
    /// Calls per UTC day, person, use case and model for days `[from_day,
    /// to_day)`, from the rollup, ordered by those keys.
    async fn model_days(&self, from_day: i64, to_day: i64) -> Result<Vec<ModelDay>, StoreError>;

    /// The activity rollup's rows for days `[from_day, to_day)` with a call
    /// DLP blocked, masked or rerouted, ordered by day, person, use case.
    async fn stopped_days(&self, from_day: i64, to_day: i64) -> Result<Vec<StoppedDay>, StoreError>;

    /// Prompts one person sent at least `min_calls` (≥ 2) times on one UTC
    /// day of `[from_day, to_day)`, from the prompt rollup's index of
    /// repeated prompts: most repeated first, at most `limit`.
    async fn repeated_prompts(
        &self,
        from_day: i64,
        to_day: i64,
        min_calls: u64,
        limit: u32,
    ) -> Result<Vec<RepeatRow>, StoreError>;

    /// Groups of at least `min_prompts` (≥ 2) distinct prompts of one
    /// person and UTC day sharing their sketch's first band: most prompts
    /// first, at most `limit`.
    async fn sketch_groups(
        &self,
        from_day: i64,
        to_day: i64,
        min_prompts: u64,
        limit: u32,
    ) -> Result<Vec<SketchGroup>, StoreError>;

    /// The calls a finding cites.
    async fn evidence(&self, q: &EvidenceQuery) -> Result<Vec<EvidenceRow>, StoreError>;

    /// Keeps findings: a new id is inserted; a known one keeps its first
    /// sighting and alert, and takes the new words, evidence and severity.
    async fn keep_anomalies(&self, rows: &[AnomalyRecord]) -> Result<(), StoreError>;

    /// The findings of a period, first seen first, with their appeals.
    async fn anomalies(&self, period: &str) -> Result<Vec<AnomalyRecord>, StoreError>;

    async fn get_anomaly(&self, id: &str) -> Result<Option<AnomalyRecord>, StoreError>;

    /// Marks a finding alerted unless it was already (by this or another
    /// replica): true for the one caller that should send the alert.
    async fn claim_anomaly_alert(&self, id: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// A new incident; an id already stored is a `Conflict`.
    async fn insert_incident(&self, i: &Incident) -> Result<(), StoreError>;

    /// Replaces an incident's status, body and update time; false when
    /// there is no such incident.
    async fn update_incident(&self, i: &Incident) -> Result<bool, StoreError>;

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError>;

    /// Incidents, newest first (time it occurred, then id), at most `limit`.
    async fn incidents(&self, limit: u32) -> Result<Vec<Incident>, StoreError>;
}
