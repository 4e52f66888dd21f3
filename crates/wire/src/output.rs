//! How much a request may generate: by the limit the upstream obeys in the
//! request's format, times the answers it asks for. A field the upstream
//! ignores bounds nothing (an Anthropic request's `max_completion_tokens`).

use crate::api::Api;
use serde_json::Value;

/// The output a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBound {
    /// The limit per answer, if the request sets one the upstream obeys.
    pub per_choice: Option<u64>,
    /// How many answers the upstream generates (OpenAI's `n`).
    pub choices: u64,
}

impl OutputBound {
    /// The most output tokens, with `default` per answer where the request
    /// sets no limit.
    pub fn total(&self, default: u64) -> u64 {
        self.per_choice.unwrap_or(default).saturating_mul(self.choices)
    }
}

/// The output bound of a request in format `api`.
pub fn output_bound(api: Api, req: &Value) -> OutputBound {
    match api {
        Api::OpenAiEmbeddings => OutputBound { per_choice: Some(0), choices: 1 },
        Api::AnthropicMessages => OutputBound { per_choice: count(req.get("max_tokens")), choices: 1 },
        // One answer, reasoning included in the bound.
        Api::OpenAiResponses => OutputBound { per_choice: count(req.get("max_output_tokens")), choices: 1 },
        Api::OpenAiChat => {
            // `max_completion_tokens` supersedes `max_tokens` (which
            // reasoning models refuse): when present, it alone counts.
            let per_choice = match req.get("max_completion_tokens").filter(|v| !v.is_null()) {
                Some(v) => count(Some(v)),
                None => count(req.get("max_tokens")),
            };
            OutputBound { per_choice, choices: count(req.get("n")).unwrap_or(1).max(1) }
        }
    }
}

/// The field that limits output in format `api`, where a limit is set
/// when the request has none: for OpenAI, the one it already uses, else
/// the one its model takes.
pub fn output_field(api: Api, req: &Value, reasoning: bool) -> Option<&'static str> {
    match api {
        Api::OpenAiEmbeddings => None,
        Api::AnthropicMessages => Some("max_tokens"),
        Api::OpenAiResponses => Some("max_output_tokens"),
        Api::OpenAiChat => {
            let set = req.get("max_completion_tokens").is_some_and(|v| !v.is_null());
            Some(if set || reasoning { "max_completion_tokens" } else { "max_tokens" })
        }
    }
}

/// A count as a request writes it; a fractional one rounds up (a bound
/// never rounds down), anything else is no count.
fn count(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| {
        let f = v.as_f64().filter(|f| f.is_finite() && *f >= 0.0)?;
        // Saturates at u64::MAX for huge values.
        Some(f.ceil() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anthropic_obeys_max_tokens_only() {
        let req = json!({"max_tokens": 4000, "max_completion_tokens": 1, "n": 8});
        assert_eq!(output_bound(Api::AnthropicMessages, &req), OutputBound { per_choice: Some(4000), choices: 1 });
        assert_eq!(output_bound(Api::AnthropicMessages, &json!({"max_completion_tokens": 1})).per_choice, None);
        assert_eq!(output_field(Api::AnthropicMessages, &req, true), Some("max_tokens"));
    }

    #[test]
    fn openai_obeys_max_completion_tokens_first_times_n() {
        let both = json!({"max_tokens": 1, "max_completion_tokens": 4000, "n": 8});
        assert_eq!(output_bound(Api::OpenAiChat, &both), OutputBound { per_choice: Some(4000), choices: 8 });
        assert_eq!(output_bound(Api::OpenAiChat, &both).total(10), 32_000);
        let old = json!({"max_tokens": 300, "max_completion_tokens": null});
        assert_eq!(output_bound(Api::OpenAiChat, &old), OutputBound { per_choice: Some(300), choices: 1 });
        // No limit: the default, per choice.
        assert_eq!(output_bound(Api::OpenAiChat, &json!({"n": 3})).total(100), 300);
        // A malformed limit in the obeyed field is no limit, not the other field's.
        assert_eq!(
            output_bound(Api::OpenAiChat, &json!({"max_tokens": 5, "max_completion_tokens": "x"})).per_choice,
            None
        );
        assert_eq!(
            output_bound(Api::OpenAiChat, &json!({"max_tokens": 2.5, "n": 0})),
            OutputBound { per_choice: Some(3), choices: 1 }
        );
        assert_eq!(output_bound(Api::OpenAiEmbeddings, &json!({"n": 5})).total(100), 0);
    }

    #[test]
    fn responses_obey_max_output_tokens_only() {
        let req = json!({"max_output_tokens": 700, "max_tokens": 1, "max_completion_tokens": 2, "n": 4});
        assert_eq!(output_bound(Api::OpenAiResponses, &req), OutputBound { per_choice: Some(700), choices: 1 });
        assert_eq!(output_bound(Api::OpenAiResponses, &json!({"max_tokens": 9})).per_choice, None);
        assert_eq!(output_field(Api::OpenAiResponses, &json!({}), true), Some("max_output_tokens"));
    }

    #[test]
    fn a_default_goes_in_the_field_the_upstream_obeys() {
        assert_eq!(output_field(Api::OpenAiChat, &json!({}), false), Some("max_tokens"));
        assert_eq!(output_field(Api::OpenAiChat, &json!({}), true), Some("max_completion_tokens"));
        assert_eq!(
            output_field(Api::OpenAiChat, &json!({"max_completion_tokens": "x"}), false),
            Some("max_completion_tokens")
        );
        assert_eq!(output_field(Api::OpenAiEmbeddings, &json!({}), false), None);
    }
}
