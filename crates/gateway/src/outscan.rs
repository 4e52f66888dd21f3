//! Output scanning at the wire: the texts and tool-call arguments of a
//! reply — whole or streamed, OpenAI chat, Anthropic messages and
//! Responses — pass through the app's [`OutputScan`] (arguments as JSON,
//! masked inside their string values only); a stream's through a
//! [`Window`] per text and per tool call, so a finding split across chunks
//! is caught. Frames that carry no text pass unchanged. A stream that ends
//! before its texts do still gets what its windows withheld
//! ([`StreamScan::flush`]).
//!
//! A streamed frame is read in place: only the fields that matter are
//! read (borrowing from the frame), its texts are swapped for what their
//! windows release by editing the data's bytes ([`Edits`]), and a frame
//! whose texts come out as they went in is passed on as it came. Only the
//! rare events that repeat a whole text (Responses' `.done` events) are
//! read into a `Value`.

use bytes::Bytes;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use tokenwise_app::output::{OutputScan, Window};
use tokenwise_wire::Dialect;
use tokenwise_wire::sse::data_of;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

/// A whole JSON reply with its texts and tool-call arguments scanned
/// (masked when the rule says so); the bytes as they came when nothing
/// changed.
pub(crate) fn whole(scan: &mut OutputScan<'_>, dialect: Dialect, bytes: Bytes) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else { return bytes };
    let mut changed = false;
    let mut one = |t: &mut Value, json: bool| {
        let new = t.as_str().and_then(|s| if json { scan.json_text(s) } else { scan.text(s) });
        if let Some(new) = new {
            *t = Value::String(new);
            changed = true;
        }
    };
    match dialect {
        Dialect::OpenAiChat { .. } => {
            for c in array(&mut v, "choices") {
                if let Some(t) = c.pointer_mut("/message/content") {
                    one(t, false);
                }
                if let Some(message) = c.get_mut("message") {
                    for call in array(message, "tool_calls") {
                        if let Some(t) = call.pointer_mut("/function/arguments") {
                            one(t, true);
                        }
                    }
                    if let Some(t) = message.pointer_mut("/function_call/arguments") {
                        one(t, true);
                    }
                }
            }
        }
        Dialect::Anthropic => {
            for block in array(&mut v, "content") {
                if block["type"] == "text" {
                    one(&mut block["text"], false);
                } else if block["type"] == "tool_use" && block.get("input").is_some() {
                    // The input is an object: scanned as the JSON text a
                    // stream would have carried, and read back.
                    let mut text = Value::String(block["input"].to_string());
                    one(&mut text, true);
                    if let Some(input) = text.as_str().and_then(|t| serde_json::from_str::<Value>(t).ok()) {
                        block["input"] = input;
                    }
                }
            }
        }
        Dialect::OpenAiResponses => {
            for item in array(&mut v, "output") {
                if item["type"] == "function_call" {
                    one(&mut item["arguments"], true);
                }
                for part in array(item, "content") {
                    if part["type"] == "output_text" {
                        one(&mut part["text"], false);
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

/// What a window holds: a text, or a tool call's arguments (JSON), and
/// where in the stream it sits (OpenAI: choice and tool call; Anthropic:
/// content block; Responses: output item and content part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Text(u64, u64),
    Args(u64, u64),
}

/// An open window and the last frame that fed it: what its withheld tail
/// is sent in (read only then), should the stream end before the text does.
struct Open {
    window: Window,
    last: Bytes,
}

/// A stream's output scan: one window per text and per tool call's
/// arguments.
pub(crate) struct StreamScan<'a> {
    pub scan: OutputScan<'a>,
    windows: BTreeMap<Slot, Open>,
}

/// A frame's data that could not be read in place (a key twice in one
/// object): it is read as a `Value` and written out again first.
#[derive(Debug)]
struct Odd;

impl<'a> StreamScan<'a> {
    pub fn new(scan: OutputScan<'a>) -> StreamScan<'a> {
        StreamScan { scan, windows: BTreeMap::new() }
    }

    /// The frames to send for `frame` (in the upstream's format): its text
    /// cut to what may leave now, and before a content block's end what
    /// was withheld of it.
    pub fn frame(&mut self, dialect: Dialect, frame: Bytes) -> Vec<Bytes> {
        let Some(data) = data_of(&frame) else { return vec![frame] };
        if let Ok(out) = self.event(dialect, &frame, &data) {
            return out;
        }
        // Read as a client's JSON parser would (the last of a key twice);
        // nothing was pushed through a window yet.
        let Ok(normal) = serde_json::from_str::<Value>(&data).map(|v| v.to_string()) else { return vec![frame] };
        self.event(dialect, &frame, &normal).unwrap_or_else(|Odd| vec![frame.clone()])
    }

    /// `frame`, whose data is `data`, as [`frame`](Self::frame) sends it.
    fn event(&mut self, dialect: Dialect, frame: &Bytes, data: &str) -> Result<Vec<Bytes>, Odd> {
        match dialect {
            Dialect::OpenAiChat { .. } => {
                Ok(vec![self.openai(frame, data)?.map_or_else(|| frame.clone(), |d| reframe(frame, &d))])
            }
            Dialect::Anthropic => self.anthropic(frame, data),
            Dialect::OpenAiResponses => self.responses(frame, data),
            Dialect::OpenAiEmbeddings => Ok(vec![frame.clone()]),
        }
    }

    /// `text` through the window at `slot` (opened on first use), fed by `frame`.
    fn push(&mut self, slot: Slot, frame: &Bytes, text: &str) -> String {
        let open = self.windows.entry(slot).or_insert_with(|| Open {
            window: if matches!(slot, Slot::Args(..)) { Window::json() } else { Window::default() },
            last: Bytes::new(),
        });
        open.last = frame.clone();
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
                let last = data_of(&open.last).and_then(|d| serde_json::from_str(&d).ok()).unwrap_or(Value::Null);
                out.extend(tail_frame(dialect, slot, last, tail));
            }
        }
        out
    }

    /// Each choice's `delta.content` and tool calls' `arguments` through
    /// their windows; a choice's `finish_reason` flushes them. The data
    /// changed, if it did.
    fn openai(&mut self, frame: &Bytes, data: &str) -> Result<Option<String>, Odd> {
        let mut edits = Edits::default();
        for c in read_openai(data)? {
            let mut text = c.text.as_deref().map(|t| self.push(Slot::Text(c.index, 0), frame, t));
            for (at, args) in &c.calls {
                let new = self.push(Slot::Args(c.index, *at), frame, &args.1);
                if new != args.1 {
                    edits.replace(data, args.0, quoted(new));
                }
            }
            let mut appended = Vec::new();
            if c.finishes {
                for slot in self.open_in(c.index) {
                    let tail = self.close(slot);
                    match slot {
                        _ if tail.is_empty() => {}
                        Slot::Text(..) => text.get_or_insert_default().push_str(&tail),
                        Slot::Args(_, at) => {
                            appended.push(serde_json::json!({"index": at, "function": {"arguments": tail}}))
                        }
                    }
                }
            }
            if c.delta.is_object() {
                if let Some(t) = text.filter(|t| c.text.as_deref() != Some(t.as_str())) {
                    edits.set(data, c.delta.json(), "content", c.content, quoted(t));
                }
                if !appended.is_empty() && c.tool_calls.is_array() {
                    for call in appended {
                        edits.add(data, c.tool_calls.json(), call.to_string());
                    }
                } else if !appended.is_empty() {
                    edits.set(data, c.delta.json(), "tool_calls", c.tool_calls, Value::Array(appended).to_string());
                }
            } else if text.is_some() || !appended.is_empty() {
                // A tail for a choice without a delta object: one of its own.
                let mut delta = serde_json::json!({});
                if let Some(t) = text {
                    delta["content"] = Value::String(t);
                }
                if !appended.is_empty() {
                    delta["tool_calls"] = Value::Array(appended);
                }
                edits.set(data, c.choice.json(), "delta", c.delta, delta.to_string());
            }
        }
        Ok((!edits.is_empty()).then(|| edits.apply(data)))
    }

    /// The open windows of choice `index`.
    fn open_in(&self, index: u64) -> Vec<Slot> {
        let texts = self.windows.range(Slot::Text(index, 0)..=Slot::Text(index, u64::MAX));
        let args = self.windows.range(Slot::Args(index, 0)..=Slot::Args(index, u64::MAX));
        texts.chain(args).map(|(s, _)| *s).collect()
    }

    /// A `text_delta` or `input_json_delta` through its block's window; a
    /// `content_block_stop` is preceded by what its block still withheld.
    fn anthropic(&mut self, frame: &Bytes, data: &str) -> Result<Vec<Bytes>, Odd> {
        let event: Event = top(data)?;
        let index = event.index.u64().unwrap_or(0);
        match event.kind.str().as_deref() {
            Some("content_block_delta") => {
                let Some(delta) = event.delta.object::<BlockDelta>()? else { return Ok(vec![frame.clone()]) };
                let (slot, field, text) = match delta.kind.str().as_deref() {
                    Some("text_delta") => (Slot::Text(index, 0), "text", delta.text),
                    Some("input_json_delta") => (Slot::Args(index, 0), "partial_json", delta.partial_json),
                    _ => return Ok(vec![frame.clone()]),
                };
                Ok(vec![self.delta(frame, data, slot, (event.delta.json(), field, text))])
            }
            Some("content_block_stop") => {
                let mut out = Vec::new();
                for slot in [Slot::Text(index, 0), Slot::Args(index, 0)] {
                    let tail = self.close(slot);
                    if !tail.is_empty() {
                        out.extend(tail_frame(Dialect::Anthropic, slot, Value::Null, tail));
                    }
                }
                out.push(frame.clone());
                Ok(out)
            }
            _ => Ok(vec![frame.clone()]),
        }
    }

    /// A frame whose one text, field `at.1` of object `at.0` (its value
    /// `at.2`), goes through the window at `slot`: as it came when the
    /// window releases that text whole.
    fn delta(&mut self, frame: &Bytes, data: &str, slot: Slot, at: (&str, &str, Raw<'_>)) -> Bytes {
        let (object, field, value) = at;
        let text = value.str();
        let new = self.push(slot, frame, text.as_deref().unwrap_or_default());
        if text.as_deref() == Some(new.as_str()) {
            return frame.clone();
        }
        let mut edits = Edits::default();
        edits.set(data, object, field, value, quoted(new));
        reframe(frame, &edits.apply(data))
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
    /// `function_call_arguments.delta` through its item's; the events that
    /// repeat the whole text or arguments are read whole
    /// ([`summary`](Self::summary)).
    fn responses(&mut self, frame: &Bytes, data: &str) -> Result<Vec<Bytes>, Odd> {
        let event: ResponsesEvent = top(data)?;
        let output = event.output_index.u64().unwrap_or(0);
        let text_slot = Slot::Text(output, event.content_index.u64().unwrap_or(0));
        let args_slot = Slot::Args(output, 0);
        let slot = match event.kind.str().unwrap_or_default().as_ref() {
            "response.output_text.delta" => text_slot,
            "response.function_call_arguments.delta" => args_slot,
            "response.output_text.done"
            | "response.function_call_arguments.done"
            | "response.content_part.done"
            | "response.output_item.done"
            | "response.completed"
            | "response.incomplete" => return Ok(self.summary(frame, data, text_slot, args_slot)),
            _ => return Ok(vec![frame.clone()]),
        };
        Ok(vec![self.delta(frame, data, slot, (data.trim(), "delta", event.delta))])
    }

    /// Responses' events that repeat the whole text or arguments: at
    /// `output_text.done` (`function_call_arguments.done`) what the part
    /// (item) withheld goes first, and the events (`output_text.done`,
    /// `content_part.done`, `function_call_arguments.done`,
    /// `output_item.done`, `response.completed`) carry them masked alike —
    /// rewritten only when something in them is masked.
    fn summary(&mut self, frame: &Bytes, data: &str, text_slot: Slot, args_slot: Slot) -> Vec<Bytes> {
        let Ok(mut event) = serde_json::from_str::<Value>(data) else { return vec![frame.clone()] };
        let kind = event["type"].as_str().unwrap_or_default().to_string();
        let mut first = None;
        let changed = match kind.as_str() {
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
                    self.again_json(&mut event["arguments"])
                } else {
                    self.again(&mut event["text"])
                }
            }
            "response.content_part.done" => self.again(&mut event["part"]["text"]),
            "response.output_item.done" => self.again_item(&mut event["item"]),
            _ => array(&mut event["response"], "output").fold(false, |changed, item| self.again_item(item) | changed),
        };
        let last = if changed { reframe(frame, &event.to_string()) } else { frame.clone() };
        first.into_iter().chain([last]).collect()
    }

    /// Whether `t` was masked.
    fn again(&self, t: &mut Value) -> bool {
        let new = t.as_str().and_then(|s| self.scan.again(s));
        new.map(|new| *t = Value::String(new)).is_some()
    }

    fn again_json(&self, t: &mut Value) -> bool {
        let new = t.as_str().and_then(|s| self.scan.json_again(s));
        new.map(|new| *t = Value::String(new)).is_some()
    }

    fn again_item(&self, item: &mut Value) -> bool {
        let mut changed = false;
        if item["type"] == "function_call" {
            changed |= self.again_json(&mut item["arguments"]);
        }
        for part in array(item, "content") {
            if part["type"] == "output_text" {
                changed |= self.again(&mut part["text"]);
            }
        }
        changed
    }
}

/// A value of a frame's data as it is there, `null` included (which an
/// `Option<&RawValue>` would read as absent); `Raw(None)`: absent.
#[derive(Clone, Copy, Default)]
struct Raw<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw<'a>, D::Error> {
        <&'a RawValue>::deserialize(d).map(|v| Raw(Some(v)))
    }
}

impl<'a> Raw<'a> {
    /// Its JSON text ("" when absent).
    fn json(self) -> &'a str {
        self.0.map_or("", RawValue::get)
    }

    /// The string it is, if one (unescaped; borrowed unless it has escapes).
    fn str(self) -> Option<Cow<'a, str>> {
        self.0.and_then(tokenwise_wire::sse::string)
    }

    /// The number it is, if a non-negative integer (as `Value::as_u64`).
    fn u64(self) -> Option<u64> {
        serde_json::from_str(self.json()).ok()
    }

    /// Absent or `null` (as `Value::is_null` reads a missing key).
    fn is_null(self) -> bool {
        matches!(self.json(), "" | "null")
    }

    fn is_object(self) -> bool {
        self.json().starts_with('{')
    }

    fn is_array(self) -> bool {
        self.json().starts_with('[')
    }

    /// The object it is, read as `T`; None when it is no object (read as
    /// absent, as indexing a `Value` does).
    fn object<T: Deserialize<'a>>(self) -> Result<Option<T>, Odd> {
        if !self.is_object() {
            return Ok(None);
        }
        serde_json::from_str(self.json()).map(Some).map_err(|_| Odd)
    }

    /// Its items, if an array.
    fn items(self) -> Vec<Raw<'a>> {
        if !self.is_array() {
            return Vec::new();
        }
        serde_json::from_str(self.json()).unwrap_or_default()
    }
}

