//! `GET /api/v1/events`: usage events, newest first, filtered by user,
//! team, time, request id or task. A streamed call's cost, known only at
//! its end, is read here by its request id.

use super::{Sight, sight};
use crate::error::{ApiError, Code};
use crate::{AppState, auth};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokenwise_ledger::{EventQuery, UsageEvent};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    user: Option<String>,
    team: Option<String>,
    /// RFC 3339, inclusive.
    from: Option<String>,
    /// RFC 3339, exclusive.
    to: Option<String>,
    request_id: Option<String>,
    task: Option<String>,
    limit: Option<u32>,
}

fn time(name: &str, v: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    v.map(|s| {
        s.parse::<Timestamp>()
            .map_err(|_| ApiError::invalid(format!("`{name}` must be an RFC 3339 time such as 2026-11-01T00:00:00Z")))
    })
    .transpose()
}

pub fn event_json(e: &UsageEvent) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("cost_nanos".into(), json!(e.cost.0));
        o.insert("cost_usd".into(), json!(e.cost.to_usd_string()));
        o.remove("cost");
    }
    v
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let run = async {
        let caller = auth::authenticate(&state.policy, state.store.as_ref(), &headers).await?;
        let Query(p) = params.map_err(|e| ApiError::invalid(format!("bad query: {}", e.body_text())))?;
        let mut q = EventQuery {
            user_id: p.user.clone(),
            team_id: p.team.clone(),
            request_id: p.request_id,
            task: p.task,
            from: time("from", p.from.as_deref())?,
            to: time("to", p.to.as_deref())?,
            limit: p.limit.unwrap_or(100),
        };
        let denied = |what: &str| ApiError::new(Code::PolicyViolation, format!("your role may not read {what}"));
        match sight(&caller) {
            Sight::All => {}
            Sight::Own(me) => {
                if p.user.as_ref().is_some_and(|u| *u != me) {
                    return Err(denied("another person's events"));
                }
                if p.team.is_some() {
                    return Err(denied("a team's events"));
                }
                q.user_id = Some(me);
            }
            Sight::Team(team) => {
                if p.team.as_ref().is_some_and(|t| *t != team) {
                    return Err(denied("another team's events"));
                }
                if p.user.as_ref().is_some_and(|u| state.policy.users.get(u).is_none_or(|x| x.team != team)) {
                    return Err(denied("events of people outside your team"));
                }
                q.team_id = Some(team);
            }
        }
        let events = state.store.events(&q).await?;
        Ok::<_, ApiError>(Json(json!({"events": events.iter().map(event_json).collect::<Vec<_>>()})).into_response())
    };
    match run.await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}
