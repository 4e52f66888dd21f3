//! `/finance`: the period's chargeback as a table and a chart, spend per
//! outcome over time for the org and each team, the chargeback and its
//! FOCUS dataset to download, and a provider's export reconciled with the
//! ledger. The application layer decides who sees what (members: 403; a
//! manager: their own team; reconciling: finance, governance and admins).

use crate::Dash;
use crate::chart::Drawn;
use crate::error::{PageError, no_store};
use crate::forms::Posted;
use crate::money::usd;
use crate::page::render;
use crate::viewer::Viewer;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokenwise_app::AppError;
use tokenwise_app::finance::{FinanceOverview, FinanceRequest, OutcomeSeries};
use tokenwise_app::reports::reconcile::ReconcileRequest;
use tokenwise_app::reports::{ChargebackReport, ChargebackRequest};
use tokenwise_charts::{Bar, BarChart, LineChart, Nanos, Series};

#[derive(Debug, Default, Deserialize)]
pub struct FinanceQuery {
    #[serde(default)]
    pub period: Option<String>,
    /// `week` (default) or `day`.
    #[serde(default)]
    pub bucket: Option<String>,
}

/// Exact dollars from a report's text, shown as people read them.
fn money(text: &str) -> String {
    Nanos::parse_usd(text.trim_start_matches('-')).map_or_else(
        |_| text.to_string(),
        |n| if text.starts_with('-') && n.0 != 0 { format!("−{}", usd(n)) } else { usd(n) },
    )
}

fn spend_chart(f: &FinanceOverview) -> Drawn {
    let chart = BarChart {
        id: "chargeback-by-team".into(),
        title: format!("Chargeback by team, {}", f.period),
        desc: format!("What each team's calls cost in {}, largest first, in US dollars.", f.period),
        label_name: "Team".into(),
        value_name: "Spend".into(),
        bars: f.by_team.iter().map(|t| Bar { label: t.team_name.clone(), value: t.cost }).collect(),
    }
    .render();
    Drawn { svg: chart.svg, table: chart.table.to_html() }
}

fn per_outcome_chart(f: &FinanceOverview, series: &[OutcomeSeries], step: &str) -> Drawn {
    let end = f.first_day.checked_add(jiff::Span::new().days(i64::from(f.days.saturating_sub(1)))).ok();
    let chart = LineChart {
        id: "spend-per-outcome".into(),
        title: format!("Spend per outcome, by {step}"),
        desc: format!(
            "What each outcome cost in {}: each {step}'s spend over the outcomes reported then and not rejected, \
             for the whole org and each team. A {step} without outcomes has no point.",
            f.period
        ),
        value_name: "spend per outcome".into(),
        start: Some(f.first_day),
        end,
        series: series
            .iter()
            .map(|s| Series {
                name: s.name.clone(),
                points: s.points.iter().filter_map(|p| p.per_outcome.map(|v| (p.from, v))).collect(),
            })
            .collect(),
    }
    .render();
    Drawn { svg: chart.svg, table: chart.table.to_html() }
}

fn row_line(r: &tokenwise_reports::chargeback::ChargebackRow) -> Value {
    json!({
        "team": r.team_name, "cost_centre": r.cost_centre, "project": r.project, "use_case": r.use_case,
        "calls": r.calls, "cost": usd(Nanos(r.cost_nanos)), "outcomes": r.outcomes,
        "per_outcome": r.cost_per_outcome_usd.as_deref().map(money),
    })
}

