//! OpenTelemetry GenAI spans, as OTLP/HTTP carries them: an
//! `ExportTraceServiceRequest` in protobuf or in OTLP/JSON (ids as hex,
//! 64-bit numbers as numbers or strings). Only the messages and fields read
//! here are declared (protobuf skips the rest); the field numbers are those
//! of `opentelemetry/proto/trace/v1/trace.proto`.
//!
//! A span is usage when it carries GenAI token counts:
//! `gen_ai.usage.input_tokens` (which, unlike Anthropic's field, *includes*
//! cached tokens — the ledger's convention too), `gen_ai.usage.output_tokens`,
//! `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens`,
//! `gen_ai.usage.reasoning.output_tokens`, and the aliases instrumentations
//! use (`gen_ai.usage.prompt_tokens`, `gen_ai.usage.completion_tokens`,
//! `gen_ai.usage.input_tokens.cached`, `gen_ai.usage.cache_read_input_tokens`,
//! `gen_ai.usage.output_tokens.reasoning`, `gen_ai.usage.reasoning_tokens`,
//! OpenLLMetry's `llm.usage.*`). The model is `gen_ai.response.model`, else
//! `gen_ai.request.model`; the provider `gen_ai.provider.name`, else the
//! older `gen_ai.system`. Other spans are counted as ignored.

use crate::{Facts, Format, Parsed, Record, Rejection};
use jiff::Timestamp;
use prost::Message;
use serde_json::Value;
use tokenwise_core::TokenUsage;

/// The protobuf messages, trimmed to what is read.
pub mod proto {
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ExportTraceServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Span {
        #[prost(bytes = "vec", tag = "1")]
        pub trace_id: Vec<u8>,
        #[prost(bytes = "vec", tag = "2")]
        pub span_id: Vec<u8>,
        #[prost(string, tag = "5")]
        pub name: String,
        #[prost(fixed64, tag = "7")]
        pub start_time_unix_nano: u64,
        #[prost(fixed64, tag = "8")]
        pub end_time_unix_nano: u64,
        #[prost(message, repeated, tag = "9")]
        pub attributes: Vec<KeyValue>,
        #[prost(message, optional, tag = "15")]
        pub status: Option<Status>,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Status {
        #[prost(string, tag = "2")]
        pub message: String,
        /// 0 unset, 1 ok, 2 error.
        #[prost(int32, tag = "3")]
        pub code: i32,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }

    /// Arrays, key-value lists and bytes (tags 5–7) are skipped.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct AnyValue {
        #[prost(oneof = "Value", tags = "1, 2, 3, 4")]
        pub value: Option<Value>,
    }

    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum Value {
        #[prost(string, tag = "1")]
        StringValue(String),
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        #[prost(int64, tag = "3")]
        IntValue(i64),
        #[prost(double, tag = "4")]
        DoubleValue(f64),
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ExportTraceServiceResponse {
        #[prost(message, optional, tag = "1")]
        pub partial_success: Option<ExportTracePartialSuccess>,
    }

    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct ExportTracePartialSuccess {
        #[prost(int64, tag = "1")]
        pub rejected_spans: i64,
        #[prost(string, tag = "2")]
        pub error_message: String,
    }
}

/// An attribute value as read (strings, numbers, booleans; nothing else
/// is usage).
#[derive(Debug, Clone, PartialEq)]
enum Attr {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl Attr {
    fn as_text(&self) -> String {
        match self {
            Attr::Str(s) => s.clone(),
            Attr::Int(i) => i.to_string(),
            Attr::Double(d) => d.to_string(),
            Attr::Bool(b) => b.to_string(),
        }
    }

