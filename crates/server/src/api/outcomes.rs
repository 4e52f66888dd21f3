//! Outcomes: report (`POST /api/v1/outcomes`, with an API key, or signed by
//! an integration with no key), list what one may see
//! (`GET /api/v1/outcomes?status=pending&team=…` is a manager's backlog),
//! read one (`GET …/{id}`), validate or reject (`POST …/{id}/validate`).
//! An outcome whose task no metered call carried is accepted but answered
//! (and stored) with `"metered": false`.

use super::doc::{BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unauthorized};
use axum::Json;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::outcomes::{OutcomeFilter, OutcomeList, OutcomeReceipt, OutcomeReport, OutcomeView, Validation};
use tokenwise_http::{ApiError, Authed, Query, body_or_error, headers, parse_json, presented_key};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(report_outcome, list_outcomes))
        .routes(routes!(get_outcome))
        .routes(routes!(validate_outcome))
}

/// Report an outcome: work done with the calls of one task.
///
/// Signed when it carries an integration's headers (judged on those
/// alone), else authenticated by its API key.
#[utoipa::path(post, path = "/api/v1/outcomes", tag = "outcomes", request_body = OutcomeReport,
    security((), ("bearer" = []), ("api_key" = [])),
    params(
        ("x-tokenwise-integration" = Option<String>, Header, description = "A signed report: the integration's id"),
        ("x-tokenwise-timestamp" = Option<String>, Header, description = "A signed report: Unix seconds"),
        ("x-tokenwise-signature" = Option<String>, Header, description = "A signed report: `sha256=HEX` of HMAC(`TIMESTAMP.BODY`)"),
    ),
    responses((status = 200, description = "The outcome, pending validation", body = OutcomeReceipt),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 413, response = TooLarge)))]
async fn report_outcome(
    State(app): State<Arc<App>>,
    hs: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<OutcomeReceipt>, ApiError> {
    let body = body_or_error(body, app.policy.server.max_request_bytes)?;
    let signed = headers::signed(&hs)?;
    if signed.present() {
        let by = app.verify_signed(&signed, &body)?;
        return Ok(Json(app.report_signed_outcome(by, parse_json(&body)?).await?));
    }
    let caller = app.authenticate(presented_key(&hs)).await?;
    Ok(Json(app.report_outcome(&caller, parse_json(&body)?).await?))
}

/// Outcomes the caller may see; `status=pending&team=…` is a manager's backlog.
#[utoipa::path(get, path = "/api/v1/outcomes", tag = "outcomes", params(OutcomeFilter),
    responses((status = 200, description = "The outcomes", body = OutcomeList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn list_outcomes(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<OutcomeFilter>,
) -> Result<Json<OutcomeList>, ApiError> {
    Ok(Json(app.outcomes(&caller, f).await?))
}

/// One outcome.
#[utoipa::path(get, path = "/api/v1/outcomes/{id}", tag = "outcomes",
    params(("id" = String, Path, description = "The outcome's id")),
    responses((status = 200, description = "The outcome", body = OutcomeView),
        (status = 401, response = Unauthorized), (status = 404, response = NotFound)))]
async fn get_outcome(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<OutcomeView>, ApiError> {
    Ok(Json(app.outcome(&caller, &id).await?))
}

/// Validate or reject a pending outcome (its validators only).
#[utoipa::path(post, path = "/api/v1/outcomes/{id}/validate", tag = "outcomes",
    params(("id" = String, Path, description = "The outcome's id")), request_body = Validation,
    responses((status = 200, description = "The decided outcome", body = OutcomeView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict)))]
async fn validate_outcome(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    tokenwise_http::Json(v): tokenwise_http::Json<Validation>,
) -> Result<Json<OutcomeView>, ApiError> {
    Ok(Json(app.validate_outcome(&caller, &id, v).await?))
}
