//! Reports: `GET /api/v1/reports/chargeback?period=&format=json|csv|focus`
//! (CSV and FOCUS as `text/csv` attachments), `GET /api/v1/reports/health`
//! and `POST /api/v1/reports/reconciliation` (a provider's export in, the
//! drift out).

use super::doc::{BadRequest, Forbidden, Unauthorized};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::reports::health::HealthRequest;
use tokenwise_app::reports::reconcile::ReconcileRequest;
use tokenwise_app::reports::{ChargebackReport, ChargebackRequest};
use tokenwise_http::{ApiError, Authed, Query};
use tokenwise_reports::health::Health;
use tokenwise_reports::reconcile::Reconciliation;

use tokenwise_reports::Chargeback;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(get_chargeback))
        .routes(routes!(get_health))
        .routes(routes!(post_reconciliation))
}

/// The period's chargeback by team, project and use case: JSON, CSV, or FOCUS.
#[utoipa::path(get, path = "/api/v1/reports/chargeback", tag = "reports", params(ChargebackRequest),
    responses((status = 200, description = "The chargeback; `format=csv|focus` answers text/csv",
            content((Chargeback = "application/json"), (String = "text/csv"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn get_chargeback(
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

/// Program health: spend per outcome over time, reuse, adoption, adherence, escalation, duplicate builds.
#[utoipa::path(get, path = "/api/v1/reports/health", tag = "reports", params(HealthRequest),
    responses((status = 200, description = "The period's program health", body = Health),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn get_health(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<HealthRequest>,
) -> Result<Json<Health>, ApiError> {
    Ok(Json(app.health(&caller, q).await?))
}

/// A provider's usage or cost export compared with the ledger per day, model and token kind.
#[utoipa::path(post, path = "/api/v1/reports/reconciliation", tag = "reports", request_body = ReconcileRequest,
    responses((status = 200, description = "The drift, flagged days beyond tolerance", body = Reconciliation),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn post_reconciliation(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(r): tokenwise_http::Json<ReconcileRequest>,
) -> Result<Json<Reconciliation>, ApiError> {
    Ok(Json(app.reconcile(&caller, r).await?))
}
