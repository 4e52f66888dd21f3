use super::*;
use serde_json::json;

/// (pointer, text) of every slot that is a value.
fn values(p: &Prompt) -> Vec<(&str, &str)> {
    p.slots.iter().filter(|s| !s.key).map(|s| (s.pointer.as_str(), s.text.as_str())).collect()
}

fn keys(p: &Prompt) -> Vec<&str> {
    p.slots.iter().filter(|s| s.key).map(|s| s.text.as_str()).collect()
}

#[test]
fn openai_chat_yields_every_text_the_model_reads() {
    let req = json!({"model": "m", "max_tokens": 5, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "name": "ivan", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
            {"type": "file", "file": {"filename": "notes.txt", "file_data": "QUJD"}}
        ]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}], "refusal": "still no",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "charge", "arguments": "{\"card\":\"x\"}"}},
                        {"id": "c2", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}],
         "function_call": {"name": "legacy", "arguments": "{}"}},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "charged"}]},
        {"role": "tool", "tool_call_id": "c2", "content": "1 row"}
    ]});
    let p = walk(Api::OpenAiChat, &req).unwrap();
    assert_eq!(
        values(&p),
        [
            ("/messages/0/content", "Be brief."),
            ("/messages/1/content/0/text", "look"),
            ("/messages/1/content/3/file/filename", "notes.txt"),
            ("/messages/1/name", "ivan"),
            ("/messages/2/content/0/refusal", "no"),
            ("/messages/2/refusal", "still no"),
            ("/messages/2/tool_calls/0/function/name", "charge"),
            ("/messages/2/tool_calls/0/function/arguments", "{\"card\":\"x\"}"),
            ("/messages/2/tool_calls/1/custom/name", "sql"),
            ("/messages/2/tool_calls/1/custom/input", "SELECT 1"),
            ("/messages/2/function_call/name", "legacy"),
            ("/messages/2/function_call/arguments", "{}"),
            ("/messages/3/content/0/text", "charged"),
            ("/messages/4/content", "1 row"),
        ]
    );
    // The image part, the audio part and the file's data are not text.
    let image = json!({"url": "data:image/png;base64,AAAA"}).to_string().len();
    let audio = json!({"data": "UklG", "format": "wav"}).to_string().len();
    assert_eq!(p.opaque_bytes, (image + audio + "QUJD".len()) as u64);
    assert_eq!(p.input_bound(), p.text_bytes() + p.opaque_bytes);
    assert_eq!(p.slots[3].message(), Some(1));
}

#[test]
fn openai_tools_yield_every_string_of_their_schemas() {
    let req = json!({"messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "lookup", "description": "Finds a customer",
            "parameters": {"type": "object", "properties": {"id/~x": {"type": "integer", "maximum": 99,
                "description": "the id", "enum": ["a", "b"]}}, "strict": true}}}],
        "functions": [{"name": "old", "description": "legacy", "parameters": {}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"title": "Out"}}},
        "prediction": {"type": "content", "content": "predicted"}});
    let p = walk(Api::OpenAiChat, &req).unwrap();
    let v = values(&p);
    for expected in [
        ("/tools/0/function/name", "lookup"),
        ("/tools/0/function/description", "Finds a customer"),
        ("/tools/0/function/parameters/type", "object"),
        ("/tools/0/function/parameters/properties/id~1~0x/maximum", "99"),
        ("/tools/0/function/parameters/properties/id~1~0x/description", "the id"),
        ("/tools/0/function/parameters/properties/id~1~0x/enum/1", "b"),
        ("/functions/0/description", "legacy"),
        ("/response_format/json_schema/name", "out"),
        ("/response_format/json_schema/schema/title", "Out"),
        ("/prediction/content", "predicted"),
    ] {
        assert!(v.contains(&expected), "{expected:?} in {v:?}");
    }
    assert!(keys(&p).contains(&"id/~x") && keys(&p).contains(&"properties"), "{:?}", keys(&p));
    // The tool's `type` and `strict` flag are not text the model reads.
    assert!(!v.iter().any(|(ptr, _)| *ptr == "/tools/0/type"));
}

