//! A model provider that runs on loopback: OpenAI `/v1/chat/completions`
//! and `/v1/responses` (JSON and SSE), `/v1/embeddings`, `/v1/models`, and Anthropic
//! `/v1/messages` (JSON and SSE) and its token count, all on one port.
//!
//! Deterministic: the reply and its token counts follow from the request.
//! - prompt tokens: 4 bytes a token of every text the request carries (as
//!   `tokenwise_wire::walk` reads it: tool results, documents, tools…) plus
//!   3 per message (or Responses input item), as chat formats add; content it cannot read is a 400;
//! - the reply is words from a fixed list, one token each, its length
//!   derived from a hash of the model and prompt and capped by `max_tokens`;
//!   a last user message starting `echo: ` is echoed back instead, and
//!   with `x-mock-echo: request` the whole request body as received (so a
//!   test sees exactly what a gateway forwarded); on `/v1/messages`,
//!   `x-mock-echo: query` echoes the URL's query string and
//!   `x-mock-echo: header:NAME` that request header;
//! - `/v1/messages/count_tokens` answers `{"input_tokens": N}`, N the
//!   prompt tokens the same request to `/v1/messages` is counted at (all
//!   of them: a count reports no cache reads or writes); any `x-mock-echo`
//!   reply comes back in its `echo` field;
//! - a prompt prefix (every message but the last, the system prompt and
//!   tools, the instructions) seen before is reported as cached (OpenAI `cached_tokens`, Anthropic
//!   `cache_read_input_tokens`; with `cache_control`, the first sight is
//!   reported as `cache_creation_input_tokens`);
//! - reasoning models (`o1`, `o3-mini`, `o4-mini`, names with `reason`)
//!   spend as many hidden reasoning tokens as visible ones.
//!
//! - `x-mock-tool-call: NAME {"arg": …}` makes the model call tool NAME
//!   (when the request offers it and carries no tool result yet), so a real
//!   agent runs its whole tool loop (see [`tools`]).
//!
//! Latency and faults are chosen per request by headers (defaults from the
//! command line): `x-mock-ttft-ms`, `x-mock-token-ms`, and `x-mock-fault`:
//! `status-500`, `status-429` (with `retry-after`), `hang`, `reset` (cut
//! the connection after `x-mock-fault-after` chunks, default 3), `stall`
//! (a stream that stops sending after that many chunks, connection open),
//! `end` (a stream that ends cleanly after that many chunks, without its
//! final frame),
//! `malformed` (an unparseable body or chunk), `oversized` (a JSON body, or
//! a stream chunk after `x-mock-fault-after` chunks, of
//! `x-mock-fault-bytes` bytes, default 80 MiB) and `no-usage` (a stream that
//! never reports usage).
//!
//! Requests carrying `x-mock-tag: T` are counted; `GET /mock/hits/T`
//! answers `{"hits": N}` (so a test sees whether a call was retried).
//! `x-mock-chunk-bytes: N` streams the reply in N-byte pieces instead of
//! words.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokenwise_wire::Api;
use tokio::sync::mpsc;
use tools::ToolCall;

mod tools;

const WORDS: &[&str] = &[
    "the", "plan", "is", "to", "ship", "a", "small", "fix", "then", "test", "it", "and", "write", "notes", "for",
    "team", "on", "next", "step", "data", "shows", "cost", "per", "task", "fell", "by", "half", "so", "we", "keep",
    "going", "with", "care",
];
const DEFAULT_MAX_REPLY: u64 = 64;

/// Defaults for every request; headers override them per request.
#[derive(Debug, Clone)]
pub struct MockConfig {
    pub ttft: Duration,
    pub token_delay: Duration,
    /// A prefix shorter than this is never cached (providers have minimums).
    pub cache_min_tokens: u64,
}

impl Default for MockConfig {
    fn default() -> MockConfig {
        MockConfig { ttft: Duration::ZERO, token_delay: Duration::ZERO, cache_min_tokens: 32 }
    }
}

