//! `GET /api/v1/scores`, `GET /api/v1/scores/compare` and `GET /api/v1/leaderboard`.

use super::doc::{BadRequest, Forbidden, Unauthorized};
use axum::Json;
use axum::extract::State;
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::leaderboard::{Leaderboard, LeaderboardRequest};
use tokenwise_app::scores::{CompareRequest, ScoresRequest};
use tokenwise_http::{ApiError, Authed, Query};
use tokenwise_scoring::{Board, Comparison};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(get_scores)).routes(routes!(compare_scores)).routes(routes!(get_leaderboard))
}

/// The leaderboard of a period as the caller may see it.
///
/// People first, then teams; names, pseudonyms or nothing as the policy
/// says; why rows are missing, without saying whose.
#[utoipa::path(get, path = "/api/v1/leaderboard", tag = "scores", params(LeaderboardRequest),
    responses((status = 200, description = "The leaderboard", body = Leaderboard),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn get_leaderboard(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<LeaderboardRequest>,
) -> Result<Json<Leaderboard>, ApiError> {
    Ok(Json(app.leaderboard(&caller, q).await?))
}

/// Scores of a period under a reward model, best first, with breakdowns.
#[utoipa::path(get, path = "/api/v1/scores", tag = "scores", params(ScoresRequest),
    responses((status = 200, description = "The score board", body = Board),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn get_scores(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<ScoresRequest>,
) -> Result<Json<Board>, ApiError> {
    Ok(Json(app.scores(&caller, q).await?))
}

/// One period under every reward model side by side (governance).
#[utoipa::path(get, path = "/api/v1/scores/compare", tag = "scores", params(CompareRequest),
    responses((status = 200, description = "Ranks, shifts and correlations", body = Comparison),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden)))]
async fn compare_scores(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<CompareRequest>,
) -> Result<Json<Comparison>, ApiError> {
    Ok(Json(app.compare(&caller, q).await?))
}
