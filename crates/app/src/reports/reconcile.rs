//! `POST /api/v1/reports/reconciliation`: a provider's usage or cost
//! export against the ledger, per UTC day, model and token kind.

use super::{internal, rates, usage_lines};
use crate::App;
use crate::access::may_reconcile;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use jiff::civil::Date;
use jiff::{Span, Timestamp};
use serde::Deserialize;
use std::collections::BTreeSet;
use tokenwise_ledger::Store;
use tokenwise_policy::{Policy, WireFormat};
use tokenwise_reports::reconcile::{self, Export, Format, Reconciliation};

/// The request: the export and how to compare it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    /// `openai`, `anthropic` or `focus`.
    pub format: String,
    /// The export: the provider's JSON as it came (a page, a list of pages,
    /// or `{"usage": …, "costs": …}`), or its text (a FOCUS CSV).
    #[schema(value_type = Object)]
    pub export: serde_json::Value,
    /// A UTC month, `YYYY-MM`; by default the days the export covers.
    pub period: Option<String>,
    /// Overrides the policy's `[reports] reconcile_tolerance_percent`.
    pub tolerance_percent: Option<f64>,
    /// The upstream whose calls the export bills; by default the one named
    /// like the provider (`openai`, `anthropic`), else every upstream of its
    /// wire format (for FOCUS, every call).
    pub upstream: Option<String>,
}

/// What is compared: the parsed export, its format, the UTC days.
#[derive(Debug)]
pub struct Compare {
    pub format: Format,
    pub export: Export,
    pub from: Date,
    pub to: Date,
    pub tolerance_percent: f64,
    /// The upstreams whose calls are compared; None: every call.
    pub upstreams: Option<BTreeSet<String>>,
}

fn utc_month(label: &str) -> AppResult<(Date, Date)> {
    let bad = || AppError::invalid(format!("period `{label}` must be a month written YYYY-MM, e.g. 2026-11"));
    let first: Date = format!("{label}-01").parse().map_err(|_| bad())?;
    let next = first.checked_add(Span::new().months(1)).map_err(|_| bad())?;
    Ok((first, next))
}

fn upstreams(policy: &Policy, format: Format, named: Option<&str>) -> AppResult<Option<BTreeSet<String>>> {
    if let Some(u) = named {
        if !policy.upstreams.contains_key(u) {
            return Err(AppError::invalid(format!("the policy has no upstream `{u}`")));
        }
        return Ok(Some(BTreeSet::from([u.to_string()])));
    }
    let (name, wire) = match format {
        Format::OpenAi => ("openai", WireFormat::Openai),
        Format::Anthropic => ("anthropic", WireFormat::Anthropic),
        // A FOCUS file is the org's whole spend: every call, ingested ones too.
        Format::Focus => return Ok(None),
    };
    if policy.upstreams.contains_key(name) {
        return Ok(Some(BTreeSet::from([name.to_string()])));
    }
    Ok(Some(policy.upstreams.values().filter(|u| u.format == wire).map(|u| u.id.clone()).collect()))
}

/// The ledger's side is named as the upstream bills (`upstream_model`);
/// tokenwise's own FOCUS dataset names each model by its policy id. A FOCUS
/// line naming a policy model by id is read as that model's upstream name,
/// so the ledger's own dataset reconciles with the ledger.
fn by_upstream_name(policy: &Policy, export: &mut Export) {
    for line in &mut export.lines {
        if let Some(m) = policy.models.get(&line.model) {
            line.model.clone_from(&m.upstream_model);
        }
    }
}

/// Reads the request into what is compared.
pub fn prepare(policy: &Policy, r: &ReconcileRequest) -> AppResult<Compare> {
    let format = Format::parse(&r.format).map_err(|e| AppError::invalid(e.0))?;
    let text = match &r.export {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut export = reconcile::read(format, &text).map_err(|e| AppError::invalid(e.0))?;
    if format == Format::Focus {
        by_upstream_name(policy, &mut export);
    }
    let (from, to) = match r.period.as_deref() {
        Some(p) => utc_month(p)?,
        None => {
            let days: BTreeSet<Date> = export.lines.iter().map(|l| l.day).collect();
            let (Some(first), Some(last)) = (days.first(), days.last()) else {
                return Err(AppError::invalid("the export holds no usage or cost of any day"));
            };
            (*first, last.checked_add(Span::new().days(1)).map_err(|e| AppError::invalid(e.to_string()))?)
        }
    };
    let tolerance_percent = r.tolerance_percent.unwrap_or(policy.reports.reconcile_tolerance_percent);
    if !(0.0..=100.0).contains(&tolerance_percent) {
        return Err(AppError::invalid("tolerance_percent must be from 0 to 100"));
    }
    let upstreams = upstreams(policy, format, r.upstream.as_deref())?;
    Ok(Compare { format, export, from, to, tolerance_percent, upstreams })
}

fn midnight(d: Date) -> AppResult<Timestamp> {
    d.to_zoned_datetime(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()).map_err(|e| AppError::invalid(e.to_string()))
}

/// The comparison, reading the ledger's sums for its days.
pub async fn run(store: &dyn Store, policy: &Policy, c: &Compare) -> AppResult<Reconciliation> {
    let mut days = Vec::new();
    let mut d = c.from;
    while d < c.to {
        days.push(d);
        d = d.checked_add(Span::new().days(1)).map_err(|e| AppError::invalid(e.to_string()))?;
    }
    if days.len() > 400 {
        return Err(AppError::invalid("reconcile at most 400 days at once"));
    }
    let mut edges = days.iter().map(|d| midnight(*d)).collect::<AppResult<Vec<_>>>()?;
    edges.push(midnight(c.to)?);
    let mut lines = usage_lines(store.usage_totals(&edges, None).await.map_err(internal)?);
    if let Some(ups) = &c.upstreams {
        lines.retain(|l| ups.contains(&l.provider));
    }
    let name = |model: &str| policy.models.get(model).map_or_else(|| model.to_string(), |m| m.upstream_model.clone());
    let ledger = reconcile::ledger_lines(&lines, &days, &rates(policy), &name);
    Ok(reconcile::reconcile(c.format, &c.export, &ledger, c.from, c.to, c.tolerance_percent))
}

impl App {
    pub async fn reconcile(&self, caller: &Caller, r: ReconcileRequest) -> AppResult<Reconciliation> {
        may_reconcile(&caller.user)?;
        let compare = prepare(&self.policy, &r)?;
        run(self.store.as_ref(), &self.policy, &compare).await
    }
}
