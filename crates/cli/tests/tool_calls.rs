//! A model that calls a tool (mock-upstream's `x-mock-tool-call`, which the
//! agent tests drive Claude Code and Codex with), through the gateway in
//! each API's own shape, JSON and streamed: the call reaches the client
//! whole, and the tokens it cost are metered as the provider reported them.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Answer, Client, Gateway};

const CALL: &str = r#"run_tests {"suite": "unit"}"#;

fn tool(api: &str) -> Value {
    let params = json!({"type": "object", "properties": {"suite": {"type": "string"}}});
    match api {
        "chat" => json!({"type": "function", "function": {"name": "run_tests", "parameters": params}}),
        "responses" => json!({"type": "function", "name": "run_tests", "parameters": params}),
        _ => json!({"name": "run_tests", "input_schema": params}),
    }
}

fn data(a: &Answer) -> Vec<Value> {
    a.body.lines().filter_map(|l| l.strip_prefix("data: ")).filter_map(|d| serde_json::from_str(d).ok()).collect()
}

async fn metered(c: &Client, a: &Answer, output: &Value) -> Value {
    assert_eq!(a.status, 200, "{}", a.body);
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["status"], "ok", "{row}");
    assert_eq!(row["estimated"], false, "{row}");
    assert_eq!(&row["usage"]["output"], output, "{row}");
    row
}

#[tokio::test]
async fn tool_calls_come_back_in_each_apis_shape_and_are_metered() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("chen.wei", Some("code-sandbox")));
    let h = [("x-mock-tool-call", CALL)];
    let ask = json!([{"role": "user", "content": "Are the tests green?"}]);

    let a =
        c.post("/v1/chat/completions", json!({"model": "gpt-4.1", "messages": ask, "tools": [tool("chat")]}), &h).await;
    let answer = a.json();
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls", "{answer}");
    assert_eq!(call["function"]["name"], "run_tests");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap()["suite"],
        "unit"
    );
    metered(&c, &a, &answer["usage"]["completion_tokens"]).await;

    let body = json!({"model": "gpt-4.1", "messages": ask, "tools": [tool("chat")], "stream": true});
    let a = c.post("/v1/chat/completions", body, &h).await;
    let chunks = data(&a);
    let args: String = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0/function/arguments").and_then(Value::as_str))
        .collect();
    assert_eq!(args, r#"{"suite":"unit"}"#, "{}", a.body);
    let row = metered(&c, &a, &json!(call_tokens())).await;
    assert_eq!(row["streamed"], true);

    let body =
        json!({"model": "gpt-4.1", "input": "Are the tests green?", "tools": [tool("responses")], "stream": true});
    let a = c.post("/v1/responses", body, &h).await;
    let done = data(&a).into_iter().find(|e| e["type"] == "response.completed").expect("response.completed");
    let item = &done["response"]["output"][0];
    assert_eq!((item["type"].as_str(), item["name"].as_str()), (Some("function_call"), Some("run_tests")), "{done}");
    metered(&c, &a, &done["response"]["usage"]["output_tokens"]).await;

    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": ask, "tools": [tool("messages")]});
    let a = c.post("/v1/messages", body, &h).await;
    let answer = a.json();
    assert_eq!(answer["stop_reason"], "tool_use", "{answer}");
    assert_eq!(answer["content"][0]["input"]["suite"], "unit", "{answer}");
    metered(&c, &a, &answer["usage"]["output_tokens"]).await;

    // With the tool's result in the conversation, the model answers in text.
    let ask = json!([{"role": "user", "content": "Are the tests green?"},
                     {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "run_tests", "input": {}}]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "12 passed"}]}]);
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": ask, "tools": [tool("messages")]});
    let answer = c.post("/v1/messages", body, &h).await.json();
    assert_eq!(answer["stop_reason"], "end_turn", "{answer}");
    assert_eq!(answer["content"][0]["type"], "text", "{answer}");
}

/// What the mock charges for the call: its name and arguments, 4 bytes a token.
fn call_tokens() -> u64 {
    ("run_tests".len() as u64).div_ceil(4) + (r#"{"suite":"unit"}"#.len() as u64).div_ceil(4)
}

#[tokio::test]
async fn a_tool_call_header_that_does_not_parse_is_a_400_naming_it() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("chen.wei", Some("code-sandbox")));
    let body = json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}], "tools": [tool("chat")]});
    let a = c.post("/v1/chat/completions", body, &[("x-mock-tool-call", "run_tests {not json")]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "invalid_request", "{}", a.body);
    assert!(a.body.contains("x-mock-tool-call: the arguments after the tool name are not JSON"), "{}", a.body);
}
