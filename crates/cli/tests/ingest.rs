//! Usage recorded elsewhere, against the real binary: each format through
//! `POST /api/v1/events:batch`, OTLP/HTTP (protobuf and JSON) and
//! `tokenwise ingest`; records priced with the price book at their own
//! time, mapped to people by the policy's rules, stored once however often
//! they are sent, counted by budgets; bad records rejected by line with
//! their reason while the rest are stored; only admins and governance may
//! ingest; oversized bodies refused.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use prost::Message;
use serde_json::{Value, json};
use std::path::Path;
use support::{Client, Gateway, bin, policy_copy, text};
use tokenwise_ingest::ledger_id;
use tokenwise_ingest::otlp::proto;

/// POSTs `body` as `content_type` with `key`: status, content type, body.
async fn post(g: &Gateway, key: Option<&str>, path: &str, content_type: &str, body: Vec<u8>) -> (u16, String, Vec<u8>) {
    tokenwise_server::install_crypto();
    let mut req =
        reqwest::Client::new().post(format!("{}{path}", g.url)).header("content-type", content_type).body(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// POSTs to events:batch and returns the report (asserting 200).
async fn batch(g: &Gateway, key: &str, query: &str, body: String) -> Value {
    let (status, _, out) =
        post(g, Some(key), &format!("/api/v1/events:batch{query}"), "application/x-ndjson", body.into()).await;
    let v: Value = serde_json::from_slice(&out).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out)));
    assert_eq!(status, 200, "{v}");
    v
}

/// The ledger's row for an id, read through the API by an admin.
async fn event(c: &Client, id: &str) -> Value {
    c.event(id).await
}

fn event_line(id: &str, source: &str, time: &str, user: &str, use_case: &str, model: &str, usage: Value) -> String {
    json!({"id": id, "source": source, "time": time, "user": user, "use_case": use_case, "model": model, "usage": usage})
        .to_string()
}

fn litellm_row(id: &str, user: &str, team_alias: &str, start: &str) -> Value {
    json!({
        "request_id": id, "call_type": "acompletion", "api_key": "9f2c…hashed", "spend": 0.5,
        "total_tokens": 13000, "prompt_tokens": 12000, "completion_tokens": 1000,
        "startTime": start, "endTime": start, "model": "claude-3-5-haiku-20241022", "model_group": "haiku",
        "custom_llm_provider": "anthropic", "user": user, "team_id": "8f1e0c", "end_user": "",
        "metadata": {"user_api_key_team_alias": team_alias, "user_api_key_alias": "support-bot",
                     "usage_object": {"prompt_tokens": 12000, "completion_tokens": 1000,
                                      "prompt_tokens_details": {"cached_tokens": 10000}}},
        "request_tags": [], "cache_hit": "False"
    })
}

fn kv(key: &str, v: proto::Value) -> proto::KeyValue {
    proto::KeyValue { key: key.into(), value: Some(proto::AnyValue { value: Some(v) }) }
}

fn s(key: &str, v: &str) -> proto::KeyValue {
    kv(key, proto::Value::StringValue(v.into()))
}

fn n(key: &str, v: i64) -> proto::KeyValue {
    kv(key, proto::Value::IntValue(v))
}

fn span(id: u8, start: &str, attributes: Vec<proto::KeyValue>) -> proto::Span {
    let t: jiff::Timestamp = start.parse().unwrap();
    let ns = u64::try_from(t.as_nanosecond()).unwrap();
    proto::Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        name: "chat claude-sonnet-4-5".into(),
        start_time_unix_nano: ns,
        end_time_unix_nano: ns + 2_000_000_000,
        attributes,
        status: None,
    }
}

fn otlp_request(service: &str, spans: Vec<proto::Span>) -> proto::ExportTraceServiceRequest {
    proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource { attributes: vec![s("service.name", service)] }),
            scope_spans: vec![proto::ScopeSpans { spans }],
        }],
    }
}

