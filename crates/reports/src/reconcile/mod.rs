//! Reconciliation: a provider's own usage and cost export against the
//! ledger, per UTC day (providers bucket by UTC day), model and token kind.
//! Token kinds are compared one by one — fresh input, cached input, cache
//! writes, output (reasoning included, as providers report it) — because
//! a sum over kinds hides exactly the cached-token errors that make
//! dashboards drift from the bill.
//!
//! Drift is provider minus ledger: positive when the ledger under-counts.
//! A (day, model, kind) is flagged when its tokens or its cost differ by
//! more than the tolerance, relative to the larger of the two.

mod anthropic;
mod focus_in;
mod openai;

use crate::ReportError;
use crate::decimal::usd;
use crate::kinds::TokenKind;
use jiff::civil::Date;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tokenwise_core::Nanos;

/// The export formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// OpenAI's organization usage (`/v1/organization/usage/completions`,
    /// grouped by model) and costs (`/v1/organization/costs`, grouped by
    /// line item) pages.
    OpenAi,
    /// Anthropic's usage report (`/v1/organizations/usage_report/messages`,
    /// grouped by model) and cost report (`/v1/organizations/cost_report`).
    Anthropic,
    /// A FinOps FOCUS dataset (CSV), such as `report chargeback --format focus`.
    Focus,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, ReportError> {
        match s {
            "openai" => Ok(Format::OpenAi),
            "anthropic" => Ok(Format::Anthropic),
            "focus" => Ok(Format::Focus),
            other => Err(ReportError::new(format!("format `{other}` is not one of openai, anthropic, focus"))),
        }
    }
}

/// Model name for export rows not grouped by model.
pub const ANY_MODEL: &str = "*";

/// One figure of the export: tokens or a cost (or both) of a UTC day, a
/// model and, when the export says, a token kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLine {
    pub day: Date,
    pub model: String,
    pub kind: Option<TokenKind>,
    pub tokens: Option<u64>,
    pub cost: Option<Nanos>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    pub lines: Vec<ProviderLine>,
    /// Rows that are not usage of a model (taxes, credits, other services).
    pub skipped: u64,
}

/// Reads an export.
pub fn read(format: Format, text: &str) -> Result<Export, ReportError> {
    let export = match format {
        Format::OpenAi => openai::read(text),
        Format::Anthropic => anthropic::read(text),
        Format::Focus => focus_in::read(text),
    }?;
    within_bounds(&export)?;
    Ok(export)
}

/// The most an export may add up to, in tokens or in nano-dollars (credits
/// counted by their size): half of what an `i64` holds, so every sum and
/// drift the comparison makes fits ($4.6 billion; no period's bill is near).
const EXPORT_LIMIT: u64 = (i64::MAX / 2) as u64;

/// Refuses an export whose figures add up past [`EXPORT_LIMIT`]: a wrong
/// file or a forged one, whose sums would otherwise overflow.
fn within_bounds(export: &Export) -> Result<(), ReportError> {
    let (mut tokens, mut cost) = (0u64, 0u64);
    for l in &export.lines {
        tokens = tokens.saturating_add(l.tokens.unwrap_or(0));
        cost = cost.saturating_add(l.cost.map_or(0, |c| c.0.unsigned_abs()));
    }
    if tokens > EXPORT_LIMIT {
        return Err(ReportError::new(format!(
            "the export's token counts add up to {tokens} or more, past what any bill holds (at most {EXPORT_LIMIT}): is it the right file?"
        )));
    }
    if cost > EXPORT_LIMIT {
        return Err(ReportError::new(format!(
            "the export's costs add up to ${} or more, past what any bill holds (at most ${}): is it the right file?",
            usd(Nanos(i64::try_from(cost).unwrap_or(i64::MAX))),
            usd(Nanos(EXPORT_LIMIT as i64))
        )));
    }
    Ok(())
}