/// The top level of a frame's data, an object read as `T` (anything else
/// is sent on as it came).
fn top<'a, T: Deserialize<'a>>(data: &'a str) -> Result<T, Odd> {
    if !data.trim_start().starts_with('{') {
        return Err(Odd);
    }
    serde_json::from_str(data).map_err(|_| Odd)
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Raw<'a>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    index: Raw<'a>,
    #[serde(borrow, default)]
    delta: Raw<'a>,
    #[serde(borrow, default)]
    finish_reason: Raw<'a>,
}

#[derive(Deserialize, Default)]
struct ChatDelta<'a> {
    #[serde(borrow, default)]
    content: Raw<'a>,
    #[serde(borrow, default)]
    tool_calls: Raw<'a>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow, default)]
    index: Raw<'a>,
    #[serde(borrow, default)]
    function: Raw<'a>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(borrow, default)]
    arguments: Raw<'a>,
}

/// An OpenAI chunk's choice as read: its text, each tool call's
/// arguments (the call's index, where they are and what they say), and
/// whether it finishes.
struct ChoiceRead<'a> {
    choice: Raw<'a>,
    index: u64,
    delta: Raw<'a>,
    content: Raw<'a>,
    text: Option<Cow<'a, str>>,
    tool_calls: Raw<'a>,
    calls: Vec<(u64, (&'a RawValue, Cow<'a, str>))>,
    finishes: bool,
}

