//! `POST /api/v1/check`: the gateway's question without the model call.

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::check::CheckAnswer;
use tokenwise_http::{ApiError, Authed, body_or_error, headers};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/check", post(check))
}

async fn check(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    hs: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CheckAnswer>, ApiError> {
    let body = body_or_error(body, app.policy.server.max_request_bytes)?;
    Ok(Json(app.check(&caller, &headers::meta(&hs)?, &body).await?))
}
