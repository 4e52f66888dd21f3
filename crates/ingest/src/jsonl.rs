//! tokenwise's own event shape, one JSON object per line, alone or as the
//! `data` of a CloudEvent (structured mode, `specversion` 1.0):
//!
//! ```json
//! {"id": "evt-1", "source": "billing-bot", "time": "2026-11-03T10:00:00Z",
//!  "user": "ben.carter", "use_case": "code-review", "model": "gpt-4.1",
//!  "usage": {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 200}}
//! ```
//!
//! Tokens follow the ledger's (and OpenTelemetry's) convention:
//! `input_tokens` counts every prompt token, cached ones included;
//! `output_tokens` counts reasoning tokens too. Unknown fields are refused
//! (a misspelt `usr` would otherwise lose the person).

use crate::read::{count, count_at, text, time};
use crate::{Facts, Format, Record, Rejection};
use serde_json::{Map, Value};
use tokenwise_core::{Nanos, TokenUsage};

/// Fields of the event (or of a CloudEvent's `data`).
const DATA_FIELDS: &[&str] = &[
    "user",
    "use_case",
    "project",
    "task",
    "template",
    "model",
    "provider",
    "usage",
    "cost_usd",
    "latency_ms",
    "status",
];
/// Fields only the bare event has (a CloudEvent has its own).
const ENVELOPE_FIELDS: &[&str] = &["id", "source", "time"];
const USAGE_FIELDS: &[&str] =
    &["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"];

/// The source of an event that names none.
pub const DEFAULT_SOURCE: &str = "tokenwise";

/// One line: a CloudEvent when it has `specversion`, else an event.
pub fn record(v: &Value, line: u64) -> Result<Option<Record>, Rejection> {
    let Some(obj) = v.as_object() else {
        return Err(Rejection::new(line, None, "expected a JSON object (an event or a CloudEvent)"));
    };
    let id = text(obj.get("id"));
    let fail = |reason: String| Rejection::new(line, id.clone(), reason);
    if obj.contains_key("specversion") {
        return cloud_event(obj, line).map(Some).map_err(fail);
    }
    if let Some(k) = obj.keys().find(|k| !DATA_FIELDS.contains(&k.as_str()) && !ENVELOPE_FIELDS.contains(&k.as_str())) {
        return Err(fail(format!(
            "unknown field `{k}` (fields: {}, {})",
            ENVELOPE_FIELDS.join(", "),
            DATA_FIELDS.join(", ")
        )));
    }
    let id =
        id.clone().ok_or_else(|| fail("`id` is missing: every event needs an id unique within its source".into()))?;
    let source = text(obj.get("source")).unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    let ts = time(obj.get("time"), "time").map_err(fail)?;
    body(obj, line, source, id.clone(), ts, None).map(Some).map_err(|reason| Rejection::new(line, Some(id), reason))
}

/// A CloudEvent in structured mode whose `data` is an event's body; its
/// `subject`, if any, names the person when `data` does not.
fn cloud_event(obj: &Map<String, Value>, line: u64) -> Result<Record, String> {
    match obj.get("specversion").and_then(Value::as_str) {
        Some("1.0") => {}
        other => return Err(format!("CloudEvents `specversion` must be \"1.0\", got {other:?}")),
    }
    let id = text(obj.get("id")).ok_or("a CloudEvent needs `id`")?;
    let source = text(obj.get("source")).ok_or("a CloudEvent needs `source`")?;
    if text(obj.get("type")).is_none() {
        return Err("a CloudEvent needs `type` (e.g. \"com.example.ai.usage\")".into());
    }
    if let Some(ct) = obj.get("datacontenttype").and_then(Value::as_str)
        && !(ct.starts_with("application/json") || ct.contains("+json"))
    {
        return Err(format!("`datacontenttype` {ct:?} is not JSON: send the usage as a JSON object in `data`"));
    }
    if obj.contains_key("data_base64") {
        return Err("`data_base64` is not read: send the usage as a JSON object in `data`".into());
    }
    let Some(data) = obj.get("data").and_then(Value::as_object) else {
        return Err("a CloudEvent needs `data`: a JSON object with model, usage and user".into());
    };
    if let Some(k) = data.keys().find(|k| !DATA_FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field `data.{k}` (fields: {})", DATA_FIELDS.join(", ")));
    }
    let ts = time(obj.get("time"), "time")?;
    body(data, line, source, id, ts, text(obj.get("subject")))
}

