//! The OpenAI Responses API through the gateway, end to end: JSON and
//! streamed answers metered exactly from the provider's usage, a cut
//! stream recorded once and estimated, secrets in tool output caught, and
//! items the gateway cannot read refused.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use support::{Answer, Client, Gateway};

const CARD: &str = "4111 1111 1111 1111";

/// The `data:` payloads of an SSE body, as JSON.
fn events(a: &Answer) -> Vec<Value> {
    a.body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("not JSON ({e}): {d}")))
        .collect()
}

fn assert_usage_matches(row: &Value, usage: &Value) {
    assert_eq!(row["usage"]["input"], usage["input_tokens"], "{row}");
    assert_eq!(row["usage"]["output"], usage["output_tokens"], "{row}");
    assert_eq!(row["usage"]["cached_read"], usage["input_tokens_details"]["cached_tokens"], "{row}");
    assert_eq!(row["usage"]["reasoning"], usage["output_tokens_details"]["reasoning_tokens"], "{row}");
    assert_eq!(row["estimated"], false, "{row}");
    assert_eq!(row["operation"], "responses", "{row}");
}

/// Long enough that the mock caches it once seen.
const INSTRUCTIONS: &str = "You are the support assistant of Acme. Answer in two sentences, \
    quote the order number, never promise a refund date, and sign as the Acme team.";

#[tokio::test]
async fn json_responses_are_metered_exactly_with_cached_and_reasoning_tokens() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "gpt-4.1-mini", "instructions": INSTRUCTIONS,
                      "input": "Where is my refund for order 1042?", "max_output_tokens": 200});
    let a = c.post("/v1/responses", body.clone(), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let answer = a.json();
    assert_eq!(answer["object"], "response");
    assert!(answer["output"][0]["content"][0]["text"].as_str().unwrap().len() > 1);
    let row = c.event(&a.request_id()).await;
    assert_usage_matches(&row, &answer["usage"]);
    assert_eq!(row["status"], "ok");
    assert_eq!(row["streamed"], false);
    // $0.40 / Mtok in, $1.60 / Mtok out, in nano-dollars.
    let u = &answer["usage"];
    let expect = u["input_tokens"].as_i64().unwrap() * 400 + u["output_tokens"].as_i64().unwrap() * 1_600;
    assert_eq!(row["cost_nanos"], expect);
    assert_eq!(a.headers["x-tokenwise-cost-usd"].to_str().unwrap(), row["cost_usd"].as_str().unwrap());

    // The same instructions again: the provider reports them cached, and so does the ledger.
    let mut again = body;
    again["input"] = json!([{"role": "user", "content": [{"type": "input_text", "text": "And order 1043?"}]}]);
    let a = c.post("/v1/responses", again, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let usage = a.json()["usage"].clone();
    assert!(usage["input_tokens_details"]["cached_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert_usage_matches(&c.event(&a.request_id()).await, &usage);

    // A reasoning model's hidden tokens are metered as the provider reports them.
    let r = Client::new(&g, g.key("chen.wei", Some("code-review")));
    let a = r.post("/v1/responses", json!({"model": "o4-mini", "input": "Review this diff"}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let usage = a.json()["usage"].clone();
    assert!(usage["output_tokens_details"]["reasoning_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert_usage_matches(&r.event(&a.request_id()).await, &usage);
}

#[tokio::test]
async fn a_streamed_response_is_metered_from_response_completed() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "gpt-4.1-mini", "instructions": "Be brief.", "stream": true,
                      "input": [{"role": "user", "content": "Summarise the ticket please"}]});
    let a = c.post("/v1/responses", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let evs = events(&a);
    assert_eq!(evs.first().unwrap()["type"], "response.created");
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "response.completed", "the final event reaches the client: {}", a.body);
    let deltas: String = evs
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, last["response"]["output"][0]["content"][0]["text"].as_str().unwrap());
    let row = c.event(&a.request_id()).await;
    assert_usage_matches(&row, &last["response"]["usage"]);
    assert_eq!(row["streamed"], true);
    assert_eq!(row["status"], "ok");
    assert!(row["ttft_ms"].is_number());
    // The cost comes as an SSE comment before the final event.
    let cost = format!(": x-tokenwise-cost-usd={}", row["cost_usd"].as_str().unwrap());
    let at = a.body.find(&cost).unwrap_or_else(|| panic!("no cost comment: {}", a.body));
    assert!(at < a.body.find("event: response.completed").unwrap());
}

#[tokio::test]
async fn a_responses_stream_cut_by_the_upstream_leaves_one_estimated_row() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "gpt-4.1-mini", "input": "Write a long answer", "stream": true});
    let a = c.post("/v1/responses", body, &[("x-mock-fault", "reset"), ("x-mock-fault-after", "9")]).await;
    assert_eq!(a.status, 200);
    let evs = events(&a);
    assert!(evs.iter().any(|e| e["type"] == "response.output_text.delta"), "some text arrived: {}", a.body);
    assert!(!evs.iter().any(|e| e["type"] == "response.completed"));
    assert_eq!(evs.last().unwrap()["error"]["code"], "upstream_error", "the client is told: {}", a.body);
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["status"], "upstream_cut");
    assert_eq!(row["estimated"], true);
    assert_eq!(row["operation"], "responses");
    assert!(row["usage"]["input"].as_u64().unwrap() > 0, "never recorded as zero: {row}");
    assert!(row["usage"]["output"].as_u64().unwrap() >= 3, "the words that arrived are counted: {row}");
    assert!(row["cost_nanos"].as_i64().unwrap() > 0);
}

