//! Rows of LiteLLM's spend log (`LiteLLM_SpendLogs`), as its API and UI
//! export them: JSON lines or one JSON array. What is read:
//! `request_id` (the id; the source is `litellm`), `startTime`/`endTime`,
//! `model` (else `model_group`), `custom_llm_provider`, `prompt_tokens`
//! and `completion_tokens` (OpenAI's convention: cached and reasoning
//! tokens included), the cache and reasoning counts from
//! `metadata.usage_object` (or `metadata.additional_usage_values`),
//! `spend` (a hint only), `user`, `team_id`, the key's and team's aliases
//! from `metadata`, `end_user`, `request_tags` (`use_case:ID`,
//! `project:ID`, `task:ID`, `template:ID@V` name those) and the status.
//! `metadata` and `request_tags` may be JSON text, as database dumps keep them.
//! A row answered from LiteLLM's own cache (`cache_hit`) reached no provider
//! and a row with no tokens carries no usage: both are skipped, not errors.

use crate::read::{count, text, time};
use crate::{Facts, Format, Record, Rejection};
use serde_json::Value;
use std::borrow::Cow;
use tokenwise_core::{Nanos, TokenUsage};

/// The source every LiteLLM row is deduplicated under (with its request id).
pub const SOURCE: &str = "litellm";

/// A JSON value that may have been exported as JSON text.
fn embedded(v: Option<&Value>) -> Option<Cow<'_, Value>> {
    match v? {
        Value::String(s) => serde_json::from_str::<Value>(s).ok().map(Cow::Owned),
        Value::Null => None,
        other => Some(Cow::Borrowed(other)),
    }
}

/// The first count found at these paths (each a list of keys), or 0.
fn first_count(root: Option<&Value>, paths: &[&[&str]]) -> Result<u64, String> {
    let Some(root) = root else { return Ok(0) };
    for path in paths {
        let found = path.iter().try_fold(root, |v, k| v.get(k));
        if let Some(v) = found.filter(|v| !v.is_null()) {
            return count(v, path.last().copied().unwrap_or_default());
        }
    }
    Ok(0)
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// One spend-log row.
pub fn record(v: &Value, line: u64) -> Result<Option<Record>, Rejection> {
    let Some(row) = v.as_object() else {
        return Err(Rejection::new(line, None, "expected a JSON object (a LiteLLM spend-log row)"));
    };
    let id = text(row.get("request_id"));
    let fail = |reason: String| Rejection::new(line, id.clone(), reason);
    let Some(request_id) = id.clone() else {
        return Err(fail("`request_id` is missing".into()));
    };
    if truthy(row.get("cache_hit")) {
        return Ok(None);
    }
    let metadata = embedded(row.get("metadata"));
    let meta = metadata.as_deref();
    let usage = usage(v, meta).map_err(fail)?;
    if usage.total() == 0 {
        return Ok(None);
    }
    let ts = time(row.get("startTime"), "startTime").map_err(fail)?;
    let end = time(row.get("endTime"), "endTime").ok();
    let model = text(row.get("model"))
        .or_else(|| text(row.get("model_group")))
        .ok_or_else(|| fail("`model` is missing".into()))?;
    let reported_cost = row.get("spend").and_then(Value::as_f64).and_then(|f| Nanos::from_usd_f64(f).ok());
    let status = text(row.get("status")).or_else(|| text(meta.and_then(|m| m.get("status"))));
    let failed = status.is_some_and(|s| s.eq_ignore_ascii_case("failure"));
    Ok(Some(Record {
        line,
        format: Format::Litellm,
        source: SOURCE.to_string(),
        id: request_id,
        ts,
        model,
        provider: text(row.get("custom_llm_provider")),
        usage,
        reported_cost,
        latency_ms: crate::read::millis(ts, end),
        failed,
        facts: facts(v, meta),
    }))
}

/// Tokens in the ledger's convention. LiteLLM reports OpenAI's way (cached
/// inside `prompt_tokens`); a row whose cache counts exceed its prompt
/// tokens was reported Anthropic's way, and gets them added in.
fn usage(row: &Value, meta: Option<&Value>) -> Result<TokenUsage, String> {
    let input = row.get("prompt_tokens").map_or(Ok(0), |v| count(v, "prompt_tokens"))?;
    let output = row.get("completion_tokens").map_or(Ok(0), |v| count(v, "completion_tokens"))?;
    let usage_object = meta.and_then(|m| embedded(m.get("usage_object")));
    let extra = meta.and_then(|m| m.get("additional_usage_values"));
    let u = usage_object.as_deref();
    let cached_read =
        match first_count(u, &[&["prompt_tokens_details", "cached_tokens"], &["cache_read_input_tokens"]])? {
            0 => first_count(extra, &[&["cache_read_input_tokens"]])?,
            n => n,
        };
    let cache_write = match first_count(u, &[&["cache_creation_input_tokens"]])? {
        0 => first_count(extra, &[&["cache_creation_input_tokens"]])?,
        n => n,
    };
    let reasoning = first_count(u, &[&["completion_tokens_details", "reasoning_tokens"]])?;
    let cache = cached_read.saturating_add(cache_write);
    Ok(TokenUsage {
        input: if cache > input { input.saturating_add(cache) } else { input },
        output: output.max(reasoning),
        cached_read,
        cache_write,
        reasoning,
    })
}

/// Who and what for: the row's user (else the key owner's id or e-mail),
/// the team id (its alias as `team_alias`), the key alias, `end_user`, and
/// request tags (`use_case:`, `project:`, `task:`, `template:` prefixes name
/// those; every tag is also an attribute `tag`).
fn facts(row: &Value, meta: Option<&Value>) -> Facts {
    let m = |k: &str| text(meta.and_then(|m| m.get(k)));
    let mut f = Facts {
        user: text(row.get("user")).or_else(|| m("user_api_key_user_id")).or_else(|| m("user_api_key_user_email")),
        team: text(row.get("team_id")).or_else(|| m("user_api_key_team_id")),
        key_alias: m("user_api_key_alias"),
        ..Facts::default()
    };
    if let Some(alias) = m("user_api_key_team_alias") {
        f.attributes.push(("team_alias".into(), alias));
    }
    if let Some(end_user) = text(row.get("end_user")) {
        f.attributes.push(("end_user".into(), end_user));
    }
    if let Some(group) = text(row.get("model_group")) {
        f.attributes.push(("model_group".into(), group));
    }
    let tags = embedded(row.get("request_tags"));
    for tag in tags.as_deref().and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        let slot = match tag.split_once(':') {
            Some(("use_case", v)) => Some((&mut f.use_case, v)),
            Some(("project", v)) => Some((&mut f.project, v)),
            Some(("task", v)) => Some((&mut f.task, v)),
            Some(("template", v)) => Some((&mut f.template, v)),
            _ => None,
        };
        if let Some((field, value)) = slot {
            field.get_or_insert_with(|| value.trim().to_string());
        }
        f.attributes.push(("tag".into(), tag.to_string()));
    }
    f
}

