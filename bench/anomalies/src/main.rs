//! The anomaly benchmark.
//!
//!   tokenwise-anomalies-bench generate OUT_DIR USERS EVENTS
//!     a policy (examples/acme.toml with USERS more people) and a SQLite
//!     ledger with EVENTS usage events in October 2026 (each with a prompt
//!     hash and sketch), 20 outcomes a person, and planted anomalies: a
//!     person's day at 20 times their usual, one prompt all day, eight
//!     rewordings of one request, a dear model, unmetered outcomes.
//!   tokenwise-anomalies-bench detect OUT_DIR [DATABASE_URL]
//!     one detection pass over 2026-10 (as `GET /api/v1/anomalies` runs
//!     it), each store query timed, and the planted anomalies checked.
//!   tokenwise-anomalies-bench sketch
//!     the prompt sketch's cost per prompt size, beside the SHA-256 prompt
//!     hash the gateway already computes on the same text.

use jiff::{Timestamp, ToSpan};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokenwise_anomalies::minhash;
use tokenwise_core::{Nanos, TokenUsage, Track};
use tokenwise_ledger::*;
use tokenwise_store_sqlite::{Durability, SqliteStore};

const TEAMS: [&str; 7] = ["platform", "support", "sales", "legal", "data", "finance", "risk"];
const WORK: [(&str, &str); 4] = [
    ("support-reply", "claude-haiku-4-5"),
    ("code-review", "gpt-4.1"),
    ("kb-search", "gpt-4.1-mini"),
    ("incident-triage", "claude-sonnet-4-5"),
];
const OUTCOMES_PER_PERSON: u64 = 20;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn person(i: u64) -> String {
    format!("p{i:05}")
}

fn write_policy(out: &Path, users: u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let acme = std::fs::read_to_string(root.join("examples/acme.toml")).expect("examples/acme.toml");
    let mut people = String::from("[users]\n");
    for i in 0..users {
        let team = TEAMS[(i % TEAMS.len() as u64) as usize];
        people.push_str(&format!("\"{}\" = {{ name = \"Person {i}\", team = \"{team}\" }}\n", person(i)));
    }
    std::fs::write(out.join("policy.toml"), acme.replacen("[users]\n", &people, 1)).expect("write policy");
    let prices = out.join("prices");
    std::fs::create_dir_all(&prices).expect("prices dir");
    for f in std::fs::read_dir(root.join("examples/prices")).expect("examples/prices").flatten() {
        std::fs::copy(f.path(), prices.join(f.file_name())).expect("copy prices");
    }
}

/// Planted: p00003's 15 October at 20 times their usual tokens, one prompt
/// for all of p00007's calls of 12 October, eight rewordings of one request
/// among p00011's calls of 20 October, p00012 on a model three times the
/// price of its use case's default.
fn event(rng: &mut Rng, n: u64, user: u64, at: Timestamp, day: i64) -> UsageEvent {
    let (use_case, default_model) = WORK[(user % 4) as usize];
    let model = if user == 12 { "claude-sonnet-4-5" } else { default_model };
    let spike = if user == 3 && day == 14 { 20 } else { 1 };
    let input = (500 + rng.below(4_000)) * spike;
    let output = 50 + rng.below(800);
    let team = TEAMS[(user % TEAMS.len() as u64) as usize];
    let cost = (input * 400 + output * 1_600) as i64 * if user == 12 { 3 } else { 1 };
    let (hash, sketch) = match (user, day, n % 10) {
        (7, 11, _) => ("repeated-prompt".to_string(), Some(minhash::of_text("is order 5512 refunded yet").unwrap_or(0))),
        (11, 19, k) if k < 8 => {
            let text = format!("summarise ticket {k} about a late damaged parcel and draft a polite reply offering a refund of the shipping fee and a discount");
            (format!("reworded-{k}"), minhash::of_text(&text))
        }
        _ => (format!("{:016x}", rng.next()), Some(rng.next())),
    };
    // BENCH_NO_PROMPTS=1: no prompt hash or sketch, so the writer keeps no
    // prompt rollups (what they cost a commit, by difference).
    let (hash, sketch) = if std::env::var_os("BENCH_NO_PROMPTS").is_some() { (None, None) } else { (Some(hash), sketch) };
    UsageEvent::builder(format!("ev-{user}-{n}"), at, EventSource::Simulator, person(user), team, model, "mock")
        .use_case(Some(use_case))
        .task(Some(format!("T-{user}-{}", n / 5)))
        .track(Track::Production)
        .requested_model(model)
        .priced(TokenUsage { input, output, ..TokenUsage::default() }, Nanos(cost), "bench")
        .timing(200, None)
        .prompt_hash(hash)
        .prompt_minhash(sketch)
        .build()
}

