//! Incident reviews: `POST /api/v1/incidents` (governance, admins),
//! `GET /api/v1/incidents?days=` with each incident's effect on spend, and
//! `PATCH /api/v1/incidents/{id}` to move its status or add actions.

use axum::extract::{Path, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::incidents::{IncidentChange, IncidentList, IncidentView, IncidentsRequest, NewIncident};
use tokenwise_http::{ApiError, Authed, Query};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/incidents", get(list).post(open)).route("/api/v1/incidents/{id}", patch(change))
}

async fn open(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(n): tokenwise_http::Json<NewIncident>,
) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(app.open_incident(&caller, n).await?))
}

async fn list(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(r): Query<IncidentsRequest>,
) -> Result<Json<IncidentList>, ApiError> {
    Ok(Json(app.incidents(&caller, r).await?))
}

async fn change(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    tokenwise_http::Json(c): tokenwise_http::Json<IncidentChange>,
) -> Result<Json<IncidentView>, ApiError> {
    Ok(Json(app.change_incident(&caller, &id, c).await?))
}
