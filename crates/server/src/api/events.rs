//! `GET /api/v1/events`.

use super::doc::{BadRequest, Forbidden, Unauthorized};
use axum::Json;
use axum::extract::State;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::events::{EventsPage, EventsRequest};
use tokenwise_http::{ApiError, Authed, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// Usage events the caller may see, newest first.
///
/// A member sees their own, a manager their team's, finance and admins all.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsRequest),
    responses((status = 200, description = "The events", body = EventsPage),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn list_events(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<EventsRequest>,
) -> Result<Json<EventsPage>, ApiError> {
    Ok(Json(app.events(&caller, q).await?))
}
