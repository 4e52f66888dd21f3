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

/// The bare event as typed fields, its strings borrowed from the line:
/// what [`quick`] reads. Any other shape (a CloudEvent, an unknown field,
/// an escaped string, a count written as a string) fails to deserialize
/// and goes to [`record`].
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Event<'a> {
    #[serde(borrow)]
    id: Option<&'a str>,
    #[serde(borrow)]
    source: Option<&'a str>,
    #[serde(borrow)]
    time: Option<&'a str>,
    #[serde(borrow)]
    user: Option<&'a str>,
    #[serde(borrow)]
    use_case: Option<&'a str>,
    #[serde(borrow)]
    project: Option<&'a str>,
    #[serde(borrow)]
    task: Option<&'a str>,
    #[serde(borrow)]
    template: Option<&'a str>,
    #[serde(borrow)]
    model: Option<&'a str>,
    #[serde(borrow)]
    provider: Option<&'a str>,
    usage: Option<Usage>,
    #[serde(borrow)]
    cost_usd: Option<&'a str>,
    latency_ms: Option<u64>,
    #[serde(borrow)]
    status: Option<&'a str>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Usage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_tokens: Option<u64>,
    cache_write_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

/// Text as [`text`] reads a string: trimmed, and none when blank.
fn trimmed(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A bare event read straight into its record, skipping the JSON tree
/// [`record`] walks: the same record `record` makes of the line, or
/// `None` when the line is not a plain valid event (then `record` reads
/// it, or says why it cannot).
pub fn quick(line: &[u8], n: u64) -> Option<Record> {
    let e: Event<'_> = serde_json::from_slice(line).ok()?;
    let id = trimmed(e.id)?;
    let ts = crate::read::time_of(e.time?, "time").ok()?;
    let model = trimmed(e.model)?;
    let u = e.usage?;
    let usage = TokenUsage {
        input: u.input_tokens.unwrap_or(0),
        output: u.output_tokens.unwrap_or(0),
        cached_read: u.cache_read_tokens.unwrap_or(0),
        cache_write: u.cache_write_tokens.unwrap_or(0),
        reasoning: u.reasoning_tokens.unwrap_or(0),
    };
    check(&usage).ok()?;
    let reported_cost = match e.cost_usd {
        None => None,
        Some(s) => Some(Nanos::parse_usd(s).ok()?),
    };
    let failed = match e.status {
        None | Some("ok") => false,
        Some("error") => true,
        Some(_) => return None,
    };
    Some(Record {
        line: n,
        format: Format::Jsonl,
        source: trimmed(e.source).unwrap_or_else(|| DEFAULT_SOURCE.to_string()),
        id,
        ts,
        model,
        provider: trimmed(e.provider),
        usage,
        reported_cost,
        latency_ms: u32::try_from(e.latency_ms.unwrap_or(0)).unwrap_or(u32::MAX),
        failed,
        facts: Facts {
            user: trimmed(e.user),
            use_case: trimmed(e.use_case),
            project: trimmed(e.project),
            task: trimmed(e.task),
            template: trimmed(e.template),
            ..Facts::default()
        },
    })
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

    /// The quick reading is only a shortcut: on every line it reads, it
    /// makes the record the JSON-tree reading makes; on every other line
    /// it declines and the tree reading decides (a record or a reason).
    #[test]
    fn the_quick_reading_agrees_with_the_tree_reading() {
        let variants = [
            EVENT.to_string(),
            r#"{"id":"b-1","source":"acme/bench","time":"2026-11-01T00:00:00Z","user":"ivan.petrov","use_case":"support-reply","model":"gpt-4.1-mini","usage":{"input_tokens":12,"cache_read_tokens":4,"output_tokens":3},"task":"T-0"}"#.into(),
            EVENT.replace("\"source\":\"bot\",", ""),
            EVENT.replace("\"bot\"", "\"  \""),
            EVENT.replace("\"bot\"", "\" bot \""),
            EVENT.replace("\"e1\"", "\" e1 \""),
            EVENT.replace("\"e1\"", "\"  \""),
            EVENT.replace("\"e1\"", "17"),
            EVENT.replace("\"e1\"", "null"),
            EVENT.replace("\"e1\"", "\"e\\u0031\""),
            EVENT.replace("\"ben.carter\"", "null"),
            EVENT.replace("\"ben.carter\"", "\"\""),
            EVENT.replace("\"ben.carter\"", "7"),
            EVENT.replace("\"ben.carter\"", "true"),
            EVENT.replace("\"gpt-4.1\"", "\" \""),
            EVENT.replace("\"2026-11-03T10:00:00Z\"", "\"2026-11-03 10:00:00.000\""),
            EVENT.replace("\"2026-11-03T10:00:00Z\"", "\"yesterday\""),
            EVENT.replace("\"2026-11-03T10:00:00Z\"", "null"),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"cost_usd\":0.01"),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"cost_usd\":null"),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"cost_usd\":\"lots\""),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"latency_ms\":250,\"status\":\"error\",\"provider\":\"openai\""),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"latency_ms\":null,\"status\":null"),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"latency_ms\":\"250\""),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"latency_ms\":99999999999"),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"status\":\"fine\""),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"status\":5"),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"project\":\"p\",\"task\":\"t\",\"template\":\"x@1\""),
            EVENT.replace("\"cost_usd\":\"0.01\"", "\"user\":\"other\""),
            EVENT.replace("1200", "\"1200\""),
            EVENT.replace("1200", "1200.0"),
            EVENT.replace("1200", "-1"),
            EVENT.replace("1200", "null"),
            EVENT.replace("1200", "100"),
            EVENT.replace(",\"cache_read_tokens\":200", ",\"reasoning_tokens\":301"),
            EVENT.replace(",\"cache_read_tokens\":200", ",\"cache_write_tokens\":5,\"reasoning_tokens\":3"),
            EVENT.replace(",\"cache_read_tokens\":200", ",\"cached\":3"),
            EVENT.replace("{\"input_tokens\":1200,\"output_tokens\":300,\"cache_read_tokens\":200}", "null"),
            EVENT.replace("{\"input_tokens\":1200,\"output_tokens\":300,\"cache_read_tokens\":200}", "{}"),
            EVENT.replace("\"user\"", "\"usr\""),
            format!("  {EVENT}\r"),
            format!("{EVENT} 1"),
            r#"{"specversion":"1.0","id":"e1","source":"bot","type":"t","time":"2026-11-03T10:00:00Z","data":{"model":"m","usage":{}}}"#.into(),
            "[]".into(),
            "7".into(),
        ];
        let mut quick_read = 0;
        for (i, line) in variants.iter().enumerate() {
            let tree = match serde_json::from_str::<serde_json::Value>(line) {
                Ok(v) => super::record(&v, 9),
                Err(_) => Err(crate::Rejection::new(9, None, "not JSON")),
            };
            match super::quick(line.as_bytes(), 9) {
                Some(r) => {
                    quick_read += 1;
                    assert_eq!(tree, Ok(Some(r)), "variant {i}: {line}");
                }
                None => assert!(!matches!(&tree, Ok(Some(r)) if r.id == "e1" && i < 2), "variant {i}"),
            }
        }
        assert!(quick_read >= 15, "the common lines are read quickly ({quick_read})");
    }

    #[test]
    fn an_array_is_numbered_by_position() {
        let p = parse(Format::Jsonl, format!("[{EVENT}, 3]").as_bytes(), 0);
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.rejected[0].line, 2);
    }
}
