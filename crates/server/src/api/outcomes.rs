//! Outcomes: report (`POST /api/v1/outcomes`, with an API key, or signed by
//! an integration with no key), list what one may see
//! (`GET /api/v1/outcomes?status=pending&team=…` is a manager's backlog),
//! read one (`GET …/{id}`), validate or reject (`POST …/{id}/validate`).
//! An outcome whose task no metered call carried is accepted but answered
//! (and stored) with `"metered": false`.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::outcomes::{OutcomeFilter, OutcomeList, OutcomeReceipt, OutcomeView, Validation};
use tokenwise_http::{ApiError, Authed, Query, body_or_error, headers, parse_json, presented_key};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/outcomes", post(report).get(list))
        .route("/api/v1/outcomes/{id}", get(one))
        .route("/api/v1/outcomes/{id}/validate", post(validate))
}

/// Signed when it carries the integration's headers (judged on those
/// alone), else authenticated by its API key.
async fn report(
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

async fn list(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<OutcomeFilter>,
) -> Result<Json<OutcomeList>, ApiError> {
    Ok(Json(app.outcomes(&caller, f).await?))
}

async fn one(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<OutcomeView>, ApiError> {
    Ok(Json(app.outcome(&caller, &id).await?))
}

async fn validate(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    tokenwise_http::Json(v): tokenwise_http::Json<Validation>,
) -> Result<Json<OutcomeView>, ApiError> {
    Ok(Json(app.validate_outcome(&caller, &id, v).await?))
}