#[test]
fn content_the_walker_does_not_know_is_an_error_naming_type_and_place() {
    let err = |api, req: Value| walk(api, &req).unwrap_err();
    let part = |p: Value| json!({"messages": [{"role": "user", "content": ["x"]}, {"role": "user", "content": [p]}]});
    assert_eq!(
        err(
            Api::OpenAiChat,
            json!({"messages": [{"role": "user", "content": [{"type": "video_url", "video_url": {}}]}]})
        ),
        WalkError::Unknown { what: "content part", kind: "video_url".into(), at: "/messages/0/content/0".into() }
    );
    let e = err(Api::OpenAiChat, part(json!({"text": "untyped"})));
    // A bare string is not a part either: the first message fails first.
    assert_eq!(e, WalkError::Shape { at: "/messages/0/content/0".into(), expected: "an object" });
    let e = err(Api::OpenAiChat, json!({"messages": [{"role": "user", "content": [{"text": "untyped"}]}]}));
    assert_eq!(e, WalkError::Untyped { what: "content part", at: "/messages/0/content/0".into() });
    assert!(e.to_string().contains("/messages/0/content/0"));
    let e = err(Api::OpenAiChat, json!({"messages": [], "tools": [{"type": "mcp", "server_url": "x"}]}));
    assert!(matches!(&e, WalkError::Unknown { kind, at, .. } if kind == "mcp" && at == "/tools/0"), "{e:?}");
    let e = err(
        Api::AnthropicMessages,
        json!({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "hologram", "x": "secret"}]}]}]}),
    );
    assert!(e.to_string().contains("`hologram`"), "{e}");
    assert!(matches!(&e, WalkError::Unknown { at, .. } if at == "/messages/0/content/0/content/0"), "{e:?}");
    let e = err(
        Api::AnthropicMessages,
        json!({"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "carrier_pigeon", "data": "x"}}]}]}),
    );
    assert_eq!(
        e,
        WalkError::Unknown {
            what: "document source",
            kind: "carrier_pigeon".into(),
            at: "/messages/0/content/0/source".into()
        }
    );
}

#[test]
fn malformed_requests_are_errors_not_skipped() {
    let err = |api, req: Value| walk(api, &req).unwrap_err().to_string();
    assert_eq!(err(Api::OpenAiChat, json!({"model": "m"})), "`messages` is required");
    assert_eq!(err(Api::AnthropicMessages, json!({"messages": null})), "`messages` is required");
    assert_eq!(err(Api::OpenAiChat, json!({"messages": "hi"})), "`/messages` must be an array");
    assert_eq!(
        err(Api::OpenAiChat, json!({"messages": [{"role": "user", "content": 42}]})),
        "`/messages/0/content` must be a string or an array"
    );
    assert_eq!(
        err(Api::AnthropicMessages, json!({"messages": [{"role": "user", "content": [{"type": 7}]}]})),
        "`/messages/0/content/0/type` must be a string"
    );
    assert_eq!(
        err(Api::OpenAiEmbeddings, json!({})),
        "`input` is required: a string, an array of strings, or token ids"
    );
    assert_eq!(
        err(Api::OpenAiEmbeddings, json!({"input": [{"text": "x"}]})),
        "`/input/0` must be a string or token ids"
    );
}

#[test]
fn anthropic_messages_yield_every_text_the_model_reads() {
    let req = json!({"model": "m", "max_tokens": 5,
    "system": [{"type": "text", "text": "You help.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "see these"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            {"type": "document", "title": "Statement", "context": "from the bank",
             "source": {"type": "text", "media_type": "text/plain", "data": "card 4111"}},
            {"type": "document", "source": {"type": "content", "content": [
                {"type": "text", "text": "chunk one"}, {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
            {"type": "document", "source": {"type": "url", "url": "https://x/doc.pdf"}}
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "they want a lookup", "signature": "c2ln"},
            {"type": "redacted_thinking", "data": "ZW5j"},
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"who": ["ada", 7], "AKIA": {"deep": "x"}}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "found ada"},
            {"type": "tool_result", "tool_use_id": "t2", "is_error": true, "content": [
                {"type": "text", "text": "partial"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "log line"}},
                {"type": "search_result", "source": "https://kb", "title": "KB", "content": [{"type": "text", "text": "answer"}]}
            ]}
        ]}
    ]});
    let p = walk(Api::AnthropicMessages, &req).unwrap();
    assert_eq!(
        values(&p),
        [
            ("/system/0/text", "You help."),
            ("/messages/0/content/0/text", "see these"),
            ("/messages/0/content/2/source/data", "card 4111"),
            ("/messages/0/content/2/title", "Statement"),
            ("/messages/0/content/2/context", "from the bank"),
            ("/messages/0/content/3/source/content/0/text", "chunk one"),
            ("/messages/1/content/0/thinking", "they want a lookup"),
            ("/messages/1/content/2/name", "lookup"),
            ("/messages/1/content/2/input/AKIA/deep", "x"),
            ("/messages/1/content/2/input/who/0", "ada"),
            ("/messages/1/content/2/input/who/1", "7"),
            ("/messages/2/content/0/content", "found ada"),
            ("/messages/2/content/1/content/0/text", "partial"),
            ("/messages/2/content/1/content/2/source/data", "log line"),
            ("/messages/2/content/1/content/3/source", "https://kb"),
            ("/messages/2/content/1/content/3/title", "KB"),
            ("/messages/2/content/1/content/3/content/0/text", "answer"),
        ]
    );
    assert_eq!(keys(&p), ["deep", "AKIA", "who"]);
    let sources = [
        json!({"type": "base64", "media_type": "image/png", "data": "iVBO"}),
        json!({"type": "url", "url": "https://x/y.png"}),
        json!({"type": "base64", "media_type": "image/png", "data": "AAAA"}),
    ];
    let opaque = sources.iter().map(|s| s.to_string().len()).sum::<usize>()
        + ["JVBERi0x", "https://x/doc.pdf", "c2ln", "ZW5j"].iter().map(|s| s.len()).sum::<usize>();
    assert_eq!(p.opaque_bytes, opaque as u64);
}

