//! Pilots: `GET /api/v1/pilots`, the report
//! (`GET /api/v1/reports/pilots/{id}`), and governance's decision —
//! `POST /api/v1/pilots/{id}/promote` (its reward model and rules version
//! become the default) or `POST /api/v1/pilots/{id}/end` — once, audited.

use super::doc::{Conflict, Forbidden, NotFound, Unauthorized};
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::pilots::PilotView;
use tokenwise_app::pilots::report::PilotReportView;
use tokenwise_http::{ApiError, Authed};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(list_pilots))
        .routes(routes!(pilot_report))
        .routes(routes!(promote_pilot))
        .routes(routes!(end_pilot))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PilotList {
    pub pilots: Vec<PilotView>,
}

/// The policy's pilots with their status (governance and admins).
#[utoipa::path(get, path = "/api/v1/pilots", tag = "pilots",
    responses((status = 200, description = "The pilots", body = PilotList),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden)))]
async fn list_pilots(State(app): State<Arc<App>>, Authed(caller): Authed) -> Result<Json<PilotList>, ApiError> {
    Ok(Json(PilotList { pilots: app.pilots(&caller).await? }))
}

/// The pilot's report: cohort against control, before against during, per week; the effect with its 95% interval; guard metrics; feedback with comments.
#[utoipa::path(get, path = "/api/v1/reports/pilots/{id}", tag = "reports",
    params(("id" = String, Path, description = "The pilot")),
    responses((status = 200, description = "The report", body = PilotReportView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound)))]
async fn pilot_report(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<PilotReportView>, ApiError> {
    Ok(Json(app.pilot_report(&caller, &id).await?))
}

/// Make the pilot's reward model and rules version the org's default (audited; once).
#[utoipa::path(post, path = "/api/v1/pilots/{id}/promote", tag = "pilots",
    params(("id" = String, Path, description = "The pilot")),
    responses((status = 200, description = "The pilot, promoted", body = PilotView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict)))]
async fn promote_pilot(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<PilotView>, ApiError> {
    Ok(Json(app.decide_pilot(&caller, &id, true).await?))
}

/// End the pilot without promoting it (audited; once).
#[utoipa::path(post, path = "/api/v1/pilots/{id}/end", tag = "pilots",
    params(("id" = String, Path, description = "The pilot")),
    responses((status = 200, description = "The pilot, ended", body = PilotView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict)))]
async fn end_pilot(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<PilotView>, ApiError> {
    Ok(Json(app.decide_pilot(&caller, &id, false).await?))
}
