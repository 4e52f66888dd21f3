//! The providers' `usage` objects, read into `TokenUsage` (input includes
//! cached, output includes reasoning; see `tokenwise_core::TokenUsage`).

use serde::Deserialize;
use tokenwise_core::TokenUsage;

/// OpenAI's `usage` object (chat and embeddings).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens_details: Option<OpenAiPromptDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<OpenAiCompletionDetails>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct OpenAiPromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct OpenAiCompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

impl OpenAiUsage {
    pub fn tokens(&self) -> TokenUsage {
        TokenUsage {
            input: self.prompt_tokens,
            output: self.completion_tokens,
            cached_read: self.prompt_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
            cache_write: 0,
            reasoning: self.completion_tokens_details.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        }
    }
}

/// The OpenAI Responses API's `usage`: input includes cached tokens and
/// output includes reasoning, as in chat.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct ResponsesUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<OpenAiPromptDetails>,
    #[serde(default)]
    pub output_tokens_details: Option<OpenAiCompletionDetails>,
}

impl ResponsesUsage {
    pub fn tokens(&self) -> TokenUsage {
        TokenUsage {
            input: self.input_tokens,
            output: self.output_tokens,
            cached_read: self.input_tokens_details.and_then(|d| d.cached_tokens).unwrap_or(0),
            cache_write: 0,
            reasoning: self.output_tokens_details.and_then(|d| d.reasoning_tokens).unwrap_or(0),
        }
    }
}

/// Anthropic's `usage`: `input_tokens` excludes cache reads and writes,
/// which are added in here.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct AnthropicUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    pub fn has_input(&self) -> bool {
        self.input_tokens.is_some()
    }

    /// Later fields (a `message_delta`) override earlier ones (`message_start`).
    pub fn merge(&mut self, later: &AnthropicUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = later.cache_creation_input_tokens.or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = later.cache_read_input_tokens.or(self.cache_read_input_tokens);
    }

    pub fn tokens(&self) -> TokenUsage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let write = self.cache_creation_input_tokens.unwrap_or(0);
        TokenUsage {
            input: self.input_tokens.unwrap_or(0) + read + write,
            output: self.output_tokens.unwrap_or(0),
            cached_read: read,
            cache_write: write,
            reasoning: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_cache_tokens_are_part_of_input() {
        let u: AnthropicUsage = serde_json::from_str(
            r#"{"input_tokens": 12, "output_tokens": 40, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 900}"#,
        )
        .unwrap();
        assert_eq!(
            u.tokens(),
            TokenUsage { input: 1012, output: 40, cached_read: 900, cache_write: 100, reasoning: 0 }
        );
    }

    #[test]
    fn responses_details_are_read() {
        let u: ResponsesUsage = serde_json::from_str(
            r#"{"input_tokens": 2006, "output_tokens": 300, "total_tokens": 2306,
                "input_tokens_details": {"cached_tokens": 1920},
                "output_tokens_details": {"reasoning_tokens": 192}}"#,
        )
        .unwrap();
        assert_eq!(
            u.tokens(),
            TokenUsage { input: 2006, output: 300, cached_read: 1920, cache_write: 0, reasoning: 192 }
        );
        let bare: ResponsesUsage = serde_json::from_str(r#"{"input_tokens": 5, "output_tokens": 1}"#).unwrap();
        assert_eq!((bare.tokens().input, bare.tokens().cached_read), (5, 0));
    }

    #[test]
    fn openai_details_are_read() {
        let u: OpenAiUsage = serde_json::from_str(
            r#"{"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 192}}"#,
        )
        .unwrap();
        assert_eq!(
            u.tokens(),
            TokenUsage { input: 2006, output: 300, cached_read: 1920, cache_write: 0, reasoning: 192 }
        );
        let bare: OpenAiUsage = serde_json::from_str(r#"{"prompt_tokens": 5, "total_tokens": 5}"#).unwrap();
        assert_eq!(bare.tokens().input, 5);
    }
}
