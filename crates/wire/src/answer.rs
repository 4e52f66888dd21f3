//! Reading a whole (not streamed) answer: its usage, its generated text,
//! and a provider's error message.

use crate::rules::Field;
use crate::usage::{AnthropicUsage, OpenAiUsage, ResponsesUsage};
use crate::{prompt, tables};
use serde::Deserialize;
use tokenwise_core::TokenUsage;

/// How to read a wire format's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `client_wants_usage`: the client asked for the usage chunk of a
    /// stream (the gateway always asks, and withholds it otherwise).
    OpenAiChat {
        client_wants_usage: bool,
    },
    OpenAiEmbeddings,
    Anthropic,
    OpenAiResponses,
}

/// The answer is not JSON at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

impl Dialect {
    /// Usage from a whole JSON answer: Ok(None) when it reports none.
    pub fn body_usage(self, bytes: &[u8]) -> Result<Option<TokenUsage>, NotJson> {
        #[derive(Deserialize)]
        struct OpenAi {
            #[serde(default)]
            usage: Option<OpenAiUsage>,
        }
        #[derive(Deserialize)]
        struct Anth {
            #[serde(default)]
            usage: Option<AnthropicUsage>,
        }
        #[derive(Deserialize)]
        struct Responses {
            #[serde(default)]
            usage: Option<ResponsesUsage>,
        }
        match self {
            Dialect::OpenAiResponses => {
                serde_json::from_slice::<Responses>(bytes).map(|b| b.usage.map(|u| u.tokens())).map_err(|_| NotJson)
            }
            Dialect::OpenAiChat { .. } | Dialect::OpenAiEmbeddings => {
                serde_json::from_slice::<OpenAi>(bytes).map(|b| b.usage.map(|u| u.tokens())).map_err(|_| NotJson)
            }
            Dialect::Anthropic => serde_json::from_slice::<Anth>(bytes)
                .map(|b| b.usage.filter(|u| u.has_input()).map(|u| u.tokens()))
                .map_err(|_| NotJson),
        }
    }

    /// The generated text of a whole JSON answer, for estimates.
    pub fn body_text(self, bytes: &[u8]) -> String {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else { return String::new() };
        let fields: &'static [Field] = match self {
            Dialect::OpenAiChat { .. } => &tables::OPENAI_CHAT_ANSWER,
            Dialect::Anthropic => &tables::ANTHROPIC_ANSWER,
            Dialect::OpenAiResponses => &tables::OPENAI_RESPONSES_ANSWER,
            Dialect::OpenAiEmbeddings => return String::new(),
        };
        prompt::answer_texts(fields, &v).concat()
    }
}

/// A provider's error message (`error.message`, in both formats), else the
/// start of its body.
pub fn error_detail(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_yield_usage_and_all_generated_text() {
        let openai = br#"{"choices":[{"message":{"role":"assistant","content":"Hi ","tool_calls":[
            {"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}}],
            "usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        let d = Dialect::OpenAiChat { client_wants_usage: false };
        assert_eq!(d.body_usage(openai).unwrap().map(|u| (u.input, u.output)), Some((3, 4)));
        assert_eq!(d.body_text(openai), "Hi f{}");
        let anthropic = br#"{"content":[{"type":"thinking","thinking":"hmm ","signature":"x"},
            {"type":"text","text":"ok"},{"type":"new_block_kind","text":"skipped"}],"usage":{"output_tokens":2}}"#;
        // Usage without input is no usage (a stream's first half, say).
        assert_eq!(Dialect::Anthropic.body_usage(anthropic), Ok(None));
        assert_eq!(Dialect::Anthropic.body_text(anthropic), "hmm ok");
        assert_eq!(Dialect::Anthropic.body_usage(b"<html>"), Err(NotJson));
    }

    #[test]
    fn responses_answers_yield_usage_and_output_text() {
        let answer = br#"{"id":"resp_1","object":"response","output":[
            {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"think "}]},
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi ","annotations":[]}]},
            {"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
            {"type":"web_search_call","id":"ws","status":"completed"}],
            "usage":{"input_tokens":30,"output_tokens":9,"input_tokens_details":{"cached_tokens":16},
                     "output_tokens_details":{"reasoning_tokens":4},"total_tokens":39}}"#;
        let d = Dialect::OpenAiResponses;
        let u = d.body_usage(answer).unwrap().unwrap();
        assert_eq!((u.input, u.output, u.cached_read, u.reasoning), (30, 9, 16, 4));
        assert_eq!(d.body_text(answer), "think Hi f{}");
        assert_eq!(d.body_usage(br#"{"output":[]}"#), Ok(None));
    }

    #[test]
    fn error_details_come_from_either_format() {
        assert_eq!(error_detail(br#"{"type":"error","error":{"type":"x","message":"slow down"}}"#), "slow down");
        assert_eq!(error_detail(b"Bad Gateway"), "Bad Gateway");
    }
}
