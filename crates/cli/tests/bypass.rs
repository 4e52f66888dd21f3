//! Attacks on the gateway's controls, end to end: data hidden where a
//! naive scan does not look (tool results, documents, tool calls, tool
//! descriptions, message names), content it cannot read, and requests
//! shaped to be held for less than they may cost.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use support::{Answer, Gateway, usd_nanos};

const CARD: &str = "4111 1111 1111 1111";
const AWS_KEY: &str = "AKIAZ7GH2KQW4TNB5XEM";

/// A request with a secret hidden in one place, and where that place is in
/// the body the upstream receives.
struct Case {
    name: &'static str,
    path: &'static str,
    body: Value,
    /// The finding kind the secret is, and its mask.
    kind: &'static str,
    secret: &'static str,
    /// JSON pointer of the text holding the secret, and that text.
    at: &'static str,
    text: String,
}

fn anthropic(messages: Value) -> Value {
    json!({"model": "claude-haiku-4-5", "max_tokens": 4000, "messages": messages})
}

fn openai(messages: Value) -> Value {
    json!({"model": "gpt-4.1-mini", "messages": messages})
}

/// The conversation before a tool result: the model asked for a lookup.
fn tool_turns(result: Value) -> Value {
    json!([
        {"role": "user", "content": "What do we have on file for customer 42?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"customer": "42"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result}]}
    ])
}

fn cases() -> Vec<Case> {
    let card_text = format!("card {CARD} on file");
    let key_text = format!("key {AWS_KEY} in the log");
    let arguments = format!("{{\"card\":\"{CARD}\",\"amount\":12}}");
    let description = format!("Queries the audit store; authenticate with {AWS_KEY}");
    let mut openai_tools = openai(json!([{"role": "user", "content": "Which logs can you read?"}]));
    openai_tools["tools"] = json!([{"type": "function", "function": {"name": "read_logs", "description": description,
                                   "parameters": {"type": "object", "properties": {"day": {"type": "string"}}}}}]);
    let mut anthropic_tools = anthropic(json!([{"role": "user", "content": "Which logs can you read?"}]));
    anthropic_tools["tools"] =
        json!([{"name": "read_logs", "description": description, "input_schema": {"type": "object"}}]);
    vec![
        Case {
            name: "anthropic tool_result content string",
            path: "/v1/messages",
            body: anthropic(tool_turns(json!(card_text))),
            kind: "credit_card",
            secret: CARD,
            at: "/messages/2/content/0/content",
            text: card_text.clone(),
        },
        Case {
            name: "anthropic tool_result content blocks",
            path: "/v1/messages",
            body: anthropic(tool_turns(json!([{"type": "text", "text": key_text}]))),
            kind: "aws_access_key",
            secret: AWS_KEY,
            at: "/messages/2/content/0/content/0/text",
            text: key_text.clone(),
        },
        Case {
            name: "anthropic document with a text source",
            path: "/v1/messages",
            body: anthropic(json!([{"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": card_text}},
                {"type": "text", "text": "Summarise this statement."}
            ]}])),
            kind: "credit_card",
            secret: CARD,
            at: "/messages/0/content/0/source/data",
            text: card_text.clone(),
        },
        Case {
            name: "openai tool_calls arguments",
            path: "/v1/chat/completions",
            body: openai(json!([
                {"role": "user", "content": "Charge the customer's card."},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "charge", "arguments": arguments}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "charged"}
            ])),
            kind: "credit_card",
            secret: CARD,
            at: "/messages/1/tool_calls/0/function/arguments",
            text: arguments.clone(),
        },
        Case {
            name: "openai tool description",
            path: "/v1/chat/completions",
            body: openai_tools,
            kind: "aws_access_key",
            secret: AWS_KEY,
            at: "/tools/0/function/description",
            text: description.clone(),
        },
        Case {
            name: "anthropic tool description",
            path: "/v1/messages",
            body: anthropic_tools,
            kind: "aws_access_key",
            secret: AWS_KEY,
            at: "/tools/0/description",
            text: description.clone(),
        },
        Case {
            name: "openai message name",
            path: "/v1/chat/completions",
            body: openai(json!([{"role": "user", "name": AWS_KEY, "content": "Hello, who am I?"}])),
            kind: "aws_access_key",
            secret: AWS_KEY,
            at: "/messages/0/name",
            text: AWS_KEY.to_string(),
        },
    ]
}

/// The same secret in plain message text, on the same endpoint and model.
fn plain(case: &Case) -> Value {
    let text = format!("please look at {}", case.secret);
    if case.path == "/v1/messages" {
        anthropic(json!([{"role": "user", "content": text}]))
    } else {
        openai(json!([{"role": "user", "content": text}]))
    }
}

#[tokio::test]
async fn secrets_hidden_in_any_part_of_the_prompt_are_blocked_like_plain_text() {
    let g = Gateway::start();
    let c = support::Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    for case in cases() {
        let seen = c.post(case.path, plain(&case), &[]).await;
        assert_eq!(seen.status, 403, "plain text: {}", seen.body);
        let hidden = c.post(case.path, case.body.clone(), &[]).await;
        assert_eq!(hidden.status, 403, "{}: {}", case.name, hidden.body);
        assert_eq!(hidden.json()["error"]["code"], "policy_violation", "{}", case.name);
        assert_eq!(hidden.json()["error"]["message"], seen.json()["error"]["message"], "{}", case.name);
        let row = c.event(&hidden.request_id()).await;
        assert_eq!(row["decision"], "block", "{}", case.name);
        assert_eq!(row["findings"], json!({case.kind: 1}), "{}", case.name);
        assert_eq!(row["data_class"], "restricted", "{}", case.name);
    }
}

