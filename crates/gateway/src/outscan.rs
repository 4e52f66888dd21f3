//! Output scanning at the wire: the texts of a reply — whole or streamed,
//! OpenAI chat, Anthropic messages and Responses — pass through the
//! app's [`OutputScan`]; a stream's texts through a [`Window`] per choice or
//! content block, so a finding split across chunks is caught. Frames that
//! carry no text pass unchanged.

use bytes::Bytes;
use serde_json::Value;
use std::collections::BTreeMap;
use tokenwise_app::output::{OutputScan, Window};
use tokenwise_wire::Dialect;
use tokenwise_wire::sse::data_of;

/// A whole JSON reply with its texts scanned (masked when the rule says
/// so); the bytes as they came when nothing changed.
pub(crate) fn whole(scan: &mut OutputScan<'_>, dialect: Dialect, bytes: Bytes) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else { return bytes };
    let mut changed = false;
    let mut one = |t: &mut Value| {
        if let Some(new) = t.as_str().and_then(|s| scan.text(s)) {
            *t = Value::String(new);
            changed = true;
        }
    };
    match dialect {
        Dialect::OpenAiChat { .. } => {
            for c in array(&mut v, "choices") {
                if let Some(t) = c.pointer_mut("/message/content") {
                    one(t);
                }
            }
        }
        Dialect::Anthropic => {
            for block in array(&mut v, "content") {
                if block["type"] == "text" {
                    one(&mut block["text"]);
                }
            }
        }
        Dialect::OpenAiResponses => {
            for item in array(&mut v, "output") {
                for part in array(item, "content") {
                    if part["type"] == "output_text" {
                        one(&mut part["text"]);
                    }
                }
            }
        }
        Dialect::OpenAiEmbeddings => {}
    }
    if !changed {
        return bytes;
    }
    serde_json::to_vec(&v).map_or(bytes, Bytes::from)
}

fn array<'v>(v: &'v mut Value, key: &str) -> impl Iterator<Item = &'v mut Value> {
    v.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten()
}

/// A stream's output scan: one window per choice (OpenAI) or content
/// block (Anthropic).
pub(crate) struct StreamScan<'a> {
    pub scan: OutputScan<'a>,
    windows: BTreeMap<u64, Window>,
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

    /// Each choice's `delta.content` through its window; a choice's
    /// `finish_reason` flushes it. Whether the event changed.
    fn openai(&mut self, event: &mut Value) -> bool {
        let mut changed = false;
        for c in array(event, "choices") {
            let index = c["index"].as_u64().unwrap_or(0);
            let window = self.windows.entry(index).or_default();
            let mut this = false;
            let mut out = match c.pointer("/delta/content").and_then(Value::as_str) {
                Some(text) => {
                    this = true;
                    window.push(&mut self.scan, text)
                }
                None => String::new(),
            };
            if !c["finish_reason"].is_null() && !window.is_empty() {
                out.push_str(&window.finish(&mut self.scan));
                this = true;
            }
            if this && c.get("delta").is_some_and(Value::is_object) {
                c["delta"]["content"] = Value::String(out);
                changed = true;
            }
        }
        changed
    }

    /// A `text_delta` through its block's window; a `content_block_stop`
    /// is preceded by what its block still withheld.
    fn anthropic(&mut self, frame: Bytes, event: &mut Value) -> Vec<Bytes> {
        let index = event["index"].as_u64().unwrap_or(0);
        match event["type"].as_str() {
            Some("content_block_delta") if event["delta"]["type"] == "text_delta" => {
                let text = event["delta"]["text"].as_str().unwrap_or_default().to_string();
                let out = self.windows.entry(index).or_default().push(&mut self.scan, &text);
                event["delta"]["text"] = Value::String(out);
                vec![rebuild(&frame, event)]
            }
            Some("content_block_stop") => {
                let tail = self.windows.remove(&index).map(|mut w| w.finish(&mut self.scan)).unwrap_or_default();
                if tail.is_empty() {
                    return vec![frame];
                }
                let delta = serde_json::json!({"type": "content_block_delta", "index": index,
                                               "delta": {"type": "text_delta", "text": tail}});
                vec![Bytes::from(format!("event: content_block_delta\ndata: {delta}\n\n")), frame]
            }
            _ => vec![frame],
        }
    }
}

impl StreamScan<'_> {
    /// Responses: each `output_text.delta` through its part's window; at
    /// `output_text.done` what the part withheld goes first, and the
    /// events that repeat the whole text (`output_text.done`,
    /// `content_part.done`, `output_item.done`, `response.completed`)
    /// carry it masked alike.
    fn responses(&mut self, frame: Bytes, event: &mut Value) -> Vec<Bytes> {
        let key = event["output_index"].as_u64().unwrap_or(0) * 1_000 + event["content_index"].as_u64().unwrap_or(0);
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        let mut first = None;
        match kind.as_str() {
            "response.output_text.delta" => {
                let text = event["delta"].as_str().unwrap_or_default().to_string();
                event["delta"] = Value::String(self.windows.entry(key).or_default().push(&mut self.scan, &text));
            }
            "response.output_text.done" => {
                let tail = self.windows.remove(&key).map(|mut w| w.finish(&mut self.scan)).unwrap_or_default();
                if !tail.is_empty() {
                    let mut delta = event.clone();
                    delta["type"] = Value::String("response.output_text.delta".into());
                    if let Some(o) = delta.as_object_mut() {
                        o.remove("text");
                    }
                    delta["delta"] = Value::String(tail);
                    first = Some(Bytes::from(format!("event: response.output_text.delta\ndata: {delta}\n\n")));
                }
                self.again(&mut event["text"]);
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

    fn again_item(&self, item: &mut Value) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_keeps_the_event_line() {
        let f = b"event: content_block_delta\ndata: {\"a\":1}\n\n";
        let out = rebuild(f, &serde_json::json!({"a": 2}));
        assert_eq!(&out[..], b"event: content_block_delta\ndata: {\"a\":2}\n\n");
    }
}
