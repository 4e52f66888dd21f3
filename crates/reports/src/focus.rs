//! The usage of a billing period as a FinOps FOCUS dataset (columns of
//! FOCUS 1.2, with 1.3's ServiceProviderName and HostProviderName), one
//! row per charge period, team, project, use case, template, model and
//! token kind, so that every row has one price and a FinOps tool can read
//! it beside a cloud bill.
//!
//! Each ledger line's cost (rounded once per call, to the nano-dollar) is
//! split over its token kinds in proportion to what each kind costs at the
//! line's price version, by largest remainder: the rows of a line add up
//! to its cost exactly, so the dataset's total is the ledger's total.
//! List, contracted, effective and billed cost are the same: the policy's
//! price is what the organisation pays (a negotiated price is entered as
//! the model's price) and tokenwise gives no discounts of its own.

use crate::chargeback::{Directory, OutcomeCount, Target, UsageLine, allocate_outcomes};
use crate::decimal::{datetime, millions, usd};
use crate::kinds::{TokenKind, split};
use jiff::Timestamp;
use std::collections::BTreeMap;
use tokenwise_core::{Nanos, Rates};

/// What a FOCUS column holds, as the specification types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Decimal,
    DateTime,
    Json,
}

/// One column: its name, type, whether it may be null, and its allowed
/// values when the specification lists them.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub nullable: bool,
    pub allowed: &'static [&'static str],
}

const fn col(name: &'static str, kind: ColumnType, nullable: bool) -> Column {
    Column { name, kind, nullable, allowed: &[] }
}

use ColumnType::{DateTime, Decimal, Json, String as Str};

/// The columns written, in order: FOCUS columns by name, then tokenwise's
/// own, prefixed `x_` as the specification requires of custom columns.
pub const COLUMNS: &[Column] = &[
    col("BilledCost", Decimal, false),
    col("BillingAccountId", Str, false),
    col("BillingAccountName", Str, false),
    col("BillingCurrency", Str, false),
    col("BillingPeriodEnd", DateTime, false),
    col("BillingPeriodStart", DateTime, false),
    Column {
        name: "ChargeCategory",
        kind: Str,
        nullable: false,
        allowed: &["Usage", "Purchase", "Tax", "Credit", "Adjustment"],
    },
    Column { name: "ChargeClass", kind: Str, nullable: true, allowed: &["Correction"] },
    col("ChargeDescription", Str, false),
    col("ChargePeriodEnd", DateTime, false),
    col("ChargePeriodStart", DateTime, false),
    col("ConsumedQuantity", Decimal, true),
    col("ConsumedUnit", Str, true),
    col("ContractedCost", Decimal, false),
    col("EffectiveCost", Decimal, false),
    col("HostProviderName", Str, true),
    col("InvoiceIssuerName", Str, false),
    col("ListCost", Decimal, false),
    col("PricingQuantity", Decimal, true),
    col("PricingUnit", Str, true),
    col("ProviderName", Str, false),
    col("PublisherName", Str, false),
    Column { name: "ServiceCategory", kind: Str, nullable: false, allowed: &["AI and Machine Learning"] },
    col("ServiceName", Str, false),
    col("ServiceProviderName", Str, false),
    col("SkuId", Str, true),
    col("SubAccountId", Str, true),
    col("SubAccountName", Str, true),
    col("Tags", Json, true),
    col("x_CostCentre", Str, true),
    col("x_Project", Str, true),
    col("x_UseCase", Str, true),
    col("x_Template", Str, true),
    col("x_Model", Str, false),
    col("x_TokenKind", Str, false),
    col("x_OutcomeCount", Decimal, false),
];

/// The billing period and its charge periods: `edges[i]..edges[i + 1]` is
/// charge period `i` (UTC days cut at the period's ends).
#[derive(Debug, Clone)]
pub struct Periods {
    pub start: Timestamp,
    pub end: Timestamp,
    pub edges: Vec<Timestamp>,
}

/// A row's values in [`COLUMNS`] order; None is a null.
pub type Row = Vec<Option<String>>;

/// An id made of the org's name: lowercase letters, digits and dashes.
pub fn account_id(org: &str) -> String {
    let mut id = String::new();
    for c in org.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_string()
}

