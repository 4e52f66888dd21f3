//! OpenAI chat ⇄ Anthropic messages, for reroutes that cross wire formats:
//! an OpenAI client whose prompt must go to a model only reachable in the
//! Anthropic format (the cheapest one cleared for its data) gets an OpenAI
//! answer all the same. Text conversations only; a request with tools,
//! images or several choices is not translated (it is then blocked with a
//! nudge instead of rerouted).

use bytes::Bytes;
use serde_json::{Value, json};

/// Whether an OpenAI chat request can be expressed in the Anthropic format.
pub fn translatable(req: &Value) -> bool {
    let unsupported =
        ["tools", "functions", "tool_choice", "function_call", "logprobs", "audio", "modalities", "prediction"];
    if unsupported.iter().any(|k| req.get(*k).is_some_and(|v| !v.is_null())) {
        return false;
    }
    if req.get("n").and_then(Value::as_u64).is_some_and(|n| n != 1) {
        return false;
    }
    let Some(messages) = req.get("messages").and_then(Value::as_array) else { return false };
    messages.iter().all(|m| {
        let role_ok =
            matches!(m.get("role").and_then(Value::as_str), Some("system" | "developer" | "user" | "assistant"));
        let content_ok = match m.get("content") {
            Some(Value::String(_)) => true,
            Some(Value::Array(parts)) => parts.iter().all(|p| p.get("type").and_then(Value::as_str) == Some("text")),
            _ => false,
        };
        role_ok && content_ok && m.get("tool_calls").is_none()
    })
}

/// The text of a translatable message's content, or of an answer's
/// content blocks: its text parts, joined. (Only text is translated; the
/// request was checked with [`translatable`], and the gateway's walker has
/// already scanned every text of it.)
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    }
}

/// The Anthropic request for an OpenAI chat request (`translatable` first).
pub fn to_anthropic(req: &Value, upstream_model: &str, max_tokens: u64) -> Value {
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in req.get("messages").and_then(Value::as_array).into_iter().flatten() {
        let text = text_of(m.get("content").unwrap_or(&Value::Null));
        match m.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => system.push(text),
            Some(role) => {
                // Anthropic wants alternating turns: merge consecutive ones.
                match messages.last_mut() {
                    Some(last) if last["role"] == role => {
                        let joined = format!("{}\n\n{text}", last["content"].as_str().unwrap_or(""));
                        last["content"] = Value::String(joined);
                    }
                    _ => messages.push(json!({"role": role, "content": text})),
                }
            }
            None => {}
        }
    }
    let mut out = json!({"model": upstream_model, "max_tokens": max_tokens, "messages": messages});
    if !system.is_empty() {
        out["system"] = Value::String(system.join("\n\n"));
    }
    for key in ["temperature", "top_p", "stream"] {
        if let Some(v) = req.get(key) {
            out[key] = v.clone();
        }
    }
    match req.get("stop") {
        Some(Value::String(s)) => out["stop_sequences"] = json!([s]),
        Some(Value::Array(a)) => out["stop_sequences"] = Value::Array(a.clone()),
        _ => {}
    }
    if let Some(u) = req.get("user").and_then(Value::as_str) {
        out["metadata"] = json!({"user_id": u});
    }
    out
}

fn finish_reason(stop: Option<&str>) -> &'static str {
    match stop {
        Some("max_tokens") => "length",
        Some("tool_use") => "tool_calls",
        _ => "stop",
    }
}

fn openai_usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let read = n("cache_read_input_tokens");
    let prompt = n("input_tokens") + read + n("cache_creation_input_tokens");
    let completion = n("output_tokens");
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
           "prompt_tokens_details": {"cached_tokens": read}, "completion_tokens_details": {"reasoning_tokens": 0}})
}

/// An OpenAI `chat.completion` for an Anthropic message; None if the body
/// is not one.
pub fn from_anthropic(body: &[u8], created: i64) -> Option<Vec<u8>> {
    let m: Value = serde_json::from_slice(body).ok()?;
    let text = m.get("content").map(text_of).unwrap_or_default();
    let out = json!({
        "id": format!("chatcmpl-{}", m.get("id").and_then(Value::as_str).unwrap_or("")),
        "object": "chat.completion",
        "created": created,
        "model": m.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": null},
                     "logprobs": null, "finish_reason": finish_reason(m.get("stop_reason").and_then(Value::as_str))}],
        "usage": openai_usage(m.get("usage").unwrap_or(&Value::Null)),
    });
    serde_json::to_vec(&out).ok()
}