/// `GET /finance`.
pub async fn page(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<FinanceQuery>,
) -> Result<Response, PageError> {
    // Early in the current month a week is one or two points: show days.
    let today = dash.app.clock.now().to_zoned_datetime(dash.app.policy.org.time_zone.clone()).day();
    let bucket = q.bucket.clone().or_else(|| (q.period.is_none() && today < 21).then(|| "day".to_string()));
    let f = dash
        .app
        .finance_overview(&viewer.caller, FinanceRequest { period: q.period.clone(), bucket: bucket.clone() })
        .await?;
    let step = if bucket.as_deref() == Some("day") { "day" } else { "week" };
    // The org's line and the five teams that spent most, so the chart stays readable.
    let mut shown: Vec<OutcomeSeries> = f.spend_per_outcome.iter().take(1).cloned().collect();
    for t in f.by_team.iter().take(5) {
        shown.extend(f.spend_per_outcome.iter().skip(1).find(|s| s.team == t.team).cloned());
    }
    let ctx = json!({
        "period": f.period,
        "team": f.team,
        "bucket": step,
        "total": usd(Nanos(f.chargeback.totals.cost_nanos)),
        "calls": f.chargeback.totals.calls,
        "outcomes": f.chargeback.totals.outcomes,
        "per_outcome": tokenwise_reports::decimal::per(Nanos(f.chargeback.totals.cost_nanos), f.chargeback.totals.outcomes).map(usd),
        "teams": f.by_team.len(),
        "rows": f.chargeback.rows.iter().map(row_line).collect::<Vec<_>>(),
        "spend_chart": (!f.by_team.is_empty()).then(|| spend_chart(&f)),
        "outcome_chart": (!shown.is_empty()).then(|| per_outcome_chart(&f, &shown, step)),
        "may_reconcile": f.may_reconcile,
    });
    render(&viewer, "/finance", "finance.html", ctx)
}

/// A CSV to save, named.
fn attachment(text: String, filename: &str) -> Response {
    let mut r = text.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    no_store(&mut r);
    r
}

async fn download(dash: &Dash, viewer: &Viewer, period: Option<String>, format: &str) -> Result<Response, PageError> {
    let report =
        dash.app.chargeback(&viewer.caller, ChargebackRequest { period, format: Some(format.to_string()) }).await?;
    match report {
        ChargebackReport::Csv { text, filename } => Ok(attachment(text, &filename)),
        ChargebackReport::Json(_) => Err(AppError::internal("the chargeback came back as JSON").into()),
    }
}

/// `GET /finance/chargeback.csv`: the chargeback's rows.
pub async fn chargeback_csv(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<FinanceQuery>,
) -> Result<Response, PageError> {
    download(&dash, &viewer, q.period, "csv").await
}

/// `GET /finance/focus.csv`: the period as a FinOps FOCUS dataset.
pub async fn focus_csv(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<FinanceQuery>,
) -> Result<Response, PageError> {
    download(&dash, &viewer, q.period, "focus").await
}

#[derive(Debug, Deserialize)]
pub struct ReconcileForm {
    /// `openai`, `anthropic` or `focus`.
    pub format: String,
    /// The export's text (a FOCUS CSV, or the provider's JSON).
    pub export: String,
    #[serde(default)]
    pub period: Option<String>,
}

/// `POST /finance/reconcile`: a provider's export against the ledger,
/// answered with the drift per day and the lines that differ.
pub async fn reconcile(State(dash): State<Dash>, posted: Posted<ReconcileForm>) -> Result<Response, PageError> {
    let f = posted.form;
    let export = match f.format.as_str() {
        "focus" => Value::String(f.export),
        _ => serde_json::from_str(&f.export)
            .map_err(|e| AppError::invalid(format!("the export is not the provider's JSON: {e}")))?,
    };
    let request = ReconcileRequest {
        format: f.format,
        export,
        period: f.period.filter(|p| !p.trim().is_empty()),
        tolerance_percent: None,
        upstream: None,
    };
    let r = dash.app.reconcile(&posted.viewer.caller, request).await?;
    let days: Vec<Value> = r
        .days
        .iter()
        .map(|d| {
            json!({"day": d.day, "ledger": money(&d.ledger_cost_usd), "provider": d.provider_cost_usd.as_deref().map(money),
                   "drift": money(&d.cost_drift_usd), "flagged": d.flagged})
        })
        .collect();
    let lines: Vec<Value> = r
        .lines
        .iter()
        .map(|l| {
            json!({"day": l.day, "model": l.model, "kind": l.kind.replace('_', " "), "ledger_tokens": l.ledger_tokens,
                   "provider_tokens": l.provider_tokens, "token_drift": l.token_drift,
                   "drift": money(&l.cost_drift_usd), "flagged": l.flagged})
        })
        .collect();
    let ctx = json!({
        "r": {"from": r.from, "to": r.to, "tolerance": r.tolerance_percent, "reconciled": r.reconciled,
              "ledger": money(&r.ledger_cost_usd), "provider": r.provider_cost_usd.as_deref().map(money),
              "flagged_days": r.flagged_days, "unknown_models": r.unknown_models, "ignored_rows": r.ignored_rows},
        "days": days,
        "lines": lines,
    });
    render(&posted.viewer, "/finance", "reconcile.html", ctx)
}
