//! A pilot's feedback question: answer it (`POST /api/v1/feedback`, the
//! cohort only, once a week per subject), read the answers
//! (`GET /api/v1/feedback`: one's own; governance and admins everyone's,
//! with comments), and a pilot's counts (`GET /api/v1/pilots/{id}/feedback`:
//! governance, and the cohort's managers when the cohort is large enough).

use super::doc::{AlreadyAnswered, BadRequest, Conflict, Forbidden, NotFound, NotInCohort, Unauthorized};
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::feedback::{FeedbackAnswer, FeedbackCounts, FeedbackView};
use tokenwise_http::{ApiError, Authed, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(give_feedback, list_feedback)).routes(routes!(feedback_counts))
}

/// `GET /api/v1/feedback?pilot=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedbackFilter {
    /// A pilot's id.
    pub pilot: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedbackList {
    pub feedback: Vec<FeedbackView>,
}

/// Answer a pilot's question: motivating, confusing or unfair — about the score, leaderboard, a nudge or a budget.
#[utoipa::path(post, path = "/api/v1/feedback", tag = "feedback", request_body = FeedbackAnswer,
    responses((status = 200, description = "The answer as kept", body = FeedbackView),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = NotInCohort), (status = 404, response = NotFound),
        (status = 409, response = AlreadyAnswered)))]
async fn give_feedback(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    tokenwise_http::Json(a): tokenwise_http::Json<FeedbackAnswer>,
) -> Result<Json<FeedbackView>, ApiError> {
    Ok(Json(app.give_feedback(&caller, a).await?))
}

/// Answers given, oldest first: one's own, or everyone's (with comments) for governance and admins.
#[utoipa::path(get, path = "/api/v1/feedback", tag = "feedback", params(FeedbackFilter),
    responses((status = 200, description = "The answers", body = FeedbackList),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized)))]
async fn list_feedback(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(f): Query<FeedbackFilter>,
) -> Result<Json<FeedbackList>, ApiError> {
    Ok(Json(FeedbackList { feedback: app.feedback_given(&caller, f.pilot.as_deref()).await? }))
}

/// A pilot's answers counted per week and subject: governance, and the cohort's managers when it is at least `min_group_size` people.
#[utoipa::path(get, path = "/api/v1/pilots/{id}/feedback", tag = "feedback",
    params(("id" = String, Path, description = "The pilot")),
    responses((status = 200, description = "The counts", body = FeedbackCounts),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict)))]
async fn feedback_counts(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Json<FeedbackCounts>, ApiError> {
    Ok(Json(app.feedback_counts(&caller, &id).await?))
}