/// The ledger's usage of a UTC day, model (as the provider names it) and
/// kind (as providers report it), with its share of the cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    pub day: Date,
    pub model: String,
    pub kind: TokenKind,
    pub tokens: u64,
    pub cost: Nanos,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DriftLine {
    pub day: String,
    pub model: String,
    /// A token kind, or `all` for costs the export gives per model only.
    pub kind: String,
    pub ledger_tokens: u64,
    pub provider_tokens: Option<u64>,
    pub token_drift: i64,
    pub ledger_cost_usd: String,
    pub provider_cost_usd: Option<String>,
    pub cost_drift_usd: String,
    pub flagged: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayDrift {
    pub day: String,
    pub ledger_cost_usd: String,
    pub provider_cost_usd: Option<String>,
    pub cost_drift_usd: String,
    /// Tokens by kind, provider minus ledger.
    #[schema(value_type = BTreeMap<String, i64>)]
    pub token_drift: BTreeMap<TokenKind, i64>,
    pub flagged: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    pub format: Format,
    /// UTC days compared, `from` inclusive, `to` exclusive.
    pub from: String,
    pub to: String,
    pub tolerance_percent: f64,
    /// True when nothing is flagged.
    pub reconciled: bool,
    pub ledger_cost_usd: String,
    pub provider_cost_usd: Option<String>,
    pub flagged_days: Vec<String>,
    pub days: Vec<DayDrift>,
    /// Every (day, model, kind) whose figures differ at all, flagged or not.
    pub lines: Vec<DriftLine>,
    /// Models of the export the ledger never saw in the range.
    pub unknown_models: Vec<String>,
    /// Export rows outside the days compared, or not usage of a model.
    pub ignored_rows: u64,
}

/// The export's name for a model, as the ledger knows it: exact, or with
/// a dated snapshot suffix (`-2024-07-18`, `-20250514`) removed.
pub fn canonical(name: &str, known: &BTreeSet<String>) -> String {
    if known.contains(name) {
        return name.to_string();
    }
    let dated = |suffix: &str| {
        let digits: String = suffix.chars().filter(char::is_ascii_digit).collect();
        digits.len() == 8 && (suffix.len() == 8 || suffix.len() == 10)
    };
    if let Some((base, _)) = name.rsplit_once('-').filter(|(_, s)| dated(s))
        && known.contains(base)
    {
        return base.to_string();
    }
    if name.len() > 11 {
        let (base, suffix) = name.split_at(name.len() - 11);
        if suffix.starts_with('-') && dated(&suffix[1..]) && known.contains(base) {
            return base.to_string();
        }
    }
    name.to_string()
}

/// The ledger's lines per UTC day (`days[bucket]`), model as the provider
/// names it, and kind, each kind with its share of the line's cost (see
/// [`focus::kind_costs`](crate::focus::kind_costs)).
pub fn ledger_lines(
    lines: &[crate::UsageLine],
    days: &[Date],
    rates: &BTreeMap<String, tokenwise_core::Rates>,
    provider_name: &dyn Fn(&str) -> String,
) -> Vec<LedgerLine> {
    let mut out = Vec::new();
    for l in lines {
        let Some(day) = days.get(l.bucket) else { continue };
        for (kind, tokens, cost) in crate::focus::kind_costs(l, rates.get(&l.price_version)) {
            out.push(LedgerLine { day: *day, model: provider_name(&l.model), kind, tokens, cost });
        }
    }
    out
}

/// Whether `a` and `b` differ by more than `bp` basis points of the larger.
fn beyond(a: i128, b: i128, bp: u64) -> bool {
    let diff = (a - b).abs();
    diff > 0 && diff * 10_000 > i128::from(bp) * a.abs().max(b.abs())
}

type Key = (Date, String, Option<TokenKind>);

#[derive(Debug, Default, Clone, Copy)]
struct Pair {
    ledger_tokens: u64,
    ledger_cost: i64,
    provider_tokens: u64,
    provider_cost: i64,
}

/// Compares over `[from, to)` (UTC days). `tolerance_percent` of the larger
/// figure is allowed before a line is flagged.
pub fn reconcile(
    format: Format,
    export: &Export,
    ledger: &[LedgerLine],
    from: Date,
    to: Date,
    tolerance_percent: f64,
) -> Reconciliation {
    let in_range = |d: &Date| *d >= from && *d < to;
    let known: BTreeSet<String> = ledger.iter().filter(|l| in_range(&l.day)).map(|l| l.model.clone()).collect();
    let has_tokens = export.lines.iter().any(|l| l.tokens.is_some());
    let has_cost = export.lines.iter().any(|l| l.cost.is_some());
    let mut ignored = export.skipped;
    let mut tokens: BTreeMap<Key, Pair> = BTreeMap::new();
    let mut costs: BTreeMap<Key, Pair> = BTreeMap::new();
    let mut unknown = BTreeSet::new();
    for l in ledger.iter().filter(|l| in_range(&l.day)) {
        let kind = l.kind.as_reported();
        let t = tokens.entry((l.day, l.model.clone(), Some(kind))).or_default();
        t.ledger_tokens = t.ledger_tokens.saturating_add(l.tokens);
        let sum = costs.entry((l.day, l.model.clone(), Some(kind))).or_default();
        sum.ledger_cost = sum.ledger_cost.saturating_add(l.cost.0);
    }
    for p in &export.lines {
        if !in_range(&p.day) {
            ignored += 1;
            continue;
        }
        let model = canonical(&p.model, &known);
        if model != ANY_MODEL && !known.contains(&model) {
            unknown.insert(model.clone());
        }
        let kind = p.kind.map(TokenKind::as_reported);
        if let Some(n) = p.tokens {
            tokens.entry((p.day, model.clone(), kind)).or_default().provider_tokens += n;
        }
        if let Some(c) = p.cost {
            costs.entry((p.day, model, kind)).or_default().provider_cost += c.0;
        }
    }
    let costs = coarsen(costs);
    let bp = tolerance_bp(tolerance_percent);
    let lines = drift_lines(&tokens, &costs, has_tokens, has_cost, bp);
    let days = day_drift(&lines, &costs, has_cost);
    let flagged_days: Vec<String> = days.iter().filter(|d| d.flagged).map(|d| d.day.clone()).collect();
    let ledger_cost: i64 = costs.values().map(|p| p.ledger_cost).sum();
    let provider_cost: i64 = costs.values().map(|p| p.provider_cost).sum();
    Reconciliation {
        format,
        from: from.to_string(),
        to: to.to_string(),
        tolerance_percent,
        reconciled: flagged_days.is_empty(),
        ledger_cost_usd: usd(Nanos(ledger_cost)),
        provider_cost_usd: has_cost.then(|| usd(Nanos(provider_cost))),
        flagged_days,
        days,
        lines,
        unknown_models: unknown.into_iter().collect(),
        ignored_rows: ignored,
    }
}

fn tolerance_bp(percent: f64) -> u64 {
    // A percentage written by a person: two decimals are plenty.
    let bp = (percent.max(0.0) * 100.0).round();
    if bp.is_finite() && bp < 1e15 { format!("{bp:.0}").parse().unwrap_or(0) } else { 0 }
}

/// Costs the export gives per model only (or per day only) are compared at
/// that grain: the ledger's kinds are summed into the coarser key.
fn coarsen(costs: BTreeMap<Key, Pair>) -> BTreeMap<Key, Pair> {
    let coarse_models: BTreeSet<(Date, String)> = costs
        .iter()
        .filter(|((_, _, k), p)| k.is_none() && p.provider_cost != 0)
        .map(|((d, m, _), _)| (*d, m.clone()))
        .collect();
    let coarse_days: BTreeSet<Date> = coarse_models.iter().filter(|(_, m)| m == ANY_MODEL).map(|(d, _)| *d).collect();
    let mut out: BTreeMap<Key, Pair> = BTreeMap::new();
    for ((d, m, k), p) in costs {
        let key = if coarse_days.contains(&d) {
            (d, ANY_MODEL.to_string(), None)
        } else if coarse_models.contains(&(d, m.clone())) {
            (d, m, None)
        } else {
            (d, m, k)
        };
        let e = out.entry(key).or_default();
        e.ledger_cost = e.ledger_cost.saturating_add(p.ledger_cost);
        e.provider_cost = e.provider_cost.saturating_add(p.provider_cost);
    }
    out
}

fn drift_lines(
    tokens: &BTreeMap<Key, Pair>,
    costs: &BTreeMap<Key, Pair>,
    has_tokens: bool,
    has_cost: bool,
    bp: u64,
) -> Vec<DriftLine> {
    let keys: BTreeSet<&Key> = tokens.keys().chain(costs.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let t = tokens.get(key).copied().unwrap_or_default();
        let c = costs.get(key).copied();
        let token_flag = has_tokens && beyond(t.provider_tokens.into(), t.ledger_tokens.into(), bp);
        let cost_flag = has_cost && c.is_some_and(|c| beyond(c.provider_cost.into(), c.ledger_cost.into(), bp));
        let token_diff = has_tokens && t.provider_tokens != t.ledger_tokens;
        let cost_diff = has_cost && c.is_some_and(|c| c.provider_cost != c.ledger_cost);
        if !token_diff && !cost_diff {
            continue;
        }
        let c = c.unwrap_or_default();
        let (day, model, kind) = key;
        out.push(DriftLine {
            day: day.to_string(),
            model: model.clone(),
            kind: kind.map_or("all", TokenKind::as_str).to_string(),
            ledger_tokens: t.ledger_tokens,
            provider_tokens: has_tokens.then_some(t.provider_tokens),
            token_drift: i64::try_from(
                (i128::from(t.provider_tokens) - i128::from(t.ledger_tokens))
                    .clamp(i128::from(i64::MIN), i128::from(i64::MAX)),
            )
            .unwrap_or(0),
            ledger_cost_usd: usd(Nanos(c.ledger_cost)),
            provider_cost_usd: has_cost.then(|| usd(Nanos(c.provider_cost))),
            cost_drift_usd: usd(Nanos(if has_cost { c.provider_cost.saturating_sub(c.ledger_cost) } else { 0 })),
            flagged: token_flag || cost_flag,
        });
    }
    out
}

fn day_drift(lines: &[DriftLine], costs: &BTreeMap<Key, Pair>, has_cost: bool) -> Vec<DayDrift> {
    let mut sums: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for ((d, _, _), p) in costs {
        let e = sums.entry(d.to_string()).or_default();
        e.0 = e.0.saturating_add(p.ledger_cost);
        e.1 = e.1.saturating_add(p.provider_cost);
    }
    for line in lines {
        sums.entry(line.day.clone()).or_default();
    }
    let mut days: BTreeMap<String, DayDrift> = sums
        .into_iter()
        .map(|(d, (l, p))| {
            let drift = DayDrift {
                day: d.clone(),
                ledger_cost_usd: usd(Nanos(l)),
                provider_cost_usd: has_cost.then(|| usd(Nanos(p))),
                cost_drift_usd: usd(Nanos(if has_cost { p - l } else { 0 })),
                token_drift: BTreeMap::new(),
                flagged: false,
            };
            (d, drift)
        })
        .collect();
    for line in lines {
        let Some(day) = days.get_mut(&line.day) else { continue };
        if let Some(kind) = TokenKind::parse(&line.kind) {
            *day.token_drift.entry(kind).or_default() += line.token_drift;
        }
        day.flagged |= line.flagged;
    }
    days.into_values().collect()
}

#[cfg(test)]
mod tests;
