//! Streams (SSE). Frames are passed to the client as they arrive, while
//! the pump reads each one for usage and text. The usage chunk that the
//! gateway forced with `include_usage` is withheld from a client that did
//! not ask for it. The final frame (`[DONE]`, `message_stop`) is held back
//! until the usage event is durable, so a stream that completes is a call
//! that is recorded. The headers say what the call's task had cost before
//! it; the cost with it follows as an SSE comment before the final frame,
//! with any advice it brings. A stream cut short — by the upstream or by the client —
//! is recorded once, with tokens estimated and marked so. With
//! `[dlp] scan_output`, each text and tool call's arguments is scanned
//! through a withheld window (`outscan`) before it is relayed; a stream
//! that ends before its texts do (cut, or without its final frame) still
//! relays what the windows withheld, scanned, before its error event.

use crate::call::Call;
use crate::outscan::StreamScan;
use crate::upstream::{malformed, too_large, transport_error, transport_status};
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::convert::Infallible;
use std::time::Duration;
use tokenwise_app::metering::CallEnd;
use tokenwise_app::tasks::TaskNote;
use tokenwise_app::{AppError, Code};
use tokenwise_core::TokenUsage;
use tokenwise_http::{headers, set};
use tokenwise_ledger::Status;
use tokenwise_wire::Dialect;
use tokenwise_wire::sse::{Frame, Seen, data_of, next_frame, observe};
use tokenwise_wire::translate::StreamTranslator;
use tokio::sync::mpsc;
use tracing::Instrument;

type Tx = mpsc::Sender<Result<Bytes, Infallible>>;

/// Starts relaying; `before` is what the call's task had cost before it.
pub(crate) fn start(call: Call, resp: reqwest::Response, before: Option<TaskNote>) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let id = call.draft.id.clone();
    let nudge = call.advice(before.as_ref());
    // The pump outlives the handler: it keeps the request's span.
    tokio::spawn(pump(call, resp, tx).in_current_span());
    let mut r = Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    set(r.headers_mut(), headers::REQUEST_ID, Some(&id));
    set(r.headers_mut(), headers::NUDGE, nudge.as_deref());
    set(r.headers_mut(), headers::TASK_COST, before.map(|t| t.cost.to_usd_string()).as_deref());
    r
}

enum End {
    Complete(Bytes),
    /// The upstream stream ended without its final frame.
    Ended,
    /// Cut short: by the connection, a chunk that is not JSON, or one over
    /// the size limit; how the call ended.
    Cut(AppError, Status),
    ClientGone,
}

/// What the relay saw.
struct Relayed {
    end: End,
    seen: Seen,
    ttft: Option<Duration>,
    translator: Option<StreamTranslator>,
}

/// An error event in the client's format.
fn error_frame(call: &Call, err: &AppError) -> Bytes {
    match call.dialect {
        Dialect::Anthropic if call.translation.is_none() => {
            Bytes::from(format!("event: error\ndata: {}\n\n", err.body()))
        }
        _ => Bytes::from(format!("data: {}\n\n", err.body())),
    }
}

async fn pump(call: Call, resp: reqwest::Response, tx: Tx) {
    let r = relay(&call, resp, &tx).await;
    finish(call, r, &tx).await;
}

/// Passes frames on as they arrive (translated if need be), reading each
/// for usage and text, until the final frame, a cut, or the client leaving.
async fn relay(call: &Call, resp: reqwest::Response, tx: &Tx) -> Relayed {
    let mut body = resp.bytes_stream();
    let mut buf = BytesMut::new();
    let mut seen = Seen::default();
    let mut ttft = None;
    let mut translator = call.translation.map(|t| StreamTranslator::new(t.client_wants_usage, t.created));
    let (up, max) = (&call.upstream.cfg.id, call.upstream.cfg.max_response_bytes);
    let mut scan = call.app.output_rule(&call.draft.use_case).map(|r| StreamScan::new(call.app.output_scan(r)));
    let end = 'read: loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                buf.extend_from_slice(&chunk);
                while let Some(frame) = next_frame(&mut buf) {
                    let had_text = !seen.text.is_empty();
                    match observe(call.dialect, &frame, &mut seen) {
                        Frame::Final => {
                            // A final frame may repeat the whole text (Responses).
                            let mut out = scanned(scan.as_mut(), call.dialect, frame);
                            let last = out.pop().unwrap_or_default();
                            // Texts the stream never closed: their tails before the end.
                            if let Some(s) = scan.as_mut() {
                                out.extend(s.flush(call.dialect));
                            }
                            if !pass(tx, &mut translator, out).await {
                                break 'read End::ClientGone;
                            }
                            break 'read End::Complete(last);
                        }
                        Frame::Withhold => {}
                        Frame::Malformed => {
                            break 'read End::Cut(malformed(up, "a stream chunk"), Status::UpstreamMalformed);
                        }
                        Frame::Forward => {
                            if !had_text && !seen.text.is_empty() {
                                ttft = Some(call.draft.started.elapsed());
                            }
                            if !pass(tx, &mut translator, scanned(scan.as_mut(), call.dialect, frame)).await {
                                break 'read End::ClientGone;
                            }
                        }
                    }
                }
                // What is left is part of one frame: a frame this large is cut.
                if buf.len() as u64 > max {
                    break End::Cut(too_large(up, max), Status::UpstreamTooLarge);
                }
            }
            Some(Err(e)) => break End::Cut(transport_error(&e, up), transport_status(&e)),
            None => break End::Ended,
        }
    };
    // Cut, or ended without its final frame: what the windows withheld,
    // scanned, goes to the client before the error event (`finish`).
    if let (Some(s), End::Ended | End::Cut(..)) = (scan.as_mut(), &end) {
        // A client gone meanwhile changes nothing: the call ends as the upstream's did.
        let _ = pass(tx, &mut translator, s.flush(call.dialect)).await;
    }
    if let Some(s) = &scan {
        call.app.audit_output(&call.draft.user_id, &call.draft.id, &call.draft.use_case, &s.scan).await;
    }
    // Dropping the body closes the upstream connection, which tells the
    // provider to stop generating.
    Relayed { end, seen, ttft, translator }
}

