//! The gateway, end to end: the real binary serving, the real mock
//! upstream behind it, plain HTTP in front. Every call's ledger row is
//! compared with what the client saw.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::Gateway;

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn request_id(&self) -> String {
        self.headers["x-tokenwise-request-id"].to_str().unwrap().to_string()
    }

    /// The `data:` payloads of an SSE body.
    fn sse_data(&self) -> Vec<String> {
        self.body.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_string).collect()
    }
}

impl Client {
    fn new(g: &Gateway, key: String) -> Client {
        tokenwise_server::install_crypto();
        Client { http: reqwest::Client::new(), base: g.url.clone(), key }
    }

    async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.key).json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Answer { status, headers, body: r.text().await.unwrap_or_default() }
    }

    async fn get(&self, path: &str) -> Answer {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Answer { status, headers, body: r.text().await.unwrap() }
    }

    /// The ledger's row for a request, read through the API.
    async fn event(&self, request_id: &str) -> Value {
        let a = self.get(&format!("/api/v1/events?request_id={request_id}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let v = a.json();
        let events = v["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "exactly one row for {request_id}: {}", a.body);
        events[0].clone()
    }
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn assert_openai_usage_matches(row: &Value, usage: &Value) {
    assert_eq!(row["usage"]["input"], usage["prompt_tokens"], "{row}");
    assert_eq!(row["usage"]["output"], usage["completion_tokens"], "{row}");
    assert_eq!(row["usage"]["cached_read"], usage["prompt_tokens_details"]["cached_tokens"], "{row}");
    assert_eq!(row["usage"]["reasoning"], usage["completion_tokens_details"]["reasoning_tokens"], "{row}");
    assert_eq!(row["estimated"], false);
}

#[tokio::test]
async fn json_chat_is_metered_exactly_and_priced_at_the_pinned_version() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = c.post("/v1/chat/completions", chat("gpt-4.1-mini", "Where is my refund for order 1042?"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let usage = a.json()["usage"].clone();
    let row = c.event(&a.request_id()).await;
    assert_openai_usage_matches(&row, &usage);
    assert_eq!(row["status"], "ok");
    assert_eq!(row["user_id"], "ivan.petrov");
    assert_eq!(row["team_id"], "support");
    assert_eq!(row["use_case"], "support-reply");
    assert_eq!(row["price_version"], "gpt-4.1-mini@2026-01-01~litellm-subset.json");
    // $0.40 / Mtok in, $1.60 / Mtok out, in nano-dollars.
    let expect = usage["prompt_tokens"].as_i64().unwrap() * 400 + usage["completion_tokens"].as_i64().unwrap() * 1_600;
    assert_eq!(row["cost_nanos"], expect);
    assert_eq!(a.headers["x-tokenwise-cost-usd"].to_str().unwrap(), row["cost_usd"].as_str().unwrap());
}

#[tokio::test]
async fn streams_are_metered_whether_or_not_the_client_asked_for_usage() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let mut body = chat("gpt-4.1-mini", "Summarise the ticket please");
    body["stream"] = json!(true);

    // Without include_usage: the forced usage chunk never reaches the client.
    let plain = c.post("/v1/chat/completions", body.clone(), &[]).await;
    assert_eq!(plain.status, 200);
    let data = plain.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(data.iter().all(|d| !d.contains("\"prompt_tokens\"")), "usage chunk leaked: {}", plain.body);
    let row = c.event(&plain.request_id()).await;

    // With include_usage: the client sees it, and it equals the ledger.
    body["stream_options"] = json!({"include_usage": true});
    let asked = c.post("/v1/chat/completions", body, &[]).await;
    let usage_chunk: Value = asked
        .sse_data()
        .iter()
        .filter(|d| d.contains("\"prompt_tokens\""))
        .map(|d| serde_json::from_str(d).unwrap())
        .next()
        .unwrap();
    let row2 = c.event(&asked.request_id()).await;
    assert_openai_usage_matches(&row2, &usage_chunk["usage"]);
    // The same deterministic prompt: both streams metered to the same tokens.
    assert_eq!(row["usage"], row2["usage"]);
    assert_eq!(row["streamed"], true);
    assert!(row["usage"]["output"].as_u64().unwrap() > 0);
    assert!(row["ttft_ms"].is_number());
}

#[tokio::test]
async fn a_stream_cut_by_the_upstream_leaves_one_estimated_row() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let mut body = chat("gpt-4.1-mini", "Write a long answer");
    body["stream"] = json!(true);
    let a = c.post("/v1/chat/completions", body, &[("x-mock-fault", "reset"), ("x-mock-fault-after", "6")]).await;
    assert_eq!(a.status, 200);
    let data = a.sse_data();
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error", "the client is told: {}", a.body);
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["status"], "upstream_cut");
    assert_eq!(row["estimated"], true);
    assert!(row["usage"]["input"].as_u64().unwrap() > 0, "never recorded as zero: {row}");
    assert!(row["usage"]["output"].as_u64().unwrap() >= 4, "the words that arrived are counted: {row}");
    assert!(row["cost_nanos"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn a_stream_without_usage_is_estimated_not_zero() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let mut body = chat("gpt-4.1-mini", "hello");
    body["stream"] = json!(true);
    let a = c.post("/v1/chat/completions", body, &[("x-mock-fault", "no-usage")]).await;
    assert_eq!(a.sse_data().last().map(String::as_str), Some("[DONE]"));
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["status"], "ok");
    assert_eq!(row["estimated"], true);
    assert!(row["usage"]["output"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_stream_is_still_metered_once() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let mut body = chat("gpt-4.1-mini", "tell me everything");
    body["stream"] = json!(true);
    let r = c
        .http
        .post(format!("{}/v1/chat/completions", c.base))
        .bearer_auth(&c.key)
        .header("x-mock-token-ms", "50")
        .json(&body)
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-tokenwise-request-id"].to_str().unwrap().to_string();
    let mut stream = r.bytes_stream();
    use futures_util::StreamExt;
    let _first = stream.next().await;
    drop(stream);
    // The gateway notices at its next write; give it a moment.
    let mut row = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let a = c.get(&format!("/api/v1/events?request_id={id}")).await;
        if let Some(e) = a.json()["events"].as_array().and_then(|e| e.first()) {
            row = e.clone();
            break;
        }
    }
    assert_eq!(row["status"], "cancelled", "{row}");
    assert_eq!(row["estimated"], true);
    assert!(row["usage"]["input"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn upstream_failures_map_to_the_contract_and_are_recorded() {
    let g = Gateway::start_with(|s| s.replace("timeout_secs = 120", "timeout_secs = 1"));
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let cases: &[(&str, u16, &str, &str)] = &[
        ("status-500", 502, "upstream_error", "upstream_error"),
        ("status-429", 429, "rate_limited", "upstream_rate_limited"),
        ("malformed", 502, "upstream_error", "upstream_malformed"),
        ("hang", 504, "upstream_error", "upstream_timeout"),
        ("reset", 502, "upstream_error", "upstream_cut"),
    ];
    for (fault, status, code, row_status) in cases {
        let a = c.post("/v1/chat/completions", chat("gpt-4.1-mini", "hi"), &[("x-mock-fault", fault)]).await;
        assert_eq!(a.status, *status, "{fault}: {}", a.body);
        let err = a.json();
        assert_eq!(err["error"]["code"], *code, "{fault}");
        assert!(err["error"]["type"].is_string() && err["error"]["message"].is_string());
        if *fault == "status-429" {
            assert_eq!(a.headers["retry-after"], "2");
        }
        let row = c.event(&a.request_id()).await;
        assert_eq!(row["status"], *row_status, "{fault}");
        assert_eq!(row["error_code"], *code);
        // A refused call cost nothing; one that may have run is estimated.
        match *fault {
            "status-500" | "status-429" => assert_eq!(row["cost_nanos"], 0, "{fault}"),
            _ => assert_eq!(row["estimated"], true, "{fault}: {row}"),
        }
    }
}

#[tokio::test]
async fn refusals_use_the_contract_shape() {
    let g = Gateway::start();
    let key = g.key("ivan.petrov", Some("support-reply"));
    let c = Client::new(&g, key.clone());
    let nobody = Client { key: "tw_not_a_key".into(), ..Client::new(&g, String::new()) };
    let a = nobody.post("/v1/chat/completions", chat("gpt-4.1-mini", "hi"), &[]).await;
    assert_eq!((a.status, a.json()["error"]["code"].as_str()), (401, Some("unauthorized")));

    // A model the use case does not allow: named alternatives.
    let a = c.post("/v1/chat/completions", chat("gpt-4.1", "hi"), &[]).await;
    assert_eq!(a.status, 403);
    let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert_eq!(a.json()["error"]["code"], "policy_violation");
    assert!(msg.contains("claude-haiku-4-5") && msg.contains("default"), "{msg}");

    let a = c.post("/v1/chat/completions", chat("gpt-4.1-mini", "hi"), &[("x-tokenwise-use-case", "nope")]).await;
    assert_eq!((a.status, a.json()["error"]["code"].as_str()), (400, Some("invalid_request")));
    let a = c
        .post("/v1/chat/completions", chat("gpt-4.1-mini", "hi"), &[("x-tokenwise-template", "support-refund@9")])
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("support-refund@3"), "{}", a.body);
    let a = c.post("/v1/chat/completions", json!({"messages": []}), &[]).await;
    assert_eq!((a.status, a.json()["error"]["code"].as_str()), (400, Some("invalid_request")));

    let huge = "x".repeat(5 * 1024 * 1024);
    let a = c.post("/v1/chat/completions", chat("gpt-4.1-mini", &huge), &[]).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.json()["error"]["code"], "invalid_request");

    // A revoked key stops working, also after a restart (tests/revocation.rs
    // shows it is refused on the very next call, without one).
    let out = g.keys(&["list", "--user", "ivan.petrov"]);
    let id = String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string();
    let out = g.keys(&["revoke", &id]);
    assert!(out.status.success(), "{}", support::text(&out));
    let mut g = g;
    g.restart();
    let c = Client::new(&g, key);
    let a = c.post("/v1/chat/completions", chat("gpt-4.1-mini", "hi"), &[]).await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("revoked"), "{}", a.body);
}

#[tokio::test]
async fn anthropic_messages_meter_cache_reads_and_writes() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("jade.nguyen", Some("support-reply")));
    let system = "You are Acme's support assistant. Follow the refund policy: ".repeat(20);
    let body = |q: &str, stream: bool| {
        json!({"model": "claude-haiku-4-5", "max_tokens": 50, "stream": stream,
               "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
               "messages": [{"role": "user", "content": q}]})
    };
    let first = c.post("/v1/messages", body("Where is my refund?", false), &[]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let u = first.json()["usage"].clone();
    assert!(u["cache_creation_input_tokens"].as_u64().unwrap() > 0);
    let row = c.event(&first.request_id()).await;
    let total_in = u["input_tokens"].as_u64().unwrap() + u["cache_creation_input_tokens"].as_u64().unwrap();
    assert_eq!(row["usage"]["input"], total_in);
    assert_eq!(row["usage"]["cache_write"], u["cache_creation_input_tokens"]);
    assert_eq!(row["usage"]["output"], u["output_tokens"]);

    // The same system prompt again, streamed: a cache read.
    let second = c.post("/v1/messages", body("And my invoice?", true), &[]).await;
    assert_eq!(second.status, 200);
    let start: Value = serde_json::from_str(&second.sse_data()[0]).unwrap();
    let su = &start["message"]["usage"];
    let read = su["cache_read_input_tokens"].as_u64().unwrap();
    assert!(read > 0);
    let delta: Value = second
        .sse_data()
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|v| v["type"] == "message_delta")
        .unwrap();
    let row = c.event(&second.request_id()).await;
    assert_eq!(row["usage"]["cached_read"], read);
    assert_eq!(row["usage"]["input"], su["input_tokens"].as_u64().unwrap() + read);
    assert_eq!(row["usage"]["output"], delta["usage"]["output_tokens"]);
    assert_eq!(row["estimated"], false);
    // Cached tokens at $0.10 / Mtok, fresh at $1 / Mtok, output at $5 / Mtok.
    let expect = (su["input_tokens"].as_i64().unwrap()) * 1_000
        + read as i64 * 100
        + delta["usage"]["output_tokens"].as_i64().unwrap() * 5_000;
    assert_eq!(row["cost_nanos"], expect);
    assert_eq!(second.sse_data().last().unwrap(), "{\"type\":\"message_stop\"}");
}

#[tokio::test]
async fn reasoning_tokens_are_priced_and_embeddings_metered() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("chen.wei", Some("code-review")));
    let a = c.post("/v1/chat/completions", chat("o4-mini", "Review this diff"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let usage = a.json()["usage"].clone();
    assert!(usage["completion_tokens_details"]["reasoning_tokens"].as_u64().unwrap() > 0);
    let row = c.event(&a.request_id()).await;
    assert_openai_usage_matches(&row, &usage);

    let k = Client::new(&g, g.key("xin.zhao", Some("kb-search")));
    let a = k
        .post("/v1/embeddings", json!({"model": "text-embedding-3-small", "input": ["refund policy", "invoice"]}), &[])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let row = k.event(&a.request_id()).await;
    assert_eq!(row["usage"]["input"], a.json()["usage"]["prompt_tokens"]);
    assert_eq!(row["operation"], "embeddings");

    let models = k.get("/v1/models").await.json();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["claude-haiku-4-5", "gpt-4.1-mini", "text-embedding-3-small"]);
}