/// The event's body: who, what for, which model, how many tokens.
fn body(
    obj: &Map<String, Value>,
    line: u64,
    source: String,
    id: String,
    ts: jiff::Timestamp,
    subject: Option<String>,
) -> Result<Record, String> {
    let model = text(obj.get("model")).ok_or("`model` is missing: name the model that answered")?;
    let usage = usage(obj.get("usage").ok_or("`usage` is missing: give at least input_tokens and output_tokens")?)?;
    let reported_cost = match obj.get("cost_usd") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Nanos::parse_usd(s).map_err(|e| format!("`cost_usd`: {e}"))?),
        Some(Value::Number(n)) => Some(Nanos::parse_usd(&n.to_string()).map_err(|e| format!("`cost_usd`: {e}"))?),
        Some(other) => return Err(format!("`cost_usd` must be a decimal, got {other}")),
    };
    let latency_ms = obj.get("latency_ms").map_or(Ok(0), |v| count(v, "latency_ms"))?;
    let failed = match obj.get("status").and_then(Value::as_str) {
        None | Some("ok") => false,
        Some("error") => true,
        Some(s) => return Err(format!("`status` must be \"ok\" or \"error\", got {s:?}")),
    };
    let facts = Facts {
        user: text(obj.get("user")).or(subject),
        use_case: text(obj.get("use_case")),
        project: text(obj.get("project")),
        task: text(obj.get("task")),
        template: text(obj.get("template")),
        ..Facts::default()
    };
    Ok(Record {
        line,
        format: Format::Jsonl,
        source,
        id,
        ts,
        model,
        provider: text(obj.get("provider")),
        usage,
        reported_cost,
        latency_ms: u32::try_from(latency_ms).unwrap_or(u32::MAX),
        failed,
        facts,
    })
}

fn usage(v: &Value) -> Result<TokenUsage, String> {
    let Some(u) = v.as_object() else { return Err("`usage` must be an object of token counts".into()) };
    if let Some(k) = u.keys().find(|k| !USAGE_FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field `usage.{k}` (fields: {})", USAGE_FIELDS.join(", ")));
    }
    let usage = TokenUsage {
        input: count_at(v, "input_tokens")?,
        output: count_at(v, "output_tokens")?,
        cached_read: count_at(v, "cache_read_tokens")?,
        cache_write: count_at(v, "cache_write_tokens")?,
        reasoning: count_at(v, "reasoning_tokens")?,
    };
    check(&usage)?;
    Ok(usage)
}

/// The subsets must fit in their totals: `input_tokens` includes the cache
/// tokens and `output_tokens` the reasoning tokens.
pub(crate) fn check(u: &TokenUsage) -> Result<(), String> {
    if u.cached_read.saturating_add(u.cache_write) > u.input {
        return Err(format!(
            "cache tokens ({} read + {} written) exceed input_tokens ({}): input_tokens must include cached tokens",
            u.cached_read, u.cache_write, u.input
        ));
    }
    if u.reasoning > u.output {
        return Err(format!(
            "reasoning_tokens ({}) exceed output_tokens ({}): output_tokens must include reasoning tokens",
            u.reasoning, u.output
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{Format, parse};

    const EVENT: &str = r#"{"id":"e1","source":"bot","time":"2026-11-03T10:00:00Z","user":"ben.carter","use_case":"code-review","model":"gpt-4.1","usage":{"input_tokens":1200,"output_tokens":300,"cache_read_tokens":200},"cost_usd":"0.01"}"#;

    #[test]
    fn an_event_and_a_cloud_event_read_alike() {
        let ce = r#"{"specversion":"1.0","id":"e1","source":"bot","type":"ai.usage","time":"2026-11-03T10:00:00Z","subject":"ben.carter","data":{"use_case":"code-review","model":"gpt-4.1","usage":{"input_tokens":1200,"output_tokens":300,"cache_read_tokens":200},"cost_usd":"0.01"}}"#;
        let p = parse(Format::Jsonl, format!("{EVENT}\n\n{ce}\n").as_bytes(), 0);
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        assert_eq!(p.records.len(), 2);
        let (a, b) = (&p.records[0], &p.records[1]);
        assert_eq!((a.line, b.line), (1, 3));
        assert_eq!(a.facts.user.as_deref(), Some("ben.carter"));
        assert_eq!((a.usage, a.reported_cost), (b.usage, b.reported_cost));
        assert_eq!(a.facts, b.facts);
        assert_eq!(a.ledger_id(), b.ledger_id(), "same id and source: the same event");
        assert_eq!(a.usage.uncached_input(), 1000);
    }

    #[test]
    fn bad_lines_are_rejected_with_their_line_and_reason() {
        let input = format!(
            "{EVENT}\nnot json\n{}\n{}\n{}\n",
            EVENT.replace("\"user\"", "\"usr\""),
            EVENT.replace("\"cache_read_tokens\":200", "\"cache_read_tokens\":2000"),
            r#"{"specversion":"0.3","id":"x","source":"s","type":"t","data":{}}"#
        );
        let p = parse(Format::Jsonl, input.as_bytes(), 10);
        assert_eq!(p.records.len(), 1);
        let lines: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![12, 13, 14, 15]);
        assert!(p.rejected[0].reason.contains("not JSON"));
        assert!(p.rejected[1].reason.contains("unknown field `usr`"));
        assert!(p.rejected[2].reason.contains("must include cached tokens"));
        assert!(p.rejected[3].reason.contains("specversion"));
        assert_eq!(p.rejected[1].id.as_deref(), Some("e1"));
    }

    #[test]
    fn an_array_is_numbered_by_position() {
        let p = parse(Format::Jsonl, format!("[{EVENT}, 3]").as_bytes(), 0);
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.rejected[0].line, 2);
    }
}
