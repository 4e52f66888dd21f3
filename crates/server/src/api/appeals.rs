//! Appeals: file one against the rejection of one's own outcome
//! (`POST /api/v1/appeals`), list what one may see (`GET /api/v1/appeals`),
//! and, for governance, uphold or dismiss (`POST …/{id}/decide`).

use super::doc::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized};
use axum::Json;
use axum::extract::{Path, State};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::appeals::{AppealFiling, AppealFilter, AppealList, AppealRuling, AppealView};
use tokenwise_http::{ApiError, Authed, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(file_appeal, list_appeals)).routes(routes!(decide_appeal))
}

/// Appeal the rejection of one's own outcome.
#[utoipa::path(post, path = "/api/v1/appeals", tag = "appeals", request_body = AppealFiling,
    responses((status = 200, description = "The open appeal", body = AppealView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
async fn file_appeal(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(f): tokenwise_http::Json<AppealFiling>,
) -> Result<Json<AppealView>, ApiError> {
    Ok(Json(app.file_appeal(&caller, f).await?))
}

/// Appeals the caller may see.
#[utoipa::path(get, path = "/api/v1/appeals", tag = "appeals", params(AppealFilter),
    responses((status = 200, description = "The appeals", body = AppealList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized)))]
async fn list_appeals(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<AppealFilter>,
) -> Result<Json<AppealList>, ApiError> {
    Ok(Json(app.appeals(&caller, f).await?))
}

/// Uphold or dismiss an open appeal (governance).
#[utoipa::path(post, path = "/api/v1/appeals/{id}/decide", tag = "appeals",
    params(("id" = String, Path, description = "The appeal's id")), request_body = AppealRuling,
    responses((status = 200, description = "The decided appeal", body = AppealView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
async fn decide_appeal(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    tokenwise_http::Json(r): tokenwise_http::Json<AppealRuling>,
) -> Result<Json<AppealView>, ApiError> {
    Ok(Json(app.decide_appeal(&caller, &id, r).await?))
}
