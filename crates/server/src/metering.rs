//! From a request to its usage event: what is known before the upstream
//! call (`Draft`), how the call ended (`Outcome`), and reading each wire
//! format's usage into `TokenUsage` (input includes cached, output includes
//! reasoning; see `tokenwise_core::TokenUsage`).

use crate::auth::Caller;
use crate::meta::Meta;
use jiff::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokenwise_core::{FindingKind, Nanos, Rates, TokenUsage};
use tokenwise_ledger::{Decision, EventSource, Operation, Status, UsageEvent};
use tokenwise_policy::{Model, PriceVersion};

/// Everything about a call that is known before the upstream answers.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    pub ts: Timestamp,
    pub started: Instant,
    pub user_id: String,
    pub team_id: String,
    pub key_id: String,
    pub project_id: Option<String>,
    pub use_case: String,
    pub template: Option<String>,
    pub task: Option<String>,
    pub track: tokenwise_core::Track,
    pub destination: Option<String>,
    pub operation: Operation,
    pub requested_model: String,
    pub model: String,
    pub provider: String,
    pub rates: Rates,
    pub price_version: String,
    pub streamed: bool,
    pub prompt_hash: Option<String>,
    /// What the policy decided, and what the scanner found (kinds and
    /// counts only).
    pub decision: Decision,
    pub data_class: Option<String>,
    pub findings: BTreeMap<FindingKind, u32>,
    /// Budget envelopes held for the call (captured when its event is
    /// recorded), and the exception it runs under, if any.
    pub budget_keys: Vec<String>,
    pub exception_id: Option<String>,
}

/// How the call ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub usage: TokenUsage,
    pub estimated: bool,
    pub status: Status,
    pub http_status: u16,
    pub error_code: Option<&'static str>,
    pub ttft: Option<Duration>,
}

impl Outcome {
    pub fn ok(usage: TokenUsage, estimated: bool) -> Outcome {
        Outcome { usage, estimated, status: Status::Ok, http_status: 200, error_code: None, ttft: None }
    }

    pub fn failed(status: Status, http_status: u16, code: &'static str, usage: TokenUsage, estimated: bool) -> Outcome {
        Outcome { usage, estimated, status, http_status, error_code: Some(code), ttft: None }
    }
}

pub struct DraftInput<'a> {
    pub id: String,
    pub ts: Timestamp,
    pub started: Instant,
    pub caller: &'a Caller,
    pub meta: &'a Meta<'a>,
    pub operation: Operation,
    pub requested_model: &'a str,
    pub model: &'a Model,
    pub price: &'a PriceVersion,
    pub streamed: bool,
    pub prompt: &'a [crate::guard::Slot],
}

impl Draft {
    pub fn new(i: DraftInput<'_>) -> Draft {
        Draft {
            id: i.id,
            ts: i.ts,
            started: i.started,
            user_id: i.caller.user.id.clone(),
            team_id: i.caller.user.team.clone(),
            key_id: i.caller.key.id.clone(),
            project_id: i.meta.project.clone(),
            use_case: i.meta.use_case.id.clone(),
            template: i.meta.template.clone(),
            task: i.meta.task.clone(),
            track: i.meta.track,
            destination: i.meta.destination.clone(),
            operation: i.operation,
            requested_model: i.requested_model.to_string(),
            model: i.model.id.clone(),
            provider: i.model.upstream.clone(),
            rates: i.price.rates,
            price_version: i.price.id.clone(),
            streamed: i.streamed,
            prompt_hash: prompt_hash(i.prompt),
            decision: Decision::Allow,
            data_class: None,
            findings: BTreeMap::new(),
            budget_keys: Vec::new(),
            exception_id: None,
        }
    }

    pub fn cost(&self, usage: &TokenUsage) -> Nanos {
        usage.cost(&self.rates)
    }

    pub fn event(&self, o: &Outcome) -> UsageEvent {
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        UsageEvent::builder(
            &self.id,
            self.ts,
            EventSource::Gateway,
            &self.user_id,
            &self.team_id,
            &self.model,
            &self.provider,
        )
        .project(self.project_id.as_deref())
        .use_case(Some(&self.use_case))
        .template(self.template.as_deref())
        .task(self.task.as_deref())
        .track(self.track)
        .destination(self.destination.as_deref())
        .operation(self.operation)
        .requested_model(&self.requested_model)
        .priced(o.usage, self.cost(&o.usage), &self.price_version)
        .estimated(o.estimated)
        .timing(ms(self.started.elapsed()), o.ttft.map(ms))
        .streamed(self.streamed)
        .ended(o.status, o.http_status, o.error_code)
        .data_class(self.data_class.as_deref())
        .findings(self.findings.clone())
        .decision(self.decision)
        .exception(self.exception_id.as_deref())
        .prompt_hash(self.prompt_hash.as_deref())
        .key(Some(&self.key_id))
        .budget_keys(self.budget_keys.clone())
        .build()
    }
}

/// SHA-256 over the prompt's texts, length-prefixed: spots repeated
/// prompts without keeping them.
fn prompt_hash(slots: &[crate::guard::Slot]) -> Option<String> {
    if slots.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    for s in slots {
        h.update((s.text.len() as u64).to_be_bytes());
        h.update(s.text.as_bytes());
    }
    Some(hex::encode(h.finalize()))
}

/// The text of a message's `content` (a string or an array of parts), for
/// hashing and for estimates.
pub fn content_text(content: &serde_json::Value) -> String {
    match content {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(parts) => {
            let mut out = String::new();
            for p in parts {
                if let Some(t) = p.get("text").and_then(serde_json::Value::as_str) {
                    out.push_str(t);
                } else if let Some(t) = p.as_str() {
                    out.push_str(t);
                }
            }
            out
        }
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

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
