//! `GET /api/v1/budgets`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::budgets::BudgetsView;
use tokenwise_http::{ApiError, Authed};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/budgets", get(list))
}

async fn list(State(app): State<Arc<App>>, Authed(caller): Authed) -> Result<Json<BudgetsView>, ApiError> {
    Ok(Json(app.budgets(&caller).await?))
}
