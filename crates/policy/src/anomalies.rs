//! `[anomalies]`: when each anomaly detector fires. Every key is optional;
//! what is left out keeps its default (`tokenwise_anomalies::Thresholds`).

use crate::diag::{At, KeyPath, Sink};
use serde::Deserialize;
pub use tokenwise_anomalies::Thresholds as AnomalyThresholds;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnomalies {
    pub history_days: Option<u32>,
    pub min_history_days: Option<u32>,
    pub spike_z: Option<f64>,
    pub spike_factor: Option<f64>,
    pub min_spike_tokens: Option<u64>,
    pub min_peers: Option<u32>,
    pub min_outcomes: Option<u32>,
    pub repeat_min: Option<u32>,
    pub near_min: Option<u32>,
    pub near_min_bands: Option<u32>,
    pub overuse_price_factor: Option<f64>,
    pub overuse_share: Option<f64>,
    pub overuse_min_calls: Option<u64>,
    pub unmetered_min: Option<u32>,
    pub shadow_window_days: Option<u32>,
    pub shadow_drop: Option<f64>,
    pub shadow_min_calls: Option<u64>,
    pub shadow_min_outcomes: Option<u32>,
    pub dlp_min_days: Option<u32>,
    pub scan_minutes: Option<u32>,
}

struct Check<'a> {
    sink: &'a mut Sink,
}

impl Check<'_> {
    fn int<T: Copy + Into<u64>>(&mut self, key: &str, v: Option<T>, default: T, range: (u64, u64), hint: &str) -> T {
        let Some(x) = v else { return default };
        let n: u64 = x.into();
        if n < range.0 || n > range.1 {
            let p = KeyPath::root().key("anomalies").key(key);
            let msg = format!("{key} must be from {} to {}, got {n}", range.0, range.1);
            self.sink.error(At::Value(p), msg, Some(hint.to_string()));
        }
        x
    }

    fn real(&mut self, key: &str, v: Option<f64>, default: f64, range: (f64, f64), hint: &str) -> f64 {
        let Some(x) = v else { return default };
        if !(range.0..=range.1).contains(&x) {
            let p = KeyPath::root().key("anomalies").key(key);
            let msg = format!("{key} must be from {} to {}, got {x}", range.0, range.1);
            self.sink.error(At::Value(p), msg, Some(hint.to_string()));
        }
        x
    }
}

/// The thresholds, each checked against a sensible range; errors name the key.
pub(crate) fn validate(sink: &mut Sink, raw: Option<&RawAnomalies>) -> AnomalyThresholds {
    let d = AnomalyThresholds::default();
    let Some(r) = raw else { return d };
    let mut c = Check { sink };
    let year = (1, 366);
    AnomalyThresholds {
        history_days: c.int(
            "history_days",
            r.history_days,
            d.history_days,
            year,
            "e.g. 28: four weeks of one's own history",
        ),
        min_history_days: c.int("min_history_days", r.min_history_days, d.min_history_days, year, "e.g. 5 active days"),
        spike_z: c.real("spike_z", r.spike_z, d.spike_z, (1.0, 100.0), "a robust z-score, e.g. 5"),
        spike_factor: c.real(
            "spike_factor",
            r.spike_factor,
            d.spike_factor,
            (1.0, 1000.0),
            "e.g. 3: three times the median",
        ),
        min_spike_tokens: c.int("min_spike_tokens", r.min_spike_tokens, d.min_spike_tokens, (0, u64::MAX), "tokens"),
        min_peers: c.int("min_peers", r.min_peers, d.min_peers, (2, 100_000), "e.g. 4 people"),
        min_outcomes: c.int("min_outcomes", r.min_outcomes, d.min_outcomes, (1, 100_000), "e.g. 3 outcomes"),
        repeat_min: c.int("repeat_min", r.repeat_min, d.repeat_min, (2, 1_000_000), "e.g. 10 times"),
        near_min: c.int("near_min", r.near_min, d.near_min, (2, 1_000_000), "e.g. 5 distinct prompts"),
        near_min_bands: c.int(
            "near_min_bands",
            r.near_min_bands,
            d.near_min_bands,
            (1, 4),
            "of the sketch's 4 bands, e.g. 2",
        ),
        overuse_price_factor: c.real(
            "overuse_price_factor",
            r.overuse_price_factor,
            d.overuse_price_factor,
            (1.0, 1000.0),
            "e.g. 2",
        ),
        overuse_share: c.real("overuse_share", r.overuse_share, d.overuse_share, (0.0, 1.0), "a share, e.g. 0.5"),
        overuse_min_calls: c.int(
            "overuse_min_calls",
            r.overuse_min_calls,
            d.overuse_min_calls,
            (1, u64::MAX),
            "e.g. 20 calls",
        ),
        unmetered_min: c.int("unmetered_min", r.unmetered_min, d.unmetered_min, (1, 1_000_000), "e.g. 2 outcomes"),
        shadow_window_days: c.int(
            "shadow_window_days",
            r.shadow_window_days,
            d.shadow_window_days,
            (1, 31),
            "e.g. 7 days",
        ),
        shadow_drop: c.real(
            "shadow_drop",
            r.shadow_drop,
            d.shadow_drop,
            (0.0, 1.0),
            "a share, e.g. 0.8 for 80% fewer calls",
        ),
        shadow_min_calls: c.int(
            "shadow_min_calls",
            r.shadow_min_calls,
            d.shadow_min_calls,
            (1, u64::MAX),
            "e.g. 20 calls",
        ),
        shadow_min_outcomes: c.int(
            "shadow_min_outcomes",
            r.shadow_min_outcomes,
            d.shadow_min_outcomes,
            (1, 1_000_000),
            "e.g. 3",
        ),
        dlp_min_days: c.int("dlp_min_days", r.dlp_min_days, d.dlp_min_days, (1, 31), "e.g. 3 days of a month"),
        scan_minutes: c.int("scan_minutes", r.scan_minutes, d.scan_minutes, (1, 7 * 24 * 60), "e.g. 15"),
    }
}