#[test]
fn anthropic_system_and_tools_are_read() {
    let req = json!({"system": "Be kind.", "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "lookup", "description": "Finds things", "input_schema": {"type": "object"}},
                  {"type": "custom", "name": "c", "description": "custom", "input_schema": {}},
                  {"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["acme.example"]}]});
    let p = walk(Api::AnthropicMessages, &req).unwrap();
    let v = values(&p);
    for expected in [
        ("/system", "Be kind."),
        ("/messages/0/content", "hi"),
        ("/tools/0/description", "Finds things"),
        ("/tools/0/input_schema/type", "object"),
        ("/tools/1/description", "custom"),
        ("/tools/2/allowed_domains/0", "acme.example"),
    ] {
        assert!(v.contains(&expected), "{expected:?} in {v:?}");
    }
    // An OpenAI part in an Anthropic request is not a block it knows.
    let openai_part = json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]});
    assert!(matches!(walk(Api::AnthropicMessages, &openai_part), Err(WalkError::Unknown { .. })));
}

#[test]
fn embedding_inputs_are_texts_or_token_counts() {
    let one = walk(Api::OpenAiEmbeddings, &json!({"input": "refund policy"})).unwrap();
    assert_eq!(values(&one), [("/input", "refund policy")]);
    let many = walk(Api::OpenAiEmbeddings, &json!({"input": ["a", "bb"]})).unwrap();
    assert_eq!(values(&many), [("/input/0", "a"), ("/input/1", "bb")]);
    let ids = walk(Api::OpenAiEmbeddings, &json!({"input": [[1, 2, 3], [4]]})).unwrap();
    assert_eq!((ids.slots.len(), ids.tokens), (0, 4));
    let flat = walk(Api::OpenAiEmbeddings, &json!({"input": [5, 6]})).unwrap();
    assert_eq!((flat.tokens, flat.input_bound()), (2, 2));
}

#[test]
fn replacing_writes_back_in_place_even_keys() {
    let mut req = json!({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "pay",
        "input": {"AKIAIOSFODNN7EXAMPLE": {"card": 4111111111111111_u64}}}]}]});
    let mut p = walk(Api::AnthropicMessages, &req).unwrap();
    // Redaction goes in slot order: a key after what is under it.
    for slot in &mut p.slots {
        let masked = match slot.text.as_str() {
            "AKIAIOSFODNN7EXAMPLE" => "[AWS_ACCESS_KEY]",
            "4111111111111111" => "[CREDIT_CARD]",
            _ => continue,
        };
        assert!(slot.replace(&mut req, masked.to_string()), "{slot:?}");
    }
    assert_eq!(req["messages"][0]["content"][0]["input"], json!({"[AWS_ACCESS_KEY]": {"card": "[CREDIT_CARD]"}}));
    let key = p.slots.iter().find(|s| s.key && s.text == "[AWS_ACCESS_KEY]").unwrap();
    assert_eq!(key.pointer, "/messages/0/content/0/input/[AWS_ACCESS_KEY]");
    let mut gone = Slot { pointer: "/messages/9/content".into(), text: "x".into(), key: false };
    assert!(!gone.replace(&mut req, "y".into()));
}

#[test]
fn answers_are_read_leniently() {
    let fields: &'static [Field] = &crate::tables::ANTHROPIC_ANSWER;
    let answer =
        json!({"content": [{"type": "text", "text": "a"}, {"type": "future", "x": 1}, {"type": "text", "text": "b"}]});
    assert_eq!(answer_texts(fields, &answer), ["a", "b"]);
}