/// What the mock upstream received, as it echoes it back.
fn forwarded(a: &Answer, path: &str) -> Value {
    let v = a.json();
    let text = if path == "/v1/messages" {
        v["content"][0]["text"].as_str().unwrap().to_string()
    } else {
        v["choices"][0]["message"]["content"].as_str().unwrap().to_string()
    };
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the echo is not the request ({e}): {text}"))
}

#[tokio::test]
async fn secrets_hidden_in_any_part_of_the_prompt_are_masked_in_place_like_plain_text() {
    let g = Gateway::start_with(|s| s.replace("restricted = \"block\"", "restricted = \"redact\""));
    let c = support::Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let echo = [("x-mock-echo", "request")];
    for case in cases() {
        let mask = format!("[{}]", case.kind.to_ascii_uppercase());
        let seen = c.post(case.path, plain(&case), &echo).await;
        assert_eq!(seen.status, 200, "plain text: {}", seen.body);
        let up = forwarded(&seen, case.path);
        assert_eq!(up.pointer("/messages/0/content"), Some(&json!(format!("please look at {mask}"))));

        let hidden = c.post(case.path, case.body.clone(), &echo).await;
        assert_eq!(hidden.status, 200, "{}: {}", case.name, hidden.body);
        let up = forwarded(&hidden, case.path);
        assert!(!up.to_string().contains(case.secret), "{}: the secret went upstream: {up}", case.name);
        let masked = case.text.replace(case.secret, &mask);
        assert_eq!(up.pointer(case.at), Some(&json!(masked)), "{}: {up}", case.name);
        let row = c.event(&hidden.request_id()).await;
        assert_eq!(row["decision"], "redact", "{}", case.name);
        assert_eq!(row["findings"], json!({case.kind: 1}), "{}", case.name);
    }
}

#[tokio::test]
async fn content_the_gateway_cannot_read_is_refused_not_forwarded() {
    let g = Gateway::start();
    let c = support::Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = c
        .post(
            "/v1/messages",
            anthropic(json!([{"role": "user", "content": [
                {"type": "text", "text": "Read the attachment."},
                {"type": "hologram", "payload": format!("card {CARD}")}
            ]}])),
            &[],
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "invalid_request");
    let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("`hologram`") && msg.contains("/messages/0/content/1"), "{msg}");

    let a = c
        .post(
            "/v1/chat/completions",
            openai(json!([{"role": "user", "content": [{"type": "video_url", "video_url": {"url": "x"}}]}])),
            &[],
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "invalid_request");
    let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("`video_url`") && msg.contains("/messages/0/content/0"), "{msg}");

    // Nothing was forwarded, so nothing was metered.
    let events = c.get("/api/v1/events").await.json();
    assert_eq!(events["events"].as_array().unwrap().len(), 0, "{events}");
}

/// The amount a 402 says the call may cost, in nano-dollars.
fn needed(a: &Answer) -> i64 {
    let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
    let amount = msg.split("may cost up to $").nth(1).unwrap_or_else(|| panic!("no amount: {msg}"));
    usd_nanos(amount.split('.').take(2).collect::<Vec<_>>().join(".").trim_end_matches('.'))
}

#[tokio::test]
async fn the_hold_counts_the_whole_prompt_and_every_choice_and_the_field_the_upstream_obeys() {
    // $0.01 a day each: 10,000 Haiku input tokens, or 2,000 output tokens.
    let g = Gateway::start_with(|s| s.replace("limit_usd = \"20\"", "limit_usd = \"0.01\""));
    let c = support::Client::new(&g, g.key("ivan.petrov", Some("support-reply")));

    // Most of the prompt in a tool result: 40,000 bytes may be 40,000 tokens.
    let bulk = "lorem ipsum dolor sit amet ".repeat(1_500);
    let mut body = anthropic(tool_turns(json!([{"type": "text", "text": bulk}])));
    body["max_tokens"] = json!(1);
    let a = c.post("/v1/messages", body, &[]).await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert!(needed(&a) >= bulk.len() as i64 * 1_000, "held for the tool result: {}", a.body);

    // Anthropic obeys `max_tokens`, whatever else the request says.
    let mut body = anthropic(json!([{"role": "user", "content": "Write a long story."}]));
    body["max_completion_tokens"] = json!(1);
    let a = c.post("/v1/messages", body.clone(), &[]).await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert!(needed(&a) >= 4_000 * 5_000, "held for 4000 output tokens: {}", a.body);
    body["max_tokens"] = json!(200);
    let a = c.post("/v1/messages", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // `n` choices are n times the output: 8 × 1000 tokens at $1.60 / Mtok.
    let mut body = openai(json!([{"role": "user", "content": "Suggest a subject line."}]));
    body["max_tokens"] = json!(1_000);
    body["n"] = json!(8);
    let a = c.post("/v1/chat/completions", body.clone(), &[]).await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert!(needed(&a) >= 8 * 1_000 * 1_600, "held for 8 choices: {}", a.body);
    body["n"] = json!(1);
    let a = c.post("/v1/chat/completions", body, &[]).await;
    assert_eq!(a.status, 200, "one choice fits: {}", a.body);
}