/// A conversation in which the model called a tool whose output holds a card number.
fn tool_output(output: &str) -> Value {
    json!({"model": "gpt-4.1-mini", "store": false, "previous_response_id": "resp_earlier", "input": [
        {"role": "user", "content": "What do we have on file for customer 42?"},
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{\"customer\":\"42\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": output}
    ]})
}

#[tokio::test]
async fn a_card_number_in_a_function_call_output_is_blocked() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = c.post("/v1/responses", tool_output(&format!("card {CARD} on file")), &[]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "policy_violation");
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["decision"], "block");
    assert_eq!(row["status"], "blocked");
    assert_eq!(row["findings"], json!({"credit_card": 1}));
    assert_eq!(row["data_class"], "restricted");
    assert_eq!(row["operation"], "responses");
    assert_eq!(row["cost_nanos"], 0);
}

#[tokio::test]
async fn with_redaction_a_card_number_in_a_function_call_output_goes_upstream_masked() {
    let g = Gateway::start_with(|s| s.replace("restricted = \"block\"", "restricted = \"redact\""));
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = c.post("/v1/responses", tool_output(&format!("card {CARD} on file")), &[("x-mock-echo", "request")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let text = a.json()["output"][0]["content"][0]["text"].as_str().unwrap().to_string();
    let up: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("the echo is not the request ({e}): {text}"));
    assert!(!up.to_string().contains(CARD), "the card went upstream: {up}");
    assert_eq!(up.pointer("/input/2/output"), Some(&json!("card [CREDIT_CARD] on file")));
    // The provider's conversation state is the provider's: passed through as sent.
    assert_eq!(up["store"], false);
    assert_eq!(up["previous_response_id"], "resp_earlier");
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["decision"], "redact");
    assert_eq!(row["findings"], json!({"credit_card": 1}));
}

#[tokio::test]
async fn input_items_the_gateway_cannot_read_are_refused() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "gpt-4.1-mini", "input": [
        {"role": "user", "content": "Read the attachment."},
        {"type": "hologram", "payload": format!("card {CARD}")}
    ]});
    let a = c.post("/v1/responses", body, &[]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "invalid_request");
    let msg = a.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("`hologram`") && msg.contains("/input/1"), "{msg}");
    let a = c.post("/v1/responses", json!({"model": "gpt-4.1-mini"}), &[]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.json()["error"]["message"].as_str().unwrap().contains("`input` is required"));
    // Nothing was forwarded, so nothing was metered.
    let events = c.get("/api/v1/events").await.json();
    assert_eq!(events["events"].as_array().unwrap().len(), 0, "{events}");
}