#[cfg(test)]
mod tests {
    use crate::{Format, parse};
    use serde_json::json;

    fn row() -> serde_json::Value {
        json!({
            "request_id": "chatcmpl-1", "call_type": "acompletion", "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "spend": 0.00135, "total_tokens": 1500, "prompt_tokens": 1200, "completion_tokens": 300,
            "startTime": "2026-11-03T10:00:00.000Z", "endTime": "2026-11-03T10:00:01.250Z",
            "model": "gpt-4.1", "model_group": "gpt-4.1", "custom_llm_provider": "openai",
            "user": "ben.carter", "team_id": "team-42", "end_user": "",
            "metadata": {"user_api_key_alias": "ci-bot", "user_api_key_team_alias": "platform",
                         "usage_object": {"prompt_tokens": 1200, "completion_tokens": 300,
                                          "prompt_tokens_details": {"cached_tokens": 200},
                                          "completion_tokens_details": {"reasoning_tokens": 50}},
                         "status": "success"},
            "request_tags": ["use_case:code-review", "nightly"], "cache_hit": "False"
        })
    }

    #[test]
    fn a_row_reads_with_cache_and_reasoning_tokens() {
        let p = parse(Format::Litellm, row().to_string().as_bytes(), 0);
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        let r = &p.records[0];
        assert_eq!((r.usage.input, r.usage.cached_read, r.usage.output, r.usage.reasoning), (1200, 200, 300, 50));
        assert_eq!(r.latency_ms, 1250);
        assert_eq!(r.facts.user.as_deref(), Some("ben.carter"));
        assert_eq!(r.facts.team.as_deref(), Some("team-42"));
        assert_eq!(r.facts.key_alias.as_deref(), Some("ci-bot"));
        assert_eq!(r.facts.use_case.as_deref(), Some("code-review"));
        assert_eq!(r.facts.attribute("team_alias"), Some("platform"));
        assert_eq!(r.reported_cost, Some(tokenwise_core::Nanos(1_350_000)));
        assert!(!r.failed);
    }

    #[test]
    fn a_database_dump_keeps_json_as_text_and_times_without_zone() {
        let mut v = row();
        v["metadata"] = json!(v["metadata"].to_string());
        v["request_tags"] = json!(v["request_tags"].to_string());
        v["startTime"] = json!("2026-11-03 10:00:00.000");
        let p = parse(Format::Litellm, format!("[{v}]").as_bytes(), 0);
        let r = &p.records[0];
        assert_eq!((r.usage.cached_read, r.facts.use_case.as_deref()), (200, Some("code-review")));
        assert_eq!(r.ts.to_string(), "2026-11-03T10:00:00Z");
    }

    #[test]
    fn anthropic_style_rows_get_their_cache_tokens_added_in() {
        let mut v = row();
        v["prompt_tokens"] = json!(100);
        v["metadata"]["usage_object"] = json!({"cache_read_input_tokens": 1000, "cache_creation_input_tokens": 500});
        let r = &parse(Format::Litellm, v.to_string().as_bytes(), 0).records[0];
        assert_eq!((r.usage.input, r.usage.uncached_input()), (1600, 100));
    }

    #[test]
    fn cache_hits_and_empty_rows_are_skipped_and_bad_rows_rejected() {
        let mut hit = row();
        hit["cache_hit"] = json!("True");
        let mut empty = row();
        empty["prompt_tokens"] = json!(0);
        empty["completion_tokens"] = json!(0);
        empty["metadata"] = json!({});
        let mut bad = row();
        bad["startTime"] = json!("soon");
        let p = parse(Format::Litellm, format!("{hit}\n{empty}\n{bad}\n").as_bytes(), 0);
        assert_eq!((p.records.len(), p.ignored), (0, 2));
        assert_eq!(p.rejected[0].line, 3);
        assert!(p.rejected[0].reason.contains("startTime"));
    }
}
