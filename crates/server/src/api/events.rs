//! `GET /api/v1/events`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::events::{EventsPage, EventsRequest};
use tokenwise_http::{ApiError, Authed, Query};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/v1/events", get(list))
}

async fn list(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<EventsRequest>,
) -> Result<Json<EventsPage>, ApiError> {
    Ok(Json(app.events(&caller, q).await?))
}
