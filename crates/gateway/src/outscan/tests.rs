//! The scan read in place sends what the scan through a `Value`
//! ([`reference`](super::reference)) did: the same frames, each with the
//! same event lines and the same JSON (keys may come in another order, and
//! a frame that did not change comes as it was sent), in the three stream
//! formats, masking or flagging, with texts cut anywhere, escaped or not,
//! and with shapes an upstream seldom sends.

use super::*;
use crate::streams::{anthropic_stream, openai_stream, responses_stream};
use proptest::prelude::*;
use serde_json::json;
use tokenwise_app::guard::Guard;
use tokenwise_app::output::OutputRule;
use tokenwise_policy::{DataClass, Dlp};

const KEY: &str = "AKIAZ3MQ7RTXK4PLW2QD";

#[test]
fn reframe_keeps_the_event_line() {
    let f = b"event: content_block_delta\ndata: {\"a\":1}\n\n";
    assert_eq!(&reframe(f, "{\"a\":2}")[..], b"event: content_block_delta\ndata: {\"a\":2}\n\n");
    assert_eq!(&reframe(b"data: 1\ndata: 2\n\n", "[1,\n2]")[..], b"data: [1,\ndata: 2]\n\n");
}

#[test]
fn edits_replace_values_and_add_entries() {
    let data = r#"{"a": {"b": "x", "c": null}, "d": {}, "e": [1], "f": []}"#;
    let v: BTreeMap<&str, Raw> = serde_json::from_str(data).unwrap();
    let inner: BTreeMap<&str, Raw> = v["a"].object().unwrap().unwrap();
    let mut e = Edits::default();
    e.set(data, v["a"].json(), "b", inner["b"], quoted("y\"".into()));
    e.set(data, v["a"].json(), "c", inner["c"], quoted("z".into()));
    e.set(data, v["a"].json(), "g", Raw(None), "1".into());
    e.set(data, v["d"].json(), "h", Raw(None), "2".into());
    e.set(data, v["d"].json(), "i", Raw(None), "3".into());
    e.add(data, v["e"].json(), "2".into());
    e.add(data, v["f"].json(), "3".into());
    e.add(data, v["f"].json(), "4".into());
    let out: Value = serde_json::from_str(&e.apply(data)).unwrap();
    assert_eq!(out, json!({"a": {"b": "y\"", "c": "z", "g": 1}, "d": {"h": 2, "i": 3}, "e": [1, 2], "f": [3, 4]}));
}

fn scan<'a>(guard: &'a Guard, dlp: &'a Dlp, mask: bool) -> OutputScan<'a> {
    OutputScan::new(guard, dlp, OutputRule { ceiling: DataClass(1), mask })
}

/// A frame as a client reads it: its lines other than data, and its data
/// (as JSON when it is).
fn read(frame: &Bytes) -> (Vec<String>, Result<Value, String>) {
    let text = String::from_utf8_lossy(frame);
    let lines = text.lines().filter(|l| !l.is_empty() && !l.starts_with("data:")).map(str::to_string).collect();
    let data = data_of(frame).map(|d| d.into_owned()).unwrap_or_default();
    (lines, serde_json::from_str(&data).map_err(|_| data))
}

/// Runs `frames` through both scans (flushing at the end, as a stream cut
/// or ended is) and checks that they send the same and find the same.
fn check(dialect: Dialect, frames: &[Bytes], mask: bool) -> Result<(), TestCaseError> {
    let (_, dlp) = tokenwise_policy::default_dlp();
    let guard = Guard::new(&dlp).unwrap();
    let mut new = StreamScan::new(scan(&guard, &dlp, mask));
    let mut old = reference::StreamScan::new(scan(&guard, &dlp, mask));
    let (mut got, mut want) = (Vec::new(), Vec::new());
    for f in frames {
        got.extend(new.frame(dialect, f.clone()));
        want.extend(old.frame(dialect, f.clone()));
    }
    got.extend(new.flush(dialect));
    want.extend(old.flush(dialect));
    let got_read: Vec<_> = got.iter().map(read).collect();
    let want_read: Vec<_> = want.iter().map(read).collect();
    prop_assert_eq!(&got_read, &want_read, "{:?}\n{:#?}", dialect, got);
    prop_assert_eq!(&new.scan.found, &old.scan.found);
    Ok(())
}

/// `json` with every character beyond ASCII written as a `\u` escape, as
/// some servers send it.
fn ascii(json: &str) -> String {
    let mut out = String::new();
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for u in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn sse(event: Option<&str>, data: &Value, escaped: bool) -> Bytes {
    let data = if escaped { ascii(&data.to_string()) } else { data.to_string() };
    Bytes::from(match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    })
}

