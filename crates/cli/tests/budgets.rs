//! Budgets end to end: the real binary, hard refusals naming the envelope,
//! soft budgets alerting once per threshold through a signed webhook, an
//! exception that lets work through up to its cap and then expires.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::time::Duration;
use support::{Gateway, usd_nanos};

async fn call(http: &reqwest::Client, base: &str, key: &str, text: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "gpt-4.1-mini", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

async fn get(http: &reqwest::Client, base: &str, key: &str, path: &str) -> Value {
    http.get(format!("{base}{path}")).bearer_auth(key).send().await.unwrap().json().await.unwrap()
}

async fn post(http: &reqwest::Client, base: &str, key: &str, path: &str, body: Value) -> (u16, Value) {
    let r = http.post(format!("{base}{path}")).bearer_auth(key).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn client() -> reqwest::Client {
    tokenwise_server::install_crypto();
    reqwest::Client::new()
}

#[tokio::test]
async fn a_hard_budget_refuses_naming_the_envelope_and_never_overspends() {
    let g = Gateway::start_with(|s| s.replace("limit_usd = \"20\"", "limit_usd = \"0.002\""));
    let key = g.key("ivan.petrov", Some("support-reply"));
    let http = client();
    let mut ok_costs = 0i64;
    let mut refusal = None;
    for i in 0..200 {
        let (status, headers, body) = call(&http, &g.url, &key, &format!("question number {i}")).await;
        match status {
            200 => {
                ok_costs += usd_nanos(headers["x-tokenwise-cost-usd"].to_str().unwrap());
                assert!(headers.contains_key("x-tokenwise-budget-remaining-usd"));
            }
            402 => {
                refusal = Some((headers, body));
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (headers, body) = refusal.expect("the budget must run out");
    assert_eq!(body["error"]["code"], "budget_exceeded");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("`per-person-daily`") && msg.contains("user:ivan.petrov"), "{msg}");
    // Refused only because what remained was less than the call might cost.
    let remaining = usd_nanos(headers["x-tokenwise-budget-remaining-usd"].to_str().unwrap());
    let wanted = usd_nanos(
        msg.split("may cost up to $")
            .nth(1)
            .unwrap()
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".")
            .trim_end_matches('.'),
    );
    assert!(remaining < wanted, "refused with {remaining} left for a call of at most {wanted}");
    let budgets = get(&http, &g.url, &key, "/api/v1/budgets").await;
    let env =
        budgets["envelopes"].as_array().unwrap().iter().find(|e| e["budget"] == "per-person-daily").unwrap().clone();
    assert_eq!(env["captured_nanos"], ok_costs, "captured is exactly what the calls cost");
    assert_eq!(env["held_nanos"], 0);
    assert!(ok_costs <= 2_000_000, "never over the limit: {ok_costs}");
    assert_eq!(env["enforcement"], "hard");
}

#[tokio::test]
async fn a_soft_budget_alerts_once_per_threshold_with_a_signed_webhook() {
    let (url, got) = support::webhook_sink().await;
    let g = Gateway::start_manual(|s| {
        s.replace("limit_usd = \"450\"", "limit_usd = \"0.0003\"").replace(
            "[server]",
            &format!("[alerts]\nwebhook_url = \"{url}\"\nsecret_env = \"OPENAI_API_KEY\"\n\n[server]"),
        )
    });
    let key = g.key("jade.nguyen", Some("support-reply"));
    let http = client();
    for i in 0..20 {
        let (status, _, body) = call(&http, &g.url, &key, &format!("soft question {i}")).await;
        assert_eq!(status, 200, "a soft budget never refuses: {body}");
    }
    // On a manual clock the upkeep runs when the clock moves: the first
    // pass announces both thresholds, the next ones nothing more.
    assert_eq!(g.advance(1.0).await["alerts"], 2);
    assert_eq!(g.advance(1.0).await["alerts"], 0);
    let got = got.lock().unwrap().clone();
    let ours: Vec<(String, Value)> = got
        .into_iter()
        .map(|(sig, body)| (sig, serde_json::from_str::<Value>(&body).unwrap()))
        .filter(|(_, v)| v["budget"] == "per-person-monthly")
        .collect();
    let thresholds: Vec<u64> = ours.iter().map(|(_, v)| v["threshold_percent"].as_u64().unwrap()).collect();
    assert_eq!(thresholds.len(), 2, "once per threshold: {thresholds:?}");
    assert!(thresholds.contains(&80) && thresholds.contains(&100));
    // The signature is HMAC-SHA256 of the body with the configured secret.
    for (sig, v) in &ours {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"sk-test-openai").unwrap();
        mac.update(v.to_string().as_bytes());
        assert_eq!(sig, &format!("sha256={}", hex::encode(mac.finalize().into_bytes())));
    }
    // And the alerts are recorded in the audit log.
    let conn = rusqlite::Connection::open(&g.db).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'budget.alert' AND subject LIKE 'per-person-monthly|%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn an_exception_lets_work_through_up_to_its_cap_then_stops_then_expires() {
    let g = Gateway::start_manual(|s| s.replace("limit_usd = \"20\"", "limit_usd = \"0.0005\""));
    let ivan = g.key("ivan.petrov", Some("support-reply"));
    let lucia = g.key("lucia.fernandez", Some("support-reply"));
    let tom = g.key("tom.becker", Some("sales-outreach"));
    let http = client();
    let mut i = 0;
    loop {
        i += 1;
        let (status, _, _) = call(&http, &g.url, &ivan, &format!("before {i}")).await;
        if status == 402 {
            break;
        }
        assert!(i < 50);
    }
    let ask = json!({"scope": "user:ivan.petrov", "reason_code": "customer-escalation",
                     "justification": "Escalated enterprise ticket needs several drafts today",
                     "duration_hours": 0.0015, "cap_usd": "0.0004"});
    let (status, exc) = post(&http, &g.url, &ivan, "/api/v1/exceptions", ask.clone()).await;
    assert_eq!(status, 200, "{exc}");
    assert_eq!(exc["status"], "pending");
    let id = exc["id"].as_str().unwrap().to_string();
    // Nobody approves their own; another team's manager may not either.
    assert_eq!(post(&http, &g.url, &ivan, &format!("/api/v1/exceptions/{id}/approve"), json!({})).await.0, 403);
    assert_eq!(post(&http, &g.url, &tom, &format!("/api/v1/exceptions/{id}/approve"), json!({})).await.0, 403);
    let (status, approved) = post(&http, &g.url, &lucia, &format!("/api/v1/exceptions/{id}/approve"), json!({})).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "approved");
    // Work goes through under the exception, tagged with it, until its cap.
    let mut under = 0i64;
    let mut stopped = false;
    for j in 0..30 {
        let (status, headers, _) = call(&http, &g.url, &ivan, &format!("during {j}")).await;
        if status == 402 {
            stopped = true;
            break;
        }
        assert_eq!(status, 200);
        let id = headers["x-tokenwise-request-id"].to_str().unwrap();
        let ev = get(&http, &g.url, &lucia, &format!("/api/v1/events?request_id={id}")).await;
        assert_eq!(ev["events"][0]["exception_id"], json!(exc["id"]));
        under += ev["events"][0]["cost_nanos"].as_i64().unwrap();
    }
    assert!(stopped, "the exception's cap stops it");
    assert!(under > 0 && under <= 400_000, "spent {under} under a cap of 400000");
    // It expires by itself, 5 s after approval (0.0015 h, kept in whole
    // seconds): a fresh one lets a call through just before, nothing after.
    let (_, fresh) = post(&http, &g.url, &ivan, "/api/v1/exceptions", ask.clone()).await;
    let fresh_id = fresh["id"].as_str().unwrap();
    let (status, _) = post(&http, &g.url, &lucia, &format!("/api/v1/exceptions/{fresh_id}/approve"), json!({})).await;
    assert_eq!(status, 200);
    g.advance(4.9).await;
    assert_eq!(call(&http, &g.url, &ivan, "just before").await.0, 200, "still in force");
    g.advance(0.2).await;
    let (status, _, body) = call(&http, &g.url, &ivan, "just after").await;
    assert_eq!(status, 402);
    assert_eq!(body["error"]["budget"], "per-person-daily", "{body}");
    // A denied one never applies; decisions are final.
    let (_, second) = post(&http, &g.url, &ivan, "/api/v1/exceptions", ask).await;
    let id2 = second["id"].as_str().unwrap();
    assert_eq!(
        post(&http, &g.url, &lucia, &format!("/api/v1/exceptions/{id2}/deny"), json!({})).await.1["status"],
        "denied"
    );
    assert_eq!(post(&http, &g.url, &lucia, &format!("/api/v1/exceptions/{id2}/approve"), json!({})).await.0, 400);
    // Every step is audited (the auditor writes in batches: wait for it).
    let conn = rusqlite::Connection::open(&g.db).unwrap();
    let want = [
        "exception.request",
        "exception.approve",
        "exception.request",
        "exception.approve",
        "exception.request",
        "exception.deny",
    ];
    let mut actions: Vec<String> = Vec::new();
    for _ in 0..100 {
        actions = conn
            .prepare("SELECT action FROM audit_log WHERE action LIKE 'exception.%' ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        if actions.len() >= want.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(actions, want);
}

#[tokio::test]
async fn a_new_day_is_a_new_envelope() {
    let g = Gateway::start_manual(|s| s.replace("limit_usd = \"20\"", "limit_usd = \"0.0005\""));
    let key = g.key("ivan.petrov", Some("support-reply"));
    let http = client();
    // Late in Acme's day (Europe/Berlin): spend the daily budget.
    g.set_clock("2026-12-02T22:30:00Z").await;
    let mut i = 0;
    let body = loop {
        i += 1;
        let (status, _, body) = call(&http, &g.url, &key, &format!("late {i}")).await;
        if status == 402 {
            break body;
        }
        assert!(i < 50);
    };
    assert_eq!(body["error"]["period"], "2026-12-02", "{body}");
    // Past midnight in Berlin (23:00 UTC): the new day's envelope is empty.
    g.set_clock("2026-12-02T23:00:01Z").await;
    let (status, headers, body) = call(&http, &g.url, &key, "a new day").await;
    assert_eq!(status, 200, "{body}");
    let id = headers["x-tokenwise-request-id"].to_str().unwrap();
    let ev = get(&http, &g.url, &key, &format!("/api/v1/events?request_id={id}")).await;
    assert!(
        ev["events"][0]["budget_keys"].to_string().contains("per-person-daily|user:ivan.petrov|2026-12-03"),
        "{ev}"
    );
}
