//! Bad input at the gateway's door, end to end against the real binary:
//! malformed requests refused 400 naming the field (never defaulted, never
//! forwarded), every error in the contract's shape (404, 405, 413, 431,
//! bodies the API cannot read), `Bearer` in any case, UTF-8 metadata, and
//! slow or silent sockets that cannot starve the server.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{Answer, Client, Gateway};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The contract's error shape, with this status and code.
fn assert_error(a: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(a.status, status, "{}", a.body);
    let v = a.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(v["error"]["type"].is_string() && v["error"]["message"].is_string(), "{v}");
    v
}

fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[field] = value;
    v
}

/// gpt-4.1-mini may produce at most 1000 tokens in this policy.
fn capped(policy: String) -> String {
    policy.replacen("[models.\"gpt-4.1-mini\"]\n", "[models.\"gpt-4.1-mini\"]\nmax_output_tokens = 1000\n", 1)
}

#[tokio::test]
async fn malformed_requests_are_refused_400_naming_the_field() {
    let g = Gateway::start_with(capped);
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let chat = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Is order 1042 late?"}]});
    let claude = json!({"model": "claude-haiku-4-5", "max_tokens": 50,
                        "messages": [{"role": "user", "content": "Is order 1042 late?"}]});
    let resp = json!({"model": "gpt-4.1-mini", "input": "Is order 1042 late?"});
    let wizard = json!([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                        {"role": "wizard", "content": "c"}]);
    #[rustfmt::skip]
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("/v1/chat/completions", with(&chat, "max_tokens", json!(-1)), "max_tokens", "at least 1"),
        ("/v1/chat/completions", with(&chat, "max_tokens", json!("100")), "max_tokens", "must be an integer"),
        ("/v1/chat/completions", with(&chat, "max_tokens", json!(2.5)), "max_tokens", "whole number"),
        ("/v1/chat/completions", with(&chat, "max_tokens", json!(1e12)), "max_tokens", "more than the gateway allows"),
        ("/v1/chat/completions", with(&chat, "max_tokens", json!(5000)), "max_tokens", "more than model `gpt-4.1-mini` can produce (1000)"),
        ("/v1/chat/completions", with(&chat, "max_completion_tokens", json!(0)), "max_completion_tokens", "at least 1"),
        ("/v1/chat/completions", with(&chat, "n", json!(-3)), "n", "at least 1"),
        ("/v1/chat/completions", with(&chat, "stream", json!("yes")), "stream", "true or false"),
        ("/v1/chat/completions", with(&chat, "messages", json!([])), "messages", "at least one message"),
        ("/v1/chat/completions", with(&chat, "messages", json!("hi")), "messages", "must be an array"),
        ("/v1/chat/completions", with(&chat, "messages", wizard.clone()), "messages[2].role",
         "unknown role 'wizard'; expected one of system, developer, user, assistant, tool, function"),
        ("/v1/chat/completions", with(&chat, "messages", json!([{"content": "a"}])), "messages[0].role", "is required"),
        ("/v1/chat/completions", with(&chat, "messages", json!([{"role": "user", "content": 42}])), "", "/messages/0/content"),
        ("/v1/messages", with(&claude, "max_tokens", json!(-50)), "max_tokens", "at least 1"),
        ("/v1/messages", with(&claude, "max_tokens", json!("50")), "max_tokens", "must be an integer"),
        ("/v1/messages", with(&claude, "max_tokens", json!(1024.0)), "max_tokens", "write 1024, not 1024.0"),
        ("/v1/messages", with(&claude, "messages", json!([])), "messages", "at least one message"),
        ("/v1/messages", with(&claude, "messages", json!([{"role": "system", "content": "a"}])), "messages[0].role",
         "unknown role 'system'; expected one of user, assistant"),
        ("/v1/messages", with(&claude, "messages", json!([{"role": "user", "content": {"text": "a"}}])), "", "/messages/0/content"),
        ("/v1/responses", with(&resp, "max_output_tokens", json!(1.5)), "max_output_tokens", "whole number"),
        ("/v1/responses", with(&resp, "max_output_tokens", json!(99_999)), "max_output_tokens", "can produce (1000)"),
        ("/v1/responses", with(&resp, "input", json!([{"role": "wizard", "content": "a"}])), "input[0].role", "unknown role 'wizard'"),
    ];
    for (path, body, field, says) in &cases {
        let a = c.post(path, body.clone(), &[]).await;
        let v = assert_error(&a, 400, "invalid_request");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{path} {body}: {message}");
        if !field.is_empty() {
            assert!(message.starts_with(&format!("{field}: ")), "{path} {body}: {message}");
            assert_eq!(v["error"]["param"], *field, "{v}");
        }
    }
    // None of them reached the ledger or the provider.
    let events = c.get("/api/v1/events").await.json();
    assert_eq!(events["events"].as_array().map(Vec::len), Some(0), "{events}");

    // What the SDKs send passes, extra fields and all.
    let extras = json!({"max_tokens": 1000, "n": 1, "stream": false, "temperature": 0.2, "metadata": {"k": "v"},
                        "parallel_tool_calls": true, "service_tier": "auto", "user": "ivan", "seed": 7, "max_completion_tokens": null});
    let mut ok = chat.clone();
    ok.as_object_mut().unwrap().extend(extras.as_object().unwrap().clone());
    ok["messages"] = json!([{"role": "developer", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "hi"}]}]);
    let a = c.post("/v1/chat/completions", ok, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c.post("/v1/messages", with(&claude, "max_tokens", json!(1024)), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = c.post("/v1/responses", with(&resp, "max_output_tokens", json!(1000)), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn every_error_has_the_contract_shape() {
    let g = Gateway::start_with(|p| p.replacen("[server]\n", "[server]\nmax_request_bytes = 65536\n", 1));
    let key = g.key("ivan.petrov", Some("support-reply"));
    let c = Client::new(&g, key.clone());
    let http = reqwest::Client::new();

    let v = assert_error(&c.get("/no/such/page").await, 404, "not_found");
    assert!(v["error"]["message"].as_str().unwrap().contains("GET /no/such/page"), "{v}");
    assert_error(&c.get("/api/v1/nothing-here").await, 404, "not_found");
    let a = Answer::read_from(http.get(format!("{}/v1/chat/completions", g.url)).bearer_auth(&key)).await;
    assert_error(&a, 405, "invalid_request");
    let a = Answer::read_from(http.delete(format!("{}/api/v1/budgets", g.url)).bearer_auth(&key)).await;
    assert_error(&a, 405, "invalid_request");

    // A body over server.max_request_bytes.
    let big = "x".repeat(100 * 1024);
    let a = c
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": big}]}),
            &[],
        )
        .await;
    assert_error(&a, 413, "invalid_request");
    // Headers larger than the server reads.
    let a = c.post("/v1/chat/completions", json!({}), &[("x-padding", &"p".repeat(40 * 1024))]).await;
    assert_error(&a, 431, "invalid_request");
    // Bodies the API's extractors refuse: not JSON, the wrong type, a missing field.
    for body in ["{not json", "[1, 2]", r#"{"task": 5}"#] {
        let req = http
            .post(format!("{}/api/v1/outcomes", g.url))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body);
        assert_error(&Answer::read_from(req).await, 400, "invalid_request");
    }
    let req = http.post(format!("{}/api/v1/outcomes", g.url)).bearer_auth(&key).body("{}");
    assert_error(&Answer::read_from(req).await, 400, "invalid_request");

    // `Bearer` in any case.
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let req = http.get(format!("{}/api/v1/budgets", g.url)).header("authorization", format!("{scheme} {key}"));
        let a = Answer::read_from(req).await;
        assert_eq!(a.status, 200, "{scheme}: {}", a.body);
    }
    let req = http.get(format!("{}/api/v1/budgets", g.url)).header("authorization", format!("Basic {key}"));
    assert_error(&Answer::read_from(req).await, 401, "unauthorized");

    // Metadata in any language is text.
    let task = "Tâche-42 ✓ 任务";
    let req = http
        .post(format!("{}/v1/chat/completions", g.url))
        .bearer_auth(&key)
        .header("x-tokenwise-task", reqwest::header::HeaderValue::from_bytes(task.as_bytes()).unwrap())
        .header(
            "x-tokenwise-destination",
            reqwest::header::HeaderValue::from_bytes("interne-Doku für Kunden".as_bytes()).unwrap(),
        )
        .json(&json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}));
    let a = Answer::read_from(req).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(c.event(&a.request_id()).await["task"], task);
    // Bytes that are not UTF-8 are refused, in the contract's shape.
    let req = http
        .post(format!("{}/v1/chat/completions", g.url))
        .bearer_auth(&key)
        .header("x-tokenwise-task", reqwest::header::HeaderValue::from_bytes(b"T-\xff\xfe").unwrap())
        .json(&json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}));
    assert_error(&Answer::read_from(req).await, 400, "invalid_request");
}