async fn generate(out: &Path, users: u64, events: u64) {
    std::fs::create_dir_all(out).expect("out dir");
    write_policy(out, users);
    let db = out.join("ledger.db");
    let _ = std::fs::remove_file(&db);
    let url = format!("sqlite://{}", db.display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(&url, Durability::ProcessCrash).expect("open ledger"));
    let start: Timestamp = "2026-10-01T00:00:00Z".parse().expect("start");
    let per_user = events / users.max(1);
    let day_us = 86_400_000_000i64;
    let mut rng = Rng(42);
    let began = Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for n in 0..per_user {
        // Every person's calls spread evenly over 31 days.
        let day = (n * 31 / per_user) as i64;
        for u in 0..users {
            let at = start + (day * day_us + (rng.below(day_us as u64 - 1)) as i64).microseconds();
            batch.push(event(&mut rng, n, u, at, day));
            if batch.len() == 20_000 {
                store.insert_events(&batch).await.expect("insert events");
                batch.clear();
            }
        }
    }
    store.insert_events(&batch).await.expect("insert events");
    eprintln!("{} events in {:.1} s", per_user * users, began.elapsed().as_secs_f64());
    for u in 0..users {
        for k in 0..OUTCOMES_PER_PERSON.min(per_user / 5) {
            let (use_case, _) = WORK[(u % 4) as usize];
            let o = Outcome {
                id: format!("out-{u}-{k}"),
                task: format!("T-{u}-{k}"),
                user_id: person(u),
                team_id: TEAMS[(u % TEAMS.len() as u64) as usize].into(),
                use_case: use_case.into(),
                kind: "ticket_resolved".into(),
                value: Nanos(21_250_000_000),
                value_hours_milli: Some(250),
                evidence: None,
                quality: Some(4),
                escalated: false,
                error: false,
                status: OutcomeStatus::Validated,
                reported_by: person(u),
                signed: false,
                reported_at: start + (k as i64 * 36).hours(),
                decided_by: None,
                decided_at: None,
                decided_quality: None,
                // p00017's claims have no metered call behind them.
                metered: u != 17,
            };
            store.insert_outcome(&o).await.expect("insert outcome");
        }
    }
}

async fn open(out: &Path, url: Option<&str>) -> Arc<dyn Store> {
    match url {
        Some(u) if u.starts_with("postgres") => Arc::new(tokenwise_store_postgres::PgStore::connect(u, 4).await.expect("connect")),
        _ => Arc::new(SqliteStore::open(&format!("sqlite://{}", out.join("ledger.db").display())).expect("open ledger")),
    }
}

async fn detect(out: &Path, url: Option<&str>) {
    let policy = tokenwise_policy::load_file(&out.join("policy.toml")).expect("policy").policy;
    let store = open(out, url).await;
    let t = &policy.anomalies;
    let period = tokenwise_app::scores::Period::parse(&policy, "2026-10").expect("period");
    let now: Timestamp = "2026-11-01T00:00:00Z".parse().expect("now");
    let d0 = period.start.as_microsecond() / 86_400_000_000;
    let time = |label: &str, began: Instant, rows: usize| eprintln!("{label:<28} {:>8.3} s  {rows} rows", began.elapsed().as_secs_f64());
    let b = Instant::now();
    let days = store.model_days(d0 - 35, d0 + 32).await.expect("model_days");
    time("model_days (rollup)", b, days.len());
    let b = Instant::now();
    let outcomes = store.outcomes_between(period.start - 840.hours(), period.end).await.expect("outcomes");
    time("outcomes_between", b, outcomes.len());
    let b = Instant::now();
    let reps = store.repeated_prompts(d0, d0 + 31, u64::from(t.repeat_min), 500).await.expect("repeats");
    time("repeated_prompts (rollup)", b, reps.len());
    let b = Instant::now();
    let groups = store.sketch_groups(d0, d0 + 31, u64::from(t.near_min), 500).await.expect("groups");
    time("sketch_groups (rollup)", b, groups.len());
    let b = Instant::now();
    let found = tokenwise_app::anomalies::detect(store.as_ref(), &policy, t, &period, now).await.expect("detect");
    time("whole detection pass", b, found.len());
    for f in &found {
        eprintln!("  {:<24} {:<8} {}", f.detector, f.user_id, f.window);
    }
    for (detector, user) in [("own_spike", "p00003"), ("repeated_prompt", "p00007"), ("near_duplicate_prompts", "p00011"), ("model_overuse", "p00012"), ("unmetered_outcomes", "p00017")] {
        let hit = found.iter().any(|f| f.detector == detector && f.user_id == user);
        eprintln!("planted {detector} of {user}: {}", if hit { "found" } else { "MISSED" });
    }
}

fn sketch() {
    let words = ["refund", "parcel", "customer", "order", "late", "damaged", "reply", "polite", "the", "a", "of", "and"];
    let mut rng = Rng(7);
    for size in [1_000usize, 10_000, 100_000] {
        let mut text = String::new();
        while text.len() < size {
            text.push_str(words[rng.below(words.len() as u64) as usize]);
            text.push(' ');
        }
        let runs = (2_000_000 / size).max(20);
        let b = Instant::now();
        let mut x = 0u64;
        for _ in 0..runs {
            x ^= minhash::of_text(std::hint::black_box(&text)).unwrap_or(0);
        }
        let sketch_us = b.elapsed().as_secs_f64() * 1e6 / runs as f64;
        let b = Instant::now();
        for _ in 0..runs {
            x ^= Sha256::digest(std::hint::black_box(text.as_bytes()))[0] as u64;
        }
        let sha_us = b.elapsed().as_secs_f64() * 1e6 / runs as f64;
        println!("{size:>7} bytes: sketch {sketch_us:>8.1} µs ({:.0} MB/s), SHA-256 {sha_us:>7.1} µs  [{x:x}]", size as f64 / sketch_us);
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [_, "generate", out, users, events] => {
            generate(Path::new(out), users.parse().expect("USERS"), events.parse().expect("EVENTS")).await
        }
        [_, "detect", out] => detect(Path::new(out), None).await,
        [_, "detect", out, url] => detect(Path::new(out), Some(url)).await,
        [_, "sketch"] => sketch(),
        _ => {
            eprintln!("usage: tokenwise-anomalies-bench generate OUT USERS EVENTS | detect OUT [URL] | sketch");
            std::process::exit(2);
        }
    }
}
