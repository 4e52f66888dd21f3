//! OpenAI's organization usage and costs. Usage buckets hold results with
//! `input_tokens` (cached included), `input_cached_tokens`,
//! `output_tokens` and, grouped by model, `model`; cost buckets hold
//! `amount.value` in dollars and, grouped by line item, `line_item`
//! (`"gpt-4.1-mini-2025-04-14, cached input"`). Accepted: one page, a list
//! of pages, or `{"usage": …, "costs": …}` with a page or a list each.

use super::{ANY_MODEL, Export, ProviderLine};
use crate::ReportError;
use crate::decimal::parse_amount;
use crate::kinds::TokenKind;
use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::Value;

pub fn read(text: &str) -> Result<Export, ReportError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| ReportError::new(format!("the OpenAI export is not JSON: {e}")))?;
    let mut export = Export::default();
    for bucket in super::anthropic::buckets(&doc, &["usage", "costs"])? {
        let day = day_of(bucket)?;
        let results = bucket.get("results").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        for r in results {
            if r.get("amount").is_some() {
                cost(r, day, &mut export)?;
            } else if r.get("input_tokens").is_some() || r.get("output_tokens").is_some() {
                usage(r, day, &mut export);
            } else {
                export.skipped += 1;
            }
        }
    }
    Ok(export)
}

fn day_of(bucket: &Value) -> Result<Date, ReportError> {
    let secs = bucket
        .get("start_time")
        .and_then(Value::as_i64)
        .ok_or_else(|| ReportError::new("an OpenAI bucket has no `start_time` (seconds since the epoch)"))?;
    let t = Timestamp::from_second(secs).map_err(|e| ReportError::new(format!("start_time {secs}: {e}")))?;
    Ok(t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
}

fn count(r: &Value, field: &str) -> u64 {
    r.get(field).and_then(Value::as_u64).unwrap_or(0)
}

fn usage(r: &Value, day: Date, export: &mut Export) {
    let model = r.get("model").and_then(Value::as_str).unwrap_or(ANY_MODEL).to_string();
    let input = count(r, "input_tokens");
    let cached = count(r, "input_cached_tokens").min(input);
    for (kind, n) in [
        (TokenKind::Input, input - cached),
        (TokenKind::CachedInput, cached),
        (TokenKind::Output, count(r, "output_tokens")),
    ] {
        export.lines.push(ProviderLine { day, model: model.clone(), kind: Some(kind), tokens: Some(n), cost: None });
    }
}

fn cost(r: &Value, day: Date, export: &mut Export) -> Result<(), ReportError> {
    let amount = &r["amount"];
    let currency = amount.get("currency").and_then(Value::as_str).unwrap_or("usd");
    if !currency.eq_ignore_ascii_case("usd") {
        return Err(ReportError::new(format!("an OpenAI cost is in `{currency}`; the ledger is in USD")));
    }
    let value = match amount.get("value") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return Err(ReportError::new("an OpenAI cost has no `amount.value`")),
    };
    let cost = parse_amount(&value, 0)?;
    let (model, kind) = match r.get("line_item").and_then(Value::as_str) {
        Some(item) => line_item(item),
        None => (ANY_MODEL.to_string(), None),
    };
    export.lines.push(ProviderLine { day, model, kind, tokens: None, cost: Some(cost) });
    Ok(())
}

/// `"MODEL, KIND"` → the model and the kind of tokens it names, if any.
fn line_item(item: &str) -> (String, Option<TokenKind>) {
    let Some((model, what)) = item.rsplit_once(',') else { return (item.trim().to_string(), None) };
    let what = what.trim().to_ascii_lowercase();
    let kind = if what.contains("cached") {
        Some(TokenKind::CachedInput)
    } else if what.contains("input") {
        Some(TokenKind::Input)
    } else if what.contains("output") {
        Some(TokenKind::Output)
    } else {
        None
    };
    (model.trim().to_string(), kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_costs_read_kind_by_kind() {
        let text = r#"{
          "usage": {"object": "page", "data": [{"object": "bucket", "start_time": 1794009600, "end_time": 1794096000,
            "results": [{"object": "organization.usage.completions.result", "input_tokens": 1000,
              "input_cached_tokens": 600, "output_tokens": 50, "num_model_requests": 3, "model": "gpt-4.1-mini-2025-04-14"}]}]},
          "costs": {"object": "page", "data": [{"object": "bucket", "start_time": 1794009600, "end_time": 1794096000,
            "results": [{"object": "organization.costs.result", "amount": {"value": 0.0001234567891, "currency": "usd"},
              "line_item": "gpt-4.1-mini-2025-04-14, cached input", "project_id": null},
              {"object": "organization.costs.result", "amount": {"value": 1.5, "currency": "usd"}, "line_item": null}]}]}
        }"#;
        let e = read(text).unwrap();
        assert_eq!(e.lines.len(), 5);
        assert_eq!(e.lines[0].day.to_string(), "2026-11-07");
        assert_eq!((e.lines[0].kind, e.lines[0].tokens), (Some(TokenKind::Input), Some(400)));
        assert_eq!((e.lines[1].kind, e.lines[1].tokens), (Some(TokenKind::CachedInput), Some(600)));
        assert_eq!(e.lines[3].model, "gpt-4.1-mini-2025-04-14");
        assert_eq!(
            (e.lines[3].kind, e.lines[3].cost),
            (Some(TokenKind::CachedInput), Some(tokenwise_core::Nanos(123_457)))
        );
        assert_eq!(e.lines[4].model, ANY_MODEL);
        assert!(read("[1").is_err());
    }
}
