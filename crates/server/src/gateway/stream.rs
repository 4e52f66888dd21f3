//! Streams (SSE). Frames are passed to the client as they arrive, while
//! the pump reads each one for usage and text. The usage chunk that the
//! gateway forced with `include_usage` is withheld from a client that did
//! not ask for it. The final frame (`[DONE]`, `message_stop`) is held back
//! until the usage event is durable, so a stream that completes is a call
//! that is recorded. A stream cut short — by the upstream or by the client —
//! is recorded once, with tokens estimated and marked so.

use super::{Call, Dialect};
use crate::error::{ApiError, Code};
use crate::metering::{AnthropicUsage, OpenAiUsage, Outcome};
use crate::upstream::transport_error;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokenwise_core::TokenUsage;
use tokenwise_ledger::Status;
use tokio::sync::mpsc;

pub(super) fn start(call: Call, resp: reqwest::Response) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let id = call.draft.id.clone();
    let nudge = call.nudge.clone();
    tokio::spawn(pump(call, resp, tx));
    let mut r = Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    super::insert(r.headers_mut(), crate::REQUEST_ID, &id);
    if let Some(n) = nudge {
        super::insert(r.headers_mut(), super::NUDGE, &n);
    }
    r
}

/// Takes one complete SSE event (through its blank line) off the buffer.
fn next_frame(buf: &mut BytesMut) -> Option<Bytes> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' && buf[i + 1] == b'\n' {
            return Some(buf.split_to(i + 2).freeze());
        }
        if buf[i] == b'\n' && buf[i + 1] == b'\r' && buf.get(i + 2) == Some(&b'\n') {
            return Some(buf.split_to(i + 3).freeze());
        }
        i += 1;
    }
    None
}

/// The `data:` payload of an event (lines joined).
fn data_of(frame: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(frame).ok()?;
    let mut data: Option<String> = None;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data:") {
            let d = d.strip_prefix(' ').unwrap_or(d);
            match &mut data {
                Some(acc) => {
                    acc.push('\n');
                    acc.push_str(d);
                }
                None => data = Some(d.to_string()),
            }
        }
    }
    data
}

#[derive(Default)]
struct Seen {
    openai_usage: Option<OpenAiUsage>,
    anthropic_usage: AnthropicUsage,
    anthropic_output_reported: bool,
    text: String,
    upstream_error: bool,
    ttft: Option<Duration>,
}

enum Frame {
    Forward,
    /// The forced usage chunk a client did not ask for.
    Withhold,
    /// The stream's last frame: sent only after the event is recorded.
    Final,
}

#[derive(Deserialize)]
struct OpenAiChunk {
    #[serde(default)]
    choices: Vec<OpenAiChoice>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct OpenAiChoice {
    #[serde(default)]
    delta: Option<OpenAiDelta>,
}

#[derive(Deserialize)]
struct OpenAiDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<OpenAiToolDelta>>,
}

#[derive(Deserialize)]
struct OpenAiToolDelta {
    #[serde(default)]
    function: Option<OpenAiFnDelta>,
}

#[derive(Deserialize)]
struct OpenAiFnDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct AnthropicEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<AnthropicMessage>,
    #[serde(default)]
    delta: Option<AnthropicDelta>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicMessage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicDelta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    partial_json: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
}

