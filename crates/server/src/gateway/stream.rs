//! Streams (SSE). Frames are passed to the client as they arrive, while
//! the pump reads each one for usage and text. The usage chunk that the
//! gateway forced with `include_usage` is withheld from a client that did
//! not ask for it. The final frame (`[DONE]`, `message_stop`) is held back
//! until the usage event is durable, so a stream that completes is a call
//! that is recorded. A stream cut short — by the upstream or by the client —
//! is recorded once, with tokens estimated and marked so.

use super::Call;
use crate::error::{ApiError, Code};
use crate::metering::Outcome;
use crate::upstream::transport_error;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::convert::Infallible;
use tokenwise_core::TokenUsage;
use tokenwise_ledger::Status;
use tokenwise_wire::Dialect;
use tokenwise_wire::sse::{Frame, Seen, data_of, next_frame, observe};
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
    let mut ttft = None;
    let up = call.upstream.cfg.id.clone();
    let mut translator =
        call.translate.map(|t| tokenwise_wire::translate::StreamTranslator::new(t.client_wants_usage, t.created));
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
                                ttft = Some(call.draft.started.elapsed());
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

    let exact = seen.exact(call.dialect);
    let (usage, estimated) = match exact {
        Some(u) => (u, false),
        None => {
            // What the upstream reported of the input, else an estimate;
            // the output is counted from the text relayed.
            let mut u = match seen.reported_input() {
                Some(u) => u,
                None => TokenUsage { input: call.estimate_input().await, ..TokenUsage::default() },
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
    outcome.ttft = ttft;
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
