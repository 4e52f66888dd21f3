//! Privacy against the real binary: with the default retention no prompt
//! text reaches the ledger, the logs or `/metrics`; a use case that keeps
//! prompts keeps them masked (or in full) for its days, governance reads
//! them with every read audited, and the purge (run as the manual clock
//! moves) deletes them; output scanning masks a secret a model echoes,
//! also when the stream cuts it into 3-byte chunks.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::{Client, Gateway, Proc, bin, create_key, mock_policy, spawn};

/// An AWS access key id of the right shape (not AWS's documented example,
/// which the scanner leaves alone).
const AWS_KEY: &str = "AKIAZ3MQ7RTXK4PLW2QD";

fn chat(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

fn messages(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 400, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

/// The text a client reads from an SSE body: OpenAI deltas or Anthropic text deltas.
fn streamed_text(body: &str) -> String {
    let mut out = String::new();
    for data in body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let Ok(v) = serde_json::from_str::<Value>(data) else { continue };
        if let Some(t) = v.pointer("/choices/0/delta/content").and_then(Value::as_str) {
            out.push_str(t);
        }
        if v["type"] == "content_block_delta" {
            out.push_str(v["delta"]["text"].as_str().unwrap_or_default());
        }
        if v["type"] == "response.output_text.delta" {
            out.push_str(v["delta"].as_str().unwrap_or_default());
        }
    }
    out
}

/// The audit entries with `action`, read from the ledger file (polled:
/// the auditor appends in batches, off the request's path).
async fn audited(db: &std::path::Path, action: &str, want: usize) -> Vec<(String, Value)> {
    for _ in 0..100 {
        let c = rusqlite::Connection::open(db).unwrap();
        let mut st = c.prepare("SELECT subject, details FROM audit_log WHERE action = ?1 ORDER BY seq").unwrap();
        let rows: Vec<(String, Value)> = st
            .query_map([action], |r| {
                Ok((r.get::<_, String>(0)?, serde_json::from_str(&r.get::<_, String>(1)?).unwrap()))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        if rows.len() >= want {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("fewer than {want} `{action}` audit entries");
}

#[tokio::test]
async fn with_retention_off_no_prompt_text_is_in_the_ledger_logs_or_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mock = spawn(&["mock-upstream", "--listen", "127.0.0.1:0"]);
    let policy = mock_policy(dir.path(), &mock.addr, |s| s);
    let db = dir.path().join("ledger.db");
    let url = format!("sqlite://{}", db.display());
    let log = dir.path().join("serve.log");
    // Every log line the server writes, at debug level, to one file.
    let mut child = bin()
        .args(["serve", "--config", policy.to_str().unwrap(), "--listen", "127.0.0.1:0", "--database", &url])
        .env("TOKENWISE_LOG", "debug")
        .env("OPENAI_API_KEY", "sk-test-openai")
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("TOKENWISE_HELPDESK_SECRET", support::HELPDESK_SECRET)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line.split("listening on http://").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let serve = Proc { child, addr };
    let base = format!("http://{}", serve.addr);
    tokenwise_server::install_crypto();
    let key = create_key(&policy, &url, "ivan.petrov", Some("support-reply"));
    let c = Client { http: reqwest::Client::new(), base: base.clone(), key };

    let secret = "zebra-quokka-7731 wants a refund";
    let calls = [
        ("/v1/chat/completions", chat("gpt-4.1-mini", secret, false)),
        ("/v1/chat/completions", chat("gpt-4.1-mini", secret, true)),
        ("/v1/messages", messages("claude-haiku-4-5", secret, false)),
        ("/v1/messages", messages("claude-haiku-4-5", secret, true)),
    ];
    for (path, body) in calls {
        let a = c.post(path, body, &[("x-tokenwise-task", "T-77")]).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    // A refused one too: its prompt is not kept either.
    let refused = c.post("/v1/chat/completions", chat("gpt-4.1", secret, false), &[]).await;
    assert_ne!(refused.status, 200);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    drop(serve);

    let needle = "zebra-quokka";
    assert!(!metrics.contains(needle), "the prompt is in /metrics");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("request"), "the server did log at debug level: {logged}");
    assert!(!logged.contains(needle), "the prompt is in the server's log");
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let path = f.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("ledger.db") {
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
            assert!(!found, "the prompt is in {name}");
        }
    }
    // The calls were recorded all the same.
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c.query_row("SELECT count(*) FROM usage_events", [], |r| r.get(0)).unwrap();
    assert!(n >= 5, "{n} events");
    let kept: i64 = c.query_row("SELECT count(*) FROM stored_prompts", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, 0);
}

/// support-reply keeps prompts masked for 2 days, ticket-summary in full for 1.
fn keeping(s: String) -> String {
    s.replacen(
        "baseline_tokens_per_outcome = 6000\noutcome_value_hours = 0.25\n",
        "baseline_tokens_per_outcome = 6000\noutcome_value_hours = 0.25\nretention = { prompts = \"redacted\", days = 2 }\n",
        1,
    )
    .replacen(
        "baseline_tokens_per_outcome = 9000\noutcome_value_hours = 0.15\n",
        "baseline_tokens_per_outcome = 9000\noutcome_value_hours = 0.15\nretention = { prompts = \"full\", days = 1 }\n",
        1,
    )
}

#[tokio::test]
async fn kept_prompts_are_masked_or_full_read_by_governance_audited_and_purged() {
    let g = Gateway::start_manual(keeping);
    let policy = std::fs::read_to_string(&g.policy).unwrap();
    assert!(policy.contains("prompts = \"redacted\", days = 2") && policy.contains("prompts = \"full\", days = 1"));
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let prompt = "Refund order 5521 for jane.doe@example.com please";
    let masked = ivan.post("/v1/chat/completions", chat("gpt-4.1-mini", prompt, false), &[]).await;
    assert_eq!(masked.status, 200, "{}", masked.body);
    let full = ivan
        .post(
            "/v1/chat/completions",
            chat("gpt-4.1-mini", prompt, false),
            &[("x-tokenwise-use-case", "ticket-summary")],
        )
        .await;
    assert_eq!(full.status, 200, "{}", full.body);

    // Only governance and admins read them.
    let read = |c: &Client, id: String| {
        let c = Client { http: c.http.clone(), base: c.base.clone(), key: c.key.clone() };
        async move { c.get(&format!("/api/v1/prompts/{id}")).await }
    };
    assert_eq!(read(&ivan, masked.request_id()).await.status, 403, "not the person's own, even");
    let omar = Client::new(&g, g.key("omar.haddad", None));
    let a = read(&omar, masked.request_id()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["mode"], "redacted");
    assert_eq!(v["text"], "Refund order 5521 for [EMAIL] please");
    assert_eq!((v["user"].as_str(), v["use_case"].as_str()), (Some("ivan.petrov"), Some("support-reply")));
    let b = read(&omar, full.request_id()).await.json();
    assert_eq!((b["mode"].as_str(), b["text"].as_str()), (Some("full"), Some(prompt)));
    let reads = audited(&g.db, "prompt.read", 2).await;
    assert_eq!(reads[0].0, masked.request_id());
    assert_eq!(reads[0].1["mode"], "redacted");
    assert!(!reads.iter().any(|(_, d)| d.to_string().contains("jane.doe")), "the audit log has no prompt text");

    // A day and a bit: the 1-day prompt is purged, the 2-day one stays.
    let moved = g.advance(86_400.0 + 60.0).await;
    assert_eq!(moved["purged_prompts"], 1, "{moved}");
    assert_eq!(read(&omar, full.request_id()).await.status, 404);
    assert_eq!(read(&omar, masked.request_id()).await.status, 200);
    let moved = g.advance(86_400.0).await;
    assert_eq!(moved["purged_prompts"], 1, "{moved}");
    assert_eq!(read(&omar, masked.request_id()).await.status, 404);
    audited(&g.db, "retention.purge", 2).await;
    let c = rusqlite::Connection::open(&g.db).unwrap();
    let kept: i64 = c.query_row("SELECT count(*) FROM stored_prompts", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, 0, "purged means deleted");
}

#[tokio::test]
async fn the_purge_command_deletes_what_is_due() {
    let g = Gateway::start_with(keeping);
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = ivan.post("/v1/chat/completions", chat("gpt-4.1-mini", "Where is my refund?", false), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let purge = |policy: &std::path::Path| {
        bin()
            .args(["retention", "purge", "--config", policy.to_str().unwrap(), "--database", &g.database()])
            .output()
            .unwrap()
    };
    let out = purge(&g.policy);
    assert!(out.status.success(), "{}", support::text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "purged 0 prompts past their retention");
}

/// A use case with `days` but no prompts kept, a top-level default `days`
/// no use case takes, and an `output_action` with no reply scanned: each
/// refused, with where and the fix.
#[test]
fn check_config_refuses_retention_that_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let policy = support::policy_copy(dir.path(), |s| {
        s.replacen(
            "baseline_tokens_per_outcome = 6000\noutcome_value_hours = 0.25\n",
            "baseline_tokens_per_outcome = 6000\noutcome_value_hours = 0.25\nretention = { days = 30 }\n",
            1,
        )
        .replacen("scan_output = true\n", "output_action = \"flag\"\n", 1)
        // The high risk tier has its replies scanned unless it says not.
        .replacen("[risk_tiers.high]\n", "[risk_tiers.high]\nscan_output = false\n", 1)
        // A default `days` with no prompts kept anywhere is nobody's.
        .replacen("[retention]\nprompts = \"none\"\n", "[retention]\nprompts = \"none\"\ndays = 30\n", 1)
    });
    let out = bin().args(["check-config", policy.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let t = support::text(&out);
    assert!(t.contains("`days` does nothing"), "{t}");
    assert!(t.contains("set `prompts = \"redacted\"`"), "{t}");
    assert!(t.contains("`days` does nothing: no use case keeps prompts for this default's days"), "{t}");
    assert!(t.contains("remove `days` from [retention]"), "{t}");
    assert!(t.contains("`output_action` does nothing"), "{t}");
    assert!(t.contains("add `scan_output = true`"), "{t}");
    assert!(t.contains("acme.toml:"), "file and line: {t}");
}

#[tokio::test]
async fn output_scanning_masks_a_secret_echoed_in_replies_and_streams_cut_into_chunks() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let note = format!("your new key is {AWS_KEY}, keep it safe");
    // The mock echoes the header back (headers are not scanned on the way
    // in), in 3-byte pieces when streamed: the key spans seven chunks.
    let headers = [("x-mock-echo", "header:x-mock-note"), ("x-mock-note", note.as_str()), ("x-mock-chunk-bytes", "3")];
    let want = "your new key is [AWS_ACCESS_KEY], keep it safe";
    let mut ids = Vec::new();
    // An email in the prompt is above gpt-4.1-mini's clearance: the call is
    // rerouted to claude-haiku-4-5, whose Anthropic stream is masked before
    // it is translated back to OpenAI chunks.
    let rerouted = "Reply to jane.doe@example.com";
    for (path, model, stream, prompt) in [
        ("/v1/chat/completions", "gpt-4.1-mini", true, "hi"),
        ("/v1/chat/completions", "gpt-4.1-mini", false, "hi"),
        ("/v1/messages", "claude-haiku-4-5", true, "hi"),
        ("/v1/messages", "claude-haiku-4-5", false, "hi"),
        ("/v1/chat/completions", "gpt-4.1-mini", true, rerouted),
        ("/v1/chat/completions", "gpt-4.1-mini", false, rerouted),
        // The Responses API repeats the whole text in its closing events: masked there too.
        ("/v1/responses", "gpt-4.1-mini", true, "hi"),
        ("/v1/responses", "gpt-4.1-mini", false, "hi"),
    ] {
        let body = match path {
            "/v1/messages" => messages(model, prompt, stream),
            "/v1/responses" => json!({"model": model, "input": prompt, "stream": stream}),
            _ => chat(model, prompt, stream),
        };
        let a = ivan.post(path, body, &headers).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(!a.body.contains("AKIA"), "{path} {model} stream={stream}: {}", a.body);
        let text = match (stream, path) {
            (true, _) => streamed_text(&a.body),
            (false, "/v1/messages") => a.json()["content"][0]["text"].as_str().unwrap().to_string(),
            (false, "/v1/responses") => a.json()["output"][0]["content"][0]["text"].as_str().unwrap().to_string(),
            (false, _) => a.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string(),
        };
        assert_eq!(text, want, "{path} {model} stream={stream}");
        if stream {
            assert!(a.body.matches("data: ").count() > 5, "it was streamed in pieces: {}", a.body);
        }
        ids.push(a.request_id());
    }
    let found = audited(&g.db, "dlp.output", ids.len()).await;
    for id in &ids {
        let (_, d) = found.iter().find(|(s, _)| s == id).unwrap_or_else(|| panic!("no dlp.output for {id}"));
        assert_eq!(d["findings"], json!({"aws_access_key": 1}), "{d}");
        assert_eq!(d["action"], "masked");
        assert!(!d.to_string().contains("AKIA"));
    }
}

/// A request in the format at `path` that offers the tool `send_note`.
fn with_tool(path: &str, stream: bool) -> Value {
    let model = if path == "/v1/messages" { "claude-haiku-4-5" } else { "gpt-4.1-mini" };
    match path {
        "/v1/messages" => {
            let mut b = messages(model, "hi", stream);
            b["tools"] = json!([{"name": "send_note", "input_schema": {"type": "object"}}]);
            b
        }
        "/v1/responses" => json!({"model": model, "input": "hi", "stream": stream,
                                  "tools": [{"type": "function", "name": "send_note", "parameters": {"type": "object"}}]}),
        _ => {
            let mut b = chat(model, "hi", stream);
            b["tools"] =
                json!([{"type": "function", "function": {"name": "send_note", "parameters": {"type": "object"}}}]);
            b
        }
    }
}

/// The tool call's arguments as a client reassembles them: from the JSON
/// reply, or joined from the stream's argument deltas.
fn arguments(path: &str, stream: bool, a: &support::Answer) -> String {
    if !stream {
        let v = a.json();
        return match path {
            "/v1/messages" => v["content"][0]["input"].to_string(),
            "/v1/responses" => v["output"][0]["arguments"].as_str().unwrap().to_string(),
            _ => v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap().to_string(),
        };
    }
    let mut out = String::new();
    for data in a.body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let Ok(v) = serde_json::from_str::<Value>(data) else { continue };
        for call in v.pointer("/choices/0/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
            out.push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
        if v["type"] == "content_block_delta" && v["delta"]["type"] == "input_json_delta" {
            out.push_str(v["delta"]["partial_json"].as_str().unwrap_or_default());
        }
        if v["type"] == "response.function_call_arguments.delta" {
            out.push_str(v["delta"].as_str().unwrap_or_default());
        }
    }
    out
}

#[tokio::test]
async fn output_scanning_masks_a_secret_echoed_in_tool_call_arguments_whole_and_streamed_in_tiny_chunks() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    // Escapes around the key (a quote, a newline, a backslash) must survive
    // masking; the filler makes the arguments longer than the window.
    let filler = "the plan is to ship a small fix then check it ".repeat(8);
    let note = format!("say \"done\"\nyour new key is {AWS_KEY}, keep it safe \\ ok");
    let args = json!({"note": note, "context": filler, "count": 3});
    let header = format!("send_note {args}");
    let want_note = "say \"done\"\nyour new key is [AWS_ACCESS_KEY], keep it safe \\ ok";
    let mut ids = Vec::new();
    for path in ["/v1/chat/completions", "/v1/messages", "/v1/responses"] {
        for (stream, chunk) in [(false, "3"), (true, "3"), (true, "1")] {
            let headers = [("x-mock-tool-call", header.as_str()), ("x-mock-chunk-bytes", chunk)];
            let a = ivan.post(path, with_tool(path, stream), &headers).await;
            let case = format!("{path} stream={stream} chunk={chunk}");
            assert_eq!(a.status, 200, "{case}: {}", a.body);
            assert!(!a.body.contains("AKIA"), "{case}: {}", a.body);
            let got = arguments(path, stream, &a);
            let parsed: Value =
                serde_json::from_str(&got).unwrap_or_else(|e| panic!("{case}: arguments not JSON ({e}): {got}"));
            assert_eq!(parsed, json!({"note": want_note, "context": filler, "count": 3}), "{case}");
            if stream {
                assert!(a.body.matches("data: ").count() > 50, "{case}: streamed in pieces: {}", a.body);
            }
            if stream && path == "/v1/responses" {
                // The closing events repeat the arguments: masked alike.
                for data in a.body.lines().filter_map(|l| l.strip_prefix("data: ")) {
                    let v: Value = serde_json::from_str(data).unwrap();
                    let repeated = match v["type"].as_str().unwrap_or_default() {
                        "response.function_call_arguments.done" => v["arguments"].clone(),
                        "response.output_item.done" => v["item"]["arguments"].clone(),
                        "response.completed" => v["response"]["output"][0]["arguments"].clone(),
                        _ => continue,
                    };
                    assert_eq!(repeated.as_str(), Some(got.as_str()), "{case}: {}", v["type"]);
                }
            }
            ids.push(a.request_id());
        }
    }
    let found = audited(&g.db, "dlp.output", ids.len()).await;
    for id in &ids {
        let (_, d) = found.iter().find(|(s, _)| s == id).unwrap_or_else(|| panic!("no dlp.output for {id}"));
        assert_eq!(d["findings"], json!({"aws_access_key": 1}), "{d}");
    }
}

#[tokio::test]
async fn a_stream_that_ends_early_still_gets_the_withheld_tail_masked_before_its_error_event() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let filler = "the plan is to ship a small fix then check it ".repeat(10);
    let note = format!("your new key is {AWS_KEY}, keep it safe. {filler}");
    let args = json!({"note": note});
    let header = format!("send_note {args}");
    // 3-byte chunks, cut after 40 frames: fewer bytes than the window
    // withholds, so everything the client reads is the flushed tail.
    for fault in ["reset", "end"] {
        for path in ["/v1/chat/completions", "/v1/messages", "/v1/responses"] {
            for tool in [false, true] {
                let mut headers =
                    vec![("x-mock-chunk-bytes", "3"), ("x-mock-fault", fault), ("x-mock-fault-after", "40")];
                let body = if tool {
                    headers.push(("x-mock-tool-call", header.as_str()));
                    with_tool(path, true)
                } else {
                    headers.extend([("x-mock-echo", "header:x-mock-note"), ("x-mock-note", note.as_str())]);
                    match path {
                        "/v1/messages" => messages("claude-haiku-4-5", "hi", true),
                        "/v1/responses" => json!({"model": "gpt-4.1-mini", "input": "hi", "stream": true}),
                        _ => chat("gpt-4.1-mini", "hi", true),
                    }
                };
                let case = format!("{fault} {path} tool={tool}");
                let a = ivan.post(path, body, &headers).await;
                assert_eq!(a.status, 200, "{case}: {}", a.body);
                assert!(!a.body.contains("AKIA"), "{case}: {}", a.body);
                // Frames before the first piece of text: the opening events.
                let opening = match (path, tool) {
                    ("/v1/messages", false) => 3,
                    ("/v1/messages", true) => 2,
                    ("/v1/responses", false) => 4,
                    ("/v1/responses", true) => 3,
                    _ => 1,
                };
                let sent = 3 * (40 - opening);
                let full = if tool { args.to_string() } else { note.clone() };
                let want = full[..sent].replace(AWS_KEY, "[AWS_ACCESS_KEY]");
                let got = if tool { arguments(path, true, &a) } else { streamed_text(&a.body) };
                assert_eq!(got, want, "{case}: the client reads all that was sent, masked: {}", a.body);
                // The last event is the contract's error, in the client's format.
                let last = a.body.trim_end().rsplit("\n\n").next().unwrap();
                let data: Value = serde_json::from_str(last.lines().last().unwrap().strip_prefix("data: ").unwrap())
                    .unwrap_or_else(|e| panic!("{case}: last event not JSON ({e}): {last}"));
                assert_eq!(data["error"]["code"], "upstream_error", "{case}: {last}");
                if path == "/v1/messages" {
                    assert!(last.starts_with("event: error\n"), "{case}: {last}");
                }
            }
        }
    }
}
