//! `GET /api/v1/scores`, `GET /api/v1/scores/compare` and `GET /api/v1/leaderboard`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tokenwise_app::App;
use tokenwise_app::leaderboard::{Leaderboard, LeaderboardRequest};
use tokenwise_app::scores::{CompareRequest, ScoresRequest};
use tokenwise_http::{ApiError, Authed, Query};
use tokenwise_scoring::{Board, Comparison};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/scores", get(scores))
        .route("/api/v1/scores/compare", get(compare))
        .route("/api/v1/leaderboard", get(leaderboard))
}

async fn leaderboard(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<LeaderboardRequest>,
) -> Result<Json<Leaderboard>, ApiError> {
    Ok(Json(app.leaderboard(&caller, q).await?))
}

async fn scores(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<ScoresRequest>,
) -> Result<Json<Board>, ApiError> {
    Ok(Json(app.scores(&caller, q).await?))
}

async fn compare(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<CompareRequest>,
) -> Result<Json<Comparison>, ApiError> {
    Ok(Json(app.compare(&caller, q).await?))
}
