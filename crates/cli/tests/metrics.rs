//! `/metrics` against the real binary: Prometheus's text format, calls by
//! how they went, tokens by kind adding up to the ledger's, cost in the
//! ledger's own nano-dollars, budgets, and every HTTP request timed by its
//! route's pattern (never a raw path with ids in it).

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::json;
use support::{Client, Gateway};

/// The sum of a metric's samples whose labels include every `label`.
fn sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test]
async fn metrics_count_calls_tokens_cost_budgets_and_requests() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Where is my refund?"}]});
    let ok = ivan.post("/v1/chat/completions", body, &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let card = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Card 4111 1111 1111 1111"}]});
    assert_eq!(ivan.post("/v1/chat/completions", card, &[]).await.status, 403);
    let row = ivan.event(&ok.request_id()).await;

    let a = reqwest::get(format!("{}/metrics", g.url)).await.unwrap();
    assert_eq!(a.status(), 200);
    assert!(a.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = a.text().await.unwrap();

    let ok_calls =
        ["status=\"ok\"", "use_case=\"support-reply\"", "team=\"support\"", "operation=\"chat_completions\""];
    assert_eq!(sum(&text, "tokenwise_calls_total", &ok_calls), 1.0, "{text}");
    assert_eq!(sum(&text, "tokenwise_calls_total", &["status=\"blocked\"", "decision=\"block\""]), 1.0, "{text}");
    let u = &row["usage"];
    let tokens = u["input"].as_u64().unwrap() + u["output"].as_u64().unwrap();
    assert_eq!(sum(&text, "tokenwise_tokens_total", &[]), tokens as f64, "kinds add up to every token: {text}");
    assert_eq!(sum(&text, "tokenwise_cost_nanodollars_total", &[]), row["cost_nanos"].as_f64().unwrap());
    assert_eq!(sum(&text, "tokenwise_call_duration_seconds_count", &["status=\"ok\""]), 1.0, "{text}");
    assert!(text.contains("tokenwise_call_duration_seconds_bucket{"), "a histogram, not a summary");
    assert!(sum(&text, "tokenwise_budget_limit_nanodollars", &["budget=\"support-monthly\""]) > 0.0, "{text}");
    assert!(text.contains("tokenwise_budget_remaining_nanodollars{"), "{text}");
    assert!(!text.contains("ivan.petrov"), "no person in the labels");
    // Each person's envelope of a per-person budget is summed under `user:*`.
    assert!(text.contains("tokenwise_budget_envelopes_exhausted{budget=\""), "{text}");
    assert!(text.contains("scope=\"user:*\""), "{text}");

    // A stream adds its time to first token. Requests are counted by route
    // pattern: an outcome id is not a label.
    let stream = json!({"model": "gpt-4.1-mini", "stream": true, "messages": [{"role": "user", "content": "Hi"}]});
    assert_eq!(ivan.post("/v1/chat/completions", stream, &[]).await.status, 200);
    let _ = ivan.get("/api/v1/outcomes/o-123").await;
    let text = reqwest::get(format!("{}/metrics", g.url)).await.unwrap().text().await.unwrap();
    assert_eq!(sum(&text, "tokenwise_http_requests_total", &["route=\"/v1/chat/completions\""]), 3.0, "{text}");
    assert!(text.contains("route=\"/api/v1/outcomes/{id}\""), "{text}");
    assert!(!text.contains("o-123"), "{text}");
    assert_eq!(sum(&text, "tokenwise_time_to_first_token_seconds_count", &[]), 1.0, "{text}");

    // Every metric the README names is served.
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let ops = readme.split("**Operations.**").nth(1).unwrap().split("\n\n").next().unwrap();
    let named: Vec<&str> = ops.split('`').filter(|w| w.starts_with("tokenwise_")).collect();
    assert!(named.len() >= 10, "{named:?}");
    for name in named {
        assert!(text.contains(&format!("\n{name}")), "README names {name}, /metrics lacks it");
    }
}
