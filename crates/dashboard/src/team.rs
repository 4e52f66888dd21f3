//! `/team`: a manager's team — budget burn-down with its forecast,
//! outcomes awaiting validation (validated or rejected in place),
//! exception requests (approved or denied in place), and the team board
//! under the team's visibility. A member asking for it gets 403 from the
//! application layer (a team's records are not theirs to read).

use crate::Dash;
use crate::chart::burn_down;
use crate::error::PageError;
use crate::forms::Posted;
use crate::me::{budget_line, outcome_line};
use crate::money::{percent, usd};
use crate::page::render;
use crate::viewer::Viewer;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokenwise_app::access::may_validate;
use tokenwise_app::exceptions::{ExceptionFilter, ExceptionView};
use tokenwise_app::leaderboard::{Entry, LeaderboardRequest};
use tokenwise_app::month::SpendOf;
use tokenwise_app::outcomes::{OutcomeFilter, Validation};
use tokenwise_core::Nanos;
use tokenwise_ledger::OutcomeDecision;
use tokenwise_policy::Policy;

#[derive(Debug, Default, Deserialize)]
pub struct TeamQuery {
    /// Another team, for those who may read it (governance, finance, admins).
    #[serde(default)]
    pub team: Option<String>,
    /// What was just done, to say so.
    #[serde(default)]
    pub done: Option<String>,
}

/// A person's name from the policy; a team or a pseudonym as it is.
pub fn who(policy: &Policy, subject: &str) -> String {
    match subject.split_once(':') {
        Some(("user", id)) => policy.users.get(id).map_or_else(|| id.to_string(), |u| u.name.clone()),
        Some(("team", id)) => format!("Team {id}"),
        _ => subject.to_string(),
    }
}

fn board_row(policy: &Policy, e: &Entry) -> Value {
    json!({"rank": e.rank, "who": who(policy, &e.subject), "you": e.you, "score": e.score, "efficiency": e.efficiency,
           "quality": e.quality, "compliance": e.compliance, "badges": e.badges})
}

/// Where an exception applies, in words.
fn scope_words(policy: &Policy, scope: &str) -> String {
    match scope.split_once(':') {
        Some(("user", _)) => format!("{}'s budget", who(policy, scope)),
        Some((kind, id)) => format!("the {kind} {id} budget"),
        None => format!("the {scope} budget"),
    }
}

fn exception_line(policy: &Policy, e: &ExceptionView) -> Value {
    let hours = e.duration_secs / 3600;
    let cap = Nanos::parse_usd(&e.cap_usd).map(usd).unwrap_or_else(|_| e.cap_usd.clone());
    json!({
        "id": e.id, "who": who(policy, &format!("user:{}", e.requested_by)), "scope": scope_words(policy, &e.scope.to_string()), "reason": e.reason_code.replace(['-', '_'], " "),
        "justification": e.justification, "cap": cap, "hours": hours, "models": e.models,
    })
}

/// An outcome line with its person's name.
fn named(policy: &Policy, mut line: Value) -> Value {
    let id = line["user"].as_str().unwrap_or_default().to_string();
    line["name"] = json!(who(policy, &format!("user:{id}")));
    line
}

/// `GET /team`.
pub async fn page(State(dash): State<Dash>, viewer: Viewer, Query(q): Query<TeamQuery>) -> Result<Response, PageError> {
    let app = &dash.app;
    let c = &viewer.caller;
    let team = q.team.clone().unwrap_or_else(|| c.user.team.clone());
    // The app refuses a team the caller may not read (a member: any team).
    let spend = app.daily_spend(c, &SpendOf::Team(team.clone()), None).await?;
    let pending = app
        .outcomes(
            c,
            OutcomeFilter { status: Some("pending".into()), team: Some(team.clone()), ..OutcomeFilter::default() },
        )
        .await?;
    let exceptions = app
        .exceptions(
            c,
            ExceptionFilter { status: Some("pending".into()), decidable: Some(true), ..ExceptionFilter::default() },
        )
        .await?;
    let scope = format!("team:{team}");
    let budgets = app.budgets(c).await?;
    // The team's tightest envelope: the one whose burn matters most.
    let envelope = budgets.envelopes.iter().filter(|e| e.scope == scope).max_by_key(|e| {
        (percent(Nanos(e.captured_nanos.saturating_add(e.held_nanos)), Nanos(e.limit_nanos)), e.limit_nanos)
    });
    let chart = envelope.map(|e| {
        let projected = Nanos::parse_usd(&e.forecast.projected_usd).ok();
        burn_down(&app.policy, &spend, Nanos(e.limit_nanos), projected, &format!("Team {team}'s budget this month"))
    });
    let board =
        app.leaderboard(c, LeaderboardRequest { scope: Some(scope.clone()), ..LeaderboardRequest::default() }).await?;
    let ctx = json!({
        "team": team,
        "period": spend.period,
        "spend": usd(spend.total),
        "calls": spend.calls,
        "budget": envelope.map(budget_line),
        "chart": chart,
        "pending": pending
            .outcomes
            .iter()
            .map(|o| {
                let mut line = named(&app.policy, outcome_line(o));
                // Buttons only where the application would accept the decision.
                line["decidable"] = json!(may_validate(&app.policy, &c.user, &o.user, &o.team));
                line
            })
            .collect::<Vec<_>>(),
        "exceptions": exceptions.exceptions.iter().map(|e| exception_line(&app.policy, e)).collect::<Vec<_>>(),
        "board_rows": board.entries.iter().map(|e| board_row(&app.policy, e)).collect::<Vec<_>>(),
        "board": board,
        "done": q.done,
    });
    render(&viewer, "/team", "team.html", ctx)
}

#[derive(Debug, Deserialize)]
pub struct OutcomeForm {
    /// `validated` or `rejected`.
    pub decision: String,
    #[serde(default)]
    pub quality: Option<String>,
}

/// `POST /team/outcomes/{id}`: validate or reject in place.
pub async fn decide_outcome(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    posted: Posted<OutcomeForm>,
) -> Result<Response, PageError> {
    let decision = match posted.form.decision.as_str() {
        "validated" => OutcomeDecision::Validated,
        "rejected" => OutcomeDecision::Rejected,
        other => return Err(tokenwise_app::AppError::invalid(format!("unknown decision `{other}`")).into()),
    };
    let quality = posted.form.quality.as_deref().filter(|q| !q.is_empty()).and_then(|q| q.parse::<u8>().ok());
    dash.app.validate_outcome(&posted.viewer.caller, &id, Validation { decision, quality }).await?;
    let done = match decision {
        OutcomeDecision::Validated => "validated",
        OutcomeDecision::Rejected => "rejected",
    };
    Ok(Redirect::to(&format!("/team?done=outcome-{done}#outcomes")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ExceptionForm {
    /// `approve` or `deny`.
    pub decision: String,
}

/// `POST /team/exceptions/{id}`: approve or deny in place.
pub async fn decide_exception(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    posted: Posted<ExceptionForm>,
) -> Result<Response, PageError> {
    let approve = match posted.form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        other => return Err(tokenwise_app::AppError::invalid(format!("unknown decision `{other}`")).into()),
    };
    dash.app.decide_exception(&posted.viewer.caller, &id, approve).await?;
    let done = if approve { "approved" } else { "denied" };
    Ok(Redirect::to(&format!("/team?done=exception-{done}#exceptions")).into_response())
}
