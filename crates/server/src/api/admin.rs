//! `POST /api/v1/admin/clock`: moves a manual clock and runs one upkeep
//! pass (leases, expiry, alerts, tranches), one refresh of the usual
//! cost of a task and one purge of prompts past their retention before answering, so tests and demos see a period roll
//! over, a lease or an exception run out, or tasks finish, without
//! waiting. Only when the server was started with a manual clock
//! (`TOKENWISE_MANUAL_CLOCK`), and only for admins; with the system clock
//! it answers 404 as if it did not exist.

use super::doc::{BadRequest, Forbidden, NotFound, Unauthorized};
use axum::Json;
use axum::extract::State;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokenwise_app::{App, AppError};
use tokenwise_http::{ApiError, Authed};
use tokenwise_policy::Role;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A step of at most ten years: enough for any period to roll over, far
/// from the ends of time.
const MAX_STEP_SECS: i64 = 10 * 366 * 86_400;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(move_clock))
}

/// Move the clock by `advance_secs` or to `set`; neither runs upkeep only.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClockMove)]
struct Move {
    /// Seconds to move on by (fractions allowed).
    #[serde(default)]
    advance_secs: Option<f64>,
    /// Or an instant to move to (RFC 3339).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    set: Option<Timestamp>,
}

/// The clock after the move, and what the upkeep pass did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ClockAnswer {
    #[schema(value_type = String, format = DateTime)]
    now: Timestamp,
    /// Holds released because they outlived their lease.
    expired_holds: u64,
    /// Budget alerts raised.
    alerts: usize,
    /// Prompts deleted because their retention ran out.
    purged_prompts: u64,
}

/// Move the manual clock and run one upkeep pass (admins; manual clock only).
///
/// Answers 404 as if it did not exist when the server runs on the system clock.
#[utoipa::path(post, path = "/api/v1/admin/clock", tag = "admin", request_body = Move,
    responses((status = 200, description = "The clock moved and upkeep done", body = ClockAnswer),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound)))]

async fn move_clock(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(m): tokenwise_http::Json<Move>,
) -> Result<Json<ClockAnswer>, ApiError> {
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
    let purged_prompts = crate::jobs::purge_prompts(&app).await;
    Ok(Json(ClockAnswer {
        now: app.clock.now(),
        expired_holds: done.expired,
        alerts: done.alerts.len(),
        purged_prompts,
    }))
}
