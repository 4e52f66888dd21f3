//! The thin server of `tokenwise serve`: it starts the application, owns
//! the shared state, mounts the gateway (`/v1`) and the JSON API
//! (`/api/v1`, one route group per capability), runs the background jobs,
//! and drains and flushes on shutdown. What each route does lives in
//! `tokenwise-app` (and the gateway's steps in `tokenwise-gateway`).

pub mod api;
pub mod jobs;
pub mod listen;
pub mod metrics;
pub mod store;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;
use tokenwise_app::{App, AppError, Code};
use tokenwise_core::Clock;
use tokenwise_gateway::Gateway;
use tokenwise_ledger::Store;
use tokenwise_policy::Policy;

pub use tokenwise_gateway::install_crypto;

/// Every route: the gateway, the API and its OpenAPI document,
/// `/metrics`, `/healthz`, the dashboard at `/`; bodies
/// bounded by `server.max_request_bytes`; every request counted and timed.
pub fn router(app: Arc<App>, gateway: Gateway) -> Router {
    let limit = usize::try_from(app.policy.server.max_request_bytes).unwrap_or(usize::MAX);
    metrics::handle();
    let (api, doc) = api::routes().split_for_parts();
    Router::new()
        .merge(tokenwise_gateway::routes().with_state(gateway))
        .merge(api.with_state(app.clone()))
        .route("/api/openapi.json", get(openapi_json(&doc)))
        .route("/otlp/v1/traces", axum::routing::post(api::ingest::traces).with_state(app.clone()))
        .route("/metrics", get(metrics::render).with_state(app.clone()))
        .route("/healthz", get(healthz).with_state(app.clone()))
        .merge(tokenwise_dashboard::routes(app.clone()))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
}

/// The ledger's health: 200 when it can take usage, 503 when it cannot
/// (the store unreachable, or the writer's last batch failed for good).
async fn healthz(axum::extract::State(app): axum::extract::State<Arc<App>>) -> Response {
    let health = app.ledger_health().await;
    let status = if health.ok() { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(health)).into_response()
}

/// No route at this path: the contract's 404.
async fn not_found(method: Method, uri: Uri) -> Response {
    let path = uri.path().chars().take(200).collect::<String>();
    tokenwise_http::error_response(&AppError::not_found(format!("no route for {method} {path}")))
}

/// A route at this path, but not for this method: the contract's 405.
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let path = uri.path().chars().take(200).collect::<String>();
    let err = AppError::new(Code::MethodNotAllowed, format!("{method} is not allowed on {path}"));
    tokenwise_http::error_response(&err)
}

/// The document rendered once; served as is, without a key.
fn openapi_json(doc: &utoipa::openapi::OpenApi) -> impl Fn() -> std::future::Ready<Response> + Clone + use<> {
    let body = Bytes::from(serde_json::to_vec(doc).unwrap_or_default());
    move || std::future::ready(([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response())
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight
/// requests and flushes the ledger. `policy_text` is hashed into the audit
/// log so every decision can be traced to the policy in force.
pub async fn serve(
    policy: Policy,
    policy_text: &str,
    store: Arc<dyn Store>,
    clock: Clock,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    install_crypto();
    tokenwise_app::tokenize::warm_up();
    let (app, writers) = App::start(policy, policy_text, store, clock).await?;
    let gateway = Gateway::new(app.clone())?;
    // On a manual clock time moves only when told, and upkeep with it
    // (`POST /api/v1/admin/clock`), so what a test sees is deterministic.
    if app.clock.is_manual() {
        jobs::refresh_baselines(&app).await;
    } else {
        tokio::spawn(jobs::budgets(Arc::downgrade(&app)));
        tokio::spawn(jobs::task_baselines(Arc::downgrade(&app)));
        tokio::spawn(jobs::anomalies(Arc::downgrade(&app)));
        tokio::spawn(jobs::retention(Arc::downgrade(&app)));
        tokio::spawn(jobs::usage_digest(Arc::downgrade(&app)));
    }
    let routes = router(app.clone(), gateway.clone());
    listen::serve(listener, routes, listen::Limits::of(&app.policy.server), shutdown).await;
    // In-flight calls have finished; let the writers commit what is queued,
    // then give back what this replica reserved of the budgets.
    let (store, owner) = (app.store.clone(), app.budgets.owner.clone());
    drop((app, gateway));
    writers.flush().await?;
    if let Err(e) = store.budget_retire(&owner).await {
        tracing::warn!(error = %e, "could not give back this replica's budget allowances; they return when its lease ends");
    }
    Ok(())
}
