//! A usage event: one metered call. It carries every fact later stages need
//! (budgets, scores, chargeback, anomalies) and never the prompt's content:
//! only its data class, the kinds of findings and a hash.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
pub use tokenwise_core::Decision;
use tokenwise_core::{FindingKind, Nanos, TokenUsage, Track};

tokenwise_core::named_enum!(
    /// Which API the call came through.
    Operation, "operation", {
        ChatCompletions => "chat_completions",
        Embeddings => "embeddings",
        Messages => "messages",
        Responses => "responses",
        /// Anthropic's token count: a refusal is recorded; an answered
        /// count costs nothing and is not a call (see the gateway's `count`).
        CountTokens => "count_tokens",
        Ingested => "ingested",
    }
);

tokenwise_core::named_enum!(
    /// How the call ended.
    Status, "status", {
        /// The model answered.
        Ok => "ok",
        /// The provider answered with an error (a 5xx, a 4xx other than
        /// 429) or could not be reached.
        UpstreamError => "upstream_error",
        /// The provider did not answer, or stalled mid-stream, within the
        /// upstream's timeout (504).
        UpstreamTimeout => "upstream_timeout",
        /// The provider refused the call with 429 (its `retry-after` passed on).
        UpstreamRateLimited => "upstream_rate_limited",
        /// The provider's body, or a chunk of its stream, was not valid
        /// JSON; the client got an error, never the broken bytes.
        UpstreamMalformed => "upstream_malformed",
        /// The connection broke, or the stream ended, before the answer was
        /// complete.
        UpstreamCut => "upstream_cut",
        /// The answer (or one stream chunk) was larger than the upstream's
        /// `max_response_mb`.
        UpstreamTooLarge => "upstream_too_large",
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageEvent {
    /// The request id (`x-tokenwise-request-id`); unique, so recording the
    /// same event twice stores it once.
    pub id: String,
    /// When the request arrived.
    #[schema(value_type = String, format = DateTime)]
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
    #[serde(serialize_with = "findings_by_name")]
    #[schema(value_type = BTreeMap<String, u32>)]
    pub findings: BTreeMap<FindingKind, u32>,
    pub decision: Decision,
    pub exception_id: Option<String>,
    /// SHA-256 of the prompt, to spot repeats without keeping the text.
    pub prompt_hash: Option<String>,
    /// A sketch of the prompt's word shingles (four 16-bit minhashes,
    /// `tokenwise_anomalies::minhash`),
    /// to spot near-identical prompts without keeping the text.
    #[serde(default, with = "sketch_hex")]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{16}$")]
    pub prompt_minhash: Option<u64>,
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

    /// An event of call `id` at `ts`, by `user_id` of `team_id`, answered by
    /// `model` at `provider`; everything else defaults as
    /// [`UsageEventBuilder`] says until set.
    pub fn builder(
        id: impl Into<String>,
        ts: Timestamp,
        source: EventSource,
        user_id: impl Into<String>,
        team_id: impl Into<String>,
        model: impl Into<String>,
        provider: impl Into<String>,
    ) -> UsageEventBuilder {
        let model = model.into();
        UsageEventBuilder(UsageEvent {
            id: id.into(),
            ts,
            source,
            user_id: user_id.into(),
            team_id: team_id.into(),
            project_id: None,
            use_case: None,
            template: None,
            task: None,
            track: Track::Production,
            destination: None,
            operation: Operation::ChatCompletions,
            requested_model: model.clone(),
            model,
            provider: provider.into(),
            usage: TokenUsage::default(),
            cost: Nanos::ZERO,
            price_version: String::new(),
            latency_ms: 0,
            ttft_ms: None,
            streamed: false,
            status: Status::Ok,
            http_status: 200,
            error_code: None,
            estimated: false,
            data_class: None,
            findings: BTreeMap::new(),
            decision: Decision::Allow,
            exception_id: None,
            prompt_hash: None,
            prompt_minhash: None,
            key_id: None,
            budget_keys: Vec::new(),
        })
    }

    /// The findings as the compact JSON the stores keep: kind name → count,
    /// e.g. `{"email":2}`.
    pub fn findings_json(&self) -> String {
        serde_json::to_string(&by_name(&self.findings)).unwrap_or_else(|_| "{}".into())
    }

    /// Reads [`findings_json`](Self::findings_json) back; an unknown kind is
    /// an error, not silently dropped.
    pub fn parse_findings(json: &str) -> Result<BTreeMap<FindingKind, u32>, String> {
        serde_json::from_str(json).map_err(|e| format!("findings {json:?}: {e}"))
    }

    pub fn budget_keys_json(&self) -> String {
        // Keys hold nothing JSON escapes (quotes, backslashes, control
        // characters) as a rule: written straight out, byte for byte what
        // the serializer writes, at a fraction of its cost per event.
        let plain = |k: &String| !k.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
        if !self.budget_keys.iter().all(plain) {
            return serde_json::to_string(&self.budget_keys).unwrap_or_else(|_| "[]".into());
        }
        let mut out = String::with_capacity(2 + self.budget_keys.iter().map(|k| k.len() + 3).sum::<usize>());
        out.push('[');
        for (i, k) in self.budget_keys.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(k);
            out.push('"');
        }
        out.push(']');
        out
    }

    pub fn parse_budget_keys(json: &str) -> Vec<String> {
        serde_json::from_str(json).unwrap_or_default()
    }
}

/// Findings ordered by kind name, as they were stored when kinds were
/// plain strings: the stored JSON stays byte for byte the same.
fn by_name(findings: &BTreeMap<FindingKind, u32>) -> BTreeMap<&'static str, u32> {
    findings.iter().map(|(k, n)| (k.as_str(), *n)).collect()
}

