//! What authenticating a request's key costs, now that a revoked key must
//! be refused on the very next request:
//! - `sqlite`: `KeyStore::current_api_key` with no cache — a read on a
//!   pooled connection (an index probe) per request, sequential and from
//!   16 concurrent tasks, with 10,000 keys in the table;
//! - the in-process cache hit it replaced (a map lookup under a lock);
//! - `postgres` (TOKENWISE_BENCH_POSTGRES_URL): the cache hit a replica
//!   serves while its revocation listener is up, and the round trip a miss
//!   (or a replica whose listener is down) pays.
//! Prints one JSON object per figure.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokenwise_ledger::prelude::*;
use tokenwise_ledger::{ApiKey, KeyCache};

const KEYS: usize = 10_000;
const N: usize = 20_000;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

fn report(name: &str, mut us: Vec<f64>, extra: serde_json::Value) {
    let n = us.len();
    let mean = us.iter().sum::<f64>() / n as f64;
    let mut o = serde_json::json!({"case": name, "n": n, "mean_us": mean, "p50_us": pct(&mut us, 0.5), "p99_us": pct(&mut us, 0.99)});
    if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    println!("{o}");
}

/// Stores `KEYS` keys; returns their hashes.
async fn keys(s: &dyn Store) -> Vec<String> {
    let mut hashes = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let k = ApiKey::generate(&format!("user-{}", i % 500), jiff::Timestamp::now());
        s.insert_api_key(&k.record).await.unwrap();
        hashes.push(k.record.hash);
    }
    hashes
}

/// `current_api_key` for `N` requests in a row, keys taken round-robin,
/// after one lookup of each (so a cache holds them all).
async fn sequential(name: &str, s: &dyn Store, hashes: &[String]) {
    for h in hashes {
        s.current_api_key(h).await.unwrap().unwrap();
    }
    let mut us = Vec::with_capacity(N);
    for i in 0..N {
        let h = &hashes[i % hashes.len()];
        let t = Instant::now();
        let k = s.current_api_key(h).await.unwrap().unwrap();
        us.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(k.is_active());
    }
    report(name, us, serde_json::json!({}));
}

/// 16 tasks authenticating at once: per-lookup latency and lookups per second.
async fn concurrent(name: &str, s: Arc<dyn Store>, hashes: Arc<Vec<String>>) {
    let tasks = 16;
    let per = N / tasks;
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (s, hashes) = (s.clone(), hashes.clone());
        handles.push(tokio::spawn(async move {
            let mut us = Vec::with_capacity(per);
            for i in 0..per {
                let h = &hashes[(t * per + i) % hashes.len()];
                let at = Instant::now();
                s.current_api_key(h).await.unwrap().unwrap();
                us.push(at.elapsed().as_secs_f64() * 1e6);
            }
            us
        }));
    }
    let mut us = Vec::new();
    for h in handles {
        us.extend(h.await.unwrap());
    }
    let per_sec = us.len() as f64 / start.elapsed().as_secs_f64();
    report(name, us, serde_json::json!({"tasks": tasks, "lookups_per_sec": per_sec.round()}));
}

/// The cache the server kept before: a hit is a map lookup under a lock.
fn cache_hit(hashes: &[String]) {
    let cache = KeyCache::new();
    cache.set_live(true);
    for h in hashes {
        let k = ApiKey::generate("u", jiff::Timestamp::now()).record;
        cache.put(h, Arc::new(k), cache.generation());
    }
    let mut us = Vec::with_capacity(N);
    for i in 0..N {
        let t = Instant::now();
        let k = cache.get(&hashes[i % hashes.len()]);
        us.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(k.is_some());
    }
    report("in-process cache hit (what the 30 s cache cost)", us, serde_json::json!({}));
}

async fn postgres(url: &str) {
    let schema = format!("tw_key_bench_{}", std::process::id());
    let (admin, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let pg: Arc<dyn Store> = Arc::new(tokenwise_store_postgres::PgStore::connect(&scoped, 16).await.unwrap());
    let hashes = Arc::new(keys(pg.as_ref()).await);
    let cache = pg.key_cache().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while !cache.is_live() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sequential("postgres: current_api_key, cached (listener up)", pg.as_ref(), &hashes).await;
    let mut us = Vec::with_capacity(N / 4);
    for i in 0..N / 4 {
        let t = Instant::now();
        pg.api_key_by_hash(&hashes[i % hashes.len()]).await.unwrap().unwrap();
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    report("postgres: read from the database (a miss, or the listener down)", us, serde_json::json!({}));
    drop(pg);
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await.unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/keys.db", dir.path().display());
    let sqlite: Arc<dyn Store> = Arc::new(tokenwise_store_sqlite::SqliteStore::open(&url).unwrap());
    let hashes = Arc::new(keys(sqlite.as_ref()).await);
    assert!(sqlite.key_cache().is_none(), "SQLite reads the key on every request");
    sequential("sqlite: current_api_key, no cache", sqlite.as_ref(), &hashes).await;
    concurrent("sqlite: current_api_key, no cache, 16 concurrent", sqlite.clone(), hashes.clone()).await;
    cache_hit(&hashes);
    if let Ok(pg) = std::env::var("TOKENWISE_BENCH_POSTGRES_URL") {
        postgres(&pg).await;
    }
}
