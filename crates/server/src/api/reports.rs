//! Reports: `GET /api/v1/reports/chargeback?period=&format=json|csv|focus`
//! (CSV and FOCUS as `text/csv` attachments), `GET /api/v1/reports/health`
//! and `POST /api/v1/reports/reconciliation` (a provider's export in, the
//! drift out).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::reports::health::HealthRequest;
use tokenwise_app::reports::reconcile::ReconcileRequest;
use tokenwise_app::reports::{ChargebackReport, ChargebackRequest};
use tokenwise_http::{ApiError, Authed, Query};
use tokenwise_reports::health::Health;
use tokenwise_reports::reconcile::Reconciliation;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/reports/chargeback", get(chargeback))
        .route("/api/v1/reports/health", get(health))
        .route("/api/v1/reports/reconciliation", post(reconciliation))
}

async fn chargeback(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<ChargebackRequest>,
) -> Result<Response, ApiError> {
    Ok(match app.chargeback(&caller, q).await? {
        ChargebackReport::Json(c) => Json(c).into_response(),
        ChargebackReport::Csv { text, filename } => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            ],
            text,
        )
            .into_response(),
    })
}

async fn health(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<HealthRequest>,
) -> Result<Json<Health>, ApiError> {
    Ok(Json(app.health(&caller, q).await?))
}

async fn reconciliation(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(r): tokenwise_http::Json<ReconcileRequest>,
) -> Result<Json<Reconciliation>, ApiError> {
    Ok(Json(app.reconcile(&caller, r).await?))
}
