//! What each request format carries to the model, field by field. To read a
//! new format or a new content block, add its table here; the walker in
//! `prompt` needs no change.
//!
//! A typed object (content part, block, source, tool call) of a type not
//! listed is refused unless its table says how to read unknown types: what
//! cannot be read cannot be scanned, and is never forwarded unscanned.

use crate::api::Api;
use crate::rules::Rule::{Each, Json, Object, Opaque, Text, TextOr, Tokens, Typed};
use crate::rules::{Field, Rule, Spec, Types, f};

// ---- OpenAI chat completions -------------------------------------------

static OPENAI_FILE: [Field; 3] = [f("filename", Text), f("file_data", Opaque), f("file_id", Opaque)];

static OPENAI_PARTS: Types = Types {
    what: "content part",
    kinds: &[
        ("text", &[f("text", Text)]),
        ("refusal", &[f("refusal", Text)]),
        ("image_url", &[f("image_url", Opaque)]),
        ("input_audio", &[f("input_audio", Opaque)]),
        ("file", &[f("file", Object(&OPENAI_FILE))]),
    ],
    untyped: None,
    other: None,
};

/// A message's `content`: a string or an array of parts.
const OPENAI_CONTENT: Rule = TextOr(&Each(&Typed(&OPENAI_PARTS)));

static FUNCTION_CALL: [Field; 2] = [f("name", Text), f("arguments", Text)];

static TOOL_CALLS: Types = Types {
    what: "tool call",
    kinds: &[
        ("function", &[f("function", Object(&FUNCTION_CALL))]),
        ("custom", &[f("custom", Object(&[f("name", Text), f("input", Text)]))]),
    ],
    untyped: Some(&[f("function", Object(&FUNCTION_CALL))]),
    other: None,
};

/// A message of any role: each field appears only on some roles.
static OPENAI_MESSAGE: [Field; 6] = [
    f("content", OPENAI_CONTENT),
    f("name", Text),
    f("refusal", Text),
    f("tool_calls", Each(&Typed(&TOOL_CALLS))),
    f("function_call", Object(&FUNCTION_CALL)),
    f("audio", Opaque),
];

static FUNCTION_DEF: [Field; 3] = [f("name", Text), f("description", Text), f("parameters", Json)];

static OPENAI_TOOLS: Types = Types {
    what: "tool",
    kinds: &[
        ("function", &[f("function", Object(&FUNCTION_DEF))]),
        ("custom", &[f("custom", Object(&[f("name", Text), f("description", Text), f("format", Json)]))]),
    ],
    untyped: None,
    other: None,
};

static OPENAI_CHAT: Spec = Spec {
    required: "messages",
    hint: "",
    fields: &[
        f("messages", Each(&Object(&OPENAI_MESSAGE))),
        f("tools", Each(&Typed(&OPENAI_TOOLS))),
        // The legacy form of `tools`.
        f("functions", Each(&Object(&FUNCTION_DEF))),
        f(
            "response_format",
            Object(&[f("json_schema", Object(&[f("name", Text), f("description", Text), f("schema", Json)]))]),
        ),
        f("prediction", Object(&[f("content", OPENAI_CONTENT)])),
    ],
};

// ---- OpenAI embeddings -------------------------------------------------

static OPENAI_EMBEDDINGS: Spec = Spec {
    required: "input",
    hint: ": a string, an array of strings, or token ids",
    fields: &[f("input", TextOr(&Each(&TextOr(&Tokens))))],
};

// ---- Anthropic messages ------------------------------------------------

static TEXT_BLOCK: [Field; 2] = [f("text", Text), f("citations", Json)];
static IMAGE_BLOCK: [Field; 1] = [f("source", Opaque)];

static TEXT_ONLY: Types = Types { what: "content block", kinds: &[("text", &TEXT_BLOCK)], untyped: None, other: None };

