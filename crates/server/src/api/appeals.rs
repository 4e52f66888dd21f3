//! Appeals: file one against the rejection of one's own outcome
//! (`POST /api/v1/appeals`), list what one may see (`GET /api/v1/appeals`),
//! and, for governance, uphold or dismiss (`POST …/{id}/decide`).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::appeals::{AppealFiling, AppealFilter, AppealList, AppealRuling, AppealView};
use tokenwise_http::{ApiError, Authed, Query};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/appeals", post(file).get(list)).route("/api/v1/appeals/{id}/decide", post(decide))
}

async fn file(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(f): tokenwise_http::Json<AppealFiling>,
) -> Result<Json<AppealView>, ApiError> {
    Ok(Json(app.file_appeal(&caller, f).await?))
}

async fn list(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<AppealFilter>,
) -> Result<Json<AppealList>, ApiError> {
    Ok(Json(app.appeals(&caller, f).await?))
}

async fn decide(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    tokenwise_http::Json(r): tokenwise_http::Json<AppealRuling>,
) -> Result<Json<AppealView>, ApiError> {
    Ok(Json(app.decide_appeal(&caller, &id, r).await?))
}