/// An OpenAI chat stream of `texts` (one delta each), then the tool calls'
/// arguments, then a finish of shape `finish`, then (unless cut) usage and
/// `[DONE]`.
fn openai(texts: &[String], args: &[String], finish: u8, cut: bool, escaped: bool) -> Vec<Bytes> {
    let chunk =
        |choices: Value| sse(None, &json!({"id": "c", "object": "chat.completion.chunk", "choices": choices}), escaped);
    let mut out =
        vec![chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]))];
    out.extend(texts.iter().map(|t| chunk(json!([{"index": 0, "delta": {"content": t}, "finish_reason": null}]))));
    if !args.is_empty() {
        out.push(chunk(json!([{"index": 0, "delta": {"content": null, "tool_calls": [{"index": 0, "id": "call_1",
            "type": "function", "function": {"name": "lookup", "arguments": ""}}]}, "finish_reason": null}])));
    }
    for (i, a) in args.iter().enumerate() {
        // Two calls, interleaved; the second without an index (its place counts).
        let call = if i % 2 == 0 {
            json!({"index": 0, "function": {"arguments": a}})
        } else {
            json!({"function": {"arguments": a}})
        };
        let calls = if i % 2 == 0 { json!([call]) } else { json!([{"index": 0, "function": {}}, call]) };
        out.push(chunk(json!([{"index": 0, "delta": {"tool_calls": calls}, "finish_reason": null}])));
    }
    if cut {
        return out;
    }
    out.push(chunk(match finish {
        0 => json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        1 => json!([{"index": 0, "finish_reason": "stop"}]),
        2 => json!([{"index": 0, "delta": {"content": null, "tool_calls": null}, "finish_reason": "tool_calls"}]),
        3 => json!([{"index": 0, "delta": "odd", "finish_reason": "stop"}]),
        _ => json!([{"index": 0, "delta": {"tool_calls": [{"index": 5, "function": {"arguments": "{}"}}]}, "finish_reason": "stop"}]),
    }));
    out.push(chunk(json!([])));
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn anthropic(texts: &[String], args: &[String], cut: bool, escaped: bool) -> Vec<Bytes> {
    let ev = |name: &str, data: Value| sse(Some(name), &data, escaped);
    let mut out = vec![
        ev("message_start", json!({"type": "message_start", "message": {"usage": {"input_tokens": 3}}})),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ev("ping", json!({"type": "ping"})),
    ];
    for t in texts {
        out.push(ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}),
        ));
    }
    out.push(ev("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
    for a in args {
        out.push(ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": a}}),
        ));
    }
    if cut {
        return out;
    }
    out.push(ev("content_block_stop", json!({"type": "content_block_stop", "index": 1})));
    out.push(ev("message_delta", json!({"type": "message_delta", "usage": {"output_tokens": 9}})));
    out.push(ev("message_stop", json!({"type": "message_stop"})));
    out
}

fn responses(texts: &[String], args: &[String], cut: bool, escaped: bool) -> Vec<Bytes> {
    let ev = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        sse(Some(name), &data, escaped)
    };
    let (text, arguments) = (texts.concat(), args.concat());
    let at = json!({"item_id": "m", "output_index": 0, "content_index": 0});
    let with = |k: &str, v: Value| {
        let mut a = at.clone();
        a[k] = v;
        a
    };
    let message = json!({"type": "message", "content": [{"type": "output_text", "text": text}]});
    let call = json!({"type": "function_call", "arguments": arguments});
    let mut out = vec![ev("response.created", json!({"response": {"status": "in_progress"}}))];
    out.extend(texts.iter().map(|t| ev("response.output_text.delta", with("delta", json!(t)))));
    out.extend(
        args.iter().map(|a| ev("response.function_call_arguments.delta", json!({"output_index": 1, "delta": a}))),
    );
    if cut {
        return out;
    }
    out.push(ev("response.output_text.done", with("text", json!(text))));
    out.push(ev("response.content_part.done", with("part", json!({"type": "output_text", "text": text}))));
    out.push(ev("response.output_item.done", json!({"output_index": 0, "item": message})));
    out.push(ev("response.function_call_arguments.done", json!({"output_index": 1, "arguments": arguments})));
    out.push(ev("response.completed", json!({"response": {"output": [message, call], "usage": {"input_tokens": 1}}})));
    out
}

