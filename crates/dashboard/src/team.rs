//! `/team`: a manager's team — budget burn-down with its forecast,
//! outcomes awaiting validation (validated or rejected in place),
//! exception requests (approved or denied in place), and the team board
//! under the team's visibility. A member asking for it gets 403 from the
//! application layer (a team's records are not theirs to read).

use crate::Dash;
use crate::forms::Posted;
use crate::page::{PageError, render};
use crate::session::Viewer;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tokenwise_app::exceptions::ExceptionFilter;
use tokenwise_app::outcomes::{OutcomeFilter, Validation};
use tokenwise_ledger::OutcomeDecision;

/// `GET /team`.
pub async fn page(State(dash): State<Dash>, viewer: Viewer) -> Result<Response, PageError> {
    let app = &dash.app;
    let c = &viewer.caller;
    let team = c.user.team.clone();
    let pending = app
        .outcomes(c, OutcomeFilter { status: Some("pending".into()), team: Some(team.clone()), ..OutcomeFilter::default() })
        .await?;
    let exceptions = app
        .exceptions(c, ExceptionFilter { status: Some("pending".into()), decidable: Some(true), ..ExceptionFilter::default() })
        .await?;
    let ctx = serde_json::json!({
        "team": team,
        "pending": pending.outcomes,
        "exceptions": exceptions.exceptions,
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
    Ok(Redirect::to("/team#outcomes").into_response())
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
    Ok(Redirect::to("/team#exceptions").into_response())
}
