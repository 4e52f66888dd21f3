//! `GET /api/v1/budgets`.

use super::doc::Unauthorized;
use axum::Json;
use axum::extract::State;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::budgets::BudgetsView;
use tokenwise_http::{ApiError, Authed};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_budgets))
}

/// The current period's budget envelopes the caller may see.
///
/// Each with its limit (base and unlocked tranches), captured, held,
/// remaining, and a linear forecast to the period's end.
#[utoipa::path(get, path = "/api/v1/budgets", tag = "budgets",
    responses((status = 200, description = "The envelopes", body = BudgetsView),
        (status = 401, response = Unauthorized)))]
async fn list_budgets(State(app): State<Arc<App>>, Authed(caller): Authed) -> Result<Json<BudgetsView>, ApiError> {
    Ok(Json(app.budgets(&caller).await?))
}