/// Opens a socket that sends nothing, or half a request's headers.
async fn slow_socket(addr: &str, half: bool) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    if half {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    }
    s
}

#[tokio::test]
async fn slow_and_silent_sockets_cannot_starve_the_server() {
    let g = Gateway::start_with(|p| {
        p.replacen("[server]\n", "[server]\nheader_timeout_secs = 4\nbody_timeout_secs = 2\n", 1)
    });
    let addr = g.url.trim_start_matches("http://").to_string();
    tokenwise_server::install_crypto();
    let mut sockets = Vec::new();
    for i in 0..300 {
        sockets.push(slow_socket(&addr, i % 2 == 0).await);
    }
    let opened = Instant::now();
    // The server still answers at once, long before it closes any of them.
    let http = reqwest::Client::new();
    let r = tokio::time::timeout(Duration::from_secs(3), http.get(format!("{}/healthz", g.url)).send()).await;
    assert_eq!(r.expect("healthz answers while 300 sockets hang").unwrap().status(), 200);
    assert!(opened.elapsed() < Duration::from_secs(4), "answered before the header timeout");
    // Every hanging socket is closed once the header timeout passes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for (i, s) in sockets.iter_mut().enumerate() {
        let mut buf = [0u8; 256];
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => panic!("socket {i} is still open 30 s after the header timeout"),
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
            }
        }
    }
    assert!(opened.elapsed() >= Duration::from_secs(3), "closed by the timeout, not at once");

    // A body that stops sending fails after body_timeout_secs, in the contract's shape.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\"")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(read.is_ok(), "the stalled body was dropped");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"code\":\"invalid_request\""), "{answer}");
}

