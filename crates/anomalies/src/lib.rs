//! Anomaly detectors over a period's rolled-up usage, the calls DLP
//! stopped, its outcomes and the prompt groups the store found, and the
//! prompt sketch (minhash) the gateway computes: pure functions, no I/O.
//!
//! Each detector returns [`Finding`]s that say what was seen in plain
//! words, how serious it is, and the evidence (the numbers, and which
//! events and outcomes — bounded, with a count). A finding's id is a hash
//! of its detector, subject and window, so running the detectors again
//! finds the same anomaly rather than a new one. Detectors compare people
//! with robust statistics (median and MAD), so one extreme person cannot
//! hide by moving the yardstick, and scaling everyone's usage alike
//! flags nobody new.

pub mod dlp;
pub mod facts;
pub mod finding;
pub mod minhash;
pub mod prompts;
pub mod stats;
pub mod thresholds;
pub mod usage;
pub mod work;

pub use facts::{DayUse, DlpDay, Facts, NearCandidate, OutcomeFact, PromptMember, PromptRepeat, UseCaseFacts};
pub use finding::{Detector, Evidence, Finding, Lookup, Severity, anomaly_id};
pub use thresholds::Thresholds;

/// Every detector over the facts, most severe first (then by detector,
/// subject and window): the same facts in any order give the same list.
pub fn detect(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(usage::own_spikes(facts, t));
    out.extend(usage::peer_spikes(facts, t));
    out.extend(prompts::repeated_prompts(facts, t));
    out.extend(prompts::near_duplicates(facts, t));
    out.extend(work::cost_per_outcome(facts, t));
    out.extend(work::workflow_splitting(facts, t));
    out.extend(usage::model_overuse(facts, t));
    out.extend(work::unmetered_outcomes(facts, t));
    out.extend(work::shadow_usage(facts, t));
    out.extend(dlp::dlp_violations(facts, t));
    out.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), a.detector, &a.subject, &a.window, &a.id).cmp(&(
            std::cmp::Reverse(b.severity),
            b.detector,
            &b.subject,
            &b.window,
            &b.id,
        ))
    });
    out.dedup_by(|a, b| a.id == b.id);
    out
}
