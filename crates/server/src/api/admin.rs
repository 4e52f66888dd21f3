//! `POST /api/v1/admin/clock`: moves a manual clock and runs one upkeep
//! pass (leases, expiry, alerts, tranches) and one refresh of the usual
//! cost of a task before answering, so tests and demos see a period roll
//! over, a lease or an exception run out, or tasks finish, without
//! waiting. Only when the server was started with a manual clock
//! (`TOKENWISE_MANUAL_CLOCK`), and only for admins; with the system clock
//! it answers 404 as if it did not exist.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokenwise_app::{App, AppError};
use tokenwise_http::{ApiError, Authed};
use tokenwise_policy::Role;

/// A step of at most ten years: enough for any period to roll over, far
/// from the ends of time.
const MAX_STEP_SECS: i64 = 10 * 366 * 86_400;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/admin/clock", post(clock))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    /// Seconds to move on by (fractions allowed).
    #[serde(default)]
    advance_secs: Option<f64>,
    /// Or an instant to move to (RFC 3339).
    #[serde(default)]
    set: Option<Timestamp>,
}

async fn clock(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(m): tokenwise_http::Json<Move>,
) -> Result<Json<Value>, ApiError> {
    if !app.clock.is_manual() {
        return Err(AppError::not_found("no such endpoint: the server runs on the system clock").into());
    }
    if caller.user.role != Role::Admin {
        return Err(AppError::denied("only an admin may move the clock").into());
    }
    match (m.advance_secs, m.set) {
        (Some(s), None) => {
            let by = SignedDuration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_negative() && d.as_secs() <= MAX_STEP_SECS)
                .ok_or_else(|| AppError::invalid(format!("advance_secs must be from 0 to {MAX_STEP_SECS}")))?;
            app.clock.advance(by);
        }
        (None, Some(at)) => {
            app.clock.set(at);
        }
        (None, None) => {}
        (Some(_), Some(_)) => return Err(AppError::invalid("give advance_secs or set, not both").into()),
    }
    let done = crate::jobs::tick(&app, &tokenwise_app::scores::Scored::default(), true).await;
    crate::jobs::refresh_baselines(&app).await;
    Ok(Json(json!({"now": app.clock.now(), "expired_holds": done.expired, "alerts": done.alerts.len()})))
}
