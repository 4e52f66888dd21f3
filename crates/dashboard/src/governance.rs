//! `/governance`: what governance oversees. The desk (`/governance`): the
//! period's anomaly flags, each with an incident opened from it in place,
//! the incidents, and appeals decided in place; then violations by kind and
//! use case, the reward models side by side, the audit log with its
//! verification, and the policy as loaded. Every view asks the application
//! layer, which refuses (403) anyone but governance and admins.

use crate::Dash;
use crate::error::PageError;
use crate::forms::Posted;
use crate::money::usd;
use crate::page::render;
use crate::team::who;
use crate::viewer::Viewer;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tokenwise_app::AppError;
use tokenwise_app::anomalies::AnomalyView;
use tokenwise_app::appeals::AppealRuling;
use tokenwise_app::governance::audit::{AuditLogRequest, Verification};
use tokenwise_app::governance::violations::{ViolationRow, ViolationsRequest};
use tokenwise_app::governance::{AppealRow, OverviewRequest};
use tokenwise_app::incidents::{IncidentView, NewIncident, RootCause};
use tokenwise_app::scores::CompareRequest;
use tokenwise_core::Nanos;
use tokenwise_ledger::AppealDecision;
use tokenwise_policy::Policy;

#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    #[serde(default)]
    pub period: Option<String>,
    /// What was just done, to say so.
    #[serde(default)]
    pub done: Option<String>,
}

/// "Nov 3, 14:05" (UTC): when something happened, as people read it.
pub fn when(t: Timestamp) -> String {
    t.strftime("%b %-d, %H:%M UTC").to_string()
}

fn anomaly_line(policy: &Policy, a: &AnomalyView, incidents: Option<&Vec<String>>) -> Value {
    json!({
        "id": a.id, "who": who(policy, &a.subject), "team": a.team, "use_case": a.use_case,
        "detector": a.detector.replace('_', " "), "severity": a.severity, "explanation": a.explanation,
        "window": a.window, "appeal": a.appeal, "suppressed": a.suppressed, "first_seen": when(a.first_seen),
        "incidents": incidents.cloned().unwrap_or_default(),
        "title": format!("{} — {}", a.detector.replace('_', " "), who(policy, &a.subject)),
    })
}

fn incident_line(policy: &Policy, i: &IncidentView) -> Value {
    let money = |t: &str| Nanos::parse_usd(t).map(usd).unwrap_or_else(|_| t.to_string());
    let effects = i.effects.as_ref().map(|e| {
        json!({"days": e.days, "before": money(&e.spend_before_usd), "after": money(&e.spend_after_usd),
               "change": e.change.map(|c| format!("{:+.0}%", (c - 1.0) * 100.0))})
    });
    json!({
        "id": i.id, "title": i.title, "category": i.category.replace('_', " "), "status": i.status,
        "occurred": when(i.occurred_at), "by": who(policy, &format!("user:{}", i.created_by)),
        "subjects": i.body.subjects.iter().map(|u| who(policy, &format!("user:{u}"))).collect::<Vec<_>>(),
        "anomalies": i.body.anomalies.len(), "summary": i.body.summary, "effects": effects,
        "actions": i.body.actions.iter().map(|a| a.text.clone()).collect::<Vec<_>>(),
    })
}

fn appeal_line(policy: &Policy, r: &AppealRow) -> Value {
    let a = &r.appeal;
    json!({
        "id": a.id, "who": who(policy, &format!("user:{}", a.appellant)),
        "subject": match a.subject.split_once(':') {
            Some(("outcome", id)) => format!("the rejection of outcome {id}"),
            Some(("anomaly", id)) => format!("the flag {id}"),
            _ => a.subject.clone(),
        },
        "comment": a.comment, "status": a.status.as_str(), "filed": when(a.filed_at),
        "decided_by": a.decided_by.as_deref().map(|d| who(policy, &format!("user:{d}"))),
        "decision_comment": a.decision_comment, "may_decide": r.why_not.is_none(), "why_not": r.why_not,
    })
}