static DOCUMENT_CONTENT: Types = Types {
    what: "content block",
    kinds: &[("text", &TEXT_BLOCK), ("image", &IMAGE_BLOCK)],
    untyped: None,
    other: None,
};

static DOCUMENT_SOURCES: Types = Types {
    what: "document source",
    kinds: &[
        ("text", &[f("data", Text)]),
        ("content", &[f("content", TextOr(&Each(&Typed(&DOCUMENT_CONTENT))))]),
        ("base64", &[f("data", Opaque)]),
        ("url", &[f("url", Opaque)]),
        ("file", &[f("file_id", Opaque)]),
    ],
    untyped: None,
    other: None,
};

static DOCUMENT_BLOCK: [Field; 3] = [f("source", Typed(&DOCUMENT_SOURCES)), f("title", Text), f("context", Text)];

static SEARCH_RESULT_BLOCK: [Field; 3] = [f("source", Text), f("title", Text), f("content", Each(&Typed(&TEXT_ONLY)))];

static TOOL_RESULT_CONTENT: Types = Types {
    what: "content block",
    kinds: &[
        ("text", &TEXT_BLOCK),
        ("image", &IMAGE_BLOCK),
        ("document", &DOCUMENT_BLOCK),
        ("search_result", &SEARCH_RESULT_BLOCK),
    ],
    untyped: None,
    other: None,
};

static TOOL_USE_BLOCK: [Field; 2] = [f("name", Text), f("input", Json)];

static ANTHROPIC_BLOCKS: Types = Types {
    what: "content block",
    kinds: &[
        ("text", &TEXT_BLOCK),
        ("image", &IMAGE_BLOCK),
        ("document", &DOCUMENT_BLOCK),
        ("search_result", &SEARCH_RESULT_BLOCK),
        ("tool_use", &TOOL_USE_BLOCK),
        ("server_tool_use", &TOOL_USE_BLOCK),
        ("tool_result", &[f("content", TextOr(&Each(&Typed(&TOOL_RESULT_CONTENT))))]),
        ("thinking", &[f("thinking", Text), f("signature", Opaque)]),
        ("redacted_thinking", &[f("data", Opaque)]),
    ],
    untyped: None,
    other: None,
};

/// A message's `content` (and an answer's): a string or an array of blocks.
const ANTHROPIC_CONTENT: Rule = TextOr(&Each(&Typed(&ANTHROPIC_BLOCKS)));

static CUSTOM_TOOL: [Field; 3] = [f("name", Text), f("description", Text), f("input_schema", Json)];

static ANTHROPIC_TOOLS: Types = Types {
    what: "tool",
    kinds: &[("custom", &CUSTOM_TOOL)],
    untyped: Some(&CUSTOM_TOOL),
    // Server tools (`web_search_…`, `bash_…`) are configured, not written
    // by the model's user; all their strings are scanned all the same.
    other: Some(Json),
};

static ANTHROPIC_MESSAGES: Spec = Spec {
    required: "messages",
    hint: "",
    fields: &[
        f("system", TextOr(&Each(&Typed(&TEXT_ONLY)))),
        f("messages", Each(&Object(&[f("content", ANTHROPIC_CONTENT)]))),
        f("tools", Each(&Typed(&ANTHROPIC_TOOLS))),
    ],
};

// ---- OpenAI responses -------------------------------------------------

static RESPONSES_PARTS: Types = Types {
    what: "content part",
    kinds: &[
        ("input_text", &[f("text", Text)]),
        ("output_text", &[f("text", Text)]),
        ("refusal", &[f("refusal", Text)]),
        ("input_image", &[f("image_url", Opaque), f("file_id", Opaque)]),
        ("input_file", &[f("filename", Text), f("file_data", Opaque), f("file_id", Opaque), f("file_url", Opaque)]),
    ],
    untyped: None,
    other: None,
};

