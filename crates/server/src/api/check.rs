//! `POST /api/v1/check`: the gateway's question without the model call.

use super::doc::{BadRequest, Forbidden, TooLarge, Unauthorized};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use bytes::Bytes;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::check::CheckAnswer;
use tokenwise_http::{ApiError, Authed, body_or_error, headers};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(check))
}

/// What the policy would decide about a chat request, without calling a model.
///
/// Takes the body and `x-tokenwise-*` headers of a chat request (OpenAI or
/// Anthropic shape) and answers the decision, why, what was found and
/// where, the model the call would go to, and what it would cost at most.
#[utoipa::path(post, path = "/api/v1/check", tag = "check",
    params(
        ("x-tokenwise-use-case" = Option<String>, Header, description = "The use case (else the key's)"),
        ("x-tokenwise-template" = Option<String>, Header, description = "`id@version` of the prompt template"),
        ("x-tokenwise-task" = Option<String>, Header, description = "The task the call would belong to"),
        ("x-tokenwise-track" = Option<String>, Header, description = "`production` or `exploration`"),
        ("x-tokenwise-destination" = Option<String>, Header, description = "Where the output goes"),
    ),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "A chat request as sent to `/v1/chat/completions` or `/v1/messages`; `model` is required."),
    responses((status = 200, description = "What the gateway would do", body = CheckAnswer),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge)))]
async fn check(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    hs: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CheckAnswer>, ApiError> {
    let body = body_or_error(body, app.policy.server.max_request_bytes)?;
    Ok(Json(app.check(&caller, &headers::meta(&hs)?, &body).await?))
}