/// `GET /governance`: the desk.
pub async fn page(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let app = &dash.app;
    let o = app.governance_overview(&viewer.caller, OverviewRequest { period: q.period.clone() }).await?;
    let p = &app.policy;
    let open_appeals = o.appeals.iter().filter(|a| a.why_not.is_none()).count();
    let ctx = json!({
        "period": o.period,
        "anomalies": o.anomalies.anomalies.iter()
            .map(|a| anomaly_line(p, a, o.incidents_by_anomaly.get(&a.id))).collect::<Vec<_>>(),
        "high": o.anomalies.anomalies.iter().filter(|a| a.severity == "high").count(),
        "suppressed": o.anomalies.suppressed,
        "incidents": o.incidents.incidents.iter().map(|i| incident_line(p, i)).collect::<Vec<_>>(),
        "open_incidents": o.incidents.incidents.iter().filter(|i| i.status == "open").count(),
        "appeals": o.appeals.iter().map(|a| appeal_line(p, a)).collect::<Vec<_>>(),
        "open_appeals": open_appeals,
        "categories": RootCause::ALL.iter().map(|c| json!({"value": c.as_str(), "label": c.as_str().replace('_', " ")})).collect::<Vec<_>>(),
        "done": q.done,
    });
    render(&viewer, "/governance", "governance.html", ctx)
}

#[derive(Debug, Deserialize)]
pub struct IncidentForm {
    pub anomaly: String,
    pub title: String,
    pub category: String,
    #[serde(default)]
    pub summary: Option<String>,
}

