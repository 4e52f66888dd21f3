//! Detectors over prompt groups the store keeps: the same prompt again and
//! again on one day, and many distinct prompts that differ in a few
//! words (their sketches share at least `near_min_bands` minhash bands).

use crate::facts::{DAY_US, Facts, NearCandidate, PromptMember};
use crate::finding::{Detector, Draft, Evidence, Finding, Lookup, Severity, bounded, day_label, numbers};
use crate::minhash::shared_bands;
use crate::thresholds::Thresholds;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// One finding per person, day and prompt sent at least `repeat_min` times.
pub fn repeated_prompts(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in facts.repeats.iter().filter(|r| r.calls >= u64::from(t.repeat_min)) {
        let window = day_label(r.day);
        let severity = if r.calls >= 5 * u64::from(t.repeat_min) { Severity::High } else { Severity::Medium };
        let short = r.prompt_hash.get(..12).unwrap_or(&r.prompt_hash);
        let explanation = format!(
            "`{}` sent the same prompt (hash {short}…) {} times on {window}: a loop, a retry storm or padding; the \
             policy flags {} or more a day",
            r.user, r.calls, t.repeat_min
        );
        let evidence = Evidence {
            numbers: numbers([
                ("calls", json!(r.calls)),
                ("prompt_hash", json!(r.prompt_hash)),
                ("threshold", json!(t.repeat_min)),
            ]),
            event_count: r.calls,
            ..Evidence::default()
        };
        let lookup = Lookup {
            user: r.user.clone(),
            from_us: r.day * DAY_US,
            to_us: (r.day + 1) * DAY_US,
            prompt_hash: Some(r.prompt_hash.clone()),
            ..Lookup::default()
        };
        out.push(
            Draft {
                detector: Detector::RepeatedPrompt,
                user: r.user.clone(),
                use_case: None,
                // One prompt, one flag per day.
                window: format!("{window} {}", r.prompt_hash),
                severity,
                explanation,
                evidence,
                lookup: Some(lookup),
            }
            .finish(&facts.teams),
        );
    }
    out
}

/// The largest set of distinct prompts sharing at least `k` bands with one
/// of them (the centre): (centre, the members of the cluster). Ties go to the smallest
/// centre, so the answer does not depend on the members' order.
pub fn cluster(members: &[PromptMember], k: u32) -> Option<(u64, Vec<&PromptMember>)> {
    // One minhash per distinct prompt (the smallest, should a prompt ever
    // carry two).
    let mut by_prompt: BTreeMap<&str, u64> = BTreeMap::new();
    for m in members {
        let e = by_prompt.entry(m.prompt_hash.as_str()).or_insert(m.minhash);
        *e = (*e).min(m.minhash);
    }
    let centres: BTreeSet<u64> = by_prompt.values().copied().collect();
    let best = centres
        .iter()
        .map(|&c| (by_prompt.values().filter(|&&s| shared_bands(c, s) >= k).count(), std::cmp::Reverse(c)))
        .max()?;
    let centre = best.1.0;
    let near: BTreeSet<&str> =
        by_prompt.iter().filter(|(_, s)| shared_bands(centre, **s) >= k).map(|(h, _)| *h).collect();
    let cluster = members.iter().filter(|m| near.contains(m.prompt_hash.as_str())).collect();
    Some((centre, cluster))
}

/// A cluster: distinct prompts, centre, member event ids, calls.
type Cluster = (usize, u64, Vec<String>, u64);

/// Per person and day, the largest cluster among the candidate groups;
/// flagged when it holds at least `near_min` distinct prompts.
pub fn near_duplicates(facts: &Facts, t: &Thresholds) -> Vec<Finding> {
    let k = t.near_min_bands.clamp(1, 4);
    let mut best: BTreeMap<(&str, i64), Cluster> = BTreeMap::new();
    for NearCandidate { user, day, members } in &facts.near {
        let Some((centre, members)) = cluster(members, k) else { continue };
        let distinct: BTreeSet<&str> = members.iter().map(|m| m.prompt_hash.as_str()).collect();
        let candidate = (
            distinct.len(),
            centre,
            members.iter().map(|m| m.event_id.clone()).collect::<Vec<_>>(),
            members.len() as u64,
        );
        let slot = best.entry((user.as_str(), *day)).or_insert_with(|| candidate.clone());
        if (candidate.0, std::cmp::Reverse(candidate.1)) > (slot.0, std::cmp::Reverse(slot.1)) {
            *slot = candidate;
        }
    }
    let mut out = Vec::new();
    for ((user, day), (distinct, centre, ids, calls)) in best {
        if distinct < t.near_min as usize {
            continue;
        }
        let window = day_label(day);
        let severity = if distinct >= 4 * t.near_min as usize { Severity::High } else { Severity::Medium };
        let explanation = format!(
            "`{user}` sent {distinct} different but near-identical prompts (sharing at least {k} of 4 minhash bands with \
             one of them) in {calls} calls on {window}: the same request reworded, or one task split into many calls"
        );
        let (event_ids, _) = bounded(ids);
        let evidence = Evidence {
            numbers: numbers([
                ("distinct_prompts", json!(distinct)),
                ("calls", json!(calls)),
                ("min_shared_bands", json!(k)),
                ("minhash", json!(format!("{centre:016x}"))),
                ("threshold", json!(t.near_min)),
            ]),
            event_ids,
            event_count: calls,
            ..Evidence::default()
        };
        out.push(
            Draft {
                detector: Detector::NearDuplicatePrompts,
                user: user.to_string(),
                use_case: None,
                window,
                severity,
                explanation,
                evidence,
                lookup: None,
            }
            .finish(&facts.teams),
        );
    }
    out
}
