//! Exceptions: ask (`POST /api/v1/exceptions`), list what one may see or
//! decide (`GET /api/v1/exceptions?status=pending&decidable=true`), read
//! one (`GET …/{id}`), approve or deny (`POST …/{id}/approve|deny`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::exceptions::{ExceptionAsk, ExceptionFilter, ExceptionList, ExceptionView};
use tokenwise_http::{ApiError, Authed, Query};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/exceptions", post(create).get(list))
        .route("/api/v1/exceptions/{id}", get(one))
        .route("/api/v1/exceptions/{id}/approve", post(approve))
        .route("/api/v1/exceptions/{id}/deny", post(deny))
}

async fn create(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(ask): tokenwise_http::Json<ExceptionAsk>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.request_exception(&caller, ask).await?))
}

async fn list(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<ExceptionFilter>,
) -> Result<Json<ExceptionList>, ApiError> {
    Ok(Json(app.exceptions(&caller, f).await?))
}

async fn one(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.exception(&caller, &id).await?))
}

async fn approve(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.decide_exception(&caller, &id, true).await?))
}

async fn deny(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.decide_exception(&caller, &id, false).await?))
}
