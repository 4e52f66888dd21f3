//! Usage recorded elsewhere: `POST /api/v1/events:batch` (JSON lines or a
//! JSON array of events or CloudEvents; `?format=litellm` for LiteLLM
//! spend-log rows, `?format=otlp-json` for an OTLP/JSON request) and
//! OTLP/HTTP at `POST /otlp/v1/traces` (protobuf or JSON, answered in the
//! same encoding with an `ExportTraceServiceResponse`). Both need an admin
//! or governance key (`tokenwise_app::access::may_ingest`).

use super::doc::{BadRequest, Forbidden, TooLarge, Unauthorized};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use std::io::Read;
use std::sync::Arc;
use tokenwise_app::ingest::IngestReport;
use tokenwise_app::{App, AppError, Code};
use tokenwise_http::{ApiError, Authed, Query, body_or_error};
use tokenwise_ingest::{Format, otlp};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// `events:batch`; OTLP/HTTP's `/otlp/v1/traces` is mounted beside the API
/// (by [`crate::router`]): it is OpenTelemetry's protocol, not ours.
pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(post_events_batch))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BatchQuery {
    /// `jsonl` (the default), `litellm` or `otlp-json`.
    format: Option<String>,
}

/// Usage recorded elsewhere: JSON lines or an array of events or CloudEvents, LiteLLM rows, or OTLP/JSON.
///
/// Each record is mapped to a person and use case by the policy's
/// `[[ingest.sources]]`, priced at its own time, and stored once (a resend
/// is a duplicate); bad records come back with their line and reason.
/// Admins and governance only.
#[utoipa::path(post, path = "/api/v1/events:batch", tag = "events", params(BatchQuery),
    request_body(content = String, description = "JSON lines, or a JSON array", content_type = "application/x-ndjson"),
    responses((status = 200, description = "What was stored, skipped and rejected", body = IngestReport),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 413, response = TooLarge)))]
async fn post_events_batch(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    Query(q): Query<BatchQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<IngestReport>, ApiError> {
    let body = body_or_error(body, app.policy.server.max_request_bytes)?;
    let format = match q.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => Format::Jsonl,
        "litellm" => Format::Litellm,
        "otlp-json" => Format::OtlpJson,
        other => {
            return Err(AppError::invalid(format!(
                "unknown format `{other}`: use jsonl, litellm or otlp-json (OTLP/protobuf goes to /otlp/v1/traces)"
            ))
            .into());
        }
    };
    Ok(axum::Json(app.ingest(&caller, format, body.to_vec(), "events:batch").await?))
}

/// The encoding of an OTLP/HTTP request, from its content type.
fn otlp_format(hs: &HeaderMap) -> Result<Format, AppError> {
    let ct = hs.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if ct.starts_with("application/x-protobuf") {
        Ok(Format::OtlpProto)
    } else if ct.starts_with("application/json") {
        Ok(Format::OtlpJson)
    } else {
        Err(AppError::invalid(format!("OTLP/HTTP takes application/x-protobuf or application/json, not `{ct}`")))
    }
}

/// The body as sent (`identity`) or gunzipped (`gzip`, the OpenTelemetry
/// Collector's default), never larger than `limit` once inflated.
fn inflate(hs: &HeaderMap, body: Bytes, limit: u64) -> Result<Vec<u8>, AppError> {
    let encoding = hs.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
    if encoding.eq_ignore_ascii_case("identity") {
        return Ok(body.to_vec());
    }
    if !encoding.eq_ignore_ascii_case("gzip") {
        return Err(AppError::invalid(format!("Content-Encoding `{encoding}` is not supported: send gzip or none")));
    }
    let mut out = Vec::new();
    let read = flate2::read::GzDecoder::new(body.as_ref()).take(limit.saturating_add(1)).read_to_end(&mut out);
    read.map_err(|e| AppError::invalid(format!("the gzip body cannot be read: {e}")))?;
    if out.len() as u64 > limit {
        return Err(AppError::new(
            Code::TooLarge,
            format!("the request body inflates to more than {limit} bytes (server.max_request_bytes)"),
        ));
    }
    Ok(out)
}

/// What the OTLP answer's message says: what was stored and skipped, and
/// the first rejections.
fn summary(r: &IngestReport) -> String {
    if r.rejected == 0 && r.ignored == 0 && r.duplicates == 0 {
        return String::new();
    }
    let mut s = format!(
        "tokenwise stored {} spans as usage; {} already stored; {} without GenAI usage ignored; {} rejected",
        r.stored, r.duplicates, r.ignored, r.rejected
    );
    for line in r.rejection_lines().iter().take(10) {
        s.push_str("; ");
        s.push_str(&line.replacen("line ", "span ", 1));
    }
    s
}

/// OTLP/HTTP traces (protobuf or JSON, gzip or not): GenAI spans become priced usage.
pub async fn traces(
    State(app): State<Arc<App>>,
    Authed(caller): Authed,
    hs: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body, app.policy.server.max_request_bytes)?;
    let format = otlp_format(&hs)?;
    let body = inflate(&hs, body, app.policy.server.max_request_bytes)?;
    let report = app.ingest(&caller, format, body, "otlp").await?;
    let message = summary(&report);
    Ok(match format {
        Format::OtlpProto => {
            let bytes = otlp::response_proto(report.rejected, &message);
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"))], bytes).into_response()
        }
        _ => axum::Json(otlp::response_json(report.rejected, &message)).into_response(),
    })
}