/// `text` cut at `cuts` (on character boundaries).
fn pieces(text: &str, cuts: &[usize]) -> Vec<String> {
    let mut cuts: Vec<usize> =
        cuts.iter().map(|c| c % (text.len() + 1)).filter(|c| text.is_char_boundary(*c)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts.into_iter().chain([text.len()]) {
        if c > at {
            out.push(text[at..c].to_string());
            at = c;
        }
    }
    out
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("refund".to_string()),
        Just("the".to_string()),
        Just("jane.doe@example.com".to_string()),
        Just(KEY.to_string()),
        Just("4111 1111 1111 1111".to_string()),
        Just("café ☕".to_string()),
        Just("say \"hi\"".to_string()),
        Just("a\\b".to_string()),
        Just("\n".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_scan_in_place_sends_what_the_value_scan_did(
        words in proptest::collection::vec(word(), 0..60),
        arg_words in proptest::collection::vec(word(), 0..30),
        cuts in proptest::collection::vec(0usize..2000, 0..40),
        finish in 0u8..5,
        cut in any::<bool>(),
        escaped in any::<bool>(),
        mask in any::<bool>(),
    ) {
        let text = words.join(" ");
        let args = serde_json::to_string(&json!({"query": arg_words.join(" "), "n": 4_111_111_111_111_111u64})).unwrap();
        let texts = pieces(&text, &cuts);
        let arg_pieces = if arg_words.is_empty() { Vec::new() } else { pieces(&args, &cuts) };
        let openai_dialect = Dialect::OpenAiChat { client_wants_usage: false };
        check(openai_dialect, &openai(&texts, &arg_pieces, finish, cut, escaped), mask)?;
        check(Dialect::Anthropic, &anthropic(&texts, &arg_pieces, cut, escaped), mask)?;
        check(Dialect::OpenAiResponses, &responses(&texts, &arg_pieces, cut, escaped), mask)?;
    }
}

#[test]
fn typical_streams_and_odd_frames_are_sent_as_the_value_scan_sent_them() {
    let mut words = crate::streams::words();
    words.insert(5, format!("key {KEY} "));
    for w in [crate::streams::words(), words] {
        check(Dialect::OpenAiChat { client_wants_usage: true }, &openai_stream(&w), true).unwrap();
        check(Dialect::Anthropic, &anthropic_stream(&w), true).unwrap();
        check(Dialect::OpenAiResponses, &responses_stream(&w), true).unwrap();
    }
    let long = format!("{} {KEY}", "word ".repeat(80));
    let odd: Vec<(Dialect, Vec<&str>)> = vec![
        (
            Dialect::OpenAiChat { client_wants_usage: false },
            vec![
                // A key twice (the last is what a client reads), items that are no objects,
                // a text that is no string, a delta of several lines, CRLF.
                r#"{"choices":[{"index":0,"delta":{"content":"a","content":"__LONG__"}}]}"#,
                r#"{"choices":[1,null,{"index":0,"delta":{"content":7}}],"choices":[{"index":0,"delta":{"content":"__LONG__"}}]}"#,
                "{\"choices\":[{\"index\":0,\n\"delta\":{\"content\":\"__LONG__\"}}]}",
                r#"{"choices":[{"index":1.5,"delta":{"content":"x __LONG__"},"finish_reason":null}]}"#,
                r#"{"choices":[{"index":0,"delta":{"tool_calls":[7,{"index":-1,"function":{"arguments":"{\"k\":\"__LONG__"}}]}}]}"#,
                r#"{"choices":[{"index":0,"delta":{"tool_calls":{"x":1}},"finish_reason":"stop"}]}"#,
                r#"{"choices":[{"index":1,"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}"#,
                r#"[1,2]"#,
                r#"not json"#,
            ],
        ),
        (
            Dialect::Anthropic,
            vec![
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"__LONG__","text":"b"}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":null}}"#,
                r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":5}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":"text_delta"}"#,
                r#"["content_block_delta",0,{"type":"text_delta","text":"__LONG__"}]"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"__LONG__"}}"#,
                r#"{"type":"content_block_stop","index":0}"#,
            ],
        ),
        (
            Dialect::OpenAiResponses,
            vec![
                r#"{"type":"response.output_text.delta","output_index":0,"content_index":0}"#,
                r#"{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":null}"#,
                r#"{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"__LONG__","delta":"x"}"#,
                r#"{"type":"response.output_text.delta","output_index":0,"content_index":0,"delta":"__LONG__"}"#,
                r#"{"type":"response.output_text.done","output_index":0,"content_index":0,"text":"__LONG__"}"#,
                r#"{"type":"response.output_text.delta","output_index":3,"delta":"__LONG__"}"#,
            ],
        ),
    ];
    for (dialect, frames) in odd {
        for escaped_long in [long.clone(), ascii(&long.replace("word", "mot é"))] {
            let frames: Vec<Bytes> = frames
                .iter()
                .map(|f| Bytes::from(format!("event: x\r\ndata: {}\r\n\r\n", f.replace("__LONG__", &escaped_long))))
                .map(|f| {
                    if f.windows(2).any(|w| w == b"\n\"") {
                        // Data of several lines, as SSE allows.
                        Bytes::from(String::from_utf8_lossy(&f).replace(",\n\"", ",\ndata: \""))
                    } else {
                        f
                    }
                })
                .collect();
            check(dialect, &frames, true).unwrap();
        }
    }
}
