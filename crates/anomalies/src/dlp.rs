//! A person whose prompts DLP keeps stopping: data the policy protects
//! (cards, keys, tokens, customers' addresses) pasted on day after day.
//! Counted in days, so one slip retried a few times is one day; compared
//! with the peers in the same use case as a share of calls, so where
//! masking is routine for everyone (a use case that handles clients'
//! addresses) it is the use case's way of working, not one person's.

use crate::facts::{DAY_US, Facts};
use crate::finding::{Detector, Draft, Evidence, Finding, Lookup, Severity, numbers};
use crate::stats::{Spread, round};
use crate::thresholds::Thresholds;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

#[allow(clippy::cast_precision_loss)]
fn f(x: u64) -> f64 {
    x as f64
}

/// What DLP did to one person's calls in one use case over the judged days.
#[derive(Debug, Clone, Default)]
struct Hits {
    blocked: u64,
    masked: u64,
    /// Days with any call blocked or masked, and with any blocked.
    days: BTreeSet<i64>,
    blocked_days: BTreeSet<i64>,
}

impl Hits {
    fn add(&mut self, o: &Hits) {
        self.blocked += o.blocked;
        self.masked += o.masked;
        self.days.extend(&o.days);
        self.blocked_days.extend(&o.blocked_days);
    }

    fn count(&self) -> u64 {
        self.blocked + self.masked
    }
}

/// One use case of a person where DLP stopped them far more often than
/// their peers there (or where there were too few peers to tell).
struct Part<'a> {
    use_case: &'a str,
    hits: Hits,
    calls: u64,
    share: f64,
    /// The people with calls there, and their median share (None: too few).
    peers: usize,
    peer_median: Option<f64>,
}

/// Per use case, per person: the calls over the judged days.
fn calls(facts: &Facts) -> BTreeMap<&str, BTreeMap<&str, u64>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for u in facts.usage.iter().filter(|u| u.day >= facts.first_day && u.day <= facts.last_day()) {
        *out.entry(u.use_case.as_str()).or_default().entry(u.user.as_str()).or_default() += u.calls;
    }
    out
}

/// Per use case, per person: what DLP did over the judged days.
fn hits(facts: &Facts) -> BTreeMap<&str, BTreeMap<&str, Hits>> {
    let mut out: BTreeMap<&str, BTreeMap<&str, Hits>> = BTreeMap::new();
    for d in facts.dlp.iter().filter(|d| d.day >= facts.first_day && d.day <= facts.last_day()) {
        if d.blocked + d.masked == 0 {
            continue;
        }
        let h = out.entry(d.use_case.as_str()).or_default().entry(d.user.as_str()).or_default();
        h.blocked += d.blocked;
        h.masked += d.masked;
        h.days.insert(d.day);
        if d.blocked > 0 {
            h.blocked_days.insert(d.day);
        }
    }
    out
}

/// Each person's use cases where their share of stopped calls is far above
/// the other people's there (`spike_z`, `spike_factor`), or where fewer
/// than `min_peers` people worked.
fn outliers<'a>(facts: &'a Facts, t: &Thresholds) -> BTreeMap<&'a str, Vec<Part<'a>>> {
    let calls = calls(facts);
    let mut out: BTreeMap<&str, Vec<Part<'_>>> = BTreeMap::new();
    for (use_case, people) in hits(facts) {
        let worked = calls.get(use_case).cloned().unwrap_or_default();
        // Everyone with a call there, stopped or not (a call DLP stopped is a call).
        let mut share_of: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
        for (user, &n) in worked.iter().filter(|(_, n)| **n > 0) {
            let stopped = people.get(user).map_or(0, Hits::count);
            share_of.insert(user, (n.max(stopped), f(stopped) / f(n.max(stopped))));
        }
        for (user, h) in &people {
            share_of.entry(user).or_insert((h.count(), 1.0));
        }
        let shares: Vec<f64> = share_of.values().map(|v| v.1).collect();
        let spread = (shares.len() >= t.min_peers as usize).then(|| Spread::of(&shares)).flatten();
        for (user, h) in people {
            let (n, share) = share_of.get(user).copied().unwrap_or((h.count(), 1.0));
            if spread.is_some_and(|s| !s.far_above(share, t.spike_z, t.spike_factor)) {
                continue;
            }
            out.entry(user).or_default().push(Part {
                use_case,
                hits: h,
                calls: n,
                share,
                peers: shares.len(),
                peer_median: spread.map(|s| s.median),
            });
        }
    }
    out
}

