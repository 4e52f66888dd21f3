//! `[risk_tiers.TIER]` → the floor of controls of each tier, and the use
//! cases held to it: a use case that is looser than its tier's floor is
//! refused, naming the use case's line and both ways to fix it.

use super::{V, path};
use crate::diag::{KeyPath, suggest};
use crate::model::{Audience, Retention, RiskTiers, TierFloor};
use crate::raw::{Entries, PromptRetention, RawRetention, RawRiskTier, RawUseCase, RiskTier};
use std::collections::{BTreeMap, BTreeSet};

/// The tiers' floors, from the least risky up: each key written wins;
/// one left out is the tier's default, raised to the floor of the tier
/// below where that is stricter (a riskier tier is never looser).
/// `scan_all` is `[dlp] scan_output`: with it on, a tier's `scan_output`
/// does nothing. `used` are the tiers some use case has.
pub(super) fn risk_tiers(
    v: &mut V<'_>,
    raw: &Entries<RawRiskTier>,
    scan_all: bool,
    used: &BTreeSet<RiskTier>,
) -> RiskTiers {
    let mut written: BTreeMap<RiskTier, &RawRiskTier> = BTreeMap::new();
    let mut lists: BTreeMap<RiskTier, Vec<PromptRetention>> = BTreeMap::new();
    for (name, entry) in raw {
        let p = path(&["risk_tiers", name]);
        let Some(tier) = RiskTier::parse(name) else {
            let hint = suggest(name, RiskTier::ALL.iter().map(|t| t.as_str()));
            v.err_key(p, format!("unknown risk tier `{name}`"), Some(hint));
            continue;
        };
        let Some(r) = entry else { continue };
        written.insert(tier, r);
        if r.scan_output.is_some() && scan_all {
            v.err_key(
                p.key("scan_output"),
                "`scan_output` does nothing here: `[dlp] scan_output = true` scans every reply",
                Some(format!(
                    "remove it from [risk_tiers.{name}], or set `scan_output = false` in [dlp] to scan only the replies of the tiers that ask for it"
                )),
            );
        }
        if let Some(list) = r.prompts.as_deref().and_then(|l| prompts(v, &p.key("prompts"), l)) {
            lists.insert(tier, list);
        }
        if !used.contains(&tier) {
            v.warn(
                p,
                format!("no use case is of risk tier `{name}`: [risk_tiers.{name}] applies to none yet"),
                Some("it will hold for any use case given this `risk_tier`".into()),
            );
        }
    }
    let mut floors: BTreeMap<RiskTier, TierFloor> = BTreeMap::new();
    let mut below: Option<(RiskTier, TierFloor)> = None;
    for tier in RiskTier::ALL {
        let mut f = TierFloor::default_for(tier);
        if let Some((_, lo)) = &below {
            f.exceptions = f.exceptions.max(lo.exceptions);
            f.scan_output |= lo.scan_output;
            let both: Vec<PromptRetention> = f.prompts.iter().copied().filter(|m| lo.prompts.contains(m)).collect();
            f.prompts = if both.is_empty() { lo.prompts.clone() } else { both };
            f.available_to_everyone &= lo.available_to_everyone;
        }
        if let Some(r) = written.get(&tier) {
            f.exceptions = r.exceptions.unwrap_or(f.exceptions);
            f.scan_output = r.scan_output.unwrap_or(f.scan_output);
            if let Some(list) = lists.get(&tier) {
                f.prompts.clone_from(list);
            }
            f.available_to_everyone = r.available_to_everyone.unwrap_or(f.available_to_everyone);
            if let Some((lower, lo)) = &below {
                ordered(v, (tier, &f, r), (*lower, lo));
            }
        }
        floors.insert(tier, f.clone());
        below = Some((tier, f));
    }
    RiskTiers::new(floors)
}

/// A tier's `prompts`: at least one retention, each once.
fn prompts(v: &mut V<'_>, p: &KeyPath, list: &[PromptRetention]) -> Option<Vec<PromptRetention>> {
    if list.is_empty() {
        v.err(
            p.clone(),
            "`prompts` allows no retention, so no use case could be of this tier",
            Some("list what a use case of the tier may keep, e.g. [\"none\", \"redacted\"]".into()),
        );
        return None;
    }
    let mut seen = BTreeSet::new();
    for (i, r) in list.iter().enumerate() {
        if !seen.insert(*r) {
            v.err(p.index(i), format!("`{}` is listed twice", r.as_str()), None);
            return None;
        }
    }
    Some(list.to_vec())
}

/// A key written in a riskier tier is never looser than the floor of the
/// tier below (keys left out are raised to it already).
fn ordered(v: &mut V<'_>, higher: (RiskTier, &TierFloor, &RawRiskTier), lower: (RiskTier, &TierFloor)) {
    let ((tier, hi, r), (lower, lo)) = (higher, lower);
    let looser = [
        ("exceptions", r.exceptions.is_some() && hi.exceptions < lo.exceptions),
        ("scan_output", r.scan_output.is_some() && lo.scan_output && !hi.scan_output),
        ("prompts", r.prompts.is_some() && hi.prompts.iter().any(|m| !lo.prompts.contains(m))),
        (
            "available_to_everyone",
            r.available_to_everyone.is_some() && hi.available_to_everyone && !lo.available_to_everyone,
        ),
    ];
    for (key, _) in looser.into_iter().filter(|(_, l)| *l) {
        let (h, l) = (tier.as_str(), lower.as_str());
        v.err_key(
            path(&["risk_tiers", h, key]),
            format!("risk tier `{h}` would be looser than `{l}` in `{key}`"),
            Some(format!(
                "a riskier tier's floor is at least as strict: set `{key}` in [risk_tiers.{h}] to {} (or loosen [risk_tiers.{l}])",
                describe(key, lo)
            )),
        );
    }
}

