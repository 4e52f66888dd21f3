//! A finding: what a detector saw, about whom, in which window, how
//! serious, in plain words, with its evidence (the numbers, and which
//! events or outcomes to look at: bounded, with a count of the rest).

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

tokenwise_core::named_enum!(
    /// Which detector saw it. Names are stored and sent in alerts: never
    /// rename one.
    Detector, "detector", {
        /// A day far above one's own history.
        OwnSpike => "own_spike",
        /// A period far above one's peers in the same use case.
        PeerSpike => "peer_spike",
        /// The same prompt again and again in one window.
        RepeatedPrompt => "repeated_prompt",
        /// Many distinct but nearly identical prompts in one window.
        NearDuplicatePrompts => "near_duplicate_prompts",
        /// Spend per outcome far above peers.
        CostPerOutcome => "cost_per_outcome",
        /// Calls per outcome far above peers.
        WorkflowSplitting => "workflow_splitting",
        /// A dear model where the use case's default would do.
        ModelOveruse => "model_overuse",
        /// Outcomes claimed with no metered call behind them.
        UnmeteredOutcomes => "unmetered_outcomes",
        /// Gateway use fell while outcomes continued.
        ShadowUsage => "shadow_usage",
        /// Prompts DLP blocked or masked on several days, far more often
        /// than peers' in the same use case.
        DlpViolations => "dlp_violations",
    }
);

tokenwise_core::named_enum!(
    Severity, "severity", {
        Low => "low",
        Medium => "medium",
        High => "high",
    }
);

/// Events a finding cites, for the application to look up in the ledger
/// (the detectors never read events): the person's calls in
/// `[from_us, to_us)`, optionally of one use case, model or prompt, or
/// only those DLP blocked or masked; dearest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Lookup {
    pub user: String,
    pub from_us: i64,
    pub to_us: i64,
    pub use_case: Option<String>,
    pub model: Option<String>,
    pub prompt_hash: Option<String>,
    /// Only calls DLP blocked, masked or rerouted.
    pub dlp: bool,
}

/// The figures and the records behind a finding.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Evidence {
    pub numbers: BTreeMap<&'static str, Value>,
    /// At most [`MAX_IDS`] event ids (the dearest or first ones).
    pub event_ids: Vec<String>,
    /// How many events are behind it in all.
    pub event_count: u64,
    /// At most [`MAX_IDS`] outcome ids.
    pub outcome_ids: Vec<String>,
    pub outcome_count: u64,
}

pub const MAX_IDS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `anm_` and 20 hex digits of SHA-256(detector, subject, window):
    /// running the detectors again finds the same id.
    pub id: String,
    pub detector: Detector,
    /// `user:ID`.
    pub subject: String,
    pub user: String,
    pub team: Option<String>,
    pub use_case: Option<String>,
    /// The period (`2026-11`, with the use case when it is about one) or a
    /// UTC day (`2026-11-05`, with the prompt's hash when it is about one).
    pub window: String,
    pub severity: Severity,
    pub explanation: String,
    pub evidence: Evidence,
    #[serde(skip)]
    pub lookup: Option<Lookup>,
}

/// The stable id of a finding.
pub fn anomaly_id(detector: Detector, subject: &str, window: &str) -> String {
    let mut h = Sha256::new();
    for part in [detector.as_str(), subject, window] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let hex = hex::encode(h.finalize());
    format!("anm_{}", &hex[..20])
}

/// A UTC day number as a date.
pub fn day_label(day: i64) -> String {
    jiff::Timestamp::from_second(day.saturating_mul(86_400))
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| format!("day {day}"))
}

/// Nano-dollars as `$1.2345` for people to read.
pub fn usd(nanos: i64) -> String {
    tokenwise_core::Nanos(nanos).to_usd_string()
}

pub struct Draft {
    pub detector: Detector,
    pub user: String,
    pub use_case: Option<String>,
    pub window: String,
    pub severity: Severity,
    pub explanation: String,
    pub evidence: Evidence,
    pub lookup: Option<Lookup>,
}

impl Draft {
    pub fn finish(self, teams: &BTreeMap<String, String>) -> Finding {
        let subject = format!("user:{}", self.user);
        Finding {
            id: anomaly_id(self.detector, &subject, &self.window),
            detector: self.detector,
            team: teams.get(&self.user).cloned(),
            subject,
            user: self.user,
            use_case: self.use_case,
            window: self.window,
            severity: self.severity,
            explanation: self.explanation,
            evidence: self.evidence,
            lookup: self.lookup,
        }
    }
}

/// Builds the numbers of an evidence.
pub fn numbers<const N: usize>(pairs: [(&'static str, Value); N]) -> BTreeMap<&'static str, Value> {
    pairs.into_iter().collect()
}

/// At most [`MAX_IDS`] ids, sorted, and how many there were.
pub fn bounded(mut ids: Vec<String>) -> (Vec<String>, u64) {
    ids.sort();
    ids.dedup();
    let n = ids.len() as u64;
    ids.truncate(MAX_IDS);
    (ids, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = anomaly_id(Detector::OwnSpike, "user:ana", "2026-11-05");
        assert_eq!(a, anomaly_id(Detector::OwnSpike, "user:ana", "2026-11-05"));
        assert_eq!(a.len(), 24);
        assert_ne!(a, anomaly_id(Detector::PeerSpike, "user:ana", "2026-11-05"));
        assert_ne!(a, anomaly_id(Detector::OwnSpike, "user:ana", "2026-11-06"));
        assert_eq!(day_label(20_397), "2025-11-05");
    }
}