#[tokio::test]
async fn free_text_fields_are_capped_naming_the_field_and_its_limit() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    let omar = Client::new(&g, g.key("omar.haddad", None));
    let long = |n: usize| "w".repeat(n);
    let ask = json!({"scope": "user:ivan.petrov", "reason_code": "customer-escalation", "cap_usd": "5",
                     "justification": "Escalated enterprise ticket needs several drafts today", "duration_hours": 4});
    #[rustfmt::skip]
    let cases: Vec<(&Client, &str, Value, &str)> = vec![
        (&ivan, "/api/v1/exceptions", with(&ask, "justification", json!(long(2_001))), "justification: at most 2000 characters"),
        (&ivan, "/api/v1/exceptions", with(&ask, "models", json!(vec!["gpt-4.1-mini"; 65])), "models: at most 64"),
        (&ivan, "/api/v1/outcomes", json!({"task": "T-1", "use_case": "support-reply", "kind": "ticket_resolved",
                                           "value_hours": 0.5, "evidence": long(2_001)}), "2000"),
        (&ivan, "/api/v1/outcomes", json!({"task": long(201), "use_case": "support-reply", "kind": "ticket_resolved",
                                           "value_hours": 0.5}), "200"),
        (&ivan, "/api/v1/feedback", json!({"pilot": "efficiency-first", "answer": "confusing", "about": "score", "comment": long(2_001)}), "2000"),
        (&ivan, "/api/v1/appeals", json!({"subject": "outcome:none", "comment": long(2_001)}), "2000"),
        (&omar, "/api/v1/incidents", json!({"title": long(4_001), "category": "misuse"}), "4000"),
        (&omar, "/api/v1/incidents", json!({"title": "t", "category": "misuse", "summary": long(4_001)}), "4000"),
        (&omar, "/api/v1/incidents", json!({"title": "t", "category": "misuse", "actions": vec!["a"; 101]}), "actions: at most 100"),
    ];
    for (who, path, body, says) in cases {
        let a = who.post(path, body, &[]).await;
        let v = assert_error(&a, 400, "invalid_request");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{path}: {message}");
    }
    // Within the limits, the same asks pass.
    let a = ivan.post("/api/v1/exceptions", with(&ask, "justification", json!(long(2_000))), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

/// `tokenwise serve` under an open-file limit of `nofile`, on a ledger of its own.
fn serve_with_file_limit(g: &Gateway, nofile: u32) -> support::Proc {
    use std::io::BufRead;
    let db = format!("sqlite://{}", g.dir.path().join("low-limit.db").display());
    let mut child = std::process::Command::new("sh")
        .args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_tokenwise")])
        .args(["serve", "--config", g.policy.to_str().unwrap(), "--listen", "127.0.0.1:0", "--database", &db])
        .env("OPENAI_API_KEY", "sk-test-openai")
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("TOKENWISE_HELPDESK_SECRET", support::HELPDESK_SECRET)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("listening on http://").nth(1).and_then(|r| r.split_whitespace().next());
    let addr = addr.unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    support::Proc { child, addr }
}

#[tokio::test]
async fn under_a_low_file_limit_hanging_sockets_are_shed_and_the_server_recovers() {
    let g = Gateway::start_with(|p| p.replacen("[server]\n", "[server]\nheader_timeout_secs = 2\n", 1));
    // 256 files: the connection cap becomes (256 - 64) / 2 = 96, below what 300 sockets need.
    let serve = serve_with_file_limit(&g, 256);
    tokenwise_server::install_crypto();
    let mut sockets = Vec::new();
    for i in 0..300 {
        sockets.push(slow_socket(&serve.addr, i % 2 == 0).await);
    }
    // Those over the cap wait in the backlog; each batch is shed after the
    // header timeout, so /healthz (behind them) is answered within a few
    // rounds of it instead of never, and the server never runs out of files.
    let http = reqwest::Client::new();
    let r =
        tokio::time::timeout(Duration::from_secs(30), http.get(format!("http://{}/healthz", serve.addr)).send()).await;
    assert_eq!(r.expect("healthz answers once hanging sockets are shed").unwrap().status(), 200);
    drop(sockets);
    // And it still serves the gateway, with files to spare for the ledger and upstream.
    let key = support::create_key(
        &g.policy,
        &format!("sqlite://{}", g.dir.path().join("low-limit.db").display()),
        "ivan.petrov",
        Some("support-reply"),
    );
    let c = Client { http, base: format!("http://{}", serve.addr), key };
    let a = c
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
}
