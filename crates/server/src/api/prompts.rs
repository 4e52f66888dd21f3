//! Prompts kept under a use case's retention policy: read one by its usage
//! event (`GET /api/v1/prompts/{event_id}`), governance and admins only,
//! each read written to the audit log before the text is answered.

use super::doc::{Forbidden, NotFound, Unauthorized};
use axum::Json;
use axum::extract::{Path, State};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::retention::PromptView;
use tokenwise_http::{ApiError, Authed};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(read_prompt))
}

/// The prompt kept for a usage event (redacted or in full, as its use
/// case's retention says), until purged. Audited (`prompt.read`).
#[utoipa::path(get, path = "/api/v1/prompts/{event_id}", tag = "privacy",
    params(("event_id" = String, Path, description = "The usage event's id")),
    responses((status = 200, description = "The kept prompt", body = PromptView),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound)))]
async fn read_prompt(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(event_id): Path<String>,
) -> Result<Json<PromptView>, ApiError> {
    Ok(Json(app.read_prompt(&caller, &event_id).await?))
}
