//! The stream scan as it was before frames were read in place: every
//! frame read into a `Value`, changed and written out again. Kept for the
//! tests, which check that the scan sends what this one did.

use bytes::Bytes;
use serde_json::Value;
use std::collections::BTreeMap;
use tokenwise_app::output::{OutputScan, Window};
use tokenwise_wire::Dialect;
use tokenwise_wire::sse::data_of;

fn array<'v>(v: &'v mut Value, key: &str) -> impl Iterator<Item = &'v mut Value> {
    v.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten()
}

/// What a window holds: a text, or a tool call's arguments (JSON), and
/// where in the stream it sits (OpenAI: choice and tool call; Anthropic:
/// content block; Responses: output item and content part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Text(u64, u64),
    Args(u64, u64),
}

/// An open window and the last event that fed it: what its withheld tail
/// is sent in, should the stream end before the text does.
struct Open {
    window: Window,
    last: Value,
}

/// A stream's output scan: one window per text and per tool call's
/// arguments.
pub(crate) struct StreamScan<'a> {
    pub scan: OutputScan<'a>,
    windows: BTreeMap<Slot, Open>,
}

impl<'a> StreamScan<'a> {
    pub fn new(scan: OutputScan<'a>) -> StreamScan<'a> {
        StreamScan { scan, windows: BTreeMap::new() }
    }

    /// The frames to send for `frame` (in the upstream's format): its text
    /// cut to what may leave now, and before a content block's end what
    /// was withheld of it.
    pub fn frame(&mut self, dialect: Dialect, frame: Bytes) -> Vec<Bytes> {
        let Some(mut event) = data_of(&frame).and_then(|d| serde_json::from_str::<Value>(&d).ok()) else {
            return vec![frame];
        };
        match dialect {
            Dialect::OpenAiChat { .. } => {
                if self.openai(&mut event) {
                    return vec![rebuild(&frame, &event)];
                }
                vec![frame]
            }
            Dialect::Anthropic => self.anthropic(frame, &mut event),
            Dialect::OpenAiResponses => self.responses(frame, &mut event),
            Dialect::OpenAiEmbeddings => vec![frame],
        }
    }

    /// `text` through the window at `slot` (opened on first use), fed by `event`.
    fn push(&mut self, slot: Slot, event: &Value, text: &str) -> String {
        let open = self.windows.entry(slot).or_insert_with(|| Open {
            window: if matches!(slot, Slot::Args(..)) { Window::json() } else { Window::default() },
            last: Value::Null,
        });
        open.last = event.clone();
        open.window.push(&mut self.scan, text)
    }

    /// What the window at `slot` still withholds, scanned; the window closed.
    fn close(&mut self, slot: Slot) -> String {
        self.windows.remove(&slot).map(|mut o| o.window.finish(&mut self.scan)).unwrap_or_default()
    }

    /// What every open window still withholds, scanned, as frames in the
    /// upstream's format — for a stream that ends before its texts do (cut,
    /// or without the events that close them), so the client still gets
    /// all it was sent, masked, before the end or the error event.
    pub fn flush(&mut self, dialect: Dialect) -> Vec<Bytes> {
        let mut out = Vec::new();
        for (slot, mut open) in std::mem::take(&mut self.windows) {
            let tail = open.window.finish(&mut self.scan);
            if !tail.is_empty() {
                out.extend(tail_frame(dialect, slot, open.last, tail));
            }
        }
        out
    }

    /// Each choice's `delta.content` and tool calls' `arguments` through
    /// their windows; a choice's `finish_reason` flushes them. Whether the
    /// event changed.
    fn openai(&mut self, event: &mut Value) -> bool {
        let mut changed = false;
        let template = event.clone();
        for c in array(event, "choices") {
            let index = c["index"].as_u64().unwrap_or(0);
            let mut text = None;
            if let Some(t) = c.pointer("/delta/content").and_then(Value::as_str) {
                text = Some(self.push(Slot::Text(index, 0), &template, t));
            }
            for (i, call) in
                c.pointer_mut("/delta/tool_calls").and_then(Value::as_array_mut).into_iter().flatten().enumerate()
            {
                let at = call["index"].as_u64().unwrap_or(i as u64);
                if let Some(a) = call.pointer("/function/arguments").and_then(Value::as_str).map(str::to_string) {
                    call["function"]["arguments"] = Value::String(self.push(Slot::Args(index, at), &template, &a));
                    changed = true;
                }
            }
            if !c["finish_reason"].is_null() {
                let open: Vec<Slot> = self
                    .windows
                    .range(Slot::Text(index, 0)..=Slot::Text(index, u64::MAX))
                    .map(|(s, _)| *s)
                    .chain(self.windows.range(Slot::Args(index, 0)..=Slot::Args(index, u64::MAX)).map(|(s, _)| *s))
                    .collect();
                for slot in open {
                    let tail = self.close(slot);
                    if tail.is_empty() {
                        continue;
                    }
                    if !c.get("delta").is_some_and(Value::is_object) {
                        c["delta"] = serde_json::json!({});
                    }
                    match slot {
                        Slot::Text(..) => {
                            let mut t = text.take().unwrap_or_default();
                            t.push_str(&tail);
                            text = Some(t);
                        }
                        Slot::Args(_, at) => {
                            let delta = &mut c["delta"];
                            if !delta["tool_calls"].is_array() {
                                delta["tool_calls"] = serde_json::json!([]);
                            }
                            if let Some(calls) = delta["tool_calls"].as_array_mut() {
                                calls.push(serde_json::json!({"index": at, "function": {"arguments": tail}}));
                            }
                            changed = true;
                        }
                    }
                }
            }
            if let Some(out) = text
                && c.get("delta").is_some_and(Value::is_object)
            {
                c["delta"]["content"] = Value::String(out);
                changed = true;
            }
        }
        changed
    }

    /// A `text_delta` or `input_json_delta` through its block's window; a
    /// `content_block_stop` is preceded by what its block still withheld.
    fn anthropic(&mut self, frame: Bytes, event: &mut Value) -> Vec<Bytes> {
        let index = event["index"].as_u64().unwrap_or(0);
        match event["type"].as_str() {
            Some("content_block_delta") if event["delta"]["type"] == "text_delta" => {
                let text = event["delta"]["text"].as_str().unwrap_or_default().to_string();
                let template = event.clone();
                event["delta"]["text"] = Value::String(self.push(Slot::Text(index, 0), &template, &text));
                vec![rebuild(&frame, event)]
            }
            Some("content_block_delta") if event["delta"]["type"] == "input_json_delta" => {
                let text = event["delta"]["partial_json"].as_str().unwrap_or_default().to_string();
                let template = event.clone();
                event["delta"]["partial_json"] = Value::String(self.push(Slot::Args(index, 0), &template, &text));
                vec![rebuild(&frame, event)]
            }
            Some("content_block_stop") => {
                let mut out = Vec::new();
                for slot in [Slot::Text(index, 0), Slot::Args(index, 0)] {
                    let tail = self.close(slot);
                    if !tail.is_empty() {
                        out.extend(tail_frame(Dialect::Anthropic, slot, Value::Null, tail));
                    }
                }
                out.push(frame);
                out
            }
            _ => vec![frame],
        }
    }
}

/// A frame in `dialect` carrying `tail`, the rest of the text at `slot`;
/// `last` is the event that last fed it (its ids and indexes).
fn tail_frame(dialect: Dialect, slot: Slot, last: Value, tail: String) -> Option<Bytes> {
    let sse = |event: &Value| {
        let name = event["type"].as_str().unwrap_or_default();
        Bytes::from(format!("event: {name}\ndata: {event}\n\n"))
    };
    match (dialect, slot) {
        (Dialect::OpenAiChat { .. }, _) => {
            let mut chunk = last;
            let delta = match slot {
                Slot::Text(..) => serde_json::json!({"content": tail}),
                Slot::Args(_, at) => {
                    serde_json::json!({"tool_calls": [{"index": at, "function": {"arguments": tail}}]})
                }
            };
            let (Slot::Text(choice, _) | Slot::Args(choice, _)) = slot;
            if let Some(o) = chunk.as_object_mut() {
                o.remove("usage");
            }
            chunk["choices"] = serde_json::json!([{"index": choice, "delta": delta, "finish_reason": null}]);
            Some(Bytes::from(format!("data: {chunk}\n\n")))
        }
        (Dialect::Anthropic, Slot::Text(index, _)) => Some(sse(&serde_json::json!({"type": "content_block_delta",
            "index": index, "delta": {"type": "text_delta", "text": tail}}))),
        (Dialect::Anthropic, Slot::Args(index, _)) => Some(sse(&serde_json::json!({"type": "content_block_delta",
            "index": index, "delta": {"type": "input_json_delta", "partial_json": tail}}))),
        (Dialect::OpenAiResponses, _) => {
            let mut event = last;
            if !event.is_object() {
                return None;
            }
            event["delta"] = Value::String(tail);
            Some(sse(&event))
        }
        (Dialect::OpenAiEmbeddings, _) => None,
    }
}

impl StreamScan<'_> {
    /// Responses: each `output_text.delta` through its part's window, each
    /// `function_call_arguments.delta` through its item's; at
    /// `output_text.done` (`function_call_arguments.done`) what the part
    /// (item) withheld goes first, and the events that repeat the whole
    /// text or arguments (`output_text.done`, `content_part.done`,
    /// `function_call_arguments.done`, `output_item.done`,
    /// `response.completed`) carry them masked alike.
    fn responses(&mut self, frame: Bytes, event: &mut Value) -> Vec<Bytes> {
        let output = event["output_index"].as_u64().unwrap_or(0);
        let text_slot = Slot::Text(output, event["content_index"].as_u64().unwrap_or(0));
        let args_slot = Slot::Args(output, 0);
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        let mut first = None;
        match kind.as_str() {
            "response.output_text.delta" | "response.function_call_arguments.delta" => {
                let slot = if kind == "response.output_text.delta" { text_slot } else { args_slot };
                let text = event["delta"].as_str().unwrap_or_default().to_string();
                let template = event.clone();
                event["delta"] = Value::String(self.push(slot, &template, &text));
            }
            "response.output_text.done" | "response.function_call_arguments.done" => {
                let (slot, field, delta_kind) = if kind == "response.output_text.done" {
                    (text_slot, "text", "response.output_text.delta")
                } else {
                    (args_slot, "arguments", "response.function_call_arguments.delta")
                };
                let tail = self.close(slot);
                if !tail.is_empty() {
                    let mut delta = event.clone();
                    delta["type"] = Value::String(delta_kind.into());
                    if let Some(o) = delta.as_object_mut() {
                        o.remove(field);
                    }
                    delta["delta"] = Value::String(tail);
                    first = Some(Bytes::from(format!("event: {delta_kind}\ndata: {delta}\n\n")));
                }
                if matches!(slot, Slot::Args(..)) {
                    self.again_json(&mut event["arguments"]);
                } else {
                    self.again(&mut event["text"]);
                }
            }
            "response.content_part.done" => self.again(&mut event["part"]["text"]),
            "response.output_item.done" => self.again_item(&mut event["item"]),
            "response.completed" | "response.incomplete" => {
                for item in array(&mut event["response"], "output") {
                    self.again_item(item);
                }
            }
            _ => return vec![frame],
        }
        first.into_iter().chain([rebuild(&frame, event)]).collect()
    }

    fn again(&self, t: &mut Value) {
        if let Some(new) = t.as_str().and_then(|s| self.scan.again(s)) {
            *t = Value::String(new);
        }
    }

    fn again_json(&self, t: &mut Value) {
        if let Some(new) = t.as_str().and_then(|s| self.scan.json_again(s)) {
            *t = Value::String(new);
        }
    }

    fn again_item(&self, item: &mut Value) {
        if item["type"] == "function_call" {
            self.again_json(&mut item["arguments"]);
        }
        for part in array(item, "content") {
            if part["type"] == "output_text" {
                self.again(&mut part["text"]);
            }
        }
    }
}

/// `frame` with its data replaced by `event` (its other lines kept).
fn rebuild(frame: &[u8], event: &Value) -> Bytes {
    let text = String::from_utf8_lossy(frame);
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with("data:")) {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("data: ");
    out.push_str(&event.to_string());
    out.push_str("\n\n");
    Bytes::from(out)
}