/// `POST /governance/incidents`: an incident opened from a flag, in place.
pub async fn open_incident(State(dash): State<Dash>, posted: Posted<IncidentForm>) -> Result<Response, PageError> {
    let f = posted.form;
    let category = f.category.parse::<RootCause>().map_err(|e| AppError::invalid(e.to_string()))?;
    let incident = NewIncident {
        title: f.title,
        category,
        summary: f.summary.filter(|s| !s.trim().is_empty()),
        anomalies: vec![f.anomaly.clone()],
        events: Vec::new(),
        actions: Vec::new(),
        status: None,
        occurred_at: None,
    };
    let opened = dash.app.open_incident(&posted.viewer.caller, incident).await?;
    Ok(Redirect::to(&format!("/governance?done=incident-opened#{}", opened.id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct AppealForm {
    /// `upheld` or `dismissed`.
    pub decision: String,
    pub comment: String,
}

/// `POST /governance/appeals/{id}`: an appeal upheld or dismissed in place.
pub async fn decide_appeal(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    posted: Posted<AppealForm>,
) -> Result<Response, PageError> {
    let decision = posted.form.decision.parse::<AppealDecision>().map_err(|e| AppError::invalid(e.to_string()))?;
    let ruling = AppealRuling { decision, comment: posted.form.comment };
    dash.app.decide_appeal(&posted.viewer.caller, &id, ruling).await?;
    Ok(Redirect::to(&format!("/governance?done=appeal-{decision}#appeals")).into_response())
}

fn violation_line(r: &ViolationRow) -> Value {
    json!({
        "kind": r.kind.as_deref().map_or_else(|| "refused by a rule".to_string(), |k| k.replace('_', " ")),
        "use_case": r.use_case.as_deref().unwrap_or("(none named)"),
        "calls": r.calls, "redacted": r.redacted, "rerouted": r.rerouted, "blocked": r.blocked, "allowed": r.allowed,
    })
}

/// `GET /governance/violations`: the policy's decisions on prompts.
pub async fn violations(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let v = dash.app.violations(&viewer.caller, ViolationsRequest { period: q.period }).await?;
    let ctx = json!({
        "period": v.period,
        "total": violation_line(&v.total),
        "by_kind": v.by_kind.iter().map(violation_line).collect::<Vec<_>>(),
        "by_use_case": v.by_use_case.iter().map(violation_line).collect::<Vec<_>>(),
        "rows": v.rows.iter().map(violation_line).collect::<Vec<_>>(),
        "most": v.by_kind.first().map_or(0, |r| r.calls),
    });
    render(&viewer, "/governance/violations", "violations.html", ctx)
}

/// `GET /governance/models`: the six reward models side by side.
pub async fn models(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, PageError> {
    let c = dash.app.compare(&viewer.caller, CompareRequest { period: q.period }).await?;
    let p = &dash.app.policy;
    let balanced = c.models.iter().position(|m| m.as_str() == "balanced").unwrap_or(0);
    // Balanced first (the board people see), then the others as compared.
    let order: Vec<usize> = std::iter::once(balanced).chain((0..c.models.len()).filter(|m| *m != balanced)).collect();
    let mut ranks: Vec<_> = c.ranks.iter().collect();
    ranks.sort_by_key(|r| (r.ranks.get(balanced).copied().unwrap_or(u32::MAX), r.subject.clone()));
    let name = |s: &str| who(p, s);
    let label = |m: &str| m.replace('_', " ");
    let rho = |a: usize, b: usize| {
        if a == b {
            return "1".to_string();
        }
        let (ma, mb) = (c.models[a], c.models[b]);
        c.correlations
            .iter()
            .find(|x| (x.a == ma && x.b == mb) || (x.a == mb && x.b == ma))
            .map_or_else(|| "—".to_string(), |x| format!("{:.2}", x.spearman).replace('-', "−"))
    };
    let ctx = json!({
        "period": c.period, "rules_version": c.rules_version,
        "models": order.iter().map(|m| label(c.models[*m].as_str())).collect::<Vec<_>>(),
        "ranks": ranks.iter().map(|r| json!({
            "who": name(&r.subject),
            "ranks": order.iter().map(|m| r.ranks.get(*m).copied().unwrap_or(0)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "shifts": c.shifts.iter().map(|s| json!({
            "model": s.model.as_str().replace('_', " "),
            "winners": s.winners.iter().map(|m| json!({"who": name(&m.subject), "places": m.places})).collect::<Vec<_>>(),
            "losers": s.losers.iter().map(|m| json!({"who": name(&m.subject), "places": -m.places})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "agreement": order.iter().map(|a| json!({
            "model": label(c.models[*a].as_str()),
            "rho": order.iter().map(|b| rho(*a, *b)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    render(&viewer, "/governance/models", "models.html", ctx)
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub action: Option<String>,
}

/// `GET /governance/audit`: the newest entries, and the chain verified.
pub async fn audit(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let action = q.action.filter(|a| !a.is_empty());
    let log = dash.app.audit_log(&viewer.caller, AuditLogRequest { limit: Some(100), action: action.clone() }).await?;
    let verification = match &log.verification {
        Verification::Intact { entries, head_hash } => {
            json!({"ok": true, "entries": entries, "head": head_hash})
        }
        Verification::Broken { seq, reason, verified_entries } => {
            json!({"ok": false, "seq": seq, "reason": reason, "entries": verified_entries})
        }
    };
    let entries: Vec<Value> = log
        .entries
        .iter()
        .map(|e| {
            json!({"seq": e.seq, "at": when(e.at), "actor": e.actor, "action": e.action, "subject": e.subject,
                   "details": e.details, "verified": e.verified})
        })
        .collect();
    let actions: Vec<&str> = tokenwise_ledger::AuditAction::ALL.iter().map(|a| a.as_str()).collect();
    let ctx = json!({"verification": verification, "total": log.total, "entries": entries, "action": action,
                     "actions": actions});
    render(&viewer, "/governance/audit", "audit.html", ctx)
}

/// `GET /governance/policy`: the policy file in force.
pub async fn policy(State(dash): State<Dash>, viewer: Viewer) -> Result<Response, PageError> {
    let p = dash.app.policy_as_loaded(&viewer.caller)?;
    let lines = p.text.lines().count();
    render(&viewer, "/governance/policy", "policy.html", json!({"policy": p, "lines": lines}))
}