/// The choices of an OpenAI chunk (an item that is no object has nothing
/// to read, as indexing a `Value` finds nothing in it).
fn read_openai(data: &str) -> Result<Vec<ChoiceRead<'_>>, Odd> {
    let chunk: Chunk = top(data)?;
    let mut out = Vec::new();
    for choice in chunk.choices.items() {
        let Some(c) = choice.object::<Choice>()? else { continue };
        let delta = c.delta.object::<ChatDelta>()?.unwrap_or_default();
        let mut calls = Vec::new();
        for (i, call) in delta.tool_calls.items().into_iter().enumerate() {
            let Some(call) = call.object::<ToolCall>()? else { continue };
            let Some(function) = call.function.object::<Function>()? else { continue };
            if let (Some(at), Some(args)) = (function.arguments.0, function.arguments.str()) {
                calls.push((call.index.u64().unwrap_or(i as u64), (at, args)));
            }
        }
        out.push(ChoiceRead {
            choice,
            index: c.index.u64().unwrap_or(0),
            delta: c.delta,
            content: delta.content,
            text: delta.content.str(),
            tool_calls: delta.tool_calls,
            calls,
            finishes: !c.finish_reason.is_null(),
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Raw<'a>,
    #[serde(borrow, default)]
    index: Raw<'a>,
    #[serde(borrow, default)]
    delta: Raw<'a>,
}

#[derive(Deserialize)]
struct BlockDelta<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Raw<'a>,
    #[serde(borrow, default)]
    text: Raw<'a>,
    #[serde(borrow, default)]
    partial_json: Raw<'a>,
}

#[derive(Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Raw<'a>,
    #[serde(borrow, default)]
    output_index: Raw<'a>,
    #[serde(borrow, default)]
    content_index: Raw<'a>,
    #[serde(borrow, default)]
    delta: Raw<'a>,
}

