//! `x-mock-tool-call: NAME {"arg": …}` makes the model call a tool, so a
//! test can drive a real agent through a whole tool loop: the first request
//! that offers tool NAME and carries no tool result yet is answered with a
//! call to it (arguments as given); once the agent sends a result back, the
//! model answers in text as usual. Each API gets the call in its own shape:
//! Chat `tool_calls`, a Responses `function_call` item, an Anthropic
//! `tool_use` block, JSON or streamed (with `x-mock-chunk-bytes`, the
//! arguments in pieces of that many bytes).

use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokenwise_wire::Api;

/// A call the model makes. Its output tokens are the name's and the
/// arguments' (4 bytes a token, as for text).
#[derive(Debug, Clone)]
pub(crate) struct ToolCall {
    pub name: String,
    pub arguments: String,
    pub id: String,
    /// `x-mock-chunk-bytes: N`: the arguments streamed in N-byte pieces
    /// (else in one delta).
    pub chunk_bytes: Option<usize>,
}

impl ToolCall {
    pub(crate) fn tokens(&self) -> u64 {
        crate::count_tokens(&self.name) + crate::count_tokens(&self.arguments)
    }

    /// The arguments as streamed: whole, or in pieces.
    fn pieces(&self) -> Vec<String> {
        match self.chunk_bytes {
            Some(n) => crate::pieces(&self.arguments, n),
            None => vec![self.arguments.clone()],
        }
    }
}

/// The call this request should get, if the header asks for one and it is
/// due; a header that does not parse is the caller's mistake (a 400).
pub(crate) fn due(api: Api, headers: &HeaderMap, req: &Value) -> Result<Option<ToolCall>, String> {
    let Some(raw) = headers.get("x-mock-tool-call") else { return Ok(None) };
    let raw = raw.to_str().map_err(|_| "x-mock-tool-call: not text".to_string())?;
    let (name, arguments) = raw.trim().split_once(' ').unwrap_or((raw.trim(), "{}"));
    let args: Value = serde_json::from_str(arguments.trim())
        .map_err(|e| format!("x-mock-tool-call: the arguments after the tool name are not JSON: {e}"))?;
    if !args.is_object() {
        return Err("x-mock-tool-call: the arguments must be a JSON object".into());
    }
    if !offers(api, req, name) || has_result(api, req) {
        return Ok(None);
    }
    let id = format!("{:016x}", crate::hash_of(&[name, arguments]));
    let chunk_bytes = headers
        .get("x-mock-chunk-bytes")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0);
    Ok(Some(ToolCall { name: name.to_string(), arguments: args.to_string(), id, chunk_bytes }))
}

fn offers(api: Api, req: &Value, name: &str) -> bool {
    let named = |tool: &Value| {
        let n = match api {
            Api::OpenAiChat => tool.pointer("/function/name"),
            _ => tool.get("name"),
        };
        n.and_then(Value::as_str) == Some(name)
    };
    req.get("tools").and_then(Value::as_array).is_some_and(|tools| tools.iter().any(named))
}

fn has_result(api: Api, req: &Value) -> bool {
    let list = |field: &str| req.get(field).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    match api {
        Api::OpenAiChat => list("messages").iter().any(|m| m.get("role").and_then(Value::as_str) == Some("tool")),
        Api::OpenAiResponses => list("input")
            .iter()
            .any(|i| i.get("type").and_then(Value::as_str).is_some_and(|t| t.ends_with("_call_output"))),
        Api::AnthropicMessages => list("messages").iter().any(|m| {
            m.get("content").and_then(Value::as_array).is_some_and(|blocks| {
                blocks.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
            })
        }),
        Api::OpenAiEmbeddings => false,
    }
}

/// Chat: the assistant message, and its stream deltas (the call opened,
/// then its arguments).
pub(crate) fn chat_message(c: &ToolCall) -> Value {
    json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
        {"id": format!("call_{}", c.id), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
    ]})
}

pub(crate) fn chat_deltas(c: &ToolCall) -> Vec<Value> {
    let mut out = vec![json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
        "id": format!("call_{}", c.id), "type": "function", "function": {"name": c.name, "arguments": ""}}]})];
    for piece in c.pieces() {
        out.push(json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}));
    }
    out
}

/// Responses: the `function_call` output item, and the events between its
/// `output_item.added` and `output_item.done`.
pub(crate) fn responses_item(c: &ToolCall) -> Value {
    json!({"type": "function_call", "id": format!("fc_{}", c.id), "call_id": format!("call_{}", c.id),
           "name": c.name, "arguments": c.arguments, "status": "completed"})
}

pub(crate) fn responses_events(c: &ToolCall) -> Vec<(&'static str, Value)> {
    let at = |extra: Value| {
        let mut v = json!({"item_id": format!("fc_{}", c.id), "output_index": 0});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    };
    let mut out: Vec<_> =
        c.pieces().into_iter().map(|p| ("response.function_call_arguments.delta", at(json!({"delta": p})))).collect();
    out.push(("response.function_call_arguments.done", at(json!({"arguments": c.arguments}))));
    out
}

/// Anthropic: the `tool_use` block, and its stream events (start, the
/// input as one JSON delta, stop).
pub(crate) fn messages_block(c: &ToolCall) -> Value {
    let input: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
    json!({"type": "tool_use", "id": format!("toolu_{}", c.id), "name": c.name, "input": input})
}

pub(crate) fn messages_events(c: &ToolCall) -> Vec<(&'static str, Value)> {
    let mut out = vec![(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block":
               {"type": "tool_use", "id": format!("toolu_{}", c.id), "name": c.name, "input": {}}}),
    )];
    for piece in c.pieces() {
        out.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "input_json_delta", "partial_json": piece}}),
        ));
    }
    out.push(("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    out
}