#[derive(Clone)]
struct Mock {
    cfg: MockConfig,
    seen_prefixes: Arc<Mutex<HashSet<u64>>>,
    /// Requests seen per `x-mock-tag`.
    hits: Arc<Mutex<HashMap<String, u64>>>,
}

pub fn router(cfg: MockConfig) -> Router {
    let state = Mock { cfg, seen_prefixes: Arc::new(Mutex::new(HashSet::new())), hits: Arc::default() };
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/responses", post(responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_messages))
        .route("/healthz", get(|| async { "ok" }))
        .route("/mock/hits/{tag}", get(hits))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_hit))
        .with_state(state)
}

/// Counts a request under its `x-mock-tag`, if it has one.
async fn count_hit(State(m): State<Mock>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if let Some(tag) = req.headers().get("x-mock-tag").and_then(|v| v.to_str().ok()) {
        let mut hits = m.hits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *hits.entry(tag.to_string()).or_default() += 1;
    }
    next.run(req).await
}

async fn hits(State(m): State<Mock>, axum::extract::Path(tag): axum::extract::Path<String>) -> Response {
    let n = m.hits.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&tag).copied().unwrap_or(0);
    json_response(&json!({"hits": n}))
}

/// Serves until the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, cfg: MockConfig) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Streams are many small writes: without TCP_NODELAY each waits on the
    // peer's delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(cfg)).await
}

/// Mock token count of a text: 4 bytes a token.
pub fn count_tokens(text: &str) -> u64 {
    if text.is_empty() { 0 } else { (text.len() as u64).div_ceil(4) }
}

const PER_MESSAGE: u64 = 3;

struct Plan {
    ttft: Duration,
    token_delay: Duration,
    fault: Option<String>,
    fault_after: usize,
    /// The size of an `oversized` body or chunk.
    fault_bytes: usize,
    /// What `x-mock-echo` asks to have sent back (see [`echoed`]).
    echo: Option<String>,
    /// `x-mock-chunk-bytes: N`: the reply streamed in pieces of N bytes
    /// (cut at character boundaries) rather than a word at a time, so a
    /// test can split a word — a secret echoed back — across chunks.
    chunk_bytes: Option<usize>,
}

impl Plan {
    /// A reply that is not streamed arrives whole after the time to first token.
    async fn wait_first_token(&self) {
        if !self.ttft.is_zero() {
            tokio::time::sleep(self.ttft).await;
        }
    }
}

fn plan(cfg: &MockConfig, h: &HeaderMap) -> Plan {
    let ms = |name: &str, default: Duration| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(default, Duration::from_millis)
    };
    Plan {
        ttft: ms("x-mock-ttft-ms", cfg.ttft),
        token_delay: ms("x-mock-token-ms", cfg.token_delay),
        fault: h.get("x-mock-fault").and_then(|v| v.to_str().ok()).map(str::to_string),
        fault_after: h
            .get("x-mock-fault-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(3),
        fault_bytes: h
            .get("x-mock-fault-bytes")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(80 << 20),
        echo: h.get("x-mock-echo").and_then(|v| v.to_str().ok()).map(str::to_string),
        chunk_bytes: h
            .get("x-mock-chunk-bytes")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0),
    }
}

/// `text` in pieces of at most `n` bytes (at least one character each).
pub(crate) fn pieces(text: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = n.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head.to_string());
        rest = tail;
    }
    out
}

impl Reply {
    /// Re-cut into `x-mock-chunk-bytes` pieces when the plan asks for it.
    fn chunked(mut self, p: &Plan) -> Reply {
        if let Some(n) = p.chunk_bytes {
            self.words = pieces(&self.text(), n);
        }
        self
    }
}

