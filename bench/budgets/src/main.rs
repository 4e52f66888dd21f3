//! Hold + capture, measured three ways:
//! - `book`: the pure in-memory ledger (what a SQLite deployment's hold is);
//! - `sqlite`: hold on the store (in memory) + the usage event that captures
//!   it, committed one at a time (fsync each) and through group commit;
//! - `postgres` (TOKENWISE_BENCH_POSTGRES_URL): one statement per hold, the
//!   capture in the event batch's transaction; sequential and 16 concurrent.
//! Prints one JSON object per figure.

use std::sync::Arc;
use std::time::Instant;
use tokenwise_core::Nanos;
use tokenwise_ledger::budget::{Book, Capture, HoldPart, HoldRequest};
use tokenwise_ledger::{Recorder, Store};
use tokenwise_store_tests::{capturing, envelope, hold_on};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

fn report(name: &str, mut us: Vec<f64>, round_trips: &str) {
    let n = us.len();
    let mean = us.iter().sum::<f64>() / n as f64;
    println!(
        "{}",
        serde_json::json!({"case": name, "n": n, "mean_us": mean, "p50_us": pct(&mut us, 0.5), "p99_us": pct(&mut us, 0.99), "round_trips": round_trips})
    );
}

async fn store_case(name: &str, s: Arc<dyn Store>, n: usize, trips: &str) {
    let envs: Vec<_> = (0..7).map(|i| envelope(&format!("bench-{i}|team:support|2026-11-01"), i64::MAX / 4, true)).collect();
    let mut hold_us = Vec::new();
    let mut capture_us = Vec::new();
    for i in 0..n {
        let id = format!("{name}-{i}");
        let parts: Vec<(&_, i64)> = envs.iter().map(|e| (e, 1_000)).collect();
        let t = Instant::now();
        assert!(s.budget_hold(&hold_on(&id, &parts), "bench").await.unwrap().is_held());
        hold_us.push(t.elapsed().as_secs_f64() * 1e6);
        let keys: Vec<&_> = envs.iter().collect();
        let t = Instant::now();
        s.insert_events(&[capturing(&id, &keys, 700)]).await.unwrap();
        capture_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    report(&format!("{name}: hold on 7 envelopes"), hold_us, trips.split('|').next().unwrap_or(""));
    report(&format!("{name}: capture (event insert + capture, own commit)"), capture_us, trips.split('|').nth(1).unwrap_or(""));
}

async fn concurrent(name: &str, s: Arc<dyn Store>, tasks: usize, per: usize) {
    let envs: Arc<Vec<_>> = Arc::new((0..7).map(|i| envelope(&format!("conc-{i}|team:support|2026-11-01"), i64::MAX / 4, true)).collect());
    let (recorder, writer) = Recorder::spawn(s.clone());
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (s, envs, r) = (s.clone(), envs.clone(), recorder.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in 0..per {
                let id = format!("{t}-{i}");
                let parts: Vec<(&_, i64)> = envs.iter().map(|e| (e, 1_000)).collect();
                let t0 = Instant::now();
                assert!(s.budget_hold(&hold_on(&id, &parts), "bench").await.unwrap().is_held());
                let keys: Vec<&_> = envs.iter().collect();
                r.record(capturing(&id, &keys, 700)).await.unwrap();
                lat.push(t0.elapsed().as_secs_f64() * 1e6);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    drop(recorder);
    writer.await.unwrap();
    let n = all.len();
    report(&format!("{name}: hold + group-committed capture, {tasks} concurrent"), all, "see above");
    println!("{}", serde_json::json!({"case": format!("{name}: throughput, {tasks} concurrent"), "pairs_per_s": n as f64 / secs}));
}

/// `replicas` stores on one database (each its own pool, recorder and
/// owner), `tasks` concurrent hold + group-committed capture loops on each,
/// all on the same 7 envelopes; then checks the envelopes hold exactly
/// what was captured and nothing is left held once allowances are returned.
async fn replicas(name: &str, url: &str, n: usize, escrow: bool, tasks: usize, per: usize) {
    let tag = format!("{}-{n}-{}", name.replace([' ', ':', ','], ""), std::process::id());
    let envs: Arc<Vec<_>> = Arc::new((0..7).map(|i| envelope(&format!("{tag}-{i}|team:support|2026-11-01"), i64::MAX / 4, true)).collect());
    let config = tokenwise_ledger::escrow::EscrowConfig {
        enabled: escrow,
        lease: std::time::Duration::from_secs(600),
        ..Default::default()
    };
    let mut stores = Vec::new();
    for _ in 0..n {
        let pg: Arc<dyn Store> = Arc::new(tokenwise_store_postgres::PgStore::connect(url, 16).await.unwrap());
        pg.budget_escrow(&config);
        stores.push(pg);
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    let mut writers = Vec::new();
    for (r, s) in stores.iter().enumerate() {
        let (recorder, writer) = Recorder::spawn(s.clone());
        writers.push((recorder.clone(), writer));
        for t in 0..tasks {
            let (s, envs, rec) = (s.clone(), envs.clone(), recorder.clone());
            let tag = tag.clone();
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for i in 0..per {
                    let id = format!("{tag}-{r}-{t}-{i}");
                    let parts: Vec<(&_, i64)> = envs.iter().map(|e| (e, 1_000)).collect();
                    let t0 = Instant::now();
                    assert!(s.budget_hold(&hold_on(&id, &parts), &format!("bench-{r}")).await.unwrap().is_held());
                    let keys: Vec<&_> = envs.iter().collect();
                    rec.record(capturing(&id, &keys, 700)).await.unwrap();
                    lat.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                lat
            }));
        }
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    for (recorder, writer) in writers {
        drop(recorder);
        writer.await.unwrap();
    }
    let pairs = all.len();
    report(&format!("{name}: hold + group-committed capture, {n} replicas x {tasks} concurrent"), all, "see above");
    println!("{}", serde_json::json!({"case": format!("{name}: throughput, {n} replicas x {tasks} concurrent"), "pairs_per_s": pairs as f64 / secs, "load": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("")}));
    // Exact: every envelope has captured what the calls cost, and once the
    // allowances come back (idle), nothing is held.
    let want = pairs as i64 * 700;
    let mut state = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        state = stores[0].budget_envelopes("2026-11-15T00:00:00Z".parse::<jiff::Timestamp>().unwrap()).await.unwrap();
        state.retain(|e| e.spec.key.starts_with(&tag));
        if state.iter().all(|e| e.held.0 == 0) {
            break;
        }
    }
    assert_eq!(state.len(), 7);
    for e in &state {
        assert_eq!(e.captured.0, want, "{e:?}");
        assert!(e.captured.0 + e.held.0 <= e.spec.limit.0);
    }
    println!("{}", serde_json::json!({"case": format!("{name}: check"), "captured_exact": true, "held_after": state.iter().map(|e| e.held.0).sum::<i64>()}));
}

#[tokio::main]
async fn main() {
    // 1. The pure book.
    let env = envelope("book|team:support|2026-11-01", i64::MAX / 4, true);
    let mut book = Book::default();
    let n = 200_000;
    let reqs: Vec<HoldRequest> = (0..n)
        .map(|i| HoldRequest { id: i.to_string(), parts: vec![HoldPart { envelope: env.clone(), amount: Nanos(1_000) }], expires_at: jiff::Timestamp::MAX })
        .collect();
    let t = Instant::now();
    for r in &reqs {
        book.hold(r, "bench");
        book.capture(&Capture { hold_id: r.id.clone(), keys: vec![env.key.clone()], cost: Nanos(700) });
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("{}", serde_json::json!({"case": "book: hold + capture, one envelope, in process", "n": n, "mean_us": per, "round_trips": "0"}));

    // 2. SQLite.
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> =
        Arc::new(tokenwise_store_sqlite::SqliteStore::open(&format!("sqlite://{}/b.db", dir.path().display())).unwrap());
    store_case("sqlite", sqlite.clone(), 2_000, "0 (in memory)|1 transaction, 1 fsync").await;
    concurrent("sqlite", sqlite, 16, 500).await;

    // 3. PostgreSQL.
    if let Ok(base) = std::env::var("TOKENWISE_BENCH_POSTGRES_URL") {
        let schema = format!("tw_bench_{}", std::process::id());
        let (c, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let pg: Arc<dyn Store> = Arc::new(tokenwise_store_postgres::PgStore::connect(&url, 16).await.unwrap());
        let only = std::env::var("TOKENWISE_BENCH_ONLY_REPLICAS").is_ok();
        if !only {
            store_case("postgres", pg.clone(), 2_000, "1 statement|1 transaction: BEGIN, lock, insert, capture, release, COMMIT").await;
            concurrent("postgres", pg, 16, 300).await;
        }
        let per: usize = std::env::var("TOKENWISE_BENCH_PER").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
        // Concurrent callers per replica (16 as above; more make bigger group commits).
        let tasks: usize = std::env::var("TOKENWISE_BENCH_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
        for (n, escrow, per) in [(1, false, per / 2), (3, false, per / 4), (1, true, per * 4), (3, true, per * 2)] {
            let name = if escrow { "postgres, escrow" } else { "postgres, shared rows" };
            replicas(name, &url, n, escrow, tasks, per).await;
        }
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
    }
}
