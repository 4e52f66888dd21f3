//! A usage event: one metered call. It carries every fact later stages need
//! (budgets, scores, chargeback, anomalies) and never the prompt's content:
//! only its data class, the kinds of findings and a hash.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
pub use tokenwise_core::Decision;
use tokenwise_core::{Nanos, TokenUsage, Track};

tokenwise_core::named_enum!(
    /// Which API the call came through.
    Operation, "operation", {
        ChatCompletions => "chat_completions",
        Embeddings => "embeddings",
        Messages => "messages",
        Ingested => "ingested",
    }
);

tokenwise_core::named_enum!(
    /// How the call ended.
    Status, "status", {
        /// The model answered.
        Ok => "ok",
        /// The provider failed or timed out.
        UpstreamError => "upstream_error",
        /// Refused by policy before any model was called.
        Blocked => "blocked",
        /// Refused by a budget before any model was called.
        Refused => "refused",
        /// The client went away (or the stream was cut) part-way.
        Cancelled => "cancelled",
    }
);

tokenwise_core::named_enum!(
    /// Where the event was recorded.
    EventSource, "event source", {
        Gateway => "gateway",
        IngestJsonl => "ingest_jsonl",
        IngestLitellm => "ingest_litellm",
        IngestOtlp => "ingest_otlp",
        Simulator => "simulator",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageEvent {
    /// The request id (`x-tokenwise-request-id`); unique, so recording the
    /// same event twice stores it once.
    pub id: String,
    /// When the request arrived.
    pub ts: Timestamp,
    pub source: EventSource,
    pub user_id: String,
    pub team_id: String,
    pub project_id: Option<String>,
    pub use_case: Option<String>,
    /// `id@version`.
    pub template: Option<String>,
    /// Joins calls to the outcome they produced.
    pub task: Option<String>,
    pub track: Track,
    /// Where the output goes (`customer-email`, `repo`, …).
    pub destination: Option<String>,
    pub operation: Operation,
    /// The model the client asked for.
    pub requested_model: String,
    /// The model that answered (differs after a reroute).
    pub model: String,
    /// The upstream that served it.
    pub provider: String,
    pub usage: TokenUsage,
    pub cost: Nanos,
    /// The price version the cost was computed with, pinned so a later
    /// price change never rewrites history.
    pub price_version: String,
    pub latency_ms: u32,
    /// Time to first token, for streams.
    pub ttft_ms: Option<u32>,
    pub streamed: bool,
    pub status: Status,
    pub http_status: u16,
    /// The contract's error code when the call failed or was refused.
    pub error_code: Option<String>,
    /// True when token counts were estimated with a tokenizer because the
    /// upstream reported none (e.g. a stream cut short).
    pub estimated: bool,
    /// The most sensitive data class found in the prompt.
    pub data_class: Option<String>,
    /// Finding kind → count. Never the matched text.
    pub findings: BTreeMap<String, u32>,
    pub decision: Decision,
    pub exception_id: Option<String>,
    /// SHA-256 of the prompt, to spot repeats without keeping the text.
    pub prompt_hash: Option<String>,
    /// Which API key made the call.
    pub key_id: Option<String>,
    /// The budget envelopes the call was held on (the hold's id is the
    /// event's id); recording the event captures the hold.
    #[serde(default)]
    pub budget_keys: Vec<String>,
}

impl UsageEvent {
    /// A fresh, time-ordered request id (UUIDv7): ids sort by arrival,
    /// which keeps the primary-key index append-mostly.
    pub fn new_id() -> String {
        uuid::Uuid::now_v7().to_string()
    }

    /// The findings as the compact JSON the stores keep.
    pub fn findings_json(&self) -> String {
        serde_json::to_string(&self.findings).unwrap_or_else(|_| "{}".into())
    }

    pub fn parse_findings(json: &str) -> BTreeMap<String, u32> {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn budget_keys_json(&self) -> String {
        serde_json::to_string(&self.budget_keys).unwrap_or_else(|_| "[]".into())
    }

    pub fn parse_budget_keys(json: &str) -> Vec<String> {
        serde_json::from_str(json).unwrap_or_default()
    }
}
