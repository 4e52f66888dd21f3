//! One pooled HTTP client per upstream, with its timeouts and credentials.

use axum::http::HeaderMap;
use bytes::Bytes;
use std::time::Duration;
use tokenwise_app::{AppError, Code};
use tokenwise_ledger::Status;
use tokenwise_policy::{Upstream, WireFormat};
use tokenwise_wire::ANTHROPIC_VERSION;
use tokenwise_wire::answer::error_detail;

#[derive(Debug)]
pub struct UpstreamClient {
    pub cfg: Upstream,
    api_key: Option<String>,
    client: reqwest::Client,
}

impl UpstreamClient {
    pub fn new(cfg: &Upstream) -> anyhow::Result<UpstreamClient> {
        let api_key = match &cfg.api_key_env {
            Some(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Some(v),
                _ => {
                    tracing::warn!(upstream = %cfg.id, variable = %var, "the upstream's API key variable is not set; calls go without credentials");
                    None
                }
            },
            None => None,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            // Between bytes: a stream that stalls this long is cut.
            .read_timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()?;
        Ok(UpstreamClient { cfg: cfg.clone(), api_key, client })
    }

    /// A POST to `path` under the upstream's base URL, with its credentials
    /// and the client headers this upstream is configured to receive.
    pub fn post(&self, path: &str, body: Bytes, client_headers: &HeaderMap, stream: bool) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .post(format!("{}{path}", self.cfg.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if !stream {
            req = req.timeout(self.cfg.timeout);
        }
        match self.cfg.format {
            WireFormat::Openai => {
                if let Some(k) = &self.api_key {
                    req = req.bearer_auth(k);
                }
            }
            WireFormat::Anthropic => {
                if let Some(k) = &self.api_key {
                    req = req.header("x-api-key", k);
                }
                // Anthropic's API refuses requests without a version; a
                // client's own is passed on.
                let version =
                    client_headers.get("anthropic-version").and_then(|v| v.to_str().ok()).unwrap_or(ANTHROPIC_VERSION);
                req = req.header("anthropic-version", version);
                if let Some(beta) = client_headers.get("anthropic-beta") {
                    req = req.header("anthropic-beta", beta.as_bytes());
                }
            }
        }
        for (name, value) in client_headers {
            if self.cfg.forwards(name.as_str()) {
                req = req.header(name.as_str(), value.as_bytes());
            }
        }
        req
    }
}

/// Maps a transport failure to the contract's error.
pub fn transport_error(e: &reqwest::Error, upstream: &str) -> AppError {
    if e.is_timeout() {
        AppError::new(Code::UpstreamTimeout, format!("upstream `{upstream}` did not answer in time"))
    } else if e.is_connect() {
        AppError::new(Code::UpstreamError, format!("cannot connect to upstream `{upstream}`"))
    } else if e.is_body() || e.is_decode() {
        AppError::new(Code::UpstreamError, format!("upstream `{upstream}` broke off its response"))
    } else {
        AppError::new(Code::UpstreamError, format!("upstream `{upstream}` failed: {e}"))
    }
}

/// How a call that failed with `err` ended, for its ledger row: the
/// status the error's code says (a timeout, a 429, else an error).
pub fn status_of(err: &AppError) -> Status {
    match err.code {
        Code::UpstreamTimeout => Status::UpstreamTimeout,
        Code::RateLimited => Status::UpstreamRateLimited,
        _ => Status::UpstreamError,
    }
}

/// How a call whose transport failed with `e` ended: a timeout, one that
/// never connected, or a connection that broke part-way (before or during
/// the answer).
pub fn transport_status(e: &reqwest::Error) -> Status {
    if e.is_timeout() {
        Status::UpstreamTimeout
    } else if e.is_connect() {
        Status::UpstreamError
    } else if e.is_body() || e.is_decode() || e.is_request() {
        Status::UpstreamCut
    } else {
        Status::UpstreamError
    }
}

/// The contract's error for an answer over the upstream's size limit.
pub fn too_large(upstream: &str, max_bytes: u64) -> AppError {
    let mib = max_bytes / (1024 * 1024);
    AppError::new(
        Code::UpstreamError,
        format!("upstream `{upstream}` sent an answer larger than its limit of {mib} MiB (`max_response_mb`)"),
    )
}

/// The contract's error for a body or stream chunk that is not JSON.
pub fn malformed(upstream: &str, what: &str) -> AppError {
    AppError::new(Code::UpstreamError, format!("upstream `{upstream}` sent {what} that is not valid JSON"))
}

/// Reads a whole body, stopping (and closing the connection) once it passes
/// `max` bytes.
pub async fn read_capped(mut resp: reqwest::Response, max: u64) -> Result<Bytes, Capped> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(Capped::TooLarge);
    }
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Transport)? {
        if (out.len() + chunk.len()) as u64 > max {
            return Err(Capped::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum Capped {
    Transport(reqwest::Error),
    TooLarge,
}

/// Maps a provider's error status to ours, keeping its message.
pub fn status_error(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    upstream: &str,
) -> AppError {
    let msg = format!("upstream `{upstream}` answered {}: {}", status.as_u16(), error_detail(body));
    let mut err = match status.as_u16() {
        429 => AppError::new(Code::RateLimited, msg),
        400..=499 => AppError::new(Code::InvalidRequest, msg),
        _ => AppError::new(Code::UpstreamError, msg),
    };
    if status.as_u16() == 429 {
        err.retry_after = headers.get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    }
    err
}