#[tokio::test]
async fn the_events_api_shows_each_role_what_it_may_see() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let jade = Client::new(&g, g.key("jade.nguyen", Some("support-reply")));
    let paula = Client::new(&g, g.key("paula.costa", Some("sales-outreach")));
    for c in [&ivan, &jade, &paula] {
        assert_eq!(c.post("/v1/chat/completions", chat("gpt-4.1-mini", "hi"), &[]).await.status, 200);
    }
    let users = |a: Answer| -> Vec<String> {
        let mut u: Vec<String> =
            a.json()["events"].as_array().unwrap().iter().map(|e| e["user_id"].as_str().unwrap().to_string()).collect();
        u.sort();
        u
    };
    assert_eq!(users(ivan.get("/api/v1/events").await), ["ivan.petrov"]);
    assert_eq!(ivan.get("/api/v1/events?user=jade.nguyen").await.status, 403);
    let lucia = Client::new(&g, g.key("lucia.fernandez", Some("support-reply")));
    assert_eq!(users(lucia.get("/api/v1/events").await), ["ivan.petrov", "jade.nguyen"]);
    assert_eq!(lucia.get("/api/v1/events?user=paula.costa").await.status, 403);
    let omar = Client::new(&g, g.key("omar.haddad", None));
    assert_eq!(users(omar.get("/api/v1/events").await), ["ivan.petrov", "jade.nguyen", "paula.costa"]);
    assert_eq!(omar.get("/api/v1/events?from=yesterday").await.status, 400);
}