/// Changes to a frame's data, made in its bytes: values replaced, and
/// entries added at the end of an object or array (empty ranges).
#[derive(Default)]
struct Edits(Vec<(Range<usize>, String)>);

impl Edits {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value` (a part of `data`) replaced by `json`.
    fn replace(&mut self, data: &str, value: &RawValue, json: String) {
        self.0.push((span(data, value.get()), json));
    }

    /// Key `key` of `object` set to `json`: its `value` replaced when it
    /// has one (null or not), else the key added.
    fn set(&mut self, data: &str, object: &str, key: &str, value: Raw<'_>, json: String) {
        match value.0 {
            Some(v) => self.replace(data, v, json),
            None => self.add(data, object, format!("{}:{json}", quoted(key.to_string()))),
        }
    }

    /// `entry` added at the end of `container` (an object or array, a part
    /// of `data`), after a comma unless it is the first there.
    fn add(&mut self, data: &str, container: &str, entry: String) {
        let end = span(data, container).end.saturating_sub(1);
        let inner = container.get(1..container.len().saturating_sub(1)).unwrap_or_default();
        let first = inner.trim().is_empty() && !self.0.iter().any(|(r, _)| *r == (end..end));
        self.0.push((end..end, if first { entry } else { format!(",{entry}") }));
    }

    /// `data` with the edits made.
    fn apply(mut self, data: &str) -> String {
        // Stable: entries added at one place stay in the order they came.
        self.0.sort_by_key(|(r, _)| (r.start, r.end));
        let mut out = String::with_capacity(data.len() + self.0.iter().map(|(_, t)| t.len()).sum::<usize>());
        let mut at = 0;
        for (r, text) in self.0 {
            out.push_str(data.get(at..r.start).unwrap_or_default());
            out.push_str(&text);
            at = r.end.max(at);
        }
        out.push_str(data.get(at..).unwrap_or_default());
        out
    }
}

/// Where `part` (a slice of `data`) lies in it.
fn span(data: &str, part: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(data.as_ptr() as usize);
    start..start + part.len()
}

/// `s` as a JSON string.
fn quoted(s: String) -> String {
    Value::String(s).to_string()
}

/// `frame` with its data replaced by `data` (its other lines kept; a data
/// of several lines as several `data:` lines).
fn reframe(frame: &[u8], data: &str) -> Bytes {
    let text = String::from_utf8_lossy(frame);
    let mut out = String::with_capacity(frame.len() + data.len());
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with("data:")) {
        out.push_str(line);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}
