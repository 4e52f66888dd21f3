use super::*;
use crate::chargeback::tests::line;
use crate::focus;
use tokenwise_core::{PricePerMtok, Rates, TokenUsage};

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

fn rates() -> BTreeMap<String, Rates> {
    let r = Rates::with_defaults(
        PricePerMtok(400_000_000),
        PricePerMtok(1_600_000_000),
        Some(PricePerMtok(100_000_000)),
        None,
        None,
    );
    BTreeMap::from([("gpt-4.1-mini@v1".to_string(), r), ("claude-haiku-4-5@v1".to_string(), r)])
}

/// Three days of two models in the ledger.
fn ledger() -> (Vec<crate::UsageLine>, Vec<Date>) {
    let days = vec![d("2026-11-06"), d("2026-11-07"), d("2026-11-08")];
    let mut lines = Vec::new();
    for b in 0..3 {
        for (model, cost) in [("gpt-4.1-mini", 1_000_000), ("claude-haiku-4-5", 2_500_000)] {
            let mut l = line(b, "support", None, "reply", model, cost + b as i64);
            l.price_version = format!("{model}@v1");
            l.usage = TokenUsage {
                input: 10_000 + b as u64,
                output: 700,
                cached_read: 6_000,
                cache_write: 0,
                reasoning: 100,
            };
            lines.push(l);
        }
    }
    (lines, days)
}