#[tokio::test]
async fn acknowledged_calls_survive_a_crash() {
    let mut g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let mut ids = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (http, base, key) = (c.http.clone(), c.base.clone(), c.key.clone());
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(key)
                .json(&chat("gpt-4.1-mini", &format!("question {i}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.headers()["x-tokenwise-request-id"].to_str().unwrap().to_string()
        }));
    }
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    // SIGKILL: no shutdown, no flush.
    g.serve.as_mut().unwrap().child.kill().unwrap();
    g.serve.as_mut().unwrap().child.wait().unwrap();
    let conn = rusqlite::Connection::open(&g.db).unwrap();
    for id in &ids {
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM usage_events WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "acknowledged call {id} is in the ledger");
    }
    drop(conn);
    g.restart();
}

/// Reads the ledger's audit entries of one action.
fn audit_entries(g: &Gateway, action: &str) -> Vec<Value> {
    let conn = rusqlite::Connection::open(&g.db).unwrap();
    let mut stmt = conn.prepare("SELECT subject, details FROM audit_log WHERE action = ?1 ORDER BY seq").unwrap();
    stmt.query_map([action], |r| {
        let details: String = r.get(1)?;
        Ok(json!({"subject": r.get::<_, String>(0)?, "details": serde_json::from_str::<Value>(&details).unwrap()}))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

async fn wait_for_audit(g: &Gateway, subject: &str) -> Value {
    for _ in 0..50 {
        if let Some(e) = audit_entries(g, "policy.decision").into_iter().find(|e| e["subject"] == subject) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no audit entry for {subject}");
}

#[tokio::test]
async fn a_confidential_prompt_to_an_uncleared_model_is_blocked_with_a_nudge() {
    let g = Gateway::start_with(|s| s.replace("confidential = \"reroute\"", "confidential = \"block\""));
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = c
        .post("/v1/chat/completions", chat("gpt-4.1-mini", "Reply to jane.doe@example.com about her refund"), &[])
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let err = a.json();
    assert_eq!(err["error"]["code"], "policy_violation");
    let msg = err["error"]["message"].as_str().unwrap();
    assert!(msg.contains("use model `claude-haiku-4-5`"), "the nudge names the alternative: {msg}");
    assert!(a.headers.contains_key("x-tokenwise-nudge"));
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["status"], "blocked");
    assert_eq!(row["decision"], "block");
    assert_eq!(row["data_class"], "confidential");
    assert_eq!(row["findings"], json!({"email": 1}));
    assert_eq!(row["cost_nanos"], 0);
    let audit = wait_for_audit(&g, &a.request_id()).await;
    assert_eq!(audit["details"]["decision"], "block");
    assert_eq!(audit["details"]["findings"], json!({"email": 1}));
    assert!(!audit.to_string().contains("jane.doe"), "never the content: {audit}");

    // A model the use case does not allow is refused, recorded and audited too.
    let a = c.post("/v1/chat/completions", chat("o4-mini", "hello"), &[]).await;
    assert_eq!(a.status, 403);
    assert_eq!(c.event(&a.request_id()).await["decision"], "block");
}

#[tokio::test]
async fn with_redaction_the_prompt_goes_through_masked() {
    let g = Gateway::start_with(|s| s.replace("confidential = \"reroute\"", "confidential = \"redact\""));
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    // The mock echoes what it received after "echo: ".
    let a = c
        .post(
            "/v1/chat/completions",
            chat("gpt-4.1-mini", "echo: write to jane.doe@example.com or call (555) 234-5678 today"),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let reply = a.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    assert_eq!(reply, "write to [EMAIL] or call [PHONE] today");
    assert!(a.headers["x-tokenwise-nudge"].to_str().unwrap().contains("masked"));
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["decision"], "redact");
    assert_eq!(row["findings"], json!({"email": 1, "phone": 1}));
    assert_eq!(row["status"], "ok");
    assert_eq!(wait_for_audit(&g, &a.request_id()).await["details"]["decision"], "redact");
}

#[tokio::test]
async fn with_rerouting_the_prompt_goes_to_the_cleared_model() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("chen.wei", Some("code-review")));
    let a = c
        .post("/v1/chat/completions", chat("gpt-4.1", "echo: the bug report came from jane.doe@example.com"), &[])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The upstream saw the on-premises model's name.
    assert_eq!(a.json()["model"], "meta-llama/Llama-3.3-70B-Instruct");
    let nudge = a.headers["x-tokenwise-nudge"].to_str().unwrap();
    assert!(nudge.contains("rerouted from `gpt-4.1` to `acme-llama-70b`"), "{nudge}");
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["decision"], "reroute");
    assert_eq!(row["requested_model"], "gpt-4.1");
    assert_eq!(row["model"], "acme-llama-70b");
    assert_eq!(row["price_version"], "acme-llama-70b@2026-01-01");
    assert_eq!(row["data_class"], "confidential");
}

