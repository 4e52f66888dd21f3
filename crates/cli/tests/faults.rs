//! Upstream faults, through the mock provider, in every wire format a
//! client speaks (OpenAI chat, Anthropic messages, OpenAI Responses), JSON
//! and streamed: the client gets the contract's error (in a stream, an
//! error event in its own format, never a broken chunk), the budget hold is
//! released, the call's row says what happened, and nothing is retried (the
//! policy has no retry or fallback setting).

// Tests fail by panicking, and a table of cases may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};
use support::{Answer, Client, Gateway};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Chat,
    Messages,
    Responses,
}

const FORMATS: [Format; 3] = [Format::Chat, Format::Messages, Format::Responses];

impl Format {
    fn path(self) -> &'static str {
        match self {
            Format::Chat => "/v1/chat/completions",
            Format::Messages => "/v1/messages",
            Format::Responses => "/v1/responses",
        }
    }

    fn body(self, stream: bool) -> Value {
        let text = "Write a long answer about refunds";
        match self {
            Format::Chat => {
                json!({"model": "gpt-4.1-mini", "stream": stream, "messages": [{"role": "user", "content": text}]})
            }
            Format::Messages => json!({"model": "claude-haiku-4-5", "max_tokens": 300, "stream": stream,
                                       "messages": [{"role": "user", "content": text}]}),
            Format::Responses => json!({"model": "gpt-4.1-mini", "stream": stream, "input": text}),
        }
    }
}

/// How a fault must look to the client and on the ledger.
struct Case {
    fault: &'static str,
    stream: bool,
    /// The HTTP status: 200 when the stream had begun before the fault.
    http: u16,
    code: &'static str,
    row_status: &'static str,
}

const fn case(fault: &'static str, stream: bool, http: u16, code: &'static str, row: &'static str) -> Case {
    Case { fault, stream, http, code, row_status: row }
}

const CASES: &[Case] = &[
    case("status-500", false, 502, "upstream_error", "upstream_error"),
    case("status-500", true, 502, "upstream_error", "upstream_error"),
    case("status-429", false, 429, "rate_limited", "upstream_rate_limited"),
    case("status-429", true, 429, "rate_limited", "upstream_rate_limited"),
    case("hang", false, 504, "upstream_error", "upstream_timeout"),
    case("hang", true, 504, "upstream_error", "upstream_timeout"),
    case("stall", true, 200, "upstream_error", "upstream_timeout"),
    case("reset", false, 502, "upstream_error", "upstream_cut"),
    case("reset", true, 200, "upstream_error", "upstream_cut"),
    case("malformed", false, 502, "upstream_error", "upstream_malformed"),
    case("malformed", true, 200, "upstream_error", "upstream_malformed"),
    case("oversized", false, 502, "upstream_error", "upstream_too_large"),
    case("oversized", true, 200, "upstream_error", "upstream_too_large"),
];

/// The gateway under test: a 1 s upstream timeout (for `hang` and `stall`)
/// and a 1 MiB answer limit (for `oversized`, which sends 2 MiB).
fn gateway() -> Gateway {
    Gateway::start_with(|s| {
        s.replace("timeout_secs = 120", "timeout_secs = 1")
            .replace("timeout_secs = 300", "timeout_secs = 1")
            .replace("timeout_secs = ", "max_response_mb = 1\ntimeout_secs = ")
    })
}

static TAG: AtomicU32 = AtomicU32::new(0);

/// The error a response carries, in the contract's shape: the body of a
/// refusal, or a stream's last event in the client's own format (and every
/// event before it whole JSON: no broken chunk passed on).
fn error_of(f: Format, a: &Answer) -> Value {
    if !a.headers["content-type"].to_str().unwrap().starts_with("text/event-stream") {
        return a.json();
    }
    let data: Vec<&str> = a.body.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    for d in &data {
        assert!(serde_json::from_str::<Value>(d).is_ok(), "{f:?}: a chunk that is not JSON reached the client: {d}");
    }
    if f == Format::Messages {
        // Anthropic's own error event.
        assert!(a.body.contains("event: error\ndata: "), "{f:?}: no `event: error`: {}", a.body);
    }
    assert!(!a.body.contains("[DONE]") && !a.body.contains("message_stop"), "{f:?}: a cut stream ended as complete");
    serde_json::from_str(data.last().unwrap()).unwrap()
}

