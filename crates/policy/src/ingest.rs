//! `[ingest]`: which usage recorded elsewhere is taken in, and whose it
//! is. Each `[[ingest.sources]]` rule matches records by their format,
//! source, LiteLLM team or key alias, or attributes, and says who the
//! person is (one person, or a table translating the record's own user
//! ids), the use case and project when the record names none, and what
//! the source's model names mean here. The first rule that matches a
//! record applies; a record no rule matches is refused, so usage is never
//! charged to someone by accident.
//!
//! ```toml
//! [[ingest.sources]]
//! format = "litellm"
//! team = "support-*"
//! users = { "u-1742" = "ivan.petrov" }
//! use_case = "support-reply"
//! models = { "claude-3-5-haiku-20241022" = "claude-haiku-4-5" }
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;

/// `[ingest]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIngest {
    #[serde(default)]
    pub sources: Vec<RawIngestSource>,
}

/// One `[[ingest.sources]]` rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIngestSource {
    /// A name for messages (default: `sources[N]`).
    #[serde(default)]
    pub name: Option<String>,
    /// `jsonl`, `litellm` or `otlp`.
    #[serde(default)]
    pub format: Option<String>,
    /// The record's source: the CloudEvents or event `source`, `litellm`,
    /// or the OTel `service.name`. A trailing `*` matches a prefix.
    #[serde(default)]
    pub source: Option<String>,
    /// LiteLLM: the key's team id or team alias.
    #[serde(default)]
    pub team: Option<String>,
    /// LiteLLM: the key's alias.
    #[serde(default)]
    pub key_alias: Option<String>,
    /// Attributes the record must have (OTel resource or span attributes,
    /// LiteLLM `end_user`, `model_group`, `tag`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Every matched record is this person's.
    #[serde(default)]
    pub user: Option<String>,
    /// The record's own user id → the person here.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
    /// The use case when the record names none.
    #[serde(default)]
    pub use_case: Option<String>,
    /// The project when the record names none.
    #[serde(default)]
    pub project: Option<String>,
    /// The source's model name → a model of the policy.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
}

/// Text that matches exactly, or by prefix when written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(pub String);

impl Pattern {
    pub fn matches(&self, value: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => value.starts_with(prefix),
            None => self.0 == value,
        }
    }

    /// Whether it matches `value`, if there is one.
    pub fn matches_some(&self, value: Option<&str>) -> bool {
        value.is_some_and(|v| self.matches(v))
    }
}

/// A checked `[[ingest.sources]]` rule: every person, use case, project and
/// model it names exists.
#[derive(Debug, Clone)]
pub struct IngestRule {
    /// Its name, or `sources[N]`.
    pub name: String,
    /// `jsonl`, `litellm` or `otlp`.
    pub format: Option<String>,
    pub source: Option<Pattern>,
    pub team: Option<Pattern>,
    pub key_alias: Option<Pattern>,
    pub attributes: Vec<(String, Pattern)>,
    pub user: Option<String>,
    pub users: BTreeMap<String, String>,
    pub use_case: Option<String>,
    pub project: Option<String>,
    pub models: BTreeMap<String, String>,
}

/// `[ingest]`, checked.
#[derive(Debug, Clone, Default)]
pub struct Ingest {
    /// In file order: the first that matches applies.
    pub sources: Vec<IngestRule>,
}

/// The formats a rule may name.
pub const INGEST_FORMATS: &[&str] = &["jsonl", "litellm", "otlp"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        assert!(Pattern("litellm".into()).matches("litellm"));
        assert!(!Pattern("litellm".into()).matches("litellm-2"));
        assert!(Pattern("support-*".into()).matches("support-bot"));
        assert!(Pattern("*".into()).matches("anything"));
        assert!(!Pattern("x".into()).matches_some(None));
    }
}
