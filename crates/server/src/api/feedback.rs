//! The scorecard's feedback question: answer it for one's own scorecard
//! (`POST /api/v1/feedback`, what the dashboard's one-click buttons do)
//! and read the answers (`GET /api/v1/feedback`: one's own; governance
//! and admins everyone's, for pilots).

use super::doc::{BadRequest, Unauthorized};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::feedback::{FeedbackAnswer, FeedbackView};
use tokenwise_http::{ApiError, Authed, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(give_feedback, list_feedback))
}

/// `GET /api/v1/feedback?period=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedbackFilter {
    /// `YYYY-MM`.
    pub period: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackList {
    pub feedback: Vec<FeedbackView>,
}

/// Say whether one's scorecard is motivating, confusing or unfair.
#[utoipa::path(post, path = "/api/v1/feedback", tag = "feedback", request_body = FeedbackAnswer,
    responses((status = 200, description = "The answer as kept", body = FeedbackView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized)))]
async fn give_feedback(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(a): tokenwise_http::Json<FeedbackAnswer>,
) -> Result<Json<FeedbackView>, ApiError> {
    Ok(Json(app.give_feedback(&caller, a).await?))
}

/// Answers given, oldest first: one's own, or everyone's for governance and admins.
#[utoipa::path(get, path = "/api/v1/feedback", tag = "feedback", params(FeedbackFilter),
    responses((status = 200, description = "The answers", body = FeedbackList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized)))]
async fn list_feedback(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<FeedbackFilter>,
) -> Result<Json<FeedbackList>, ApiError> {
    Ok(Json(FeedbackList { feedback: app.feedback_given(&caller, f.period.as_deref()).await? }))
}