/// A control's value as written in the file.
fn describe(key: &str, floor: &TierFloor) -> String {
    match key {
        "exceptions" => format!("\"{}\"", floor.exceptions.as_str()),
        "scan_output" => floor.scan_output.to_string(),
        "prompts" => list(&floor.prompts),
        _ => floor.available_to_everyone.to_string(),
    }
}

fn list(prompts: &[PromptRetention]) -> String {
    let quoted: Vec<String> = prompts.iter().map(|p| format!("\"{}\"", p.as_str())).collect();
    format!("[{}]", quoted.join(", "))
}

/// What a use case resolved to, as far as its tier's floor is concerned.
pub(super) struct Resolved<'a> {
    pub retention: Option<Retention>,
    pub audience: Option<&'a Audience>,
    pub owner_team: Option<&'a str>,
}

/// A use case is held to its tier's floor: the prompts it keeps and who
/// may use it. Exceptions and output scanning follow the tier at run time.
pub(super) fn use_case_floor(
    v: &mut V<'_>,
    p: &KeyPath,
    id: &str,
    u: &RawUseCase,
    floor: &TierFloor,
    r: &Resolved<'_>,
) {
    let Resolved { retention, audience, owner_team } = *r;
    let tier = u.risk_tier.as_str();
    if let Some(kept) = retention.map(|r| r.prompts).filter(|k| !floor.allows_prompts(*k)) {
        let days = retention.map(|r| r.days).filter(|d| *d > 0).unwrap_or(90);
        let fix = match floor.prompts.iter().copied().filter(|m| *m != PromptRetention::None).min() {
            Some(m) => {
                format!("set `retention = {{ prompts = \"{}\", days = {days} }}` on [use_cases.{id}]", m.as_str())
            }
            None => format!("remove `retention` from [use_cases.{id}]"),
        };
        let what = if kept == PromptRetention::None {
            "keeps no prompts".to_string()
        } else {
            format!("keeps prompts `{}`", kept.as_str())
        };
        let at = if u.retention.is_some() { p.key("retention") } else { p.key("risk_tier") };
        v.err(
            at,
            format!("use case `{id}` {what}, but risk tier `{tier}` allows only {}", list(&floor.prompts)),
            Some(format!("{fix}, or allow `{}` in [risk_tiers.{tier}] `prompts`", kept.as_str())),
        );
    }
    if audience == Some(&Audience::Everyone) && !floor.available_to_everyone {
        v.err(
            p.key("available_to"),
            format!("use case `{id}` is available to everyone, but risk tier `{tier}` is for named teams and people only"),
            Some(format!(
                "name who may use it, e.g. `available_to = {{ teams = [\"{}\"] }}` (teams and/or users), or set `available_to_everyone = true` in [risk_tiers.{tier}]",
                owner_team.unwrap_or("TEAM")
            )),
        );
    }
}

/// The top-level `[retention]` is a default: its `prompts` for use cases
/// with no `retention` of their own, its `days` also for those that keep
/// prompts without saying for how long. A default nobody takes does
/// nothing, and is refused like any setting that does nothing.
pub(super) fn default_retention_used(v: &mut V<'_>, top: &RawRetention, use_cases: &Entries<RawUseCase>) {
    let cases: Vec<&RawUseCase> = use_cases.iter().filter_map(|(_, u)| u.as_ref()).collect();
    // A use case that failed to read may have taken the default.
    if cases.len() < use_cases.len() || cases.is_empty() {
        return;
    }
    let p = path(&["retention"]);
    let inherits = cases.iter().any(|u| u.retention.is_none());
    if top.prompts != PromptRetention::None && !inherits {
        v.err_key(
            p.key("prompts"),
            "`prompts` does nothing: every use case sets its own `retention`",
            Some("remove it, or remove `retention` from the use cases that should keep prompts this way".into()),
        );
    }
    let takes_days = cases.iter().any(|u| match &u.retention {
        None => top.prompts != PromptRetention::None,
        Some(r) => r.prompts != PromptRetention::None && r.days.is_none(),
    });
    if top.days.is_some() && !takes_days {
        let why = if top.prompts == PromptRetention::None {
            "no use case keeps prompts for this default's days (`prompts` is \"none\" unless set)"
        } else {
            "every use case that keeps prompts sets its own `days`"
        };
        v.err_key(
            p.key("days"),
            format!("`days` does nothing: {why}"),
            Some("remove `days` from [retention], or keep prompts (`prompts = \"redacted\"`) here or in a use case's `retention` without `days`".into()),
        );
    }
}
