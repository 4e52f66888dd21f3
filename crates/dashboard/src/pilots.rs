//! `/governance/pilots`: every pilot of the policy with its report's
//! headline in plain words, the guard metrics it flagged, the feedback
//! counted per week and subject with the comments, and — while nothing is
//! decided — the buttons that promote its reward model and rules version
//! to the default or end it. Asks the same `App` methods as the JSON API,
//! which refuse (403) anyone but governance and admins.

use crate::Dash;
use crate::error::PageError;
use crate::forms::Posted;
use crate::page::render;
use crate::viewer::Viewer;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokenwise_app::pilots::report::PilotReportView;

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    /// What was just done, to say so.
    #[serde(default)]
    pub done: Option<String>,
}

/// The promote and end forms carry nothing but their token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

fn card(v: &PilotReportView) -> Value {
    let (p, r) = (&v.pilot, &v.report);
    let guards: Vec<Value> =
        r.guards.iter().map(|g| json!({"sentence": g.sentence, "flagged": g.flagged, "level": g.level})).collect();
    let week_of = |w: i32| r.weeks.iter().find(|x| x.week == w).map_or_else(String::new, |x| x.start.clone());
    let feedback: Vec<Value> = r
        .feedback
        .iter()
        .map(|t| json!({"week": week_of(t.week), "about": t.about, "motivating": t.motivating, "confusing": t.confusing, "unfair": t.unfair}))
        .collect();
    let comments: Vec<Value> = r
        .comments
        .iter()
        .map(|c| json!({"week": week_of(c.week), "about": c.about, "answer": c.answer, "comment": c.comment}))
        .collect();
    json!({
        "id": p.id, "description": p.description, "status": p.status, "start": p.start, "end": p.end,
        "reward_model": p.reward_model.replace('_', " "), "rules_version": p.rules_version,
        "cohort_size": r.cohort_size, "control_size": r.control_size, "board": p.board, "badges": p.badges,
        "summary": r.summary, "guards": guards, "feedback": feedback, "comments": comments,
        "decided": p.decision.is_some(),
        "decision": p.decision.as_ref().map(|d| json!({"decision": d.decision, "by": d.decided_by, "at": d.at})),
    })
}

/// `GET /governance/pilots`.
pub async fn page(State(dash): State<Dash>, viewer: Viewer, Query(q): Query<DoneQuery>) -> Result<Response, PageError> {
    let app = &dash.app;
    let mut cards = Vec::new();
    for p in app.pilots(&viewer.caller).await? {
        cards.push(card(&app.pilot_report(&viewer.caller, &p.id).await?));
    }
    let ctx = json!({"pilots": cards, "done": q.done});
    render(&viewer, "/governance/pilots", "pilots.html", ctx)
}

/// `POST /governance/pilots/{id}/promote`.
pub async fn promote(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    posted: Posted<Nothing>,
) -> Result<Response, PageError> {
    dash.app.decide_pilot(&posted.viewer.caller, &id, true).await?;
    Ok(Redirect::to("/governance/pilots?done=promoted").into_response())
}

/// `POST /governance/pilots/{id}/end`.
pub async fn end(
    State(dash): State<Dash>,
    Path(id): Path<String>,
    posted: Posted<Nothing>,
) -> Result<Response, PageError> {
    dash.app.decide_pilot(&posted.viewer.caller, &id, false).await?;
    Ok(Redirect::to("/governance/pilots?done=ended").into_response())
}