/// What `x-mock-echo` asks for: `request`, the body as received; `query`,
/// the URL's query string (where the endpoint reads it); `header:NAME`,
/// that request header's value. Asked for and absent, it is `(none)`.
fn echoed(p: &Plan, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Option<String> {
    let asked = p.echo.as_deref()?;
    let got = match asked {
        "request" => Some(String::from_utf8_lossy(body).into_owned()),
        "query" => query.map(str::to_string),
        _ => {
            let name = asked.strip_prefix("header:")?;
            headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        }
    };
    Some(got.unwrap_or_else(|| "(none)".to_string()))
}

fn hash_of(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

fn is_reasoning(model: &str) -> bool {
    let b = model.as_bytes();
    (b.len() >= 2 && b[0] == b'o' && b[1].is_ascii_digit()) || model.contains("reason")
}

/// What the model "says" and what it costs in tokens.
struct Reply {
    words: Vec<String>,
    prompt_tokens: u64,
    cached: u64,
    cache_created: u64,
    reasoning: u64,
    truncated: bool,
    /// A tool the model calls instead of answering in text.
    tool: Option<ToolCall>,
}

impl Reply {
    fn text(&self) -> String {
        self.words.concat()
    }

    fn completion_tokens(&self) -> u64 {
        self.words.len() as u64 + self.reasoning + self.tool.as_ref().map_or(0, ToolCall::tokens)
    }
}

/// What a reply follows from.
#[derive(Clone, Copy)]
struct Ask<'a> {
    model: &'a str,
    /// The cacheable part of the prompt and the final user turn.
    prefix: &'a str,
    last: &'a str,
    messages: u64,
    max_tokens: Option<u64>,
    mark_cache: bool,
    /// Text to send back word for word instead of a made-up reply.
    echo: Option<&'a str>,
    /// A tool to call instead of answering.
    tool: Option<&'a ToolCall>,
}

impl Mock {
    fn reply(&self, ask: &Ask<'_>) -> Reply {
        let Ask { model, prefix, last, messages, max_tokens, mark_cache, echo, tool } = *ask;
        let prefix_tokens = count_tokens(prefix);
        let prompt_tokens = prefix_tokens + count_tokens(last) + PER_MESSAGE * messages.max(1);
        let (mut cached, mut cache_created) = (0, 0);
        if prefix_tokens >= self.cfg.cache_min_tokens {
            let key = hash_of(&[model, prefix]);
            let mut seen = self.seen_prefixes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if seen.contains(&key) {
                cached = prefix_tokens;
            } else {
                seen.insert(key);
                if mark_cache {
                    cache_created = prefix_tokens;
                }
            }
        }
        let cap = max_tokens.unwrap_or(u64::MAX);
        let mut words: Vec<String> = match echo.or_else(|| last.strip_prefix("echo: ")) {
            _ if tool.is_some() => Vec::new(),
            Some(echo) => echo.split_inclusive(' ').map(str::to_string).collect(),
            None => {
                let seed = hash_of(&[model, prefix, last]);
                let n = 8 + seed % (DEFAULT_MAX_REPLY - 8);
                (0..n)
                    .map(|i| {
                        let w = WORDS[((seed >> (i % 48)) as usize + i as usize * 7) % WORDS.len()];
                        format!("{w} ")
                    })
                    .collect()
            }
        };
        let truncated = words.len() as u64 > cap;
        words.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
        let reasoning = if is_reasoning(model) { words.len() as u64 } else { 0 };
        Reply { words, prompt_tokens, cached, cache_created, reasoning, truncated, tool: tool.cloned() }
    }
}

/// The prompt as the part a provider can cache (what is outside the
/// messages — the system prompt, tools — and every message but the last)
/// and the last message. Every text the request carries counts, as the
/// gateway's walker reads them; an unreadable request is refused.
fn split_prompt(api: Api, req: &Value, messages: usize) -> Result<(String, String), String> {
    let prompt = tokenwise_wire::walk(api, req).map_err(|e| e.to_string())?;
    let mut outside: Vec<&str> = Vec::new();
    let mut texts: Vec<Vec<&str>> = vec![Vec::new(); messages];
    for slot in &prompt.slots {
        match slot.message().and_then(|i| texts.get_mut(i)) {
            Some(message) => message.push(&slot.text),
            None => outside.push(&slot.text),
        }
    }
    let texts: Vec<String> = texts.iter().map(|t| t.join(" ")).collect();
    let outside = outside.join(" ");
    Ok(match texts.split_last() {
        Some((last, rest)) => (outside + &rest.concat(), last.clone()),
        None => (outside, String::new()),
    })
}

/// An error in the provider's own shape (OpenAI's or Anthropic's).
fn error(status: StatusCode, kind: &str, message: &str, anthropic: bool) -> Response {
    let body = if anthropic {
        json!({"type": "error", "error": {"type": kind, "message": message}})
    } else {
        json!({"error": {"type": kind, "code": null, "message": message, "param": null}})
    };
    (status, axum::Json(body)).into_response()
}

fn bad_request(message: &str, anthropic: bool) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message, anthropic)
}