#[test]
fn fields_outside_the_tables_are_read_too_except_known_parameters() {
    let req = json!({"model": "m", "temperature": 0.2, "stream": true, "max_tokens": 9,
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"note": "card 4111 1111 1111 1111"}, "user": "jane@example.com", "stop": ["END"]});
    let p = walk(Api::OpenAiChat, &req).unwrap();
    let texts: Vec<&str> = values(&p).into_iter().map(|(_, t)| t).collect();
    assert!(texts.contains(&"card 4111 1111 1111 1111"), "{texts:?}");
    assert!(texts.contains(&"jane@example.com") && texts.contains(&"END"), "{texts:?}");
    assert!(!texts.iter().any(|t| *t == "m" || *t == "0.2" || *t == "9"), "parameters are not prompt text: {texts:?}");
    let at: Vec<&str> = values(&p).into_iter().map(|(p, _)| p).collect();
    assert!(at.contains(&"/metadata/note") && at.contains(&"/user"), "{at:?}");
}

#[test]
fn openai_responses_yield_every_text_the_model_reads() {
    let req = json!({"model": "m", "max_output_tokens": 50, "store": false, "previous_response_id": "resp_1",
        "reasoning": {"effort": "low"},
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "short form"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
                {"type": "input_file", "filename": "notes.txt", "file_data": "QUJD"}
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thought"}],
             "encrypted_content": "ENC"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
            {"type": "function_call", "call_id": "c1", "name": "charge", "arguments": "{\"amount\":5}"},
            {"type": "function_call_output", "call_id": "c1", "output": "card 4111 1111 1111 1111 charged"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "parts"}]}
        ],
        "tools": [{"type": "function", "name": "charge", "description": "Charges a card",
                   "parameters": {"type": "object"}},
                  {"type": "web_search_preview", "search_context_size": "low"}],
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"title": "Out"}}},
        "metadata": {"ticket": "T-1"}});
    let p = walk(Api::OpenAiResponses, &req).unwrap();
    let v = values(&p);
    for expected in [
        ("/instructions", "Be brief."),
        ("/input/0/content", "short form"),
        ("/input/1/content/0/text", "look"),
        ("/input/1/content/2/filename", "notes.txt"),
        ("/input/2/summary/0/text", "thought"),
        ("/input/3/content/0/text", "ok"),
        ("/input/4/name", "charge"),
        ("/input/4/arguments", "{\"amount\":5}"),
        ("/input/5/output", "card 4111 1111 1111 1111 charged"),
        ("/input/6/output/0/text", "parts"),
        ("/tools/0/name", "charge"),
        ("/tools/0/description", "Charges a card"),
        ("/tools/0/parameters/type", "object"),
        ("/tools/1/search_context_size", "low"),
        ("/text/format/name", "out"),
        ("/metadata/ticket", "T-1"),
    ] {
        assert!(v.contains(&expected), "{expected:?} in {v:?}");
    }
    // Ids, switches and the provider's state are not text the model reads.
    for absent in ["/previous_response_id", "/reasoning/effort", "/store", "/max_output_tokens", "/input/2/id"] {
        assert!(!v.iter().any(|(ptr, _)| *ptr == absent), "{absent} in {v:?}");
    }
    // The image, the file's data and the encrypted reasoning are counted, not read.
    assert_eq!(p.opaque_bytes, ("data:image/png;base64,AAAA".len() + "QUJD".len() + "ENC".len()) as u64);
    assert_eq!(p.slots.iter().find(|s| s.pointer == "/input/5/output").and_then(Slot::message), Some(5));
    // A plain string input is one text.
    let p = walk(Api::OpenAiResponses, &json!({"input": "hello", "instructions": "hi"})).unwrap();
    assert_eq!(values(&p), [("/instructions", "hi"), ("/input", "hello")]);
}

#[test]
fn responses_items_and_parts_the_walker_does_not_know_are_refused() {
    let err = |req: Value| walk(Api::OpenAiResponses, &req).unwrap_err();
    assert_eq!(
        err(json!({"input": [{"type": "hologram", "text": "secret"}]})),
        WalkError::Unknown { what: "input item", kind: "hologram".into(), at: "/input/0".into() }
    );
    assert_eq!(
        err(json!({"input": [{"role": "user", "content": [{"type": "input_video", "url": "x"}]}]})),
        WalkError::Unknown { what: "content part", kind: "input_video".into(), at: "/input/0/content/0".into() }
    );
    assert!(matches!(
        err(json!({"input": [{"type": "function_call_output", "output": [{"type": "blob", "x": "y"}]}]})),
        WalkError::Unknown { kind, .. } if kind == "blob"
    ));
    assert!(matches!(
        err(json!({"input": [{"type": "reasoning", "summary": [{"type": "secret_text", "text": "y"}]}]})),
        WalkError::Unknown { what: "reasoning summary", .. }
    ));
    assert_eq!(err(json!({"model": "m"})).to_string(), "`input` is required: a string or an array of input items");
    assert_eq!(err(json!({"input": 7})), WalkError::Shape { at: "/input".into(), expected: "a string or an array" });
}
