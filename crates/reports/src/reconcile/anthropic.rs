//! Anthropic's usage report (`uncached_input_tokens`,
//! `cache_read_input_tokens`, `cache_creation.ephemeral_5m_input_tokens`
//! and `…_1h_…`, `output_tokens`, per `model` when grouped by model) and
//! cost report (`amount` in cents as a decimal string, with `model` and
//! `token_type` when grouped by description), in daily buckets
//! (`starting_at`). Accepted: one page, a list of pages, or
//! `{"usage": …, "cost": …}`.

use super::{ANY_MODEL, Export, ProviderLine};
use crate::ReportError;
use crate::decimal::parse_amount;
use crate::kinds::TokenKind;
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value;

pub fn read(text: &str) -> Result<Export, ReportError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| ReportError::new(format!("the Anthropic export is not JSON: {e}")))?;
    let mut export = Export::default();
    for bucket in buckets(&doc, &["usage", "cost", "costs"])? {
        let start = bucket
            .get("starting_at")
            .and_then(Value::as_str)
            .ok_or_else(|| ReportError::new("an Anthropic bucket has no `starting_at`"))?;
        let day = day_of(start)?;
        let results = bucket.get("results").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for r in results {
            if r.get("amount").is_some() {
                cost(r, day, &mut export)?;
            } else if r.get("uncached_input_tokens").is_some() || r.get("output_tokens").is_some() {
                usage(r, day, &mut export);
            } else {
                export.skipped += 1;
            }
        }
    }
    Ok(export)
}

/// The time buckets of a page (`{"data": [...]}`), of a list of pages, or
/// of the pages under `parts` of an object.
pub(super) fn buckets<'a>(doc: &'a Value, parts: &[&str]) -> Result<Vec<&'a Value>, ReportError> {
    fn of_page<'a>(page: &'a Value, out: &mut Vec<&'a Value>) -> bool {
        match page {
            Value::Array(pages) => pages.iter().all(|p| of_page(p, out)),
            Value::Object(o) => match o.get("data").and_then(Value::as_array) {
                Some(data) => {
                    out.extend(data.iter());
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
    let mut out = Vec::new();
    let named: Vec<&Value> = parts.iter().filter_map(|p| doc.get(*p)).collect();
    let ok = if named.is_empty() { of_page(doc, &mut out) } else { named.into_iter().all(|p| of_page(p, &mut out)) };
    if !ok {
        return Err(ReportError::new(format!(
            "expected a page of the provider's report ({{\"data\": [buckets]}}), a list of pages, or an object with {}",
            parts.join(" / ")
        )));
    }
    Ok(out)
}

fn day_of(text: &str) -> Result<Date, ReportError> {
    let t: Timestamp = text.parse().map_err(|e| ReportError::new(format!("`{text}` is not an RFC 3339 time: {e}")))?;
    Ok(t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
}

fn count(r: &Value, path: &[&str]) -> u64 {
    path.iter().try_fold(r, |v, k| v.get(*k)).and_then(Value::as_u64).unwrap_or(0)
}

fn usage(r: &Value, day: Date, export: &mut Export) {
    let model = r.get("model").and_then(Value::as_str).unwrap_or(ANY_MODEL).to_string();
    let writes = count(r, &["cache_creation", "ephemeral_5m_input_tokens"])
        + count(r, &["cache_creation", "ephemeral_1h_input_tokens"]);
    for (kind, n) in [
        (TokenKind::Input, count(r, &["uncached_input_tokens"])),
        (TokenKind::CachedInput, count(r, &["cache_read_input_tokens"])),
        (TokenKind::CacheWrite, writes),
        (TokenKind::Output, count(r, &["output_tokens"])),
    ] {
        export.lines.push(ProviderLine { day, model: model.clone(), kind: Some(kind), tokens: Some(n), cost: None });
    }
}

fn cost(r: &Value, day: Date, export: &mut Export) -> Result<(), ReportError> {
    let currency = r.get("currency").and_then(Value::as_str).unwrap_or("USD");
    if !currency.eq_ignore_ascii_case("usd") {
        return Err(ReportError::new(format!("an Anthropic cost is in `{currency}`; the ledger is in USD")));
    }
    let amount = match &r["amount"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(ReportError::new("an Anthropic cost has no `amount`")),
    };
    // Cents, as a decimal string: "123.45" is $1.2345.
    let cost = parse_amount(&amount, 2)?;
    let kind = match r.get("token_type").and_then(Value::as_str) {
        Some("uncached_input_tokens") => Some(TokenKind::Input),
        Some("cache_read_input_tokens") => Some(TokenKind::CachedInput),
        Some(t) if t.starts_with("cache_creation") => Some(TokenKind::CacheWrite),
        Some("output_tokens") => Some(TokenKind::Output),
        _ => None,
    };
    let model = match (r.get("model").and_then(Value::as_str), r.get("cost_type").and_then(Value::as_str)) {
        (Some(m), _) => m.to_string(),
        // Web search, code execution: spend on no model the ledger meters.
        (None, Some(other)) if other != "tokens" => format!("({other})"),
        _ => ANY_MODEL.to_string(),
    };
    export.lines.push(ProviderLine { day, model, kind, tokens: None, cost: Some(cost) });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_cost_reports_read_kind_by_kind() {
        let usage = r#"{"data": [{"starting_at": "2026-11-07T00:00:00Z", "ending_at": "2026-11-08T00:00:00Z",
            "results": [{"uncached_input_tokens": 100, "cache_read_input_tokens": 900,
              "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 20},
              "output_tokens": 40, "server_tool_use": {"web_search_requests": 0}, "model": "claude-haiku-4-5-20251001",
              "service_tier": "standard", "context_window": "0-200k"}]}], "has_more": false, "next_page": null}"#;
        let cost = r#"{"data": [{"starting_at": "2026-11-07T00:00:00Z", "ending_at": "2026-11-08T00:00:00Z",
            "results": [{"currency": "USD", "amount": "123.45", "model": "claude-haiku-4-5-20251001",
              "token_type": "cache_creation.ephemeral_5m_input_tokens", "cost_type": "tokens"},
              {"currency": "USD", "amount": "10", "model": null, "token_type": null, "cost_type": "web_search"}]}]}"#;
        let both = format!(r#"{{"usage": {usage}, "cost": [{cost}]}}"#);
        let e = read(&both).unwrap();
        assert_eq!(e.lines.len(), 6);
        assert_eq!((e.lines[1].kind, e.lines[1].tokens), (Some(TokenKind::CachedInput), Some(900)));
        assert_eq!((e.lines[2].kind, e.lines[2].tokens), (Some(TokenKind::CacheWrite), Some(50)));
        assert_eq!(e.lines[4].cost, Some(tokenwise_core::Nanos(1_234_500_000)));
        assert_eq!(e.lines[4].kind, Some(TokenKind::CacheWrite));
        assert_eq!(e.lines[5].model, "(web_search)");
        assert_eq!(read(usage).unwrap().lines.len(), 4);
        assert!(read(r#"{"nothing": 1}"#).is_err());
    }
}
