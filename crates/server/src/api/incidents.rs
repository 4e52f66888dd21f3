//! Incident reviews: `POST /api/v1/incidents` (governance, admins),
//! `GET /api/v1/incidents?days=` with each incident's effect on spend, and
//! `PATCH /api/v1/incidents/{id}` to move its status or add actions.

use super::doc::{BadRequest, Forbidden, NotFound, Unauthorized};
use axum::Json;
use axum::extract::{Path, State};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::incidents::{IncidentChange, IncidentList, IncidentView, IncidentsRequest, NewIncident};
use tokenwise_http::{ApiError, Authed, Query};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_incidents, open_incident)).routes(routes!(change_incident))
}

/// Opens an incident review linking anomalies or events, with its root cause and actions (governance).
#[utoipa::path(post, path = "/api/v1/incidents", tag = "anomalies", request_body = NewIncident,
    responses((status = 200, description = "The incident", body = IncidentView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn open_incident(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(n): tokenwise_http::Json<NewIncident>,
) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(app.open_incident(&caller, n).await?))
}

/// Incidents, newest first, each with the linked people's spend before and after.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "anomalies", params(IncidentsRequest),
    responses((status = 200, description = "The incidents", body = IncidentList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn list_incidents(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(r): Query<IncidentsRequest>,
) -> Result<Json<IncidentList>, ApiError> {
    Ok(Json(app.incidents(&caller, r).await?))
}

/// Moves an incident's status, adds actions or a note.
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "anomalies", params(("id" = String, Path, description = "The incident")),
    request_body = IncidentChange,
    responses((status = 200, description = "The incident", body = IncidentView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound)))]
async fn change_incident(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    tokenwise_http::Json(c): tokenwise_http::Json<IncidentChange>,
) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(app.change_incident(&caller, &id, c).await?))
}