/// Faults that happen before any reply: status codes, hangs, resets.
async fn early_fault(p: &Plan, anthropic: bool, streaming: bool) -> Option<Response> {
    let fault = p.fault.as_deref()?;
    let err = |status, kind, msg| error(status, kind, msg, anthropic);
    match fault {
        "status-500" => Some(err(StatusCode::INTERNAL_SERVER_ERROR, "api_error", "mock: internal error")),
        "status-429" => {
            let mut r = err(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", "mock: slow down");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            Some(r)
        }
        "hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            None
        }
        "reset" if !streaming => Some(Response::new(Body::from_stream(futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "mock reset"))
        })))),
        "oversized" if !streaming => Some(oversized_body(p.fault_bytes)),
        "malformed" if !streaming => Some(
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"id\": \"broken\", \"choices\": [")
                .into_response(),
        ),
        _ => None,
    }
}

/// A JSON body of about `size` bytes, sent in 64 KiB pieces with no
/// length announced (so the reader finds out as it reads).
fn oversized_body(size: usize) -> Response {
    const PIECE: usize = 64 * 1024;
    let pieces = size.div_ceil(PIECE);
    let head = futures_util::stream::once(async { Ok::<Bytes, std::io::Error>(Bytes::from_static(b"{\"pad\": \"")) });
    let pad = futures_util::stream::iter((0..pieces).map(|_| Ok(Bytes::from(vec![b'x'; PIECE]))));
    let tail = futures_util::stream::once(async { Ok(Bytes::from_static(b"\"}")) });
    use futures_util::StreamExt;
    let body = Body::from_stream(head.chain(pad).chain(tail));
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One SSE frame of about `size` bytes.
fn oversized_frame(size: usize) -> String {
    format!("data: {{\"pad\": \"{}\"}}\n\n", "x".repeat(size))
}

/// Sends SSE frames with the planned delays; `reset` ends the body with an
/// I/O error after `fault_after` frames, which cuts the connection; `stall`
/// stops sending there (for an hour), `end` ends the body there cleanly
/// (no final frame), `oversized` sends a huge frame there.
fn sse(frames: Vec<String>, p: &Plan) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let (ttft, delay) = (p.ttft, p.token_delay);
    let at = |fault: &str| (p.fault.as_deref() == Some(fault)).then_some(p.fault_after);
    let (cut_after, stall_after, end_after) = (at("reset"), at("stall"), at("end"));
    let huge = at("oversized").map(|i| (i, p.fault_bytes));
    tokio::spawn(async move {
        if !ttft.is_zero() {
            tokio::time::sleep(ttft).await;
        }
        for (i, frame) in frames.into_iter().enumerate() {
            if cut_after == Some(i) {
                // Let the frames already sent reach the wire, then cut.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx.send(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "mock reset"))).await;
                return;
            }
            if end_after == Some(i) {
                // The body ends cleanly, its last frames never sent.
                return;
            }
            if stall_after == Some(i) {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            if let Some((_, size)) = huge.filter(|(at, _)| *at == i)
                && tx.send(Ok(Bytes::from(oversized_frame(size)))).await.is_err()
            {
                return;
            }
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx.send(Ok(Bytes::from(frame))).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn json_response(body: &Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn chat(State(m): State<Mock>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON", false);
    };
    let Some(model) = req.get("model").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("`model` is required", false);
    };
    let Some(msgs) = req.get("messages").and_then(Value::as_array) else {
        return bad_request("`messages` is required", false);
    };
    let streaming = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let p = plan(&m.cfg, &headers);
    if let Some(r) = early_fault(&p, false, streaming).await {
        return r;
    }
    let (prefix, last) = match split_prompt(Api::OpenAiChat, &req, msgs.len()) {
        Ok(split) => split,
        Err(e) => return bad_request(&e, false),
    };
    let max = req.get("max_completion_tokens").or_else(|| req.get("max_tokens")).and_then(Value::as_u64);
    let echo = echoed(&p, &headers, None, &body);
    let tool = match tools::due(Api::OpenAiChat, &headers, &req) {
        Ok(tool) => tool,
        Err(e) => return bad_request(&e, false),
    };
    let r = m
        .reply(&Ask {
            model: &model,
            prefix: &prefix,
            last: &last,
            messages: msgs.len() as u64,
            max_tokens: max,
            mark_cache: false,
            echo: echo.as_deref(),
            tool: tool.as_ref(),
        })
        .chunked(&p);
    let id = format!("chatcmpl-{:016x}", hash_of(&[&model, &prefix, &last]));
    let usage = json!({
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens(),
        "total_tokens": r.prompt_tokens + r.completion_tokens(),
        "prompt_tokens_details": {"cached_tokens": r.cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": r.reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    });
    let finish = match (&r.tool, r.truncated) {
        (Some(_), _) => "tool_calls",
        (None, true) => "length",
        (None, false) => "stop",
    };
    let created = 1_767_225_600; // fixed: replies are deterministic
    if !streaming {
        let message = r
            .tool
            .as_ref()
            .map_or_else(|| json!({"role": "assistant", "content": r.text(), "refusal": null}), tools::chat_message);
        p.wait_first_token().await;
        return json_response(&json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": usage, "system_fingerprint": "fp_mock"
        }));
    }
    let include_usage = req.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false)
        && p.fault.as_deref() != Some("no-usage");
    let head = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                      "system_fingerprint": "fp_mock"});
    sse(chat_frames(&p, &r, &head, include_usage.then_some(&usage), finish), &p)
}

/// The chunks of a streamed chat completion, each `head` plus its choices;
/// with `usage`, every chunk carries the field and a last one its value.
fn chat_frames(p: &Plan, r: &Reply, head: &Value, usage: Option<&Value>, finish: &str) -> Vec<String> {
    let chunk = |choices: Value, last: bool| {
        let mut c = head.clone();
        c["choices"] = choices;
        if let Some(usage) = usage {
            c["usage"] = if last { usage.clone() } else { Value::Null };
        }
        format!("data: {c}\n\n")
    };
    let delta = |d: Value| json!([{"index": 0, "delta": d, "finish_reason": null}]);
    let mut frames = match &r.tool {
        Some(call) => tools::chat_deltas(call).into_iter().map(|d| chunk(delta(d), false)).collect(),
        None => vec![chunk(delta(json!({"role": "assistant", "content": ""})), false)],
    };
    for w in &r.words {
        frames.push(chunk(delta(json!({"content": w})), false));
    }
    if p.fault.as_deref() == Some("malformed") {
        frames.push("data: {\"choices\": [{\"delta\": \n\n".to_string());
    }
    frames.push(chunk(json!([{"index": 0, "delta": {}, "finish_reason": finish}]), false));
    if usage.is_some() {
        frames.push(chunk(json!([]), true));
    }
    frames.push("data: [DONE]\n\n".to_string());
    frames
}

async fn responses(State(m): State<Mock>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(mut req) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON", false);
    };
    let Some(model) = req.get("model").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("`model` is required", false);
    };
    // A string input is one user message.
    if let Some(text) = req.get("input").and_then(Value::as_str) {
        req["input"] = json!([{"role": "user", "content": text}]);
    }
    let Some(items) = req.get("input").and_then(Value::as_array).map(Vec::len) else {
        return bad_request("`input` is required", false);
    };
    let streaming = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let p = plan(&m.cfg, &headers);
    if let Some(r) = early_fault(&p, false, streaming).await {
        return r;
    }
    let (prefix, last) = match split_prompt(Api::OpenAiResponses, &req, items) {
        Ok(split) => split,
        Err(e) => return bad_request(&e, false),
    };
    let echo = echoed(&p, &headers, None, &body);
    let tool = match tools::due(Api::OpenAiResponses, &headers, &req) {
        Ok(tool) => tool,
        Err(e) => return bad_request(&e, false),
    };
    let r = m
        .reply(&Ask {
            model: &model,
            prefix: &prefix,
            last: &last,
            messages: items as u64,
            max_tokens: req.get("max_output_tokens").and_then(Value::as_u64),
            mark_cache: false,
            echo: echo.as_deref(),
            tool: tool.as_ref(),
        })
        .chunked(&p);
    let id = format!("{:016x}", hash_of(&[&model, &prefix, &last]));
    let item = r.tool.as_ref().map_or_else(
        || {
            json!({"type": "message", "id": format!("msg_{id}"), "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": r.text(), "annotations": []}]})
        },
        tools::responses_item,
    );
    let mut response = json!({
        "id": format!("resp_{id}"), "object": "response", "created_at": 1_767_225_600, "model": model,
        "status": if r.truncated { "incomplete" } else { "completed" },
        "incomplete_details": if r.truncated { json!({"reason": "max_output_tokens"}) } else { Value::Null },
        "error": null, "instructions": req.get("instructions").cloned().unwrap_or(Value::Null),
        "max_output_tokens": req.get("max_output_tokens").cloned().unwrap_or(Value::Null),
        "previous_response_id": req.get("previous_response_id").cloned().unwrap_or(Value::Null),
        "store": req.get("store").cloned().unwrap_or(Value::Bool(true)),
        "metadata": {}, "parallel_tool_calls": true, "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto",
        "tools": [], "text": {"format": {"type": "text"}}, "truncation": "disabled",
        "output": [item],
        "usage": {
            "input_tokens": r.prompt_tokens, "input_tokens_details": {"cached_tokens": r.cached},
            "output_tokens": r.completion_tokens(), "output_tokens_details": {"reasoning_tokens": r.reasoning},
            "total_tokens": r.prompt_tokens + r.completion_tokens()
        }
    });
    if !streaming {
        p.wait_first_token().await;
        return json_response(&response);
    }
    if p.fault.as_deref() == Some("no-usage") {
        response["usage"] = Value::Null;
    }
    sse(response_frames(&p, &response, &r), &p)
}