    fn as_count(&self) -> Option<u64> {
        match self {
            Attr::Int(i) => u64::try_from(*i).ok(),
            Attr::Double(d) if d.fract() == 0.0 && *d >= 0.0 => Some(*d as u64),
            Attr::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

type Attrs = Vec<(String, Attr)>;

/// A span as both encodings read it.
struct SpanView {
    trace_id: String,
    span_id: String,
    start_ns: u64,
    end_ns: u64,
    error: bool,
    attrs: Attrs,
}

fn attr_of(v: Option<&proto::AnyValue>) -> Option<Attr> {
    Some(match v?.value.as_ref()? {
        proto::Value::StringValue(s) => Attr::Str(s.clone()),
        proto::Value::BoolValue(b) => Attr::Bool(*b),
        proto::Value::IntValue(i) => Attr::Int(*i),
        proto::Value::DoubleValue(d) => Attr::Double(*d),
    })
}

fn attrs_of(kvs: &[proto::KeyValue]) -> Attrs {
    kvs.iter().filter_map(|kv| Some((kv.key.clone(), attr_of(kv.value.as_ref())?))).collect()
}

/// A binary `ExportTraceServiceRequest`; spans are numbered by position.
pub fn parse_proto(input: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let req = match proto::ExportTraceServiceRequest::decode(input) {
        Ok(r) => r,
        Err(e) => {
            out.rejected.push(Rejection::new(1, None, format!("not an OTLP ExportTraceServiceRequest: {e}")));
            return out;
        }
    };
    let mut n = 0u64;
    for rs in &req.resource_spans {
        let resource = rs.resource.as_ref().map(|r| attrs_of(&r.attributes)).unwrap_or_default();
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            n += 1;
            let view = SpanView {
                trace_id: hex::encode(&span.trace_id),
                span_id: hex::encode(&span.span_id),
                start_ns: span.start_time_unix_nano,
                end_ns: span.end_time_unix_nano,
                error: span.status.as_ref().is_some_and(|s| s.code == 2),
                attrs: attrs_of(&span.attributes),
            };
            out.push(record(&resource, &view, n));
        }
    }
    out
}

/// OTLP/JSON: one `ExportTraceServiceRequest` (spans numbered by position),
/// or one per line as the Collector's file exporter writes them (spans
/// numbered by their line).
pub fn parse_json(input: &[u8], first_line: u64) -> Parsed {
    if let Ok(v) = serde_json::from_slice::<Value>(input) {
        let mut out = Parsed::default();
        let mut n = first_line;
        request_json(&v, &mut out, &mut || {
            n += 1;
            n
        });
        return out;
    }
    let mut out = Parsed::default();
    for (i, line) in input.split(|b| *b == b'\n').enumerate() {
        let n = first_line + i as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => request_json(&v, &mut out, &mut || n),
            Err(e) => out.rejected.push(Rejection::new(n, None, format!("not OTLP/JSON: {e}"))),
        }
    }
    out
}

/// A field by its OTLP/JSON name (lowerCamelCase) or its protobuf name.
fn field<'a>(v: &'a Value, camel: &str, snake: &str) -> Option<&'a Value> {
    v.get(camel).or_else(|| v.get(snake))
}

fn list(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

fn request_json(v: &Value, out: &mut Parsed, next: &mut dyn FnMut() -> u64) {
    let Some(spans) = field(v, "resourceSpans", "resource_spans").and_then(Value::as_array) else {
        out.rejected.push(Rejection::new(next(), None, "not an OTLP ExportTraceServiceRequest: no `resourceSpans`"));
        return;
    };
    for rs in spans {
        let resource = attrs_json(rs.get("resource").and_then(|r| r.get("attributes")));
        let scopes = field(rs, "scopeSpans", "scope_spans").or_else(|| rs.get("instrumentationLibrarySpans"));
        for span in list(scopes).flat_map(|s| list(s.get("spans"))) {
            let n = next();
            let view = span_json(span, n);
            out.push(view.and_then(|view| record(&resource, &view, n)));
        }
    }
}

fn nanos_json(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn span_json(span: &Value, n: u64) -> Result<SpanView, Rejection> {
    let id = |camel, snake| field(span, camel, snake).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let status = span.get("status").and_then(|s| s.get("code"));
    let error = match status {
        Some(Value::Number(c)) => c.as_i64() == Some(2),
        Some(Value::String(s)) => s == "STATUS_CODE_ERROR" || s == "2",
        _ => false,
    };
    let view = SpanView {
        trace_id: id("traceId", "trace_id"),
        span_id: id("spanId", "span_id"),
        start_ns: nanos_json(field(span, "startTimeUnixNano", "start_time_unix_nano")),
        end_ns: nanos_json(field(span, "endTimeUnixNano", "end_time_unix_nano")),
        error,
        attrs: attrs_json(span.get("attributes")),
    };
    if view.span_id.is_empty() {
        return Err(Rejection::new(n, None, "a span without `spanId`"));
    }
    Ok(view)
}

fn attrs_json(v: Option<&Value>) -> Attrs {
    list(v)
        .filter_map(|kv| {
            let key = kv.get("key")?.as_str()?.to_string();
            let val = kv.get("value")?;
            let attr = if let Some(s) = field(val, "stringValue", "string_value").and_then(Value::as_str) {
                Attr::Str(s.to_string())
            } else if let Some(i) = field(val, "intValue", "int_value") {
                Attr::Int(i.as_i64().or_else(|| i.as_str().and_then(|s| s.parse().ok()))?)
            } else if let Some(d) = field(val, "doubleValue", "double_value") {
                Attr::Double(d.as_f64().or_else(|| d.as_str().and_then(|s| s.parse().ok()))?)
            } else {
                Attr::Bool(field(val, "boolValue", "bool_value")?.as_bool()?)
            };
            Some((key, attr))
        })
        .collect()
}

/// The first of `keys` present on the span, else on the resource.
fn find<'a>(span: &'a Attrs, resource: &'a Attrs, keys: &[&str]) -> Option<&'a Attr> {
    keys.iter().find_map(|k| span.iter().chain(resource).find(|(key, _)| key == k).map(|(_, v)| v))
}

const INPUT: &[&str] = &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens"];
const OUTPUT: &[&str] =
    &["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"];
const CACHE_READ: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.input_tokens.cached",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.usage.cache_read_input_tokens",
];
const CACHE_WRITE: &[&str] = &[
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.usage.cache_creation_input_tokens",
];
const REASONING: &[&str] = &[
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.output_tokens.reasoning",
    "gen_ai.usage.reasoning_tokens",
    "llm.usage.reasoning_tokens",
];
const MODEL: &[&str] = &["gen_ai.response.model", "gen_ai.request.model", "llm.response.model", "llm.request.model"];
const PROVIDER: &[&str] = &["gen_ai.provider.name", "gen_ai.system", "llm.vendor"];
const USER: &[&str] = &["user.id", "enduser.id", "user.email", "user.name"];
/// Attributes holding prompt or answer text: never copied.
const CONTENT: &[&str] = &[
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.input",
    "gen_ai.output",
    "gen_ai.system_instructions",
    "llm.prompts",
    "llm.completions",
];

fn usage(span: &Attrs, resource: &Attrs) -> Result<Option<TokenUsage>, String> {
    let get = |keys: &[&str]| -> Result<Option<u64>, String> {
        match find(span, resource, keys) {
            None => Ok(None),
            Some(a) => a.as_count().map(Some).ok_or_else(|| format!("`{}` is not a token count: {a:?}", keys[0])),
        }
    };
    let (input, output) = (get(INPUT)?, get(OUTPUT)?);
    if input.is_none() && output.is_none() {
        return Ok(None);
    }
    let (input, output) = (input.unwrap_or(0), output.unwrap_or(0));
    let cached_read = get(CACHE_READ)?.unwrap_or(0);
    let cache_write = get(CACHE_WRITE)?.unwrap_or(0);
    let reasoning = get(REASONING)?.unwrap_or(0);
    let cache = cached_read.saturating_add(cache_write);
    // Some instrumentations report Anthropic's input (cache excluded):
    // then the cache counts exceed it, and are added in.
    let input = if cache > input { input.saturating_add(cache) } else { input };
    Ok(Some(TokenUsage { input, output: output.max(reasoning), cached_read, cache_write, reasoning }))
}

fn facts(span: &Attrs, resource: &Attrs) -> Facts {
    let get = |k: &str| find(span, resource, &[k]).map(Attr::as_text).filter(|s| !s.is_empty());
    let mut f = Facts {
        user: USER.iter().find_map(|k| get(k)),
        service: find(resource, &Vec::new(), &["service.name"]).map(Attr::as_text),
        use_case: get("tokenwise.use_case"),
        project: get("tokenwise.project"),
        task: get("tokenwise.task"),
        template: get("tokenwise.template"),
        ..Facts::default()
    };
    let short = |(k, v): &(String, Attr)| {
        let text = v.as_text();
        (!CONTENT.iter().any(|c| k.starts_with(c)) && text.len() <= 256).then(|| (k.clone(), text))
    };
    f.attributes = resource.iter().chain(span).filter_map(short).collect();
    f
}

fn record(resource: &Attrs, s: &SpanView, n: u64) -> Result<Option<Record>, Rejection> {
    let id = format!("{}-{}", s.trace_id, s.span_id);
    let fail = |reason: String| Rejection::new(n, Some(id.clone()), reason);
    let Some(usage) = usage(&s.attrs, resource).map_err(fail)? else { return Ok(None) };
    let Some(model) = find(&s.attrs, resource, MODEL).map(Attr::as_text).filter(|m| !m.is_empty()) else {
        return Err(fail("a span with GenAI usage but no `gen_ai.response.model` or `gen_ai.request.model`".into()));
    };
    let ts = i128::from(s.start_ns);
    let ts = Timestamp::from_nanosecond(ts)
        .ok()
        .filter(|_| s.start_ns > 0)
        .ok_or_else(|| fail("the span has no `startTimeUnixNano`".into()))?;
    let facts = facts(&s.attrs, resource);
    Ok(Some(Record {
        line: n,
        format: Format::OtlpJson,
        source: facts.service.clone().unwrap_or_else(|| "unknown_service".into()),
        id,
        ts,
        model,
        provider: find(&s.attrs, resource, PROVIDER).map(Attr::as_text),
        usage,
        reported_cost: None,
        latency_ms: u32::try_from(s.end_ns.saturating_sub(s.start_ns) / 1_000_000).unwrap_or(u32::MAX),
        failed: s.error,
        facts,
    }))
}

/// The OTLP answer: `partial_success` when spans were rejected, or with a
/// warning (`rejected_spans` 0) when some were ignored or already stored;
/// absent when every span was stored.
pub fn response(rejected: u64, message: &str) -> proto::ExportTraceServiceResponse {
    let partial_success = (!message.is_empty() || rejected > 0).then(|| proto::ExportTracePartialSuccess {
        rejected_spans: i64::try_from(rejected).unwrap_or(i64::MAX),
        error_message: message.to_string(),
    });
    proto::ExportTraceServiceResponse { partial_success }
}

/// [`response`] in OTLP/JSON (64-bit counts as decimal strings).
pub fn response_json(rejected: u64, message: &str) -> Value {
    match response(rejected, message).partial_success {
        None => serde_json::json!({}),
        Some(p) => {
            serde_json::json!({"partialSuccess": {"rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message}})
        }
    }
}

/// [`response`] in protobuf.
pub fn response_proto(rejected: u64, message: &str) -> Vec<u8> {
    response(rejected, message).encode_to_vec()
}

#[cfg(test)]
mod tests;
