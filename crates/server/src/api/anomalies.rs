//! `GET /api/v1/anomalies?period=`: runs a detection pass and lists the
//! flags the caller may see; flags new to the ledger are then announced as
//! signed webhooks, once each, off the request.

use super::doc::{BadRequest, Forbidden, Unauthorized};
use axum::Json;
use axum::extract::State;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::anomalies::{AnomaliesRequest, AnomalyList};
use tokenwise_http::{ApiError, Authed, Query};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_anomalies))
}

/// The period's anomaly flags the caller may see, each with its explanation and evidence.
///
/// Runs a detection pass first; flags keep stable ids, so asking again
/// updates rather than duplicates them.
#[utoipa::path(get, path = "/api/v1/anomalies", tag = "anomalies", params(AnomaliesRequest),
    responses((status = 200, description = "The flags", body = AnomalyList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn list_anomalies(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(r): Query<AnomaliesRequest>,
) -> Result<Json<AnomalyList>, ApiError> {
    let list = app.anomalies(&caller, r).await?;
    tokio::spawn(crate::jobs::alert_anomalies(app.clone(), list.period.clone()));
    Ok(Json(list))
}
