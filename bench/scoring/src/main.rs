//! Generates a month of a large company for the scoring benchmark: a
//! policy (examples/acme.toml with USERS more people spread over its
//! teams) and a SQLite ledger with EVENTS usage events and 20 outcomes a
//! person, written through the real store (so whatever the store keeps
//! beside the events is kept as in service).
//!
//!   tokenwise-scoring-bench OUT_DIR USERS EVENTS

use jiff::{Timestamp, ToSpan};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokenwise_core::{FindingKind, Nanos, TokenUsage, Track};
use tokenwise_ledger::*;
use tokenwise_store_sqlite::{Durability, SqliteStore};

const TEAMS: [&str; 7] = ["platform", "support", "sales", "legal", "data", "finance", "risk"];
const WORK: [(&str, Option<&str>, &str); 4] = [
    ("support-reply", Some("support-refund@3"), "claude-haiku-4-5"),
    ("code-review", Some("pr-review-checklist@2"), "gpt-4.1"),
    ("kb-search", None, "gpt-4.1-mini"),
    ("incident-triage", Some("incident-runbook@2"), "claude-sonnet-4-5"),
];
const OUTCOMES_PER_PERSON: u64 = 20;

/// A small deterministic generator (splitmix64): the same data every run.
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
    let policy = acme.replacen("[users]\n", &people, 1);
    std::fs::write(out.join("policy.toml"), policy).expect("write policy");
    let prices = out.join("prices");
    std::fs::create_dir_all(&prices).expect("prices dir");
    for f in std::fs::read_dir(root.join("examples/prices")).expect("examples/prices").flatten() {
        std::fs::copy(f.path(), prices.join(f.file_name())).expect("copy prices");
    }
}

fn event(rng: &mut Rng, n: u64, user: u64, at: Timestamp) -> UsageEvent {
    let (use_case, template, model) = WORK[(user % 4) as usize];
    let task = format!("T-{user}-{}", n / 5);
    let input = 500 + rng.below(4_000);
    let output = 50 + rng.below(800);
    let team = TEAMS[(user % TEAMS.len() as u64) as usize];
    let roll = rng.below(100);
    let (status, decision) = match roll {
        0 => (Status::Blocked, Decision::Block),
        1 | 2 => (Status::Ok, Decision::Redact),
        _ => (Status::Ok, Decision::Allow),
    };
    let cost = if status == Status::Blocked { 0 } else { (input * 400 + output * 1_600) as i64 };
    let mut findings = BTreeMap::new();
    if decision != Decision::Allow {
        findings.insert(FindingKind::Email, 1);
    }
    UsageEvent::builder(format!("ev-{user}-{n}"), at, EventSource::Simulator, person(user), team, model, "mock")
        .use_case(Some(use_case))
        .template(template.filter(|_| rng.below(3) > 0))
        .task(Some(task))
        .track(Track::Production)
        .operation(Operation::ChatCompletions)
        .requested_model(model)
        .priced(TokenUsage { input, output, ..TokenUsage::default() }, Nanos(cost), "bench")
        .timing(200, None)
        .ended(status, if status == Status::Ok { 200 } else { 403 }, None::<String>)
        .findings(findings)
        .decision(decision)
        .prompt_hash(Some(format!("{:016x}", rng.next())))
        .build()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (out, users, events) = match args.as_slice() {
        [_, out, users, events] => (Path::new(out).to_path_buf(), users.parse::<u64>().unwrap_or(10_000), events.parse::<u64>().unwrap_or(10_000_000)),
        _ => {
            eprintln!("usage: tokenwise-scoring-bench OUT_DIR USERS EVENTS");
            std::process::exit(2);
        }
    };
    std::fs::create_dir_all(&out).expect("out dir");
    write_policy(&out, users);
    let db = out.join("ledger.db");
    let _ = std::fs::remove_file(&db);
    let url = format!("sqlite://{}", db.display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_with(&url, Durability::ProcessCrash).expect("open ledger"));
    let start: Timestamp = "2026-10-01T00:00:00Z".parse().expect("start");
    let per_user = events / users.max(1);
    let month_us = 30 * 86_400 * 1_000_000i64;
    let mut rng = Rng(42);
    let began = std::time::Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for n in 0..per_user {
        for u in 0..users {
            let at = start + (month_us * n as i64 / per_user as i64 + rng.below(60_000_000) as i64).microseconds();
            batch.push(event(&mut rng, n, u, at));
            if batch.len() == 20_000 {
                store.insert_events(&batch).await.expect("insert events");
                batch.clear();
            }
        }
    }
    store.insert_events(&batch).await.expect("insert events");
    eprintln!("{} events in {:.1} s", per_user * users, began.elapsed().as_secs_f64());
    let began = std::time::Instant::now();
    for u in 0..users {
        for k in 0..OUTCOMES_PER_PERSON.min(per_user / 5) {
            let status = match rng.below(10) {
                0 => OutcomeStatus::Rejected,
                1..=3 => OutcomeStatus::Pending,
                _ => OutcomeStatus::Validated,
            };
            let (use_case, _, _) = WORK[(u % 4) as usize];
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
                quality: Some(1 + rng.below(5) as u8),
                escalated: rng.below(20) == 0,
                error: rng.below(30) == 0,
                status,
                reported_by: person(u),
                signed: false,
                reported_at: start + (k as i64 * 30).hours(),
                decided_by: None,
                decided_at: None,
                decided_quality: None,
                metered: true,
            };
            store.insert_outcome(&o).await.expect("insert outcome");
        }
    }
    eprintln!("{} outcomes in {:.1} s", users * OUTCOMES_PER_PERSON, began.elapsed().as_secs_f64());
}
