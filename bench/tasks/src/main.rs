//! One usage event per commit, measured without a task, with one hot task
//! (every event adds to the same running total) and with a new task per
//! event (a row created each time); then `task_cost`, the read a stream
//! makes. Rounds interleave the cases. Prints one JSON object per figure.

use jiff::{Timestamp, ToSpan};
use std::sync::Arc;
use std::time::Instant;
use tokenwise_ledger::Store;
use tokenwise_store_sqlite::{Durability, SqliteStore};
use tokenwise_store_tests::{bare_event, task_event};

const ROUNDS: usize = 10;
const PER_ROUND: usize = 300;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

fn report(name: &str, mut us: Vec<f64>) {
    let n = us.len();
    let mean = us.iter().sum::<f64>() / n as f64;
    println!(
        "{}",
        serde_json::json!({"case": name, "n": n, "mean_us": mean, "p50_us": pct(&mut us, 0.5), "p90_us": pct(&mut us, 0.9), "p99_us": pct(&mut us, 0.99)})
    );
}

#[derive(Clone, Copy)]
enum Kind {
    NoTask,
    HotTask,
    NewTask,
}

async fn commits(name: &str, s: Arc<dyn Store>) {
    let kinds = [(Kind::NoTask, "no task"), (Kind::HotTask, "one task (row updated)"), (Kind::NewTask, "a new task each (row created)")];
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let base: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
    let mut n = 0i64;
    for round in 0..ROUNDS {
        for (k, (kind, _)) in kinds.iter().enumerate() {
            for i in 0..PER_ROUND {
                n += 1;
                let id = format!("{name}-{round}-{k}-{i}");
                let at = base + n.milliseconds();
                let e = match kind {
                    Kind::NoTask => bare_event(&id, at, "ana", "support", 700),
                    Kind::HotTask => task_event(&id, at, "ana", "T-hot", 700),
                    Kind::NewTask => task_event(&id, at, "ana", &format!("T-{n}"), 700),
                };
                let t = Instant::now();
                s.commit_events(&[e]).await.unwrap();
                lat[k].push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    for ((_, label), us) in kinds.iter().zip(lat) {
        report(&format!("{name}: commit of one event, {label}"), us);
    }
    let mut read = Vec::new();
    for _ in 0..3_000 {
        let t = Instant::now();
        assert!(s.task_cost("ana", "T-hot").await.unwrap().is_some());
        read.push(t.elapsed().as_secs_f64() * 1e6);
    }
    report(&format!("{name}: task_cost (a stream's read)"), read);
}

#[tokio::main]
async fn main() {
    for (label, d) in [("sqlite power_loss", Durability::PowerLoss), ("sqlite process_crash", Durability::ProcessCrash)] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        commits(label, Arc::new(SqliteStore::open_with(&url, d).unwrap())).await;
    }
    if let Ok(url) = std::env::var("TOKENWISE_BENCH_POSTGRES_URL") {
        // A schema of its own, dropped afterwards.
        let schema = format!("tw_task_bench_{}", std::process::id());
        let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
        let s: Arc<dyn Store> = Arc::new(tokenwise_store_postgres::PgStore::connect(&scoped, 4).await.unwrap());
        commits("postgres", s.clone()).await;
        drop(s);
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
    }
}
