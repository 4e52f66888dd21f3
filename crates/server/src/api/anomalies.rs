//! `GET /api/v1/anomalies?period=`: runs a detection pass and lists the
//! flags the caller may see; flags new to the ledger are then announced as
//! signed webhooks, once each, off the request.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::anomalies::{AnomaliesRequest, AnomalyList};
use tokenwise_http::{ApiError, Authed, Query};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/anomalies", get(list))
}

async fn list(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(r): Query<AnomaliesRequest>,
) -> Result<Json<AnomalyList>, ApiError> {
    let list = app.anomalies(&caller, r).await?;
    tokio::spawn(crate::jobs::alert_anomalies(app.clone(), list.period.clone()));
    Ok(Json(list))
}