fn observe(dialect: Dialect, frame: &[u8], seen: &mut Seen) -> Frame {
    let Some(data) = data_of(frame) else { return Frame::Forward };
    match dialect {
        Dialect::OpenAiChat { client_wants_usage } => {
            if data.trim() == "[DONE]" {
                return Frame::Final;
            }
            let Ok(chunk) = serde_json::from_str::<OpenAiChunk>(&data) else { return Frame::Forward };
            if chunk.error.is_some() {
                seen.upstream_error = true;
            }
            for c in &chunk.choices {
                let Some(d) = &c.delta else { continue };
                for t in [&d.content, &d.reasoning_content, &d.refusal].into_iter().flatten() {
                    seen.text.push_str(t);
                }
                for tc in d.tool_calls.iter().flatten() {
                    if let Some(f) = &tc.function {
                        for t in [&f.name, &f.arguments].into_iter().flatten() {
                            seen.text.push_str(t);
                        }
                    }
                }
            }
            if let Some(u) = chunk.usage {
                seen.openai_usage = Some(u);
                if chunk.choices.is_empty() && !client_wants_usage {
                    return Frame::Withhold;
                }
            }
            Frame::Forward
        }
        Dialect::Anthropic => {
            let Ok(ev) = serde_json::from_str::<AnthropicEvent>(&data) else { return Frame::Forward };
            match ev.kind.as_str() {
                "message_start" => {
                    if let Some(u) = ev.message.and_then(|m| m.usage) {
                        seen.anthropic_usage.merge(&u);
                    }
                }
                "content_block_delta" => {
                    if let Some(d) = ev.delta {
                        for t in [&d.text, &d.partial_json, &d.thinking].into_iter().flatten() {
                            seen.text.push_str(t);
                        }
                    }
                }
                "message_delta" => {
                    if let Some(u) = ev.usage {
                        seen.anthropic_output_reported |= u.output_tokens.is_some();
                        seen.anthropic_usage.merge(&u);
                    }
                }
                "message_stop" => return Frame::Final,
                "error" => seen.upstream_error = true,
                _ => {}
            }
            Frame::Forward
        }
        Dialect::OpenAiEmbeddings => Frame::Forward,
    }
}

enum End {
    Complete(Bytes),
    /// The upstream stream ended without its final frame.
    Ended,
    Cut(ApiError),
    ClientGone,
}

/// An error event in the client's format.
fn error_frame(call: &Call, err: &ApiError) -> Bytes {
    match call.dialect {
        Dialect::Anthropic if call.translate.is_none() => {
            Bytes::from(format!("event: error\ndata: {}\n\n", err.body()))
        }
        _ => Bytes::from(format!("data: {}\n\n", err.body())),
    }
}