async fn hits(g: &Gateway, tag: &str) -> u64 {
    let r = reqwest::get(format!("http://{}/mock/hits/{tag}", g.mock.addr)).await.unwrap();
    r.json::<Value>().await.unwrap()["hits"].as_u64().unwrap()
}

async fn held(admin: &Client) -> Vec<Value> {
    let b = admin.get("/api/v1/budgets").await;
    assert_eq!(b.status, 200, "{}", b.body);
    b.json()["envelopes"].as_array().unwrap().iter().filter(|e| e["held_nanos"] != 0).cloned().collect()
}

async fn check(g: &Gateway, c: &Client, admin: &Client, f: Format, k: &Case) {
    let what = format!("{} {:?} stream={}", k.fault, f, k.stream);
    let tag = format!("fault-{}", TAG.fetch_add(1, Ordering::Relaxed));
    let headers = [("x-mock-fault", k.fault), ("x-mock-fault-bytes", "2097152"), ("x-mock-tag", tag.as_str())];
    let a = c.post(f.path(), f.body(k.stream), &headers).await;
    assert_eq!(a.status, k.http, "{what}: {}", a.body);
    let err = error_of(f, &a);
    assert_eq!(err["error"]["code"], k.code, "{what}: {err}");
    assert!(err["error"]["type"].is_string() && err["error"]["message"].is_string(), "{what}: {err}");
    if k.fault == "status-429" {
        assert_eq!(a.headers["retry-after"], "2", "{what}: the provider's retry-after is passed on");
    }
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["status"], k.row_status, "{what}: {row}");
    assert_eq!(row["error_code"], k.code, "{what}: {row}");
    assert_eq!(row["streamed"], k.stream, "{what}: {row}");
    // A refusal by the provider bills nothing; any other fault may have
    // run upstream.
    if !matches!(k.fault, "status-500" | "status-429") {
        // It may have run upstream: its prompt (and any text relayed) is
        // counted, marked as an estimate, never zero.
        assert_eq!(row["estimated"], true, "{what}: {row}");
        assert!(row["usage"]["input"].as_u64().unwrap() > 0, "{what}: {row}");
    } else {
        assert_eq!(row["cost_nanos"], 0, "{what}: a refused call costs nothing: {row}");
    }
    assert_eq!(held(admin).await, Vec::<Value>::new(), "{what}: the hold is released");
    assert_eq!(hits(g, &tag).await, 1, "{what}: sent upstream once, never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_fault_is_a_contract_error_a_released_hold_and_a_row_that_says_what_happened() {
    let g = gateway();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let admin = Client::new(&g, g.key("hugo.martin", None));
    for k in CASES {
        for f in FORMATS {
            check(&g, &c, &admin, f, k).await;
        }
    }
}

/// The calls before a fault went through whole: a fault ends one call,
/// not the gateway's connection pool or the next call.
#[tokio::test]
async fn after_each_fault_the_next_call_is_answered() {
    let g = gateway();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    for fault in ["reset", "malformed", "oversized", "status-500"] {
        for f in FORMATS {
            let _ = c.post(f.path(), f.body(true), &[("x-mock-fault", fault), ("x-mock-fault-bytes", "2097152")]).await;
            let a = c.post(f.path(), f.body(false), &[]).await;
            assert_eq!(a.status, 200, "{fault} {f:?}: {}", a.body);
            assert_eq!(c.event(&a.request_id()).await["status"], "ok");
        }
    }
}