/// Rewrites an Anthropic event stream as OpenAI chunks.
#[derive(Debug)]
pub struct StreamTranslator {
    pub client_wants_usage: bool,
    pub created: i64,
    id: String,
    model: Value,
    usage: Value,
}

impl StreamTranslator {
    pub fn new(client_wants_usage: bool, created: i64) -> StreamTranslator {
        StreamTranslator { client_wants_usage, created, id: String::new(), model: Value::Null, usage: json!({}) }
    }

    fn chunk(&self, choices: Value, usage: Option<Value>) -> Bytes {
        let mut c = json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                           "model": self.model, "choices": choices});
        if self.client_wants_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        Bytes::from(format!("data: {c}\n\n"))
    }

    /// The OpenAI frames for one Anthropic event (`data` parsed).
    pub fn frames(&mut self, event: &Value) -> Vec<Bytes> {
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let m = event.get("message").cloned().unwrap_or(Value::Null);
                self.id = format!("chatcmpl-{}", m.get("id").and_then(Value::as_str).unwrap_or(""));
                self.model = m.get("model").cloned().unwrap_or(Value::Null);
                if let Some(u) = m.get("usage").and_then(Value::as_object) {
                    for (k, v) in u {
                        self.usage[k] = v.clone();
                    }
                }
                vec![self.chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
                    None,
                )]
            }
            Some("content_block_delta") => match event.pointer("/delta/text").and_then(Value::as_str) {
                Some(t) => {
                    vec![self.chunk(json!([{"index": 0, "delta": {"content": t}, "finish_reason": null}]), None)]
                }
                None => Vec::new(),
            },
            Some("message_delta") => {
                if let Some(u) = event.get("usage").and_then(Value::as_object) {
                    for (k, v) in u {
                        self.usage[k] = v.clone();
                    }
                }
                let reason = finish_reason(event.pointer("/delta/stop_reason").and_then(Value::as_str));
                vec![self.chunk(json!([{"index": 0, "delta": {}, "finish_reason": reason}]), None)]
            }
            // The provider's error mid-stream, as an OpenAI error chunk.
            Some("error") => {
                let e = event.get("error").cloned().unwrap_or(Value::Null);
                let body = json!({"error": {"type": e.get("type"), "code": "upstream_error", "message": e.get("message"), "param": null}});
                vec![Bytes::from(format!("data: {body}\n\n"))]
            }
            _ => Vec::new(),
        }
    }

    /// What ends the stream: the usage chunk if asked for, then `[DONE]`.
    pub fn finish(&self) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.client_wants_usage {
            out.push(self.chunk(json!([]), Some(openai_usage(&self.usage))));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_translate_with_system_merged_turns_and_stops() {
        let req = json!({"model": "gpt-4.1-mini", "temperature": 0.2, "stop": "END", "stream": true,
                         "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Hi"},
                                      {"role": "user", "content": [{"type": "text", "text": "again"}]},
                                      {"role": "assistant", "content": "Hello"}]});
        assert!(translatable(&req));
        let a = to_anthropic(&req, "claude-haiku-4-5", 512);
        assert_eq!(a["system"], "Be brief.");
        assert_eq!(
            a["messages"],
            json!([{"role": "user", "content": "Hi\n\nagain"}, {"role": "assistant", "content": "Hello"}])
        );
        assert_eq!(
            (a["max_tokens"].as_u64(), &a["stop_sequences"], &a["stream"]),
            (Some(512), &json!(["END"]), &json!(true))
        );
        assert!(!translatable(
            &json!({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})
        ));
        assert!(!translatable(&json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})));
    }

    #[test]
    fn answers_translate_with_usage_in_openai_terms() {
        let body = br#"{"id":"msg_1","model":"claude-haiku-4-5","content":[{"type":"text","text":"ok"}],
                        "stop_reason":"max_tokens","usage":{"input_tokens":5,"output_tokens":7,"cache_read_input_tokens":100}}"#;
        let v: Value = serde_json::from_slice(&from_anthropic(body, 1).unwrap()).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "ok");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        assert_eq!(v["usage"]["prompt_tokens"], 105);
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
    }
}