/// What of `frame` may go on now: all of it, or what the output scan's
/// window releases.
fn scanned(scan: Option<&mut StreamScan>, dialect: Dialect, frame: Bytes) -> Vec<Bytes> {
    match scan {
        Some(s) => s.frame(dialect, frame),
        None => vec![frame],
    }
}

/// Sends `frames` to the client in its format; false once it has gone.
async fn pass(tx: &Tx, translator: &mut Option<StreamTranslator>, frames: Vec<Bytes>) -> bool {
    for f in frames.into_iter().flat_map(|f| translated(translator.as_mut(), f)) {
        if tx.send(Ok(f)).await.is_err() {
            return false;
        }
    }
    true
}

/// A frame in the client's format: translated when the upstream speaks
/// another.
fn translated(translator: Option<&mut StreamTranslator>, frame: Bytes) -> Vec<Bytes> {
    match translator {
        Some(tr) => data_of(&frame)
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .map(|event| tr.frames(&event))
            .unwrap_or_default(),
        None => vec![frame],
    }
}

/// Meters what was relayed, records it, and only then sends the final
/// frame (after the cost as an SSE comment), or an error event.
async fn finish(call: Call, mut r: Relayed, tx: &Tx) {
    let (usage, estimated) = match r.seen.exact(call.dialect) {
        Some(u) => (u, false),
        None => {
            // What the upstream reported of the input, else an estimate;
            // the output is counted from the text relayed.
            let mut u = match r.seen.reported_input() {
                Some(u) => u,
                None => TokenUsage { input: call.estimate_input().await, ..TokenUsage::default() },
            };
            u.output = tokenwise_app::tokenize::count_off_thread(std::mem::take(&mut r.seen.text)).await;
            (u, true)
        }
    };
    let up = &call.upstream.cfg.id;
    let failed =
        |err: &AppError, status, usage| CallEnd::failed(status, err.code.status(), err.code.as_str(), usage, true);
    let ended_early = || AppError::new(Code::UpstreamError, format!("upstream `{up}` ended the stream early"));
    let mut end = match &r.end {
        End::Complete(_) if !r.seen.upstream_error => CallEnd::ok(usage, estimated),
        // The provider's own error event mid-stream.
        End::Complete(_) | End::Ended if r.seen.upstream_error => failed(&ended_early(), Status::UpstreamError, usage),
        End::Complete(_) | End::Ended => failed(&ended_early(), Status::UpstreamCut, usage),
        End::Cut(err, status) => failed(err, *status, usage),
        End::ClientGone => CallEnd { status: Status::Cancelled, ..CallEnd::ok(usage, estimated) },
    };
    end.ttft = r.ttft;
    let recorded = call.record(&end).await;
    let send = |b: Bytes| async move {
        let _ = tx.send(Ok(b)).await;
    };
    match (r.end, recorded) {
        (End::Complete(last), Ok(so_far)) => {
            if !r.seen.upstream_error {
                for comment in trailer(&call, &usage, so_far) {
                    send(comment).await;
                }
            }
            match &r.translator {
                Some(tr) => {
                    for f in tr.finish() {
                        send(f).await;
                    }
                }
                None => send(last).await,
            }
        }
        (End::ClientGone, _) => {}
        // The upstream's own error event was relayed already.
        (End::Ended, Ok(_)) if r.seen.upstream_error => {}
        (End::Cut(err, _), Ok(_)) => send(error_frame(&call, &err)).await,
        (End::Ended, Ok(_)) => send(error_frame(&call, &ended_early())).await,
        (_, Err(record_err)) => send(error_frame(&call, &record_err)).await,
    }
}

/// The SSE comments before a completed stream's final frame (clients skip
/// comments): the call's cost, what the tightest budget has left, and what
/// its task has cost with it, with the advice that brings.
fn trailer(call: &Call, usage: &TokenUsage, so_far: Option<tokenwise_ledger::TaskSoFar>) -> Vec<Bytes> {
    let comment = |name: &str, value: &str| Bytes::from(format!(": {name}={value}\n\n"));
    let cost = call.draft.cost(usage);
    let mut out = vec![comment(headers::COST, &cost.to_usd_string())];
    if let Some(left) = call.remaining_after(cost) {
        out.push(comment(headers::REMAINING, &left.to_usd_string()));
    }
    if let Some(task) = call.task_note(so_far) {
        out.push(comment(headers::TASK_COST, &task.cost.to_usd_string()));
        if let Some(nudge) = &task.nudge {
            out.push(comment(headers::NUDGE, nudge));
        }
    }
    out
}