#[tokio::test]
async fn restricted_data_beyond_the_use_case_is_blocked_and_named() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "claude-haiku-4-5", "max_tokens": 20,
                      "messages": [{"role": "user", "content": "card 4111 1111 1111 1111 was charged twice"}]});
    let a = c.post("/v1/messages", body, &[]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("restricted"), "{msg}");
    assert!(msg.contains("use case `"), "names a use case that accepts it: {msg}");
    assert!(msg.contains("remove the 1 credit_card"), "{msg}");
}

#[tokio::test]
async fn check_answers_without_calling_a_model() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let mut body = chat("gpt-4.1-mini", "Reply to jane.doe@example.com");
    body["max_tokens"] = json!(200);
    let a = c.post("/api/v1/check", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    // Acme reroutes confidential prompts: to Haiku, the cheapest cleared model.
    assert_eq!(v["decision"], "reroute");
    assert_eq!(v["suggested_model"], "claude-haiku-4-5");
    assert_eq!(v["model"], "claude-haiku-4-5");
    assert_eq!(v["data_class"], "confidential");
    assert_eq!(
        v["findings"],
        json!([{"kind": "email", "start": 9, "end": 29, "class": "confidential", "location": "/messages/0/content"}])
    );
    assert_eq!(v["estimate"]["max_output_tokens"], 200);
    let input = v["estimate"]["input_tokens"].as_i64().unwrap();
    assert_eq!(v["estimate"]["cost_nanos"], input * 1_000 + 200 * 5_000, "priced at Haiku's rates");
    // A card is restricted: beyond the use case, blocked, naming the way out.
    let card = c.post("/api/v1/check", chat("gpt-4.1-mini", "card 4111 1111 1111 1111"), &[]).await.json();
    assert_eq!(card["decision"], "block");
    assert!(card["nudge"].as_str().unwrap().contains("remove the 1 credit_card"));

    let clean = c.post("/api/v1/check", chat("gpt-4.1-mini", "Summarise our refund policy"), &[]).await.json();
    assert_eq!(clean["decision"], "allow");
    assert_eq!(clean["findings"], json!([]));
    // Nothing was metered: checks are not calls.
    let events = c.get("/api/v1/events").await.json();
    assert_eq!(events["events"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_reroute_across_wire_formats_answers_in_the_clients_format() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    // JSON: an OpenAI client, an Anthropic-format model.
    let a =
        c.post("/v1/chat/completions", chat("gpt-4.1-mini", "echo: reply to jane.doe@example.com today"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "claude-haiku-4-5");
    assert_eq!(v["choices"][0]["message"]["content"], "reply to jane.doe@example.com today");
    let row = c.event(&a.request_id()).await;
    assert_eq!(
        (row["decision"].as_str(), row["model"].as_str(), row["requested_model"].as_str()),
        (Some("reroute"), Some("claude-haiku-4-5"), Some("gpt-4.1-mini"))
    );
    assert_eq!(row["usage"]["input"], v["usage"]["prompt_tokens"]);
    assert_eq!(row["usage"]["output"], v["usage"]["completion_tokens"]);
    assert_eq!(row["estimated"], false);
    assert!(a.headers["x-tokenwise-nudge"].to_str().unwrap().contains("to `claude-haiku-4-5`"));

    // Streamed, with usage asked for: OpenAI chunks, then usage, then [DONE].
    let mut body = chat("gpt-4.1-mini", "what did jane.doe@example.com order?");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let a = c.post("/v1/chat/completions", body, &[]).await;
    assert_eq!(a.status, 200);
    let data = a.sse_data();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"), "{}", a.body);
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert!(!text.is_empty());
    let usage = &chunks.last().unwrap()["usage"];
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["model"], "claude-haiku-4-5");
    assert_eq!(row["usage"]["input"], usage["prompt_tokens"]);
    assert_eq!(row["usage"]["output"], usage["completion_tokens"]);
    assert_eq!(row["estimated"], false);
    // Tools cannot be translated: the same prompt is then blocked, naming Haiku.
    let mut tools = chat("gpt-4.1-mini", "email jane.doe@example.com");
    tools["tools"] = json!([{"type": "function", "function": {"name": "send", "parameters": {}}}]);
    let a = c.post("/v1/chat/completions", tools, &[]).await;
    assert_eq!(a.status, 403);
    assert!(a.json()["error"]["message"].as_str().unwrap().contains("claude-haiku-4-5"));
}