/// A message's `content` (and a tool's `output`): a string or parts.
const RESPONSES_CONTENT: Rule = TextOr(&Each(&Typed(&RESPONSES_PARTS)));

static SUMMARY_TEXT: Types =
    Types { what: "reasoning summary", kinds: &[("summary_text", &[f("text", Text)])], untyped: None, other: None };

static REASONING_TEXT: Types =
    Types { what: "reasoning content", kinds: &[("reasoning_text", &[f("text", Text)])], untyped: None, other: None };

static RESPONSES_MESSAGE: [Field; 1] = [f("content", RESPONSES_CONTENT)];

static RESPONSES_ITEMS: Types = Types {
    what: "input item",
    kinds: &[
        ("message", &RESPONSES_MESSAGE),
        ("function_call", &FUNCTION_CALL),
        ("function_call_output", &[f("output", RESPONSES_CONTENT)]),
        // Reasoning passed back: its summaries are text the model reads;
        // the encrypted content is opaque to anyone but the provider.
        (
            "reasoning",
            &[
                f("summary", Each(&Typed(&SUMMARY_TEXT))),
                f("content", Each(&Typed(&REASONING_TEXT))),
                f("encrypted_content", Opaque),
            ],
        ),
        // A stored item by id: the provider's, carrying no text of the request.
        ("item_reference", &[f("id", Opaque)]),
    ],
    // The short form of a message: `{"role": …, "content": …}`.
    untyped: Some(&RESPONSES_MESSAGE),
    other: None,
};

static RESPONSES_TOOLS: Types = Types {
    what: "tool",
    kinds: &[("function", &FUNCTION_DEF)],
    untyped: None,
    // Built-in tools (`web_search`, `file_search`, …) are configured, not
    // written by the user; all their strings are scanned all the same.
    other: Some(Json),
};

static OPENAI_RESPONSES: Spec = Spec {
    required: "input",
    hint: ": a string or an array of input items",
    fields: &[
        f("instructions", Text),
        f("input", TextOr(&Each(&Typed(&RESPONSES_ITEMS)))),
        f("tools", Each(&Typed(&RESPONSES_TOOLS))),
    ],
};

/// The table of a request format.
pub(crate) fn spec(api: Api) -> &'static Spec {
    match api {
        Api::OpenAiChat => &OPENAI_CHAT,
        Api::OpenAiEmbeddings => &OPENAI_EMBEDDINGS,
        Api::AnthropicMessages => &ANTHROPIC_MESSAGES,
        Api::OpenAiResponses => &OPENAI_RESPONSES,
    }
}

// ---- Answers: the generated text, for estimates ------------------------

/// An OpenAI answer message: a request message's fields, and the
/// reasoning some OpenAI-compatible servers return.
static OPENAI_ANSWER_MESSAGE: [Field; 6] = [
    f("content", OPENAI_CONTENT),
    f("reasoning_content", Text),
    f("refusal", Text),
    f("tool_calls", Each(&Typed(&TOOL_CALLS))),
    f("function_call", Object(&FUNCTION_CALL)),
    f("audio", Opaque),
];

pub(crate) static OPENAI_CHAT_ANSWER: [Field; 1] =
    [f("choices", Each(&Object(&[f("message", Object(&OPENAI_ANSWER_MESSAGE))])))];

pub(crate) static ANTHROPIC_ANSWER: [Field; 1] = [f("content", ANTHROPIC_CONTENT)];

static RESPONSES_OUTPUT: Types = Types {
    what: "output item",
    kinds: &[
        ("message", &RESPONSES_MESSAGE),
        ("function_call", &FUNCTION_CALL),
        ("reasoning", &[f("summary", Each(&Typed(&SUMMARY_TEXT)))]),
    ],
    untyped: None,
    other: None,
};

pub(crate) static OPENAI_RESPONSES_ANSWER: [Field; 1] = [f("output", Each(&Typed(&RESPONSES_OUTPUT)))];
