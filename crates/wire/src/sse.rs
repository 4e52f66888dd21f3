//! The pure half of relaying a stream (SSE): splitting frames off the
//! bytes as they arrive, and reading each frame for usage, generated text,
//! errors and the end of the stream, in either wire format.

use crate::answer::Dialect;
use crate::usage::{AnthropicUsage, OpenAiUsage, ResponsesUsage};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use tokenwise_core::TokenUsage;

/// Takes one complete SSE event (through its blank line) off the buffer.
pub fn next_frame(buf: &mut BytesMut) -> Option<Bytes> {
    let mut i = 0;
    while i + 1 < buf.len() {
        if buf[i] == b'\n' && buf[i + 1] == b'\n' {
            return Some(buf.split_to(i + 2).freeze());
        }
        if buf[i] == b'\n' && buf[i + 1] == b'\r' && buf.get(i + 2) == Some(&b'\n') {
            return Some(buf.split_to(i + 3).freeze());
        }
        i += 1;
    }
    None
}

/// The `data:` payload of an event (lines joined): borrowed from the
/// frame when it has one `data:` line, as nearly every frame does.
pub fn data_of(frame: &[u8]) -> Option<Cow<'_, str>> {
    let text = std::str::from_utf8(frame).ok()?;
    let mut data: Option<Cow<'_, str>> = None;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data:") {
            let d = d.strip_prefix(' ').unwrap_or(d);
            match &mut data {
                Some(acc) => {
                    let acc = acc.to_mut();
                    acc.push('\n');
                    acc.push_str(d);
                }
                None => data = Some(Cow::Borrowed(d)),
            }
        }
    }
    data
}

/// What a stream has shown so far.
#[derive(Debug, Default)]
pub struct Seen {
    pub openai_usage: Option<OpenAiUsage>,
    pub anthropic_usage: AnthropicUsage,
    pub anthropic_output_reported: bool,
    pub responses_usage: Option<ResponsesUsage>,
    /// The generated text relayed, for estimates.
    pub text: String,
    /// The upstream sent an error event.
    pub upstream_error: bool,
}

impl Seen {
    /// The usage, if the upstream reported all of it.
    pub fn exact(&self, dialect: Dialect) -> Option<TokenUsage> {
        match dialect {
            Dialect::OpenAiChat { .. } => self.openai_usage.map(|u| u.tokens()),
            Dialect::Anthropic => (self.anthropic_usage.has_input() && self.anthropic_output_reported)
                .then(|| self.anthropic_usage.tokens()),
            Dialect::OpenAiResponses => self.responses_usage.map(|u| u.tokens()),
            Dialect::OpenAiEmbeddings => None,
        }
    }

    /// What the upstream reported of the input, if anything.
    pub fn reported_input(&self) -> Option<TokenUsage> {
        self.anthropic_usage.has_input().then(|| self.anthropic_usage.tokens())
    }
}

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    Forward,
    /// The forced usage chunk a client did not ask for.
    Withhold,
    /// The stream's last frame: sent only after the event is recorded.
    Final,
    /// A `data:` payload that is not JSON (nor OpenAI's `[DONE]`): never
    /// passed on; the stream ends with an error event instead.
    Malformed,
}

/// Whether a payload that did not read as the format's event is not JSON
/// at all (JSON of another shape is passed on as it is). An empty payload
/// is a keep-alive, not an error, and `[DONE]` (which some providers send
/// after the end of any stream) is no error either.
fn not_json(data: &str) -> bool {
    let data = data.trim();
    !data.is_empty() && data != "[DONE]" && serde_json::from_str::<serde::de::IgnoredAny>(data).is_err()
}

/// What to do with a payload that did not read as the format's event.
fn unreadable(data: &str) -> Frame {
    if not_json(data) { Frame::Malformed } else { Frame::Forward }
}

// The events are read borrowing from the frame: texts are copied only
// into `Seen::text`, and nothing is built of what is not read.