fn use_case_name(use_case: &str) -> String {
    if use_case.is_empty() { "calls naming no use case".to_string() } else { format!("`{use_case}`") }
}

/// `` `support-reply` (45 of 117 calls, 38.5%; the median person there 0.0%, of 12) ``.
fn describe(p: &Part<'_>) -> String {
    let peers = match p.peer_median {
        Some(m) => format!("the median person there {:.1}%, of {}", m * 100.0, p.peers),
        None => format!("{} people there, too few to compare", p.peers),
    };
    format!("{} ({} of {} calls, {:.1}%; {peers})", use_case_name(p.use_case), p.hits.count(), p.calls, p.share * 100.0)
}

/// A person whose prompts DLP blocked or masked on at least `dlp_min_days`
/// days of the period, in use cases where that is far more often than
/// their peers'.
pub fn dlp_violations(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for (user, parts) in outliers(facts, t) {
        let mut all = Hits::default();
        for p in &parts {
            all.add(&p.hits);
        }
        let days = all.days.len();
        if days < t.dlp_min_days as usize {
            continue;
        }
        let calls: u64 = parts.iter().map(|p| p.calls).sum();
        let severity =
            if all.blocked_days.len() >= t.dlp_min_days as usize { Severity::High } else { Severity::Medium };
        let explanation = format!(
            "DLP blocked {} and masked or rerouted {} of `{user}`'s prompts on {days} days of {} (flagged from {} \
             days): {}. Data the policy protects was sent again and again",
            all.blocked,
            all.masked,
            facts.period,
            t.dlp_min_days,
            parts.iter().map(describe).collect::<Vec<_>>().join("; ")
        );
        let per_use_case: Vec<serde_json::Value> = parts
            .iter()
            .map(|p| {
                json!({
                    "use_case": p.use_case,
                    "blocked": p.hits.blocked,
                    "masked": p.hits.masked,
                    "days": p.hits.days.len(),
                    "calls": p.calls,
                    "share": round(p.share, 3),
                    "peers": p.peers,
                    "peer_median_share": p.peer_median.map(|m| round(m, 3)),
                })
            })
            .collect();
        let evidence = Evidence {
            numbers: numbers([
                ("blocked", json!(all.blocked)),
                ("masked", json!(all.masked)),
                ("days", json!(days)),
                ("blocked_days", json!(all.blocked_days.len())),
                ("calls", json!(calls)),
                ("threshold_days", json!(t.dlp_min_days)),
                ("use_cases", json!(per_use_case)),
            ]),
            event_count: all.count(),
            ..Evidence::default()
        };
        let use_case = match parts.as_slice() {
            [one] => Some(one.use_case.to_string()),
            _ => None,
        };
        let lookup = Lookup {
            user: user.to_string(),
            from_us: facts.first_day * DAY_US,
            to_us: (facts.last_day() + 1) * DAY_US,
            use_case: use_case.clone().filter(|u| !u.is_empty()),
            dlp: true,
            ..Lookup::default()
        };
        let draft = Draft {
            detector: Detector::DlpViolations,
            user: user.to_string(),
            use_case: use_case.filter(|u| !u.is_empty()),
            window: facts.period.clone(),
            severity,
            explanation,
            evidence,
            lookup: Some(lookup),
        };
        out.push(draft.finish(&facts.teams));
    }
    out
}
