//! Anthropic's API as coding agents use it, end to end: the token count
//! (`/v1/messages/count_tokens`), scanned like a call but neither budgeted
//! nor billed; query strings (`?beta=true`), `anthropic-beta` headers and
//! top-level fields the gateway does not know reach the provider as sent.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Client, Gateway, usd_nanos};

const CARD: &str = "4111 1111 1111 1111";
const MODEL: &str = "claude-haiku-4-5";

fn client(g: &Gateway) -> Client {
    Client::new(g, g.key("ivan.petrov", Some("support-reply")))
}

/// A short prompt (under the mock's caching minimum, so every input token
/// is reported as `input_tokens`).
fn messages(text: &str) -> Value {
    json!({"model": MODEL, "messages": [
        {"role": "user", "content": text},
        {"role": "assistant", "content": "Which one?"},
        {"role": "user", "content": "The last one."}
    ]})
}

fn with_max_tokens(mut body: Value) -> Value {
    body["max_tokens"] = json!(4000);
    body
}

/// The per-person envelope of `/api/v1/budgets`.
async fn per_person(c: &Client) -> Value {
    let a = c.get("/api/v1/budgets").await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["envelopes"].as_array().unwrap().iter().find(|e| e["budget"] == "per-person-daily").unwrap().clone()
}

async fn events_of(c: &Client, request_id: &str) -> Vec<Value> {
    let a = c.get(&format!("/api/v1/events?request_id={request_id}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["events"].as_array().unwrap().clone()
}

#[tokio::test]
async fn count_tokens_answers_the_providers_count_at_no_cost_and_holds_nothing() {
    let g = Gateway::start();
    let c = client(&g);
    let call = c.post("/v1/messages", with_max_tokens(messages("How long is this prompt?")), &[]).await;
    assert_eq!(call.status, 200, "{}", call.body);
    let billed = call.json()["usage"]["input_tokens"].as_u64().unwrap();
    let call_cost = usd_nanos(call.headers["x-tokenwise-cost-usd"].to_str().unwrap());
    assert!(call_cost > 0);

    let count = c.post("/v1/messages/count_tokens", messages("How long is this prompt?"), &[]).await;
    assert_eq!(count.status, 200, "{}", count.body);
    assert_eq!(count.json(), json!({"input_tokens": billed}), "the provider's count, as the call was billed");
    assert_eq!(usd_nanos(count.headers["x-tokenwise-cost-usd"].to_str().unwrap()), 0);
    assert!(events_of(&c, &count.request_id()).await.is_empty(), "an answered count is not a call");
    let env = per_person(&c).await;
    assert_eq!(env["captured_nanos"], call_cost, "only the call is spent");
    assert_eq!(env["held_nanos"], 0);
}

#[tokio::test]
async fn count_tokens_is_answered_when_the_budget_refuses_calls() {
    let g = Gateway::start_with(|s| s.replace("limit_usd = \"20\"", "limit_usd = \"0.000000001\""));
    let c = client(&g);
    let call = c.post("/v1/messages", with_max_tokens(messages("Summarise the ticket.")), &[]).await;
    assert_eq!(call.status, 402, "{}", call.body);
    let count = c.post("/v1/messages/count_tokens", messages("Summarise the ticket."), &[]).await;
    assert_eq!(count.status, 200, "a count is not budgeted: {}", count.body);
    assert!(count.json()["input_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_card_number_in_a_count_is_blocked_like_a_call() {
    let g = Gateway::start();
    let c = client(&g);
    let text = format!("My card is {CARD}, is it valid?");
    let call = c.post("/v1/messages", with_max_tokens(messages(&text)), &[]).await;
    let count = c.post("/v1/messages/count_tokens", messages(&text), &[("x-mock-echo", "request")]).await;
    assert_eq!(call.status, 403, "{}", call.body);
    assert_eq!(count.status, 403, "{}", count.body);
    assert_eq!(count.json()["error"]["code"], call.json()["error"]["code"]);
    assert!(!count.body.contains(CARD));
    let row = c.event(&count.request_id()).await;
    assert_eq!(row["operation"], "count_tokens", "{row}");
    assert_eq!(row["status"], "blocked", "{row}");
    assert_eq!(row["cost_nanos"], 0, "{row}");
}

#[tokio::test]
async fn query_strings_of_anthropic_endpoints_reach_the_provider() {
    let g = Gateway::start();
    let c = client(&g);
    let echo = [("x-mock-echo", "query")];
    let a = c.post("/v1/messages?beta=true", with_max_tokens(messages("hello")), &echo).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["content"][0]["text"], "beta=true");
    let a = c.post("/v1/messages", with_max_tokens(messages("hello")), &echo).await;
    assert_eq!(a.json()["content"][0]["text"], "(none)", "no query, none invented");
    let a = c.post("/v1/messages/count_tokens?beta=true", messages("hello"), &echo).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["echo"], "beta=true");
}

#[tokio::test]
async fn anthropic_beta_headers_reach_the_provider() {
    let g = Gateway::start();
    let c = client(&g);
    let beta = "context-management-2025-06-27,interleaved-thinking-2025-05-14";
    let headers = [("x-mock-echo", "header:anthropic-beta"), ("anthropic-beta", beta)];
    let a = c.post("/v1/messages", with_max_tokens(messages("hello")), &headers).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["content"][0]["text"], beta);
    let a = c.post("/v1/messages/count_tokens", messages("hello"), &headers).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["echo"], beta);
}

#[tokio::test]
async fn unknown_top_level_fields_reach_the_provider_unchanged() {
    let g = Gateway::start();
    let c = client(&g);
    let extra =
        json!({"edits": [{"type": "clear_tool_uses_20250919", "trigger": {"type": "input_tokens", "value": 30000}}]});
    let mut body = with_max_tokens(messages("hello"));
    body["context_management"] = extra.clone();
    let a = c.post("/v1/messages", body.clone(), &[("x-mock-echo", "request")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let received: Value = serde_json::from_str(a.json()["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(received["context_management"], extra, "{received}");

    body.as_object_mut().unwrap().remove("max_tokens");
    let a = c.post("/v1/messages/count_tokens", body, &[("x-mock-echo", "request")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let received: Value = serde_json::from_str(a.json()["echo"].as_str().unwrap()).unwrap();
    assert_eq!(received["context_management"], extra, "{received}");
    assert!(received.get("max_tokens").is_none(), "a count is sent no output bound: {received}");
}
