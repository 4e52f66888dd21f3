//! Finance's and governance's reports: chargeback (JSON, CSV, FOCUS),
//! program health and reconciliation with a provider's export. The
//! arithmetic is `tokenwise-reports`, a pure crate; this module reads the
//! ledger's sums for it (`ReportStore`, the daily rollup, outcomes, tasks)
//! and decides who sees what (`access::report_scope`).

pub mod health;
pub mod reconcile;

use crate::App;
use crate::access::report_scope;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::scores::Period;
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::BTreeMap;
use tokenwise_core::Rates;
use tokenwise_ledger::{OutcomeStatus, Store, StoreError, UsageTotals};
use tokenwise_policy::Policy;
use tokenwise_reports::chargeback::{self, Named};
use tokenwise_reports::focus::{self, Periods};
use tokenwise_reports::{Chargeback, Directory, OutcomeCount, UsageLine};

fn internal(e: StoreError) -> AppError {
    AppError::internal(e.to_string())
}

/// `GET /api/v1/reports/chargeback?period=&format=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChargebackRequest {
    /// `YYYY-MM` in the org's time zone; the current month by default.
    pub period: Option<String>,
    /// `json` (default), `csv` or `focus`.
    pub format: Option<String>,
}

/// A chargeback as asked for.
#[derive(Debug, Clone)]
pub enum ChargebackReport {
    Json(Chargeback),
    /// CSV text: the chargeback's rows, or a FOCUS dataset.
    Csv {
        text: String,
        filename: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Focus,
}

impl Format {
    pub fn parse(s: Option<&str>) -> AppResult<Format> {
        match s.unwrap_or("json") {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "focus" => Ok(Format::Focus),
            other => Err(AppError::invalid(format!("format `{other}` is not one of json, csv, focus"))),
        }
    }
}

/// Who the ledger's ids are: names and cost centres from the policy.
pub fn directory(policy: &Policy) -> Directory {
    let named = |name: &str, cc: &str| Named { name: name.to_string(), cost_centre: cc.to_string() };
    Directory {
        org: policy.org.name.clone(),
        teams: policy.teams.iter().map(|(id, t)| (id.clone(), named(&t.name, &t.cost_centre))).collect(),
        projects: policy.projects.iter().map(|(id, p)| (id.clone(), named(&p.name, &p.cost_centre))).collect(),
    }
}

/// Every price version's rates, by id.
pub fn rates(policy: &Policy) -> BTreeMap<String, Rates> {
    policy.models.values().flat_map(|m| m.prices.iter().map(|p| (p.id.clone(), p.rates))).collect()
}

/// `[start, end)` cut at each UTC midnight inside it: FOCUS charge periods
/// are UTC days, and a month of the org's time zone begins and ends
/// part-way through one.
pub fn utc_day_edges(start: Timestamp, end: Timestamp) -> Vec<Timestamp> {
    const DAY: i64 = 86_400;
    let mut edges = vec![start];
    let mut next = (start.as_second().div_euclid(DAY) + 1) * DAY;
    while next < end.as_second() {
        if let Ok(t) = Timestamp::from_second(next) {
            edges.push(t);
        }
        next += DAY;
    }
    edges.push(end);
    edges
}

pub fn usage_lines(rows: Vec<UsageTotals>) -> Vec<UsageLine> {
    rows.into_iter()
        .map(|r| UsageLine {
            bucket: r.bucket,
            team: r.team_id,
            project: r.project_id,
            use_case: r.use_case,
            template: r.template,
            model: r.model,
            provider: r.provider,
            price_version: r.price_version,
            calls: r.calls,
            usage: r.usage,
            cost: r.cost,
        })
        .collect()
}

/// The period's outcomes not rejected, counted per charge period, team,
/// use case and the template their task began with.
async fn outcome_counts(store: &dyn Store, edges: &[Timestamp], team: Option<&str>) -> AppResult<Vec<OutcomeCount>> {
    let (Some(first), Some(last)) = (edges.first(), edges.last()) else { return Ok(Vec::new()) };
    let mut outcomes = store.outcomes_between(*first, *last).await.map_err(internal)?;
    outcomes.retain(|o| o.status != OutcomeStatus::Rejected && team.is_none_or(|t| o.team_id == t));
    let keys: Vec<(String, String)> = outcomes.iter().map(|o| (o.user_id.clone(), o.task.clone())).collect();
    let tasks = store.tasks_of(&keys).await.map_err(internal)?;
    let template: BTreeMap<(&str, &str), Option<&str>> =
        tasks.iter().map(|t| ((t.user_id.as_str(), t.task.as_str()), t.template.as_deref())).collect();
    let mut counts: BTreeMap<(usize, String, String, Option<String>), u64> = BTreeMap::new();
    for o in &outcomes {
        let bucket = edges.partition_point(|e| *e <= o.reported_at).saturating_sub(1);
        let tpl = template.get(&(o.user_id.as_str(), o.task.as_str())).copied().flatten().map(str::to_string);
        *counts.entry((bucket, o.team_id.clone(), o.use_case.clone(), tpl)).or_default() += 1;
    }
    Ok(counts
        .into_iter()
        .map(|((bucket, team, use_case, template), count)| OutcomeCount { bucket, team, use_case, template, count })
        .collect())
}

/// A period's chargeback in a format, for every team or one.
pub async fn chargeback_report(
    store: &dyn Store,
    policy: &Policy,
    period: &Period,
    team: Option<&str>,
    format: Format,
) -> AppResult<ChargebackReport> {
    let edges = utc_day_edges(period.start, period.end);
    let lines = usage_lines(store.usage_totals(&edges, team).await.map_err(internal)?);
    let outcomes = outcome_counts(store, &edges, team).await?;
    let dir = directory(policy);
    let filename = |kind: &str| format!("tokenwise-{kind}-{}.csv", period.label);
    Ok(match format {
        Format::Json => ChargebackReport::Json(chargeback::chargeback(&period.label, &lines, &outcomes, &dir)),
        Format::Csv => {
            let c = chargeback::chargeback(&period.label, &lines, &outcomes, &dir);
            ChargebackReport::Csv { text: chargeback::to_csv(&c), filename: filename("chargeback") }
        }
        Format::Focus => {
            let periods = Periods { start: period.start, end: period.end, edges };
            let rows = focus::rows(&periods, &lines, &outcomes, &rates(policy), &dir);
            ChargebackReport::Csv { text: focus::to_csv(&rows), filename: filename("focus") }
        }
    })
}

impl App {
    pub(crate) fn report_period(&self, label: Option<&str>) -> AppResult<Period> {
        match label {
            Some(l) => Period::parse(&self.policy, l),
            None => Ok(Period::containing(&self.policy, self.clock.now())),
        }
    }

    /// The chargeback: finance, governance and admins see every team; a
    /// manager sees their own team's rows only.
    pub async fn chargeback(&self, caller: &Caller, r: ChargebackRequest) -> AppResult<ChargebackReport> {
        let team = report_scope(&caller.user)?;
        let format = Format::parse(r.format.as_deref())?;
        let period = self.report_period(r.period.as_deref())?;
        chargeback_report(self.store.as_ref(), &self.policy, &period, team.as_deref(), format).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_periods_are_utc_days_cut_at_the_months_ends() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let edges = utc_day_edges(t("2026-10-31T23:00:00Z"), t("2026-11-30T23:00:00Z"));
        assert_eq!(edges.len(), 32);
        assert_eq!(edges[1], t("2026-11-01T00:00:00Z"));
        assert_eq!(edges[30], t("2026-11-30T00:00:00Z"));
        assert_eq!(utc_day_edges(t("2026-11-01T00:00:00Z"), t("2026-11-02T00:00:00Z")).len(), 2);
    }
}
