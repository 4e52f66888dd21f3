//! `GET /metrics` in Prometheus's text format, and the HTTP layer that
//! times every request. The recorder is process-wide (the `metrics` facade
//! has one), installed the first time a server starts.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokenwise_app::App;

/// Latency buckets in seconds: the gateway's own overhead is well under a
/// millisecond, a model's answer can take minutes.
const BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed once; `None` if another recorder was
/// installed first (then `/metrics` says so rather than lying).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .map(PrometheusBuilder::build_recorder);
            match built {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    metrics::set_global_recorder(recorder).ok().map(|()| handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot build the metrics recorder");
                    None
                }
            }
        })
        .as_ref()
}

pub async fn render(State(app): State<Arc<App>>) -> Response {
    let Some(handle) = handle() else {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "metrics recorder unavailable\n").into_response();
    };
    app.observe_budgets().await;
    let mut r = handle.render().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}

/// Counts and times every HTTP request by its route's pattern (never the
/// raw path, whose ids would make a series each). A stream's time is to
/// its response headers; the call's full duration is
/// `tokenwise_call_duration_seconds`.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("tokenwise_http_requests_total", &labels).increment(1);
    metrics::histogram!("tokenwise_http_request_duration_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}
