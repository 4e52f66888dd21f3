//! Typical streams of ~30 frames as providers send them (OpenAI chat,
//! Anthropic messages, Responses) around the words of one reply: what the
//! relay micro-benchmark and the output scan's tests feed through a stream.

use bytes::Bytes;
use serde_json::json;

/// The words of a reply of about 26 deltas.
pub(crate) fn words() -> Vec<String> {
    let text = "The refund was issued on Tuesday and should reach the customer's account within five \
                business days. If it has not arrived by then, ask them to reply to this thread.";
    text.split_inclusive(' ').map(str::to_string).collect()
}

pub(crate) fn openai_stream(words: &[String]) -> Vec<Bytes> {
    let head = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_764_000_000,
                      "model": "gpt-4.1", "system_fingerprint": "fp_mock"});
    let chunk = |choices: serde_json::Value, usage: serde_json::Value| {
        let mut c = head.clone();
        c["choices"] = choices;
        c["usage"] = usage;
        Bytes::from(format!("data: {c}\n\n"))
    };
    let delta = |d: serde_json::Value| json!([{"index": 0, "delta": d, "finish_reason": null}]);
    let mut frames = vec![chunk(delta(json!({"role": "assistant", "content": ""})), json!(null))];
    frames.extend(words.iter().map(|w| chunk(delta(json!({"content": w})), json!(null))));
    frames.push(chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]), json!(null)));
    frames.push(chunk(json!([]), json!({"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50})));
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

pub(crate) fn anthropic_stream(words: &[String]) -> Vec<Bytes> {
    let ev = |name: &str, data: serde_json::Value| Bytes::from(format!("event: {name}\ndata: {data}\n\n"));
    let mut frames = vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-haiku-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 20, "output_tokens": 1, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        ev("ping", json!({"type": "ping"})),
    ];
    frames.extend(words.iter().map(|w| {
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": w}}),
        )
    }));
    frames.push(ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    frames.push(ev(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 30}}),
    ));
    frames.push(ev("message_stop", json!({"type": "message_stop"})));
    frames
}

pub(crate) fn responses_stream(words: &[String]) -> Vec<Bytes> {
    let mut seq = 0u64;
    let mut ev = |name: &str, mut data: serde_json::Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq);
        seq += 1;
        Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
    };
    let text: String = words.concat();
    let part = json!({"type": "output_text", "text": text, "annotations": []});
    let item = json!({"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                      "content": [part]});
    let response = json!({"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4.1",
        "output": [item], "usage": {"input_tokens": 20, "output_tokens": 30,
        "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}});
    let at = |extra: serde_json::Value| {
        let mut v = json!({"item_id": "msg_1", "output_index": 0, "content_index": 0});
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    };
    let mut frames = vec![
        ev("response.created", json!({"response": {"id": "resp_1", "status": "in_progress", "output": []}})),
        ev(
            "response.output_item.added",
            json!({"output_index": 0,
            "item": {"id": "msg_1", "type": "message", "status": "in_progress", "content": []}}),
        ),
        ev("response.content_part.added", at(json!({"part": {"type": "output_text", "text": ""}}))),
    ];
    for w in words {
        frames.push(ev("response.output_text.delta", at(json!({"delta": w, "logprobs": []}))));
    }
    frames.push(ev("response.output_text.done", at(json!({"text": text, "logprobs": []}))));
    frames.push(ev("response.content_part.done", at(json!({"part": part}))));
    frames.push(ev("response.output_item.done", json!({"output_index": 0, "item": item})));
    frames.push(ev("response.completed", json!({"response": response})));
    frames
}