/// A string of the frame, borrowed unless it has escapes. (`Cow` itself
/// would always be copied inside an `Option`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct Str;
        impl<'de> serde::de::Visitor<'de> for Str {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Cow<'de, str>, E> {
                Ok(Cow::Owned(s))
            }
        }
        d.deserialize_str(Str).map(Text)
    }
}

#[derive(Deserialize)]
struct OpenAiChunk<'a> {
    #[serde(borrow, default)]
    choices: Vec<OpenAiChoice<'a>>,
    #[serde(default)]
    usage: Option<OpenAiUsage>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct OpenAiChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<OpenAiDelta<'a>>,
}

#[derive(Deserialize)]
struct OpenAiDelta<'a> {
    #[serde(borrow, default)]
    content: Option<Text<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Text<'a>>,
    #[serde(borrow, default)]
    refusal: Option<Text<'a>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<OpenAiToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct OpenAiToolDelta<'a> {
    #[serde(borrow, default)]
    function: Option<OpenAiFnDelta<'a>>,
}

#[derive(Deserialize)]
struct OpenAiFnDelta<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    arguments: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct AnthropicEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    message: Option<AnthropicMessage>,
    #[serde(borrow, default)]
    delta: Option<AnthropicDelta<'a>>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicMessage {
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
struct AnthropicDelta<'a> {
    #[serde(borrow, default)]
    text: Option<Text<'a>>,
    #[serde(borrow, default)]
    partial_json: Option<Text<'a>>,
    #[serde(borrow, default)]
    thinking: Option<Text<'a>>,
}

/// An event of a Responses stream: text arrives in `delta`, usage in the
/// terminal event's `response`.
#[derive(Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    /// Text when a string (read only then: not every event's `delta` is).
    #[serde(borrow, default)]
    delta: Option<&'a RawValue>,
    #[serde(default)]
    response: Option<ResponsesBody>,
}

#[derive(Deserialize)]
struct ResponsesBody {
    #[serde(default)]
    usage: Option<ResponsesUsage>,
}

/// The string `raw` is, if it is one (unescaped; borrowed when it has no
/// escapes).
pub fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let json = raw.get();
    if !json.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(json) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(json).ok().map(Cow::Owned),
    }
}

/// Reads one frame into `seen` and says what to do with it.
pub fn observe(dialect: Dialect, frame: &[u8], seen: &mut Seen) -> Frame {
    let Some(data) = data_of(frame) else { return Frame::Forward };
    match dialect {
        Dialect::OpenAiChat { client_wants_usage } => observe_openai(&data, client_wants_usage, seen),
        Dialect::Anthropic => observe_anthropic(&data, seen),
        Dialect::OpenAiResponses => observe_responses(&data, seen),
        Dialect::OpenAiEmbeddings => Frame::Forward,
    }
}

/// `response.completed` (or `incomplete`, `failed`) ends the stream and
/// carries its usage; text deltas are generated text, whatever their kind
/// (`output_text`, `function_call_arguments`, `reasoning_summary_text`, …).
fn observe_responses(data: &str, seen: &mut Seen) -> Frame {
    let Ok(ev) = serde_json::from_str::<ResponsesEvent>(data) else { return unreadable(data) };
    if let Some(u) = ev.response.and_then(|r| r.usage) {
        seen.responses_usage = Some(u);
    }
    match &*ev.kind {
        "response.completed" | "response.incomplete" => Frame::Final,
        "response.failed" => {
            seen.upstream_error = true;
            Frame::Final
        }
        "error" => {
            seen.upstream_error = true;
            Frame::Forward
        }
        kind => {
            if kind.ends_with(".delta")
                && let Some(t) = ev.delta.and_then(string)
            {
                seen.text.push_str(&t);
            }
            Frame::Forward
        }
    }
}