/// What the provider would report for these lines: the same tokens by kind.
fn openai_export(lines: &[LedgerLine], extra_cached: u64) -> String {
    let mut buckets = Vec::new();
    for day in ["2026-11-06", "2026-11-07", "2026-11-08"] {
        let of = |k: TokenKind| -> u64 {
            lines
                .iter()
                .filter(|l| l.day == d(day) && l.model == "gpt-4.1-mini-2025-04-14" && l.kind.as_reported() == k)
                .map(|l| l.tokens)
                .sum()
        };
        let planted = if day == "2026-11-07" { extra_cached } else { 0 };
        let cached = of(TokenKind::CachedInput) + planted;
        let start = d(day).to_zoned_datetime(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_second();
        buckets.push(
            serde_json::json!({"object": "bucket", "start_time": start, "end_time": start + 86_400, "results": [{
            "object": "organization.usage.completions.result", "model": "gpt-4.1-mini-2025-04-14",
            "input_tokens": of(TokenKind::Input) + cached, "input_cached_tokens": cached,
            "output_tokens": of(TokenKind::Output), "num_model_requests": 1}]}),
        );
    }
    serde_json::json!({"object": "page", "data": buckets}).to_string()
}

fn provider_name(m: &str) -> String {
    if m == "gpt-4.1-mini" { "gpt-4.1-mini-2025-04-14".into() } else { m.into() }
}

#[test]
fn a_planted_drift_in_cached_tokens_is_found_exactly_there() {
    let (lines, days) = ledger();
    let mut ledger = ledger_lines(&lines, &days, &rates(), &provider_name);
    ledger.retain(|l| l.model.starts_with("gpt"));
    let export = read(Format::OpenAi, &openai_export(&ledger, 5_000)).unwrap();
    let r = reconcile(Format::OpenAi, &export, &ledger, d("2026-11-06"), d("2026-11-09"), 1.0);
    assert!(!r.reconciled);
    assert_eq!(r.flagged_days, vec!["2026-11-07"]);
    let flagged: Vec<&DriftLine> = r.lines.iter().filter(|l| l.flagged).collect();
    assert_eq!(flagged.len(), 1, "{:#?}", r.lines);
    assert_eq!((flagged[0].model.as_str(), flagged[0].kind.as_str()), ("gpt-4.1-mini-2025-04-14", "cached_input"));
    assert_eq!(
        (flagged[0].ledger_tokens, flagged[0].provider_tokens, flagged[0].token_drift),
        (6_000, Some(11_000), 5_000)
    );
    // Summed over kinds the day would look off by 5,000 of ~17,000 tokens; kind by kind, only cached input is.
    assert_eq!(r.days[1].token_drift.get(&TokenKind::Input), None);
}

#[test]
fn a_matching_export_reports_no_drift() {
    let (lines, days) = ledger();
    let mut ledger = ledger_lines(&lines, &days, &rates(), &provider_name);
    ledger.retain(|l| l.model.starts_with("gpt"));
    let export = read(Format::OpenAi, &openai_export(&ledger, 0)).unwrap();
    let r = reconcile(Format::OpenAi, &export, &ledger, d("2026-11-06"), d("2026-11-09"), 1.0);
    assert!(r.reconciled, "{:#?}", r.lines);
    assert!(r.lines.is_empty());
    assert!(r.unknown_models.is_empty());
    // A small drift within tolerance is listed but not flagged.
    let export = read(Format::OpenAi, &openai_export(&ledger, 10)).unwrap();
    let r = reconcile(Format::OpenAi, &export, &ledger, d("2026-11-06"), d("2026-11-09"), 1.0);
    assert!(r.reconciled);
    assert_eq!(r.lines.len(), 1);
    assert!(!r.lines[0].flagged);
}

#[test]
fn our_own_focus_export_reconciles_to_the_nano_dollar() {
    let (lines, days) = ledger();
    let edges: Vec<jiff::Timestamp> = (0..4)
        .map(|i| {
            d("2026-11-06")
                .checked_add(jiff::Span::new().days(i))
                .unwrap()
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
        })
        .collect();
    let periods = focus::Periods { start: edges[0], end: edges[3], edges };
    let dir = crate::Directory { org: "Acme".into(), ..Default::default() };
    let csv = focus::to_csv(&focus::rows(&periods, &lines, &[], &rates(), &dir));
    let ledger = ledger_lines(&lines, &days, &rates(), &|m| m.to_string());
    let export = read(Format::Focus, &csv).unwrap();
    let r = reconcile(Format::Focus, &export, &ledger, d("2026-11-06"), d("2026-11-09"), 0.0);
    assert!(r.reconciled && r.lines.is_empty(), "{:#?}", r.lines);
    assert_eq!(r.provider_cost_usd.as_deref(), Some(r.ledger_cost_usd.as_str()));
    // One nano-dollar more on the bill is a drift, flagged at zero tolerance.
    let mut export = export;
    export.lines[0].cost = export.lines[0].cost.map(|c| tokenwise_core::Nanos(c.0 + 1));
    let r = reconcile(Format::Focus, &export, &ledger, d("2026-11-06"), d("2026-11-09"), 0.0);
    assert_eq!(r.lines.iter().filter(|l| l.flagged).count(), 1);
}

#[test]
fn dated_model_names_match_the_ledger() {
    let known: BTreeSet<String> = ["gpt-4.1-mini".to_string(), "claude-haiku-4-5".to_string()].into();
    assert_eq!(canonical("gpt-4.1-mini-2025-04-14", &known), "gpt-4.1-mini");
    assert_eq!(canonical("claude-haiku-4-5-20251001", &known), "claude-haiku-4-5");
    assert_eq!(canonical("gpt-4.1", &known), "gpt-4.1");
}

/// An export adding up past what any bill holds (a wrong or forged file)
/// is refused with its reason, not summed into overflowing figures; one
/// just under the bound is read.
#[test]
fn an_export_past_any_bill_is_refused() {
    let bucket = |tokens: u64, dollars: &str| {
        serde_json::json!({"object": "bucket", "start_time": 1_793_923_200, "end_time": 1_794_009_600, "results": [
            {"object": "organization.usage.completions.result", "model": "gpt-4.1-mini", "input_tokens": tokens,
             "input_cached_tokens": 0, "output_tokens": 0, "num_model_requests": 1},
            {"object": "organization.costs.result", "amount": {"value": dollars, "currency": "usd"}, "line_item": "gpt-4.1-mini, input"}]})
    };
    let page = |buckets: Vec<serde_json::Value>| serde_json::json!({"object": "page", "data": buckets}).to_string();
    let half = u64::MAX / 4;
    let err = read(Format::OpenAi, &page(vec![bucket(half, "1"), bucket(half, "1")])).unwrap_err();
    assert!(err.0.contains("token counts add up to") && err.0.contains("right file"), "{}", err.0);
    let err = read(Format::OpenAi, &page(vec![bucket(1, "4000000000"), bucket(1, "-4000000000")])).unwrap_err();
    assert!(err.0.contains("costs add up to $8000000000"), "{}", err.0);
    let ok = read(Format::OpenAi, &page(vec![bucket(1_000_000_000_000, "2000000000"), bucket(1, "-2000000000")]));
    assert!(ok.is_ok_and(|e| e.lines.iter().any(|l| l.tokens == Some(1_000_000_000_000))), "read under the bound");
}