/// The cost of each kind of `line`, adding up to its cost: in proportion to
/// each kind's tokens at its rate, or to its tokens when the price version
/// is unknown.
pub fn kind_costs(line: &UsageLine, rates: Option<&Rates>) -> Vec<(TokenKind, u64, Nanos)> {
    let kinds: Vec<(TokenKind, u64)> = split(&line.usage).into_iter().filter(|(_, n)| *n > 0).collect();
    if kinds.is_empty() {
        // A cost with no tokens (none is expected): one input row carries it.
        return if line.cost == Nanos::ZERO { Vec::new() } else { vec![(TokenKind::Input, 0, line.cost)] };
    }
    let weight = |k: TokenKind, n: u64| {
        let rate = rates.map_or(1, |r| u128::try_from(k.rate(r).0).unwrap_or(0));
        u128::from(n) * rate
    };
    let weights: Vec<u128> = kinds.iter().map(|(k, n)| weight(*k, *n)).collect();
    let parts = crate::alloc::largest_remainder(line.cost.0, &weights);
    kinds.into_iter().zip(parts).map(|((k, n), c)| (k, n, Nanos(c))).collect()
}

/// The FOCUS rows of a period: `rates` by price version id; outcomes are
/// counted as [`allocate_outcomes`] says, on the first row of their line.
pub fn rows(
    periods: &Periods,
    lines: &[UsageLine],
    outcomes: &[OutcomeCount],
    rates: &BTreeMap<String, Rates>,
    dir: &Directory,
) -> Vec<Row> {
    let targets: Vec<Target<'_>> = lines
        .iter()
        .map(|l| Target {
            team: &l.team,
            use_case: l.use_case.as_deref(),
            bucket: Some(l.bucket),
            template: Some(l.template.as_deref()),
            cost: l.cost,
        })
        .collect();
    let (counts, _) = allocate_outcomes(&targets, outcomes);
    let mut out = Vec::new();
    for (l, count) in lines.iter().zip(counts) {
        for (i, (kind, tokens, cost)) in kind_costs(l, rates.get(&l.price_version)).into_iter().enumerate() {
            let outcomes = if i == 0 { count } else { 0 };
            out.push(row(periods, l, kind, tokens, cost, outcomes, dir));
        }
    }
    out
}

fn row(p: &Periods, l: &UsageLine, kind: TokenKind, tokens: u64, cost: Nanos, outcomes: u64, dir: &Directory) -> Row {
    let start = p.edges.get(l.bucket).copied().unwrap_or(p.start);
    let end = p.edges.get(l.bucket + 1).copied().unwrap_or(p.end);
    let cost_centre = dir.cost_centre(&l.team, l.project.as_deref());
    let mut tags = serde_json::Map::new();
    let mut tag = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            tags.insert(format!("tokenwise/{k}"), serde_json::Value::String(v.to_string()));
        }
    };
    tag("team", Some(&l.team));
    tag("cost_centre", Some(&cost_centre));
    tag("project", l.project.as_deref());
    tag("use_case", l.use_case.as_deref());
    tag("template", l.template.as_deref());
    tag("model", Some(&l.model));
    let purpose = l.use_case.as_deref().map(|u| format!(" for {u}")).unwrap_or_default();
    let money = usd(cost);
    let s = |v: &str| Some(v.to_string());
    vec![
        s(&money),
        s(&account_id(&dir.org)),
        s(&dir.org),
        s("USD"),
        s(&datetime(p.end)),
        s(&datetime(p.start)),
        s("Usage"),
        None,
        Some(format!("{} {}{purpose}", l.model, kind.words())),
        s(&datetime(end)),
        s(&datetime(start)),
        Some(tokens.to_string()),
        s("Tokens"),
        s(&money),
        s(&money),
        s(&l.provider),
        s(&l.provider),
        s(&money),
        Some(millions(tokens)),
        s("1000000 Tokens"),
        s(&l.provider),
        s(&l.provider),
        s("AI and Machine Learning"),
        Some(format!("{} models", l.provider)),
        s(&l.provider),
        Some(format!("{}/{}", l.model, kind.as_str())),
        s(&l.team),
        Some(dir.team_name(&l.team)),
        Some(serde_json::Value::Object(tags).to_string()),
        Some(cost_centre).filter(|c| !c.is_empty()),
        l.project.clone(),
        l.use_case.clone(),
        l.template.clone(),
        s(&l.model),
        s(kind.as_str()),
        Some(outcomes.to_string()),
    ]
}

/// The dataset as CSV: a header of column names, nulls as empty fields.
pub fn to_csv(rows: &[Row]) -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let mut out = crate::csv::record(&names);
    for r in rows {
        let fields: Vec<&str> = r.iter().map(|v| v.as_deref().unwrap_or("")).collect();
        out.push_str(&crate::csv::record(&fields));
    }
    out
}

/// The dataset as JSON objects keyed by column name (nulls as null).
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    let objects: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let map: serde_json::Map<String, serde_json::Value> = COLUMNS
                .iter()
                .zip(r)
                .map(|(c, v)| {
                    (c.name.to_string(), v.clone().map_or(serde_json::Value::Null, serde_json::Value::String))
                })
                .collect();
            serde_json::Value::Object(map)
        })
        .collect();
    serde_json::Value::Array(objects)
}

#[cfg(test)]
mod tests;