/// The SSE events of a streamed response, in the order the API sends
/// them; the last, `response.completed`, carries the usage.
fn response_frames(p: &Plan, response: &Value, r: &Reply) -> Vec<String> {
    let mut seq = 0u64;
    let mut ev = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq);
        seq += 1;
        format!("event: {name}\ndata: {data}\n\n")
    };
    let mut started = response.clone();
    started["status"] = json!("in_progress");
    started["output"] = json!([]);
    started["usage"] = Value::Null;
    let item = &response["output"][0];
    let item_id = item["id"].clone();
    let mut open = item.clone();
    open["status"] = json!("in_progress");
    let mut frames = vec![
        ev("response.created", json!({"response": started.clone()})),
        ev("response.in_progress", json!({"response": started})),
    ];
    if let Some(call) = &r.tool {
        open["arguments"] = json!("");
        frames.push(ev("response.output_item.added", json!({"output_index": 0, "item": open})));
        frames.extend(tools::responses_events(call).into_iter().map(|(name, data)| ev(name, data)));
        frames.push(ev("response.output_item.done", json!({"output_index": 0, "item": item.clone()})));
        frames.push(ev("response.completed", json!({"response": response.clone()})));
        return frames;
    }
    open["content"] = json!([]);
    let empty = json!({"type": "output_text", "text": "", "annotations": []});
    let at = json!({"item_id": item_id, "output_index": 0, "content_index": 0});
    let with = |extra: Value| {
        let mut v = at.clone();
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    };
    frames.push(ev("response.output_item.added", json!({"output_index": 0, "item": open})));
    frames.push(ev("response.content_part.added", with(json!({"part": empty}))));
    for w in &r.words {
        frames.push(ev("response.output_text.delta", with(json!({"delta": w, "logprobs": []}))));
    }
    if p.fault.as_deref() == Some("malformed") {
        frames.push("event: response.output_text.delta\ndata: {\"type\": \n\n".to_string());
    }
    frames.push(ev("response.output_text.done", with(json!({"text": r.text(), "logprobs": []}))));
    frames.push(ev("response.content_part.done", with(json!({"part": item["content"][0].clone()}))));
    frames.push(ev("response.output_item.done", json!({"output_index": 0, "item": item.clone()})));
    let last = if r.truncated { "response.incomplete" } else { "response.completed" };
    frames.push(ev(last, json!({"response": response.clone()})));
    frames
}