fn observe_openai(data: &str, client_wants_usage: bool, seen: &mut Seen) -> Frame {
    if data.trim() == "[DONE]" {
        return Frame::Final;
    }
    let Ok(chunk) = serde_json::from_str::<OpenAiChunk>(data) else { return unreadable(data) };
    if chunk.error.is_some() {
        seen.upstream_error = true;
    }
    for c in &chunk.choices {
        let Some(d) = &c.delta else { continue };
        for t in [&d.content, &d.reasoning_content, &d.refusal].into_iter().flatten() {
            seen.text.push_str(&t.0);
        }
        for tc in d.tool_calls.iter().flatten() {
            if let Some(f) = &tc.function {
                for t in [&f.name, &f.arguments].into_iter().flatten() {
                    seen.text.push_str(&t.0);
                }
            }
        }
    }
    if let Some(u) = chunk.usage {
        seen.openai_usage = Some(u);
        if chunk.choices.is_empty() && !client_wants_usage {
            return Frame::Withhold;
        }
    }
    Frame::Forward
}

fn observe_anthropic(data: &str, seen: &mut Seen) -> Frame {
    let Ok(ev) = serde_json::from_str::<AnthropicEvent>(data) else { return unreadable(data) };
    match &*ev.kind {
        "message_start" => {
            if let Some(u) = ev.message.and_then(|m| m.usage) {
                seen.anthropic_usage.merge(&u);
            }
        }
        "content_block_delta" => {
            if let Some(d) = ev.delta {
                for t in [&d.text, &d.partial_json, &d.thinking].into_iter().flatten() {
                    seen.text.push_str(&t.0);
                }
            }
        }
        "message_delta" => {
            if let Some(u) = ev.usage {
                seen.anthropic_output_reported |= u.output_tokens.is_some();
                seen.anthropic_usage.merge(&u);
            }
        }
        "message_stop" => return Frame::Final,
        "error" => seen.upstream_error = true,
        _ => {}
    }
    Frame::Forward
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_on_blank_lines() {
        let mut buf = BytesMut::from(&b"data: {\"a\":1}\n\ndata: [DONE]\n\ndata: part"[..]);
        assert_eq!(next_frame(&mut buf).as_deref(), Some(&b"data: {\"a\":1}\n\n"[..]));
        assert_eq!(next_frame(&mut buf).as_deref(), Some(&b"data: [DONE]\n\n"[..]));
        assert_eq!(next_frame(&mut buf), None);
        assert_eq!(&buf[..], b"data: part");
        let mut crlf = BytesMut::from(&b"event: ping\r\ndata: {}\r\n\r\nrest"[..]);
        assert_eq!(next_frame(&mut crlf).as_deref(), Some(&b"event: ping\r\ndata: {}\r\n\r\n"[..]));
    }

    #[test]
    fn a_chunk_that_is_not_json_is_malformed_in_every_format() {
        let dialects =
            [Dialect::OpenAiChat { client_wants_usage: false }, Dialect::Anthropic, Dialect::OpenAiResponses];
        for d in dialects {
            let mut seen = Seen::default();
            let broken = b"data: {\"choices\": [{\"delta\": \n\n";
            assert_eq!(observe(d, broken, &mut seen), Frame::Malformed, "{d:?}");
            // JSON of a shape the reader does not know is passed on, and a
            // keep-alive or comment is no error.
            assert_eq!(observe(d, b"data: [1, 2]\n\n", &mut seen), Frame::Forward, "{d:?}");
            assert_eq!(observe(d, b"data: \n\n", &mut seen), Frame::Forward, "{d:?}");
            assert_eq!(observe(d, b": keep-alive\n\n", &mut seen), Frame::Forward, "{d:?}");
        }
    }

    #[test]
    fn the_forced_usage_chunk_is_withheld_unless_asked_for() {
        let usage = br#"data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7}}

"#;
        let mut seen = Seen::default();
        assert_eq!(observe(Dialect::OpenAiChat { client_wants_usage: false }, usage, &mut seen), Frame::Withhold);
        assert_eq!(seen.openai_usage.map(|u| u.tokens().output), Some(7));
        let mut seen = Seen::default();
        assert_eq!(observe(Dialect::OpenAiChat { client_wants_usage: true }, usage, &mut seen), Frame::Forward);
    }

    #[test]
    fn anthropic_usage_comes_from_start_and_delta() {
        let mut seen = Seen::default();
        let d = Dialect::Anthropic;
        observe(d, b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_read_input_tokens\":90}}}\n\n", &mut seen);
        observe(d, b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi \"}}\n\n", &mut seen);
        assert_eq!(seen.exact(d), None, "no output reported yet");
        observe(
            d,
            b"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":12}}\n\n",
            &mut seen,
        );
        assert_eq!(observe(d, b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", &mut seen), Frame::Final);
        assert!(seen.anthropic_output_reported);
        let t = seen.anthropic_usage.tokens();
        assert_eq!((t.input, t.output, t.cached_read), (100, 12, 90));
        assert_eq!(seen.exact(d), Some(t));
        assert_eq!(seen.text, "hi ");
    }

    #[test]
    fn texts_with_escapes_are_read_as_texts() {
        let mut seen = Seen::default();
        let chat = br#"data: {"choices":[{"delta":{"content":"caf\u00e9 \"q\"\n","tool_calls":[{"function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#;
        assert_eq!(
            observe(Dialect::OpenAiChat { client_wants_usage: true }, &[&chat[..], b"\n\n"].concat(), &mut seen),
            Frame::Forward
        );
        let anthropic = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"\\u2615\"}}\n\n";
        observe(Dialect::Anthropic, anthropic, &mut seen);
        let responses = b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"\\t.\"}\n\n";
        observe(Dialect::OpenAiResponses, responses, &mut seen);
        assert_eq!(seen.text, "caf\u{e9} \"q\"\nf{\"a\":1}\u{2615}\t.");
        // A text that is no string makes the chunk unreadable, as before.
        let mut other = Seen::default();
        assert_eq!(
            observe(
                Dialect::Anthropic,
                b"data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":5}}\n\n",
                &mut other
            ),
            Frame::Forward
        );
        assert_eq!(other.text, "");
    }

    #[test]
    fn responses_usage_comes_with_the_final_event() {
        let d = Dialect::OpenAiResponses;
        let mut seen = Seen::default();
        let created = b"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"usage\":null}}\n\n";
        assert_eq!(observe(d, created, &mut seen), Frame::Forward);
        let delta =
            b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi \"}\n\n";
        assert_eq!(observe(d, delta, &mut seen), Frame::Forward);
        let args = b"data: {\"type\":\"response.function_call_arguments.delta\",\"delta\":\"{}\"}\n\n";
        observe(d, args, &mut seen);
        assert_eq!(seen.exact(d), None, "no usage before the final event");
        let done = b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":40,\"output_tokens\":6,\"input_tokens_details\":{\"cached_tokens\":32},\"output_tokens_details\":{\"reasoning_tokens\":3}}}}\n\n";
        assert_eq!(observe(d, done, &mut seen), Frame::Final);
        let t = seen.exact(d).unwrap();
        assert_eq!((t.input, t.output, t.cached_read, t.reasoning), (40, 6, 32, 3));
        assert_eq!(seen.text, "hi {}");
        assert!(!seen.upstream_error);
        let mut failed = Seen::default();
        let f = b"event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"message\":\"x\"}}}\n\n";
        assert_eq!(observe(d, f, &mut failed), Frame::Final);
        assert!(failed.upstream_error);
        let mut errored = Seen::default();
        assert_eq!(
            observe(d, b"event: error\ndata: {\"type\":\"error\",\"message\":\"x\"}\n\n", &mut errored),
            Frame::Forward
        );
        assert!(errored.upstream_error);
    }
}