fn sonnet_span(id: u8) -> proto::Span {
    span(
        id,
        "2026-11-10T09:30:00Z",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "anthropic"),
            s("gen_ai.request.model", "claude-sonnet-4-5"),
            n("gen_ai.usage.input_tokens", 1500),
            n("gen_ai.usage.cache_read.input_tokens", 1000),
            n("gen_ai.usage.cache_creation.input_tokens", 200),
            n("gen_ai.usage.output_tokens", 400),
        ],
    )
}

fn span_id(id: u8) -> String {
    format!("{}-{}", "07".repeat(16), format!("{id:02x}").repeat(8))
}

#[tokio::test]
async fn every_format_lands_as_priced_events_and_a_resend_is_stored_once() {
    let g = Gateway::start_manual(|s| s);
    g.set_clock("2026-11-10T10:00:00Z").await;
    let admin = g.key("hugo.martin", None);
    let c = Client::new(&g, admin.clone());

    // Our own events and CloudEvents; the third line is the first again, as a CloudEvent.
    let usage = json!({"input_tokens": 1_000_000, "output_tokens": 100_000});
    let june =
        event_line("a", "acme/ci", "2026-06-15T12:00:00Z", "ben.carter", "code-review", "gpt-4.1", usage.clone());
    let cloud = |id: &str, time: &str| {
        json!({"specversion": "1.0", "id": id, "source": "acme/ci", "type": "com.acme.ai.usage", "time": time,
               "subject": "ben.carter", "datacontenttype": "application/json",
               "data": {"use_case": "code-review", "model": "gpt-4.1", "task": "T-9", "usage": usage}})
        .to_string()
    };
    let body = format!("{june}\n{}\n{}\n", cloud("b", "2026-11-03T12:00:00Z"), cloud("a", "2026-06-15T12:00:00Z"));
    let r = batch(&g, &admin, "", body.clone()).await;
    assert_eq!(
        (r["stored"].as_u64(), r["duplicates"].as_u64(), r["rejected"].as_u64()),
        (Some(2), Some(1), Some(0)),
        "{r}"
    );
    let a = event(&c, &ledger_id("jsonl", "acme/ci", "a")).await;
    let b = event(&c, &ledger_id("jsonl", "acme/ci", "b")).await;
    // The event's time picks the price version: list price in June, the negotiated one from July.
    assert_eq!(a["cost_usd"], "2.80", "{a}");
    assert_eq!(b["cost_usd"], "2.24", "{b}");
    assert_ne!(a["price_version"], b["price_version"]);
    for e in [&a, &b] {
        assert_eq!((e["operation"].as_str(), e["source"].as_str()), (Some("ingested"), Some("ingest_jsonl")));
        assert_eq!((e["user_id"].as_str(), e["team_id"].as_str()), (Some("ben.carter"), Some("platform")));
        assert_eq!((e["use_case"].as_str(), e["model"].as_str()), (Some("code-review"), Some("gpt-4.1")));
    }
    assert_eq!(b["task"], "T-9");

    // LiteLLM rows: the rule maps the team alias and LiteLLM's user id; the
    // model name to the policy's; the row's own `spend` is only reported.
    let rows = json!([litellm_row("req-1", "u-ivan", "support-tier1", "2026-11-10T08:00:00.000Z"),
                      {"request_id": "req-2", "cache_hit": "True", "prompt_tokens": 5, "completion_tokens": 5}]);
    let r = batch(&g, &admin, "?format=litellm", rows.to_string()).await;
    assert_eq!((r["stored"].as_u64(), r["ignored"].as_u64()), (Some(1), Some(1)), "{r}");
    // 2,000 uncached at $1/M + 10,000 cached at $0.10/M + 1,000 out at $5/M.
    assert_eq!((r["cost_usd"].as_str(), r["reported_cost_usd"].as_str()), (Some("0.008"), Some("0.50")));
    let l = event(&c, &ledger_id("litellm", "litellm", "req-1")).await;
    assert_eq!((l["user_id"].as_str(), l["use_case"].as_str()), (Some("ivan.petrov"), Some("support-reply")));
    assert_eq!(
        (l["model"].as_str(), l["requested_model"].as_str()),
        (Some("claude-haiku-4-5"), Some("claude-3-5-haiku-20241022"))
    );
    assert_eq!((l["usage"]["cached_read"].as_u64(), l["cost_nanos"].as_i64()), (Some(10_000), Some(8_000_000)));

    // OTLP/protobuf: the on-call agent's spans are Chen's; a span without
    // GenAI usage is ignored, one without a model rejected.
    let req = otlp_request(
        "oncall-agent",
        vec![
            sonnet_span(1),
            span(2, "2026-11-10T09:30:00Z", vec![s("http.request.method", "GET")]),
            span(3, "2026-11-10T09:30:00Z", vec![n("gen_ai.usage.input_tokens", 10)]),
        ],
    );
    let (status, ct, out) =
        post(&g, Some(&admin), "/otlp/v1/traces", "application/x-protobuf", req.encode_to_vec()).await;
    assert_eq!((status, ct.as_str()), (200, "application/x-protobuf"));
    let answer = proto::ExportTraceServiceResponse::decode(out.as_slice()).unwrap().partial_success.unwrap();
    assert_eq!(answer.rejected_spans, 1, "{}", answer.error_message);
    assert!(answer.error_message.contains("1 without GenAI usage ignored"), "{}", answer.error_message);
    assert!(answer.error_message.contains("span 3: a span with GenAI usage but no"), "{}", answer.error_message);
    let o = event(&c, &ledger_id("otlp", "oncall-agent", &span_id(1))).await;
    assert_eq!((o["user_id"].as_str(), o["use_case"].as_str()), (Some("chen.wei"), Some("incident-triage")));
    // OTel's input includes the cache: 300 uncached at $3/M, 1,000 read at
    // $0.30/M, 200 written at $3.75/M, 400 out at $15/M.
    assert_eq!((o["cost_nanos"].as_i64(), o["latency_ms"].as_u64()), (Some(7_950_000), Some(2_000)));
    assert_eq!(o["source"], "ingest_otlp");

    // OTLP/JSON from an app that names its person by e-mail and its use case.
    let j = json!({"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "kb-assistant"}},
            {"key": "user.id", "value": {"stringValue": "Xin.Zhao@acme.example"}}]},
        "scopeSpans": [{"spans": [{"traceId": "0a".repeat(16), "spanId": "0b".repeat(8), "name": "chat",
            "startTimeUnixNano": "1794304800000000000", "endTimeUnixNano": "1794304801000000000",
            "attributes": [
                {"key": "tokenwise.use_case", "value": {"stringValue": "kb-search"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4.1-mini"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1200"}},
                {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "200"}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "300"}}]}]}]}]});
    let (status, ct, out) = post(&g, Some(&admin), "/otlp/v1/traces", "application/json", j.to_string().into()).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), json!({}), "every span stored: no partial success");
    let k = event(&c, &ledger_id("otlp", "kb-assistant", &format!("{}-{}", "0a".repeat(16), "0b".repeat(8)))).await;
    assert_eq!((k["user_id"].as_str(), k["cost_nanos"].as_i64()), (Some("xin.zhao"), Some(900_000)));

    // Sent again, nothing is stored twice.
    let r = batch(&g, &admin, "", body).await;
    assert_eq!((r["stored"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(3)), "{r}");
    let (_, _, out) = post(&g, Some(&admin), "/otlp/v1/traces", "application/x-protobuf", req.encode_to_vec()).await;
    let again = proto::ExportTraceServiceResponse::decode(out.as_slice()).unwrap().partial_success.unwrap();
    assert!(again.error_message.contains("stored 0 spans as usage; 1 already stored"), "{}", again.error_message);
    let all = c.get("/api/v1/events?from=2026-01-01T00:00:00Z&limit=1000").await.json();
    assert_eq!(all["events"].as_array().unwrap().len(), 5, "{all}");

    // Each ingest is in the audit log.
    let out = bin()
        .args(["audit", "verify", "--config", g.policy.to_str().unwrap(), "--database", &g.database()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[tokio::test]
async fn only_admins_and_governance_may_ingest() {
    let g = Gateway::start();
    let line = event_line(
        "x",
        "acme/ci",
        "2026-11-03T12:00:00Z",
        "ivan.petrov",
        "support-reply",
        "gpt-4.1-mini",
        json!({"input_tokens": 10, "output_tokens": 1}),
    );
    let member = g.key("ivan.petrov", Some("support-reply"));
    let (status, _, out) =
        post(&g, Some(&member), "/api/v1/events:batch", "application/x-ndjson", line.clone().into()).await;
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("policy_violation")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("may not ingest"), "{v}");
    let (status, _, _) = post(&g, Some(&member), "/otlp/v1/traces", "application/x-protobuf", Vec::new()).await;
    assert_eq!(status, 403, "a plain user's key cannot post spans either");
    let manager = g.key("lucia.fernandez", None);
    let (status, _, _) =
        post(&g, Some(&manager), "/api/v1/events:batch", "application/x-ndjson", line.clone().into()).await;
    assert_eq!(status, 403, "nor a manager's");
    let (status, _, _) = post(&g, None, "/api/v1/events:batch", "application/x-ndjson", line.clone().into()).await;
    assert_eq!(status, 401);
    let governance = g.key("omar.haddad", None);
    assert_eq!(batch(&g, &governance, "", line).await["stored"], 1);
    let admin = Client::new(&g, g.key("hugo.martin", None));
    assert_eq!(event(&admin, &ledger_id("jsonl", "acme/ci", "x")).await["user_id"], "ivan.petrov");
}

/// Lines that cannot be stored, each with the reason it names.
fn bad_file() -> (String, Vec<(u64, &'static str)>) {
    let usage = json!({"input_tokens": 1000, "output_tokens": 100});
    let ok = event_line(
        "ok-1",
        "acme/ci",
        "2026-11-03T12:00:00Z",
        "ben.carter",
        "code-review",
        "gpt-4.1-mini",
        usage.clone(),
    );
    let lines = [
        ok,
        ok_with(&usage, "\"user\":", "\"usr\":"),
        event_line(
            "r-2",
            "rogue-proxy",
            "2026-11-03T12:00:00Z",
            "ben.carter",
            "code-review",
            "gpt-4.1-mini",
            usage.clone(),
        ),
        event_line("r-3", "acme/ci", "2026-11-03T12:00:00Z", "mallory", "code-review", "gpt-4.1-mini", usage.clone()),
        event_line(
            "r-4",
            "acme/ci",
            "2026-11-03T12:00:00Z",
            "ivan.petrov",
            "code-review",
            "gpt-4.1-mini",
            usage.clone(),
        ),
        event_line("r-5", "acme/ci", "2026-11-03T12:00:00Z", "ben.carter", "code-review", "gpt-9", usage.clone()),
        "{\"id\": \"r-6\", \"source\": ".to_string(),
        event_line(
            "r-7",
            "acme/ci",
            "2026-11-03T12:00:00Z",
            "ben.carter",
            "code-review",
            "gpt-4.1-mini",
            json!({"input_tokens": 10, "output_tokens": 1, "cache_read_tokens": 50}),
        ),
        // A -1 written unsigned: priced, it would overflow the ledger's sums.
        event_line(
            "r-8",
            "acme/ci",
            "2026-11-03T12:00:00Z",
            "ben.carter",
            "code-review",
            "gpt-4.1-mini",
            json!({"input_tokens": u64::MAX, "output_tokens": 1}),
        ),
    ];
    let expected = vec![
        (2, "unknown field `usr`"),
        (3, "no [[ingest.sources]] rule of the policy matches source `rogue-proxy`"),
        (4, "user `mallory` is not a person of the policy"),
        (5, "`ivan.petrov` (team `support`) may not use use case `code-review`"),
        (6, "model `gpt-9` is not one of the policy's models"),
        (7, "not JSON"),
        (8, "must include cached tokens"),
        (9, "18446744073709551615 input tokens is more than any one call uses"),
    ];
    (lines.join("\n") + "\n", expected)
}

fn ok_with(usage: &Value, from: &str, to: &str) -> String {
    event_line("r-1", "acme/ci", "2026-11-03T12:00:00Z", "ben.carter", "code-review", "gpt-4.1-mini", usage.clone())
        .replace(from, to)
}

#[tokio::test]
async fn bad_records_are_rejected_by_line_with_their_reason_and_the_rest_stored() {
    let g = Gateway::start();
    let admin = g.key("hugo.martin", None);
    let (body, expected) = bad_file();
    let r = batch(&g, &admin, "", body).await;
    assert_eq!(
        (r["received"].as_u64(), r["stored"].as_u64(), r["rejected"].as_u64()),
        (Some(9), Some(1), Some(8)),
        "{r}"
    );
    let got: Vec<(u64, String)> = r["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["line"].as_u64().unwrap(), x["reason"].as_str().unwrap().to_string()))
        .collect();
    for ((line, needle), (got_line, reason)) in expected.iter().zip(&got) {
        assert_eq!(line, got_line, "{got:?}");
        assert!(reason.contains(needle), "line {line}: {reason:?} should say {needle:?}");
    }
    let c = Client::new(&g, admin);
    assert_eq!(event(&c, &ledger_id("jsonl", "acme/ci", "ok-1")).await["cost_usd"], "0.00056");
    let (status, _, out) = post(&g, Some(&c.key), "/api/v1/events:batch?format=csv", "text/csv", b"a,b".to_vec()).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&out));
}

#[tokio::test]
async fn the_cli_ingests_each_format_into_the_policys_ledger_once() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_copy(dir.path(), |s| s);
    let db = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let ingest = |file: &Path, format: &str| {
        bin()
            .args(["ingest", "--config", policy.to_str().unwrap(), "--database", &db])
            .arg(file)
            .args(["--format", format])
            .output()
            .unwrap()
    };
    // JSON lines with bad lines: the good ones are stored, the bad ones printed, exit 1.
    let (body, expected) = bad_file();
    let jsonl = dir.path().join("events.jsonl");
    std::fs::write(&jsonl, body).unwrap();
    let out = ingest(&jsonl, "jsonl");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ingested 9 records: 1 stored, 0 already stored, 8 rejected"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (line, needle) in &expected {
        assert!(
            stderr.lines().any(|l| l.starts_with(&format!("rejected line {line}: ")) && l.contains(needle)),
            "{stderr}"
        );
    }
    // LiteLLM rows as JSON lines, and an OTLP/JSON request.
    let litellm = dir.path().join("spend_logs.jsonl");
    let rows = [
        litellm_row("req-1", "u-ivan", "support-tier1", "2026-11-10T08:00:00Z"),
        litellm_row("req-2", "u-jade", "support", "2026-11-10 08:05:00.000"),
    ];
    std::fs::write(&litellm, rows.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")).unwrap();
    let out = ingest(&litellm, "litellm");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 stored"), "{}", text(&out));
    let otlp = dir.path().join("traces.json");
    let req = json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "oncall-agent"}}]},
        "scopeSpans": [{"spans": [{"traceId": "07".repeat(16), "spanId": "01".repeat(8), "startTimeUnixNano": "1794304800000000000",
            "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "claude-sonnet-4-5"}},
                           {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1500"}},
                           {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": "1000"}},
                           {"key": "gen_ai.usage.cache_creation.input_tokens", "value": {"intValue": "200"}},
                           {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "400"}}]}]}]}]});
    std::fs::write(&otlp, serde_json::to_string_pretty(&req).unwrap()).unwrap();
    let out = ingest(&otlp, "otlp-json");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 stored"), "{}", text(&out));
    // Again: nothing twice.
    let out = ingest(&litellm, "litellm");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 stored, 2 already stored"), "{}", text(&out));
    let out = ingest(&otlp, "otlp-json");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 stored, 1 already stored"), "{}", text(&out));
    // In the ledger: 4 events, and their cost on the envelopes.
    let c = rusqlite::Connection::open(dir.path().join("ledger.db")).unwrap();
    let (count, cost): (i64, i64) = c
        .query_row("SELECT COUNT(*), SUM(cost_nanos) FROM usage_events WHERE operation = 'ingested'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((count, cost), (4, 560_000 + 2 * 8_000_000 + 7_950_000));
    let captured: i64 = c
        .query_row("SELECT captured_nanos FROM budget_envelopes WHERE key = 'org-production|org|2026-11-01'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(captured, cost, "every ingested cost is on the org's production envelope");
    // Scored like gateway usage: the month's scores count Ivan's ingested call.
    let out = bin()
        .args(["score", "--config", policy.to_str().unwrap(), "--database", &db, "--period", "2026-11", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let board: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ivan = board["scores"].as_array().unwrap().iter().find(|s| s["subject"] == "user:ivan.petrov").unwrap();
    assert!(ivan["breakdown"].to_string().contains("$0.0080 spent on 1 calls"), "{ivan}");
    let out = bin()
        .args(["ingest", "--config", policy.to_str().unwrap(), "--database", &db, "x", "--format", "csv"])
        .output()
        .unwrap();
    assert!(!out.status.success() && text(&out).contains("unknown format `csv`"), "{}", text(&out));
}

#[tokio::test]
async fn ingested_spend_counts_against_budgets() {
    let g = Gateway::start_manual(|s| s);
    g.set_clock("2026-11-10T10:00:00Z").await;
    let admin = g.key("hugo.martin", None);
    // $75 of output on Sonnet this morning: over Ivan's $60 a day.
    let big = event_line(
        "big",
        "acme/helpdesk",
        "2026-11-10T09:00:00Z",
        "ivan.petrov",
        "support-reply",
        "claude-sonnet-4-5",
        json!({"input_tokens": 0, "output_tokens": 5_000_000}),
    );
    let r = batch(&g, &admin, "", big).await;
    assert_eq!((r["stored"].as_u64(), r["cost_usd"].as_str()), (Some(1), Some("75.00")), "{r}");
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let budgets = ivan.get("/api/v1/budgets").await.json();
    let daily =
        budgets["envelopes"].as_array().unwrap().iter().find(|e| e["budget"] == "per-person-daily").unwrap().clone();
    assert_eq!(
        (daily["captured_nanos"].as_i64(), daily["held_nanos"].as_i64()),
        (Some(75_000_000_000), Some(0)),
        "{daily}"
    );
    // The gateway now refuses Ivan's next call, naming the envelope.
    let a = ivan
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}),
            &[],
        )
        .await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert!(a.json()["error"]["message"].as_str().unwrap().contains("`per-person-daily`"), "{}", a.body);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_the_contract_error() {
    let g = Gateway::start_with(|s| s.replace("[server]\nlisten", "[server]\nmax_request_bytes = 4096\nlisten"));
    let admin = g.key("hugo.martin", None);
    let (status, _, out) =
        post(&g, Some(&admin), "/api/v1/events:batch", "application/x-ndjson", vec![b'\n'; 10_000]).await;
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        (status, v["error"]["code"].as_str(), v["error"]["type"].as_str()),
        (413, Some("invalid_request"), Some("request_too_large")),
        "{v}"
    );
    let (status, _, _) = post(&g, Some(&admin), "/otlp/v1/traces", "application/x-protobuf", vec![0; 10_000]).await;
    assert_eq!(status, 413);
    // Gzip (the OpenTelemetry Collector's default) is read, and bounded once inflated too.
    let gzip = |bytes: &[u8]| {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, bytes).unwrap();
        z.finish().unwrap()
    };
    let send = |body: Vec<u8>| {
        tokenwise_server::install_crypto();
        reqwest::Client::new()
            .post(format!("{}/otlp/v1/traces", g.url))
            .bearer_auth(&admin)
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
    };
    let ok = send(gzip(&otlp_request("oncall-agent", vec![sonnet_span(9)]).encode_to_vec())).await.unwrap();
    assert_eq!(ok.status(), 200);
    let bomb = send(gzip(&[0u8; 100_000])).await.unwrap();
    assert_eq!(bomb.status(), 413);
    assert!(bomb.text().await.unwrap().contains("inflates to more than 4096 bytes"));
}