async fn embeddings(State(m): State<Mock>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON", false);
    };
    let Some(model) = req.get("model").and_then(Value::as_str) else {
        return bad_request("`model` is required", false);
    };
    let p = plan(&m.cfg, &headers);
    if let Some(r) = early_fault(&p, false, false).await {
        return r;
    }
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                // Token arrays: count each token id as 4 bytes of text.
                Value::Array(ids) => "xxxx".repeat(ids.len()),
                other => other.to_string(),
            })
            .collect(),
        _ => return bad_request("`input` is required", false),
    };
    let dims = req.get("dimensions").and_then(Value::as_u64).unwrap_or(8).clamp(1, 4096) as usize;
    let base64 = req.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let seed = hash_of(&[model, text]);
            let v: Vec<f32> =
                (0..dims).map(|d| ((seed.rotate_left(d as u32 % 64) % 2000) as f32 / 1000.0) - 1.0).collect();
            let embedding = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|t| count_tokens(t)).sum();
    p.wait_first_token().await;
    json_response(&json!({"object": "list", "data": data, "model": model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
}

async fn models() -> Response {
    let ids = [
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o4-mini",
        "text-embedding-3-small",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
    ];
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_767_225_600, "owned_by": "mock"}))
        .collect();
    json_response(&json!({"object": "list", "data": data}))
}

