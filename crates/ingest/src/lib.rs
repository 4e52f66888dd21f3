//! Usage recorded elsewhere, read into one shape. Each input format has a
//! module: [`jsonl`] (tokenwise's own event shape, and CloudEvents in
//! structured mode carrying it), [`litellm`] (rows of LiteLLM's spend log)
//! and [`otlp`] (OpenTelemetry GenAI spans, OTLP JSON or protobuf). Each
//! turns its input into [`Record`]s — tokens in the ledger's convention,
//! the time, the model, and the [`Facts`] a policy maps to a person and a
//! use case — and a [`Rejection`] for each record it cannot read, naming
//! its line (or position) and why. Nothing here knows the policy or the
//! ledger: `tokenwise-app` maps, prices and stores what comes out.

pub mod jsonl;
pub mod litellm;
pub mod otlp;
mod read;

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokenwise_core::{Nanos, TokenUsage};

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON lines (or a JSON array) of tokenwise events or CloudEvents.
    Jsonl,
    /// LiteLLM spend-log rows, as JSON lines or a JSON array.
    Litellm,
    /// OTLP/JSON: an `ExportTraceServiceRequest`, or one per line.
    OtlpJson,
    /// OTLP/protobuf: one binary `ExportTraceServiceRequest`.
    OtlpProto,
}

impl Format {
    /// The name on the command line, in the API and in policy rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Litellm => "litellm",
            Format::OtlpJson => "otlp-json",
            Format::OtlpProto => "otlp",
        }
    }

    /// The family a policy rule names (`jsonl`, `litellm`, `otlp`): OTLP
    /// is OTLP whatever its encoding.
    pub fn family(self) -> &'static str {
        match self {
            Format::OtlpJson | Format::OtlpProto => "otlp",
            other => other.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "jsonl" => Some(Format::Jsonl),
            "litellm" => Some(Format::Litellm),
            "otlp-json" => Some(Format::OtlpJson),
            "otlp" | "otlp-proto" => Some(Format::OtlpProto),
            _ => None,
        }
    }
}

/// What a record says about who made the call and why: the policy's
/// `[[ingest.sources]]` rules match on these and name the person and the
/// use case. A claim is only a claim until a rule or the policy backs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The person the record names (a policy user id or e-mail, or an id
    /// a rule's `users` table translates).
    pub user: Option<String>,
    /// LiteLLM: the team id or alias of the key.
    pub team: Option<String>,
    /// LiteLLM: the key's alias.
    pub key_alias: Option<String>,
    /// OpenTelemetry: the resource's `service.name`.
    pub service: Option<String>,
    pub use_case: Option<String>,
    pub project: Option<String>,
    pub task: Option<String>,
    /// `id@version`.
    pub template: Option<String>,
    /// Other string attributes a rule may match (OTel resource and span
    /// attributes; LiteLLM request tags as `tag` = value).
    pub attributes: Vec<(String, String)>,
}

impl Facts {
    /// The attribute's value, if the record has it.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// One usage record read from elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line of the input (or position in an array, or span in an
    /// OTLP request), for messages.
    pub line: u64,
    /// The format family it came in.
    pub format: Format,
    /// Who produced it: the CloudEvents `source`, the event's `source`,
    /// `litellm`, or the OTel `service.name`.
    pub source: String,
    /// Its id at the source (CloudEvents `id`, LiteLLM `request_id`, OTel
    /// trace and span id).
    pub id: String,
    /// When the call was made: picks the price version and the budget period.
    pub ts: Timestamp,
    /// The model that answered, as the source names it.
    pub model: String,
    pub provider: Option<String>,
    /// In the ledger's convention: `input` includes cached tokens,
    /// `output` includes reasoning tokens.
    pub usage: TokenUsage,
    /// What the source said it cost: a hint for reconciliation, never the
    /// ledger's cost (the price book's is).
    pub reported_cost: Option<Nanos>,
    pub latency_ms: u32,
    /// The call failed at the provider (its tokens, if any, still count).
    pub failed: bool,
    pub facts: Facts,
}

impl Record {
    /// The ledger id of this record: derived from its format family, source
    /// and id alone, so a record sent again maps to the same event and the
    /// ledger stores it once (deduplication on id + source, as CloudEvents
    /// defines identity). A UUID (version 8, name-based over SHA-256).
    pub fn ledger_id(&self) -> String {
        ledger_id(self.format.family(), &self.source, &self.id)
    }
}

/// [`Record::ledger_id`] of a record of `family` with `source` and `id`.
pub fn ledger_id(family: &str, source: &str, id: &str) -> String {
    let mut h = Sha256::new();
    for part in ["tokenwise-ingest", family, source, id] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    // RFC 9562: version 8 (custom), variant 10.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// A record that could not be read or stored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based line (or position) of the record.
    pub line: u64,
    /// Its id at the source, when it was readable.
    pub id: Option<String>,
    pub reason: String,
}

impl Rejection {
    pub fn new(line: u64, id: Option<String>, reason: impl Into<String>) -> Rejection {
        Rejection { line, id, reason: reason.into() }
    }
}

/// What a piece of input held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub records: Vec<Record>,
    pub rejected: Vec<Rejection>,
    /// Records that carry no model usage (OTel spans without GenAI token
    /// counts, LiteLLM rows of other call types with no tokens): skipped,
    /// not errors.
    pub ignored: u64,
}

impl Parsed {
    fn push(&mut self, r: Result<Option<Record>, Rejection>) {
        match r {
            Ok(Some(rec)) => self.records.push(rec),
            Ok(None) => self.ignored += 1,
            Err(e) => self.rejected.push(e),
        }
    }

    /// Adds `other`'s records, rejections and ignored count to these.
    pub fn absorb(&mut self, other: Parsed) {
        self.records.extend(other.records);
        self.rejected.extend(other.rejected);
        self.ignored += other.ignored;
    }
}

/// Reads `input` in `format`. Line numbers start after `first_line` (so a
/// file read in chunks keeps its numbering).
pub fn parse(format: Format, input: &[u8], first_line: u64) -> Parsed {
    match format {
        Format::Jsonl => read::each_json(input, first_line, jsonl::record, Some(jsonl::quick)),
        Format::Litellm => read::each_json(input, first_line, litellm::record, None),
        Format::OtlpJson => otlp::parse_json(input, first_line),
        Format::OtlpProto => otlp::parse_proto(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_id_depends_on_source_and_id_only() {
        let a = ledger_id("jsonl", "billing", "1");
        assert_eq!(a, ledger_id("jsonl", "billing", "1"));
        assert_ne!(a, ledger_id("jsonl", "billing", "2"));
        assert_ne!(a, ledger_id("jsonl", "billin", "g1"), "parts are length-prefixed");
        assert_ne!(a, ledger_id("litellm", "billing", "1"));
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 8);
    }
}