async fn pump(call: Call, resp: reqwest::Response, tx: mpsc::Sender<Result<Bytes, Infallible>>) {
    let mut body = resp.bytes_stream();
    let mut buf = BytesMut::new();
    let mut seen = Seen::default();
    let up = call.upstream.cfg.id.clone();
    let mut translator =
        call.translate.map(|t| super::translate::StreamTranslator::new(t.client_wants_usage, t.created));
    let end = 'read: loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                buf.extend_from_slice(&chunk);
                while let Some(frame) = next_frame(&mut buf) {
                    let had_text = !seen.text.is_empty();
                    match observe(call.dialect, &frame, &mut seen) {
                        Frame::Final => break 'read End::Complete(frame),
                        Frame::Withhold => {}
                        Frame::Forward => {
                            if !had_text && !seen.text.is_empty() {
                                seen.ttft = Some(call.draft.started.elapsed());
                            }
                            let out = match translator.as_mut() {
                                Some(tr) => data_of(&frame)
                                    .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                                    .map(|event| tr.frames(&event))
                                    .unwrap_or_default(),
                                None => vec![frame],
                            };
                            for f in out {
                                if tx.send(Ok(f)).await.is_err() {
                                    break 'read End::ClientGone;
                                }
                            }
                        }
                    }
                }
            }
            Some(Err(e)) => break End::Cut(transport_error(&e, &up)),
            None => break End::Ended,
        }
    };
    // Closing the upstream connection tells the provider to stop generating.
    drop(body);

    let exact = match call.dialect {
        Dialect::OpenAiChat { .. } => seen.openai_usage.map(|u| u.tokens()),
        Dialect::Anthropic => {
            (seen.anthropic_usage.has_input() && seen.anthropic_output_reported).then(|| seen.anthropic_usage.tokens())
        }
        Dialect::OpenAiEmbeddings => None,
    };
    let (usage, estimated) = match exact {
        Some(u) => (u, false),
        None => {
            // What the upstream reported of the input, else an estimate;
            // the output is counted from the text relayed.
            let mut u = if seen.anthropic_usage.has_input() {
                seen.anthropic_usage.tokens()
            } else {
                TokenUsage { input: call.estimate_input().await, ..TokenUsage::default() }
            };
            u.output = crate::tokenize::count_off_thread(std::mem::take(&mut seen.text)).await;
            (u, true)
        }
    };
    let failed = |err: &ApiError, usage| {
        Outcome::failed(Status::UpstreamError, err.code.status().as_u16(), err.code.as_str(), usage, true)
    };
    let ended_early = || ApiError::new(Code::UpstreamError, format!("upstream `{up}` ended the stream early"));
    let mut outcome = match &end {
        End::Complete(_) if !seen.upstream_error => Outcome::ok(usage, estimated),
        End::Complete(_) | End::Ended => failed(&ended_early(), usage),
        End::Cut(err) => failed(err, usage),
        End::ClientGone => Outcome { status: Status::Cancelled, ..Outcome::ok(usage, estimated) },
    };
    outcome.ttft = seen.ttft;
    let recorded = call.record(&outcome).await;
    match (end, recorded) {
        (End::Complete(last), Ok(())) => {
            if !seen.upstream_error {
                let cost = call.draft.cost(&usage);
                let _ = tx.send(Ok(Bytes::from(format!(": {}={}\n\n", super::COST, cost.to_usd_string())))).await;
                if let Some(left) = call.remaining_after(cost) {
                    let _ =
                        tx.send(Ok(Bytes::from(format!(": {}={}\n\n", super::REMAINING, left.to_usd_string())))).await;
                }
            }
            match &translator {
                Some(tr) => {
                    for f in tr.finish() {
                        let _ = tx.send(Ok(f)).await;
                    }
                }
                None => {
                    let _ = tx.send(Ok(last)).await;
                }
            }
        }
        (End::ClientGone, _) => {}
        (End::Cut(err), Ok(())) => {
            let _ = tx.send(Ok(error_frame(&call, &err))).await;
        }
        (End::Ended, Ok(())) if !seen.upstream_error => {
            let _ = tx.send(Ok(error_frame(&call, &ended_early()))).await;
        }
        (End::Ended, Ok(())) => {}
        (_, Err(record_err)) => {
            let _ = tx.send(Ok(error_frame(&call, &record_err))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_on_blank_lines() {
        let mut buf = BytesMut::from(&b"data: {\"a\":1}\n\ndata: [DONE]\n\ndata: part"[..]);
        assert_eq!(next_frame(&mut buf).as_deref(), Some(&b"data: {\"a\":1}\n\n"[..]));
        assert_eq!(next_frame(&mut buf).as_deref(), Some(&b"data: [DONE]\n\n"[..]));
        assert_eq!(next_frame(&mut buf), None);
        assert_eq!(&buf[..], b"data: part");
        let mut crlf = BytesMut::from(&b"event: ping\r\ndata: {}\r\n\r\nrest"[..]);
        assert_eq!(next_frame(&mut crlf).as_deref(), Some(&b"event: ping\r\ndata: {}\r\n\r\n"[..]));
    }

    #[test]
    fn the_forced_usage_chunk_is_withheld_unless_asked_for() {
        let usage = br#"data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}

"#;
        let mut seen = Seen::default();
        assert!(matches!(
            observe(Dialect::OpenAiChat { client_wants_usage: false }, usage, &mut seen),
            Frame::Withhold
        ));
        assert_eq!(seen.openai_usage.map(|u| u.tokens().output), Some(7));
        let mut seen = Seen::default();
        assert!(matches!(observe(Dialect::OpenAiChat { client_wants_usage: true }, usage, &mut seen), Frame::Forward));
    }

    #[test]
    fn anthropic_usage_comes_from_start_and_delta() {
        let mut seen = Seen::default();
        let d = Dialect::Anthropic;
        observe(d, b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_read_input_tokens\":90}}}\n\n", &mut seen);
        observe(d, b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi \"}}\n\n", &mut seen);
        observe(
            d,
            b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":12}}\n\n",
            &mut seen,
        );
        assert!(matches!(
            observe(d, b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", &mut seen),
            Frame::Final
        ));
        assert!(seen.anthropic_output_reported);
        let t = seen.anthropic_usage.tokens();
        assert_eq!((t.input, t.output, t.cached_read), (100, 12, 90));
        assert_eq!(seen.text, "hi ");
    }
}
