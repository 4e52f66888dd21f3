//! When each detector fires: the policy's `[anomalies]` section, validated
//! by the policy crate, with these defaults.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// Days of one's own history a day is compared with.
    pub history_days: u32,
    /// Active days needed in that history before a spike can be judged.
    pub min_history_days: u32,
    /// Robust z-score (median/MAD) from which a value is far above its
    /// yardstick (own history or peers).
    pub spike_z: f64,
    /// …and at least this many times the median.
    pub spike_factor: f64,
    /// Days (or period totals) below this many tokens are never spikes.
    pub min_spike_tokens: u64,
    /// People needed in a use case for a comparison with peers.
    pub min_peers: u32,
    /// Outcomes a person needs in a use case for per-outcome comparisons.
    pub min_outcomes: u32,
    /// The same prompt this many times on one UTC day is repetition.
    pub repeat_min: u32,
    /// This many distinct prompts similar to one of them on one UTC day are
    /// near-duplicates…
    pub near_min: u32,
    /// …where similar is sharing at least this many of the four minhash
    /// bands (each shared with probability the shingles' Jaccard
    /// similarity): 2 finds prompts about 60% alike or more.
    pub near_min_bands: u32,
    /// A model at least this many times dearer than the use case's default…
    pub overuse_price_factor: f64,
    /// …for at least this share of a person's calls in the use case…
    pub overuse_share: f64,
    /// …and at least this many of them.
    pub overuse_min_calls: u64,
    /// Outcomes with no metered call behind them, per person and period.
    pub unmetered_min: u32,
    /// The recent window in which a drop in gateway use is judged.
    pub shadow_window_days: u32,
    /// Calls per day in that window fell by at least this share…
    pub shadow_drop: f64,
    /// …from a baseline of at least this many calls…
    pub shadow_min_calls: u64,
    /// …while at least this many outcomes were reported in the window.
    pub shadow_min_outcomes: u32,
    /// Days of a period on which DLP blocked or masked some of a person's
    /// prompts, far more often than their peers' in the use case, from
    /// which they are flagged (a slip retried is one day).
    pub dlp_min_days: u32,
    /// Minutes between background detection passes (and their alerts).
    pub scan_minutes: u32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            history_days: 28,
            min_history_days: 5,
            spike_z: 5.0,
            spike_factor: 3.0,
            min_spike_tokens: 20_000,
            min_peers: 4,
            min_outcomes: 3,
            repeat_min: 10,
            near_min: 5,
            near_min_bands: 2,
            overuse_price_factor: 2.0,
            overuse_share: 0.5,
            overuse_min_calls: 20,
            unmetered_min: 2,
            shadow_window_days: 7,
            shadow_drop: 0.8,
            shadow_min_calls: 20,
            shadow_min_outcomes: 3,
            dlp_min_days: 3,
            scan_minutes: 15,
        }
    }
}