fn findings_by_name<S: serde::Serializer>(findings: &BTreeMap<FindingKind, u32>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(by_name(findings))
}

/// The sketch as 16 hex digits in JSON, since a `u64` above 2^53 loses
/// digits in JavaScript's numbers; a number is read too.
mod sketch_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_str(&format!("{h:016x}")),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(u64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<Raw>::deserialize(d)? {
            None => Ok(None),
            Some(Raw::Number(n)) => Ok(Some(n)),
            Some(Raw::Text(t)) => u64::from_str_radix(&t, 16).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

/// Builds a [`UsageEvent`]. Until set: a production-track chat completion
/// of the model it names, that answered (`ok`, HTTP 200) at no cost with no
/// usage and no price version, was not streamed, was allowed with nothing
/// found, and carries no optional field.
#[derive(Debug, Clone)]
#[must_use]
pub struct UsageEventBuilder(UsageEvent);

/// Setters for optional text fields take `Option`, so a value that may be
/// absent passes straight through.
macro_rules! optional_text {
    ($($(#[$m:meta])* $name:ident => $field:ident),+ $(,)?) => {
        $(
            $(#[$m])*
            pub fn $name(mut self, v: Option<impl Into<String>>) -> Self {
                self.0.$field = v.map(Into::into);
                self
            }
        )+
    };
}

impl UsageEventBuilder {
    optional_text!(
        project => project_id,
        use_case => use_case,
        /// `id@version`.
        template => template,
        task => task,
        destination => destination,
        data_class => data_class,
        exception => exception_id,
        prompt_hash => prompt_hash,
        key => key_id,
    );

    pub fn track(mut self, track: Track) -> Self {
        self.0.track = track;
        self
    }

    pub fn operation(mut self, operation: Operation) -> Self {
        self.0.operation = operation;
        self
    }

    /// The model the client asked for, when another one answered.
    pub fn requested_model(mut self, model: impl Into<String>) -> Self {
        self.0.requested_model = model.into();
        self
    }

    /// The tokens used, what they cost and the price version it was
    /// computed with.
    pub fn priced(mut self, usage: TokenUsage, cost: Nanos, price_version: impl Into<String>) -> Self {
        self.0.usage = usage;
        self.0.cost = cost;
        self.0.price_version = price_version.into();
        self
    }

    /// True when the token counts were estimated rather than reported.
    pub fn estimated(mut self, estimated: bool) -> Self {
        self.0.estimated = estimated;
        self
    }

    /// Total latency, and for streams the time to first token.
    pub fn timing(mut self, latency_ms: u32, ttft_ms: Option<u32>) -> Self {
        self.0.latency_ms = latency_ms;
        self.0.ttft_ms = ttft_ms;
        self
    }

    pub fn streamed(mut self, streamed: bool) -> Self {
        self.0.streamed = streamed;
        self
    }

    /// How the call ended, its HTTP status and the contract's error code.
    pub fn ended(mut self, status: Status, http_status: u16, error_code: Option<impl Into<String>>) -> Self {
        self.0.status = status;
        self.0.http_status = http_status;
        self.0.error_code = error_code.map(Into::into);
        self
    }

    /// The prompt's minhash (near-duplicate detection).
    pub fn prompt_minhash(mut self, minhash: Option<u64>) -> Self {
        self.0.prompt_minhash = minhash;
        self
    }

    pub fn decision(mut self, decision: Decision) -> Self {
        self.0.decision = decision;
        self
    }

    pub fn findings(mut self, findings: BTreeMap<FindingKind, u32>) -> Self {
        self.0.findings = findings;
        self
    }

    /// The budget envelopes the call was held on; recording it captures them.
    pub fn budget_keys(mut self, keys: Vec<String>) -> Self {
        self.0.budget_keys = keys;
        self
    }

    pub fn build(self) -> UsageEvent {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_stored_as_today_by_kind_name() {
        let e = UsageEvent::builder("r", Timestamp::UNIX_EPOCH, EventSource::Gateway, "u", "t", "m", "p")
            .findings(BTreeMap::from([(FindingKind::Email, 2), (FindingKind::CreditCard, 1)]))
            .build();
        // Ordered by name, as when the keys were strings.
        assert_eq!(e.findings_json(), r#"{"credit_card":1,"email":2}"#);
        assert_eq!(serde_json::to_value(&e).unwrap()["findings"], serde_json::json!({"credit_card": 1, "email": 2}));
        let back: UsageEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(UsageEvent::parse_findings(&e.findings_json()).unwrap(), e.findings);
        assert_eq!(UsageEvent::parse_findings("{}").unwrap(), BTreeMap::new());
        assert!(UsageEvent::parse_findings(r#"{"telepathy":1}"#).unwrap_err().contains("telepathy"));
    }

    #[test]
    fn budget_keys_are_stored_as_the_serializer_writes_them() {
        let mut e = UsageEvent::builder("i", Timestamp::UNIX_EPOCH, EventSource::Simulator, "u", "t", "m", "p").build();
        for keys in [
            vec![],
            vec!["per-person-daily|user:ivan.petrov|2026-11-28".to_string()],
            vec!["a|org|2026-11-01".into(), "b|team:support|2026-11-01".into(), "ünï|côdé".into()],
            vec!["quo\"te".into(), "back\\slash".into(), "tab\tnew\nline\u{1}".into(), "del\u{7f}".into()],
        ] {
            e.budget_keys = keys;
            let json = e.budget_keys_json();
            assert_eq!(json, serde_json::to_string(&e.budget_keys).unwrap());
            assert_eq!(UsageEvent::parse_budget_keys(&json), e.budget_keys);
        }
    }

    #[test]
    fn the_sketch_is_hex_in_json_and_reads_back() {
        let e = UsageEvent::builder("r", Timestamp::UNIX_EPOCH, EventSource::Gateway, "u", "t", "m", "p")
            .prompt_minhash(Some(0xfedc_ba98_7654_3210))
            .build();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["prompt_minhash"], "fedcba9876543210");
        assert_eq!(serde_json::from_value::<UsageEvent>(v.clone()).unwrap(), e);
        let mut n = v.clone();
        n["prompt_minhash"] = serde_json::json!(7u64);
        assert_eq!(serde_json::from_value::<UsageEvent>(n).unwrap().prompt_minhash, Some(7));
        let mut none = v;
        none.as_object_mut().unwrap().remove("prompt_minhash");
        assert_eq!(serde_json::from_value::<UsageEvent>(none).unwrap().prompt_minhash, None);
    }

    #[test]
    fn the_builder_defaults_what_is_not_set() {
        let e = UsageEvent::builder("r", Timestamp::UNIX_EPOCH, EventSource::Simulator, "u", "t", "m", "p")
            .requested_model("asked")
            .use_case(Some("support-reply"))
            .project(None::<String>)
            .build();
        assert_eq!((e.requested_model.as_str(), e.model.as_str()), ("asked", "m"));
        assert_eq!(e.use_case.as_deref(), Some("support-reply"));
        assert_eq!((e.status, e.http_status, e.decision, e.cost), (Status::Ok, 200, Decision::Allow, Nanos::ZERO));
        assert!(e.project_id.is_none() && e.findings.is_empty() && e.budget_keys.is_empty());
    }
}