async fn messages(State(m): State<Mock>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON", true);
    };
    let Some(model) = req.get("model").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("model: Field required", true);
    };
    let Some(max_tokens) = req.get("max_tokens").and_then(Value::as_u64) else {
        return bad_request("max_tokens: Field required", true);
    };
    let Some(msgs) = req.get("messages").and_then(Value::as_array) else {
        return bad_request("messages: Field required", true);
    };
    let streaming = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let p = plan(&m.cfg, &headers);
    if let Some(r) = early_fault(&p, true, streaming).await {
        return r;
    }
    let (prefix, last) = match split_prompt(Api::AnthropicMessages, &req, msgs.len()) {
        Ok(split) => split,
        Err(e) => return bad_request(&e, true),
    };
    let marks_cache = body.windows(b"cache_control".len()).any(|w| w == b"cache_control");
    let echo = echoed(&p, &headers, query.as_deref(), &body);
    let tool = match tools::due(Api::AnthropicMessages, &headers, &req) {
        Ok(tool) => tool,
        Err(e) => return bad_request(&e, true),
    };
    let r = m
        .reply(&Ask {
            model: &model,
            prefix: &prefix,
            last: &last,
            messages: msgs.len() as u64,
            max_tokens: Some(max_tokens),
            mark_cache: marks_cache,
            echo: echo.as_deref(),
            tool: tool.as_ref(),
        })
        .chunked(&p);
    let id = format!("msg_{:016x}", hash_of(&[&model, &prefix, &last]));
    // Anthropic counts cache reads and writes apart from `input_tokens`.
    let input = r.prompt_tokens - r.cached - r.cache_created;
    let stop = match (&r.tool, r.truncated) {
        (Some(_), _) => "tool_use",
        (None, true) => "max_tokens",
        (None, false) => "end_turn",
    };
    if !streaming {
        p.wait_first_token().await;
        return json_response(&json!({
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [r.tool.as_ref().map_or_else(|| json!({"type": "text", "text": r.text()}), tools::messages_block)],
            "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": r.completion_tokens(),
                      "cache_creation_input_tokens": r.cache_created, "cache_read_input_tokens": r.cached}
        }));
    }
    sse(message_frames(&p, &id, &model, &r, input, stop), &p)
}

