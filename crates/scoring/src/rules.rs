//! The scoring rules: the policy's `[scoring]` numbers plus the algorithm's
//! own version. A score names the version that produced it; the same facts
//! under the same version always score the same.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped whenever a formula in this crate changes meaning.
pub const ALGORITHM: &str = "s2";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub efficiency_weight: f64,
    pub quality_weight: f64,
    pub compliance_weight: f64,
    /// Share of a person's recognition that comes from their team's result.
    pub team_share: f64,
    /// After this many repetitions an identical action earns half as much.
    pub repeat_half_life: f64,
    /// Weight of an outcome nobody has validated yet (signed outcomes from
    /// an integration count fully: they are the workflow's own evidence).
    pub unvalidated_weight: f64,
    /// Most a template's reuse by other teams adds to its author's score,
    /// as a fraction (0.10 = up to 10% more).
    pub reuse_bonus: f64,
    /// An outcome counts at most this many times its use case's usual value.
    pub max_value_multiple: f64,
    /// Badges: a template reused by this many other teams; this many clean days.
    pub badge_reuse_teams: u32,
    pub badge_clean_days: u32,
    /// Outcome kinds that are learning (a template created, one promoted to
    /// production): the only kinds an exploration use case's outcomes count
    /// with, and kinds a production use case's outcomes never count with.
    /// Empty counts every kind everywhere.
    #[serde(default)]
    pub learning_kinds: Vec<String>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            efficiency_weight: 0.40,
            quality_weight: 0.35,
            compliance_weight: 0.25,
            team_share: 0.65,
            repeat_half_life: 1.0,
            unvalidated_weight: 0.5,
            reuse_bonus: 0.10,
            max_value_multiple: 4.0,
            badge_reuse_teams: 3,
            badge_clean_days: 10,
            learning_kinds: vec!["template_created".into(), "template_promoted".into()],
        }
    }
}

impl Rules {
    /// `s1-` and the first 10 hex digits of the SHA-256 of the rules as
    /// JSON: equal rules, equal version.
    pub fn version(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let digest = Sha256::digest(json.as_bytes());
        let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
        format!("{ALGORITHM}-{hex}")
    }

    /// What the n-th (1-based) of identical actions earns: 2^(−(n−1)/h).
    pub fn repeat_factor(&self, n: u64) -> f64 {
        let h = self.repeat_half_life.max(f64::MIN_POSITIVE);
        (-((n.saturating_sub(1)) as f64) / h).exp2()
    }

    /// Whether an outcome of `kind` counts in a use case of that track:
    /// exploration earns on what it taught, production on what it did.
    pub fn on_track(&self, exploration: bool, kind: &str) -> bool {
        self.learning_kinds.is_empty() || exploration == self.learning_kinds.iter().any(|k| k == kind)
    }

    fn weights(&self) -> [f64; 3] {
        [self.efficiency_weight, self.quality_weight, self.compliance_weight]
    }

    /// The weighted geometric mean of the three axes (each 0..1): zero when
    /// any weighted axis is zero, so no axis can carry the others.
    pub fn composite(&self, axes: [f64; 3]) -> f64 {
        let w = self.weights();
        let total: f64 = w.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        let mut log = 0.0;
        for (x, w) in axes.iter().zip(w) {
            if w <= 0.0 {
                continue;
            }
            if *x <= 0.0 {
                return 0.0;
            }
            log += w / total * x.min(1.0).ln();
        }
        log.exp()
    }
}
