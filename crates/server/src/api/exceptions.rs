//! Exceptions: ask (`POST /api/v1/exceptions`), list what one may see or
//! decide (`GET /api/v1/exceptions?status=pending&decidable=true`), read
//! one (`GET …/{id}`), approve or deny (`POST …/{id}/approve|deny`).

use super::doc::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use axum::Json;
use axum::extract::{Path, State};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::exceptions::{ExceptionAsk, ExceptionFilter, ExceptionList, ExceptionView};
use tokenwise_http::{ApiError, Authed, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(ask_exception, list_exceptions))
        .routes(routes!(get_exception))
        .routes(routes!(approve_exception))
        .routes(routes!(deny_exception))
}

/// Ask for an exception: more budget, a model or a data class, for a while.
#[utoipa::path(post, path = "/api/v1/exceptions", tag = "exceptions", request_body = ExceptionAsk,
    responses((status = 200, description = "The exception, pending or approved by policy", body = ExceptionView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn ask_exception(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(ask): tokenwise_http::Json<ExceptionAsk>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.request_exception(&caller, ask).await?))
}

/// Exceptions the caller may see, or (`decidable=true`) may decide.
#[utoipa::path(get, path = "/api/v1/exceptions", tag = "exceptions", params(ExceptionFilter),
    responses((status = 200, description = "The exceptions", body = ExceptionList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized)))]
async fn list_exceptions(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<ExceptionFilter>,
) -> Result<Json<ExceptionList>, ApiError> {
    Ok(Json(app.exceptions(&caller, f).await?))
}

/// One exception.
#[utoipa::path(get, path = "/api/v1/exceptions/{id}", tag = "exceptions",
    params(("id" = String, Path, description = "The exception's id")),
    responses((status = 200, description = "The exception", body = ExceptionView),
        (status = 401, response = Unauthorized), (status = 404, response = NotFound)))]
async fn get_exception(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.exception(&caller, &id).await?))
}

/// Approve a pending exception (its approver only).
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/approve", tag = "exceptions",
    params(("id" = String, Path, description = "The exception's id")),
    responses((status = 200, description = "The approved exception", body = ExceptionView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict)))]
async fn approve_exception(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.decide_exception(&caller, &id, true).await?))
}

/// Deny a pending exception (its approver only).
#[utoipa::path(post, path = "/api/v1/exceptions/{id}/deny", tag = "exceptions",
    params(("id" = String, Path, description = "The exception's id")),
    responses((status = 200, description = "The denied exception", body = ExceptionView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict)))]
async fn deny_exception(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<ExceptionView>, ApiError> {
    Ok(Json(app.decide_exception(&caller, &id, false).await?))
}