/// The SSE events of a streamed Anthropic message, in the order the API
/// sends them; `no-usage` and `malformed` faults show up here.
fn message_frames(p: &Plan, id: &str, model: &str, r: &Reply, input: u64, stop: &str) -> Vec<String> {
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut start_usage = json!({"input_tokens": input, "output_tokens": 1,
                                 "cache_creation_input_tokens": r.cache_created, "cache_read_input_tokens": r.cached});
    if p.fault.as_deref() == Some("no-usage") {
        start_usage = json!({});
    }
    let mut frames = vec![ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
    )];
    if let Some(call) = &r.tool {
        frames.extend(tools::messages_events(call).into_iter().map(|(name, data)| ev(name, data)));
    } else {
        frames.push(ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ));
        frames.push(ev("ping", json!({"type": "ping"})));
        for w in &r.words {
            frames.push(ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}),
            ));
        }
        if p.fault.as_deref() == Some("malformed") {
            frames.push("event: content_block_delta\ndata: {\"type\": \n\n".to_string());
        }
        frames.push(ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    }
    let delta_usage = if p.fault.as_deref() == Some("no-usage") {
        json!({})
    } else {
        json!({"output_tokens": r.completion_tokens()})
    };
    frames.push(ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": delta_usage}),
    ));
    frames.push(ev("message_stop", json!({"type": "message_stop"})));
    frames
}

/// Anthropic's token count: the prompt tokens `/v1/messages` would count
/// for the same request (which needs no `max_tokens` here), all of them.
async fn count_messages(State(m): State<Mock>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON", true);
    };
    if req.get("model").and_then(Value::as_str).is_none() {
        return bad_request("model: Field required", true);
    }
    let Some(msgs) = req.get("messages").and_then(Value::as_array) else {
        return bad_request("messages: Field required", true);
    };
    let p = plan(&m.cfg, &headers);
    if let Some(r) = early_fault(&p, true, false).await {
        return r;
    }
    let (prefix, last) = match split_prompt(Api::AnthropicMessages, &req, msgs.len()) {
        Ok(split) => split,
        Err(e) => return bad_request(&e, true),
    };
    let input = count_tokens(&prefix) + count_tokens(&last) + PER_MESSAGE * (msgs.len() as u64).max(1);
    let mut answer = json!({"input_tokens": input});
    if let Some(echo) = echoed(&p, &headers, query.as_deref(), &body) {
        answer["echo"] = Value::String(echo);
    }
    json_response(&answer)
}
