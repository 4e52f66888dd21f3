//! Any bytes as a gateway request body in each format (the first byte
//! picks OpenAI chat, Anthropic messages, Responses or embeddings): the
//! validation and the walker must not panic; a request they accept has
//! every text at the pointer its slot names (so a mask writes in place),
//! an output bound, and — for chat the translator accepts — an Anthropic
//! translation that is a JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokenwise_wire::{Api, output_bound, translate, validate, walk};

const APIS: [Api; 4] = [Api::OpenAiChat, Api::AnthropicMessages, Api::OpenAiResponses, Api::OpenAiEmbeddings];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let api = APIS[usize::from(pick) % APIS.len()];
    let Ok(mut req) = serde_json::from_slice::<Value>(body) else { return };
    if !req.is_object() {
        return;
    }
    let valid = validate(api, &req);
    let walked = walk(api, &mut req);
    let _ = output_bound(api, &req).total(4096);
    let (Ok(()), Ok(prompt)) = (valid, walked) else { return };
    for slot in &prompt.slots {
        if slot.key {
            continue;
        }
        match req.pointer(&slot.pointer) {
            Some(Value::String(s)) => assert_eq!(s, &slot.text, "{}", slot.pointer),
            Some(Value::Number(_) | Value::Bool(_)) => {}
            other => panic!("slot {} points at {other:?}", slot.pointer),
        }
    }
    assert!(prompt.input_bound() >= prompt.text_bytes());
    if api == Api::OpenAiChat && translate::translatable(&req) {
        assert!(translate::to_anthropic(&req, "m", 100).is_object());
    }
});
