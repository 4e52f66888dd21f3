//! Crash safety: `tokenwise serve` is killed with SIGKILL again and again
//! under mixed load — OpenAI and Anthropic calls, JSON and streams, some
//! blocked by the policy — and restarted on the same SQLite file. After the
//! last restart every response a client received in full has exactly one
//! ledger row, the ledger holds no row beyond the requests sent, no budget
//! hold survived its process, and the audit chain verifies.

// Tests fail by panicking, say what they measured, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines, clippy::print_stderr)]

mod support;

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Gateway, bin, text};

const CYCLES: usize = 8;
const CLIENTS: usize = 6;

/// What the clients saw, over all cycles.
#[derive(Default)]
struct Seen {
    /// Requests sent (whether or not anything came back).
    sent: usize,
    /// Request ids of responses received in full.
    complete: Vec<String>,
    /// Request ids of responses cut off by the kill (headers, no end).
    partial: Vec<String>,
}

/// The calls the clients make, in turn: each is (path, body, final marker
/// of a complete body).
fn call(i: usize) -> (&'static str, Value, &'static str) {
    let text = format!("Draft a reply to ticket {i} about a late refund");
    match i % 5 {
        0 => (
            "/v1/chat/completions",
            json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": text}]}),
            "\"usage\"",
        ),
        1 => (
            "/v1/chat/completions",
            json!({"model": "gpt-4.1-mini", "stream": true, "messages": [{"role": "user", "content": text}]}),
            "data: [DONE]",
        ),
        2 => (
            "/v1/messages",
            json!({"model": "claude-haiku-4-5", "max_tokens": 200, "messages": [{"role": "user", "content": text}]}),
            "\"usage\"",
        ),
        3 => (
            "/v1/messages",
            json!({"model": "claude-haiku-4-5", "max_tokens": 200, "stream": true,
                   "messages": [{"role": "user", "content": text}]}),
            "event: message_stop",
        ),
        // Refused by the policy (a card number is restricted data): a row
        // and an audit entry.
        _ => (
            "/v1/chat/completions",
            json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "charge card 4539 1488 0343 6467"}]}),
            "\"policy_violation\"",
        ),
    }
}

/// One client: calls in turn until told to stop, noting what came back.
async fn client(base: String, key: String, n: usize, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut i = n;
    while !stop.load(Ordering::Relaxed) {
        let (path, body, end) = call(i);
        i += CLIENTS;
        seen.lock().unwrap().sent += 1;
        let sent = http
            .post(format!("{base}{path}"))
            .bearer_auth(&key)
            .header("x-mock-token-ms", "3")
            .header("x-mock-ttft-ms", "10")
            .json(&body)
            .send()
            .await;
        let Ok(resp) = sent else { continue };
        let id = resp.headers().get("x-tokenwise-request-id").map(|v| v.to_str().unwrap().to_string());
        let status = resp.status().as_u16();
        let full = resp.text().await;
        let mut s = seen.lock().unwrap();
        match (id, full) {
            (Some(id), Ok(body)) if body.contains(end) && (status == 200 || status == 403) => s.complete.push(id),
            (Some(_), Ok(body)) => panic!("an answer neither complete nor cut ({status}): {body}"),
            (Some(id), Err(_)) => s.partial.push(id),
            (None, _) => {}
        }
    }
}

/// Every event of the key's user, by request id (the count of rows for
/// each), and what they cost in all.
async fn rows(base: &str, key: &str) -> (HashMap<String, usize>, i64) {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/events?limit=1000000"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let mut out = HashMap::new();
    let mut cost = 0;
    for e in v["events"].as_array().unwrap() {
        *out.entry(e["id"].as_str().unwrap().to_string()).or_insert(0) += 1;
        cost += e["cost_nanos"].as_i64().unwrap();
    }
    (out, cost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_again_and_again_under_load_it_loses_nothing_and_keeps_no_hold() {
    tokenwise_server::install_crypto();
    let mut g = Gateway::start();
    let key = g.key("ivan.petrov", Some("support-reply"));
    let admin = g.key("hugo.martin", None);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut kills = 0;
    for cycle in 0..CYCLES {
        if cycle > 0 {
            g.restart();
        }
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|n| tokio::spawn(client(g.url.clone(), key.clone(), n, stop.clone(), seen.clone())))
            .collect();
        // Let the load build, then kill mid-flight: streams are open, JSON
        // answers waiting on their commit.
        tokio::time::sleep(Duration::from_millis(400 + 130 * cycle as u64)).await;
        let serve = g.serve.as_mut().unwrap();
        serve.child.kill().unwrap(); // SIGKILL
        serve.child.wait().unwrap();
        kills += 1;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
    }
    g.restart();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let (ledger, cost) = rows(&g.url, &key).await;
    let total_rows: usize = ledger.values().sum();

    // Every response received in full has exactly one row.
    let lost: Vec<&String> = seen.complete.iter().filter(|id| !ledger.contains_key(*id)).collect();
    assert!(lost.is_empty(), "{} complete answers have no row: {lost:?}", lost.len());
    let doubled: Vec<(&String, &usize)> = ledger.iter().filter(|(_, n)| **n != 1).collect();
    assert!(doubled.is_empty(), "rows stored twice: {doubled:?}");
    // No row beyond what was sent: rows for ids no client saw are at most
    // the requests that got no answer at all.
    let known: HashSet<&String> = seen.complete.iter().chain(&seen.partial).collect();
    assert_eq!(known.len(), seen.complete.len() + seen.partial.len(), "request ids are unique");
    let unseen_rows = ledger.keys().filter(|id| !known.contains(id)).count();
    let unanswered = seen.sent - known.len();
    assert!(unseen_rows <= unanswered, "{unseen_rows} rows for requests never answered, only {unanswered} sent");
    assert!(total_rows <= seen.sent, "{total_rows} rows for {} requests", seen.sent);

    // No hold outlived its process.
    let r = reqwest::Client::new().get(format!("{}/api/v1/budgets", g.url)).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let budgets: Value = r.json().await.unwrap();
    let envelopes = budgets["envelopes"].as_array().unwrap();
    let stuck: Vec<&Value> = envelopes.iter().filter(|e| e["held_nanos"] != 0).collect();
    assert!(!envelopes.is_empty(), "the calls drew on budgets: {budgets}");
    assert!(stuck.is_empty(), "holds left after restart: {stuck:?}");
    // What the team's budget captured is what its rows cost: no capture
    // lost with a kill, none counted twice.
    let team = envelopes.iter().find(|e| e["budget"] == "support-monthly").unwrap();
    assert_eq!(team["captured_nanos"], cost, "captured vs the rows' cost: {team}");

    // The audit chain verifies.
    let db = g.database();
    let out =
        bin().args(["audit", "verify", "--config", g.policy.to_str().unwrap(), "--database", &db]).output().unwrap();
    assert!(out.status.success(), "audit verify: {}", text(&out));

    assert!(seen.complete.len() >= CYCLES * CLIENTS, "the load was real: {} complete", seen.complete.len());
    eprintln!(
        "crash test: {kills} SIGKILL/restart cycles, {} requests sent, {} answered in full, {} cut by a kill, \
         {total_rows} ledger rows ({unseen_rows} for requests never answered), 0 lost, {} stuck holds",
        seen.sent,
        seen.complete.len(),
        seen.partial.len(),
        stuck.len()
    );
}
