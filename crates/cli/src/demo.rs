//! `tokenwise demo`: until the gateway and the simulator land (later
//! capabilities), the demo meters a synthetic month of Acme Corp's work
//! straight into a fresh SQLite ledger: real policy, real price book, real
//! group commit, real audit chain. Each call is priced at the version in
//! effect on its day and recorded durably; the report is read back from the
//! ledger, not from the generator.

use crate::store;
use anyhow::Context;
use jiff::civil::{Date, Weekday};
use jiff::{Timestamp, ToSpan};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::{
    AuditAction, AuditDraft, EventSource, GroupBy, Operation, Recorder, SpendQuery, SpendRow, Store, UsageEvent,
    verify_store,
};
use tokenwise_policy::{ModelKind, Policy, load_str};

const ACME: &str = include_str!("../../../examples/acme.toml");
const ACME_PRICES: &str = include_str!("../../../examples/prices/litellm-subset.json");
const SEED: u64 = 20_261_001;

/// What each team mostly uses models for (the simulator of a later
/// capability replaces this table with personas).
const WORK: &[(&str, &[&str])] = &[
    ("platform", &["code-review", "code-review", "code-sandbox", "kb-search", "incident-triage"]),
    ("support", &["support-reply", "support-reply", "support-reply", "ticket-summary", "kb-search"]),
    ("sales", &["sales-outreach", "sales-outreach", "kb-search"]),
    ("legal", &["contract-review", "contract-review", "kb-search"]),
    ("data", &["code-sandbox", "code-review", "kb-search", "kb-search"]),
    ("finance", &["finance-narrative", "kb-search"]),
    ("risk", &["incident-triage", "incident-triage", "kb-search"]),
];

const TEAM_PROJECT: &[(&str, &str)] =
    &[("platform", "apollo"), ("data", "helios"), ("support", "atlas"), ("sales", "orion"), ("legal", "themis")];

#[derive(Serialize)]
struct TeamLine {
    team: String,
    name: String,
    cost_centre: String,
    calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    cached_tokens: u64,
    cost_nanos: i64,
    cost_usd: String,
    share_percent: f64,
}

#[derive(Serialize)]
struct Summary {
    org: String,
    period: String,
    ledger: String,
    events: u64,
    commit_batches: u64,
    largest_batch: u64,
    record_seconds: f64,
    events_per_second: f64,
    total_cost_nanos: i64,
    total_cost_usd: String,
    teams: Vec<TeamLine>,
    /// (id, calls, cost in nano-dollars)
    use_cases: Vec<(String, u64, Nanos)>,
    models: Vec<(String, u64, Nanos)>,
    price_versions_in_effect: Vec<String>,
    audit_entries: i64,
    audit_head: String,
}

pub async fn run(json: bool, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let policy = acme_policy()?;

    // A fresh ledger: in --data-dir if given (kept), else a temporary folder.
    let tmp;
    let dir: PathBuf = match data_dir {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
            tmp.path().to_path_buf()
        }
    };
    let (url, ledger) = fresh_ledger(&dir, &policy).await?;

    // October 2026, in the org's time zone.
    let tz = policy.org.time_zone.clone();
    let start = Date::new(2026, 10, 1)?.to_zoned_datetime(tz.clone())?.timestamp();
    let end = Date::new(2026, 11, 1)?.to_zoned_datetime(tz.clone())?.timestamp();
    let events = synthesize(&policy, Date::new(2026, 10, 1)?, &tz)?;
    let generated = events.len() as u64;
    let recording = record(&ledger, &events).await?;

    // Everything below is read back from the ledger.
    let q = |g| SpendQuery { group_by: g, from: start, to: end };
    let teams = ledger.spend(&q(GroupBy::Team)).await?;
    let use_cases = ledger.spend(&q(GroupBy::UseCase)).await?;
    let models = ledger.spend(&q(GroupBy::Model)).await?;
    let total: Nanos = teams.iter().map(|r| r.cost).sum();
    let recorded: u64 = teams.iter().map(|r| r.calls).sum();
    anyhow::ensure!(recorded == generated, "the ledger holds {recorded} events, {generated} were recorded");

    let versions = versions_in_effect(&policy, start, end);
    let (audit_entries, audit_head) = audit_demo_run(&ledger, recorded, total).await?;

    let elapsed = recording.seconds;
    let summary = Summary {
        org: policy.org.name.clone(),
        period: "2026-10".into(),
        ledger: url,
        events: recorded,
        commit_batches: recording.batches,
        largest_batch: recording.largest_batch,
        record_seconds: elapsed,
        events_per_second: if elapsed > 0.0 { recorded as f64 / elapsed } else { 0.0 },
        total_cost_nanos: total.0,
        total_cost_usd: total.to_usd_string(),
        teams: teams.iter().map(|r| team_line(&policy, r, total)).collect(),
        use_cases: use_cases.iter().map(|r| (r.key.clone().unwrap_or_default(), r.calls, r.cost)).collect(),
        models: models.iter().map(|r| (r.key.clone().unwrap_or_default(), r.calls, r.cost)).collect(),
        price_versions_in_effect: versions,
        audit_entries,
        audit_head,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    Ok(())
}

/// The built-in Acme policy, its price file served from the binary too.
fn acme_policy() -> anyhow::Result<Policy> {
    let loaded = load_str(Path::new("examples/acme.toml"), ACME, &|p: &Path| {
        if p.ends_with("prices/litellm-subset.json") { Ok(ACME_PRICES.to_string()) } else { std::fs::read_to_string(p) }
    })
    .map_err(|r| anyhow::anyhow!("the built-in example policy is invalid:\n{r}"))?;
    Ok(loaded.policy)
}

/// An empty ledger in `dir` (a previous demo's is removed), its audit
/// chain opened with the policy load, so every run starts from the same state.
async fn fresh_ledger(dir: &Path, policy: &Policy) -> anyhow::Result<(String, Arc<dyn Store>)> {
    let db = dir.join("demo-ledger.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let url = format!("sqlite://{}", db.display());
    let ledger = store::open_with(&url, policy.server.durability).await?;
    let digest = hex::encode(Sha256::digest(ACME.as_bytes()));
    ledger
        .append_audit(&AuditDraft::new(
            "system",
            AuditAction::PolicyLoad,
            "examples/acme.toml",
            serde_json::json!({"sha256": digest}),
        ))
        .await?;
    Ok((url, ledger))
}

/// How recording went: wall time and how group commit batched the events.
struct Recording {
    seconds: f64,
    batches: u64,
    largest_batch: u64,
}

/// Records the events through group commit from many concurrent
/// "requests", as a gateway under load would, and waits until all are durable.
async fn record(ledger: &Arc<dyn Store>, events: &[UsageEvent]) -> anyhow::Result<Recording> {
    let (recorder, writer) = Recorder::spawn(ledger.clone());
    let began = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let chunks: Vec<Vec<UsageEvent>> = events.chunks(events.len().div_ceil(64).max(1)).map(<[_]>::to_vec).collect();
    for chunk in chunks {
        let r = recorder.clone();
        tasks.spawn(async move {
            for e in chunk {
                r.record(e).await?;
            }
            Ok::<(), tokenwise_ledger::StoreError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a recording task failed")??;
    }
    let seconds = began.elapsed().as_secs_f64();
    let stats = recorder.stats();
    let batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    let largest_batch = stats.largest_batch.load(std::sync::atomic::Ordering::Relaxed);
    drop(recorder);
    writer.await.context("the ledger writer failed")?;
    Ok(Recording { seconds, batches, largest_batch })
}

/// The price versions in effect at some point of the period.
fn versions_in_effect(policy: &Policy, start: Timestamp, end: Timestamp) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for m in policy.models.values() {
        for (i, v) in m.prices.iter().enumerate() {
            let superseded_before_start = m.prices.get(i + 1).is_some_and(|next| next.effective_from <= start);
            if v.effective_from < end && !superseded_before_start {
                versions.push(v.id.clone());
            }
        }
    }
    versions
}

/// Records the run in the audit chain, then verifies the whole chain:
/// its entry count and head hash (none when the chain is empty).
async fn audit_demo_run(ledger: &Arc<dyn Store>, recorded: u64, total: Nanos) -> anyhow::Result<(i64, String)> {
    ledger
        .append_audit(&AuditDraft::new(
            "system",
            AuditAction::DemoRun,
            "2026-10",
            serde_json::json!({"events": recorded, "total_cost_nanos": total.0}),
        ))
        .await?;
    let audit = verify_store(ledger.as_ref(), 1_000).await?.map_err(|b| anyhow::anyhow!("audit chain broken: {b}"))?;
    Ok(audit.unwrap_or((0, String::new())))
}

fn team_line(policy: &Policy, r: &SpendRow, total: Nanos) -> TeamLine {
    let id = r.key.clone().unwrap_or_default();
    let team = policy.teams.get(&id);
    TeamLine {
        name: team.map(|t| t.name.clone()).unwrap_or_default(),
        cost_centre: team.map(|t| t.cost_centre.clone()).unwrap_or_default(),
        team: id,
        calls: r.calls,
        input_tokens: r.usage.input,
        output_tokens: r.usage.output,
        cached_tokens: r.usage.cached_read,
        cost_nanos: r.cost.0,
        cost_usd: r.cost.to_usd_string(),
        // Display only; the ledger's figures above are exact integers.
        share_percent: if total.0 > 0 { (r.cost.0 as f64 * 1000.0 / total.0 as f64).round() / 10.0 } else { 0.0 },
    }
}

fn print_summary(s: &Summary) {
    println!("tokenwise demo — {} — {}", s.org, s.period);
    println!();
    println!(
        "Metered {} synthetic calls into a fresh SQLite ledger ({}) in {:.2} s: {} group commits, up to {} calls per commit ({:.0} calls/s, each durable before it was acknowledged).",
        s.events, s.ledger, s.record_seconds, s.commit_batches, s.largest_batch, s.events_per_second
    );
    println!();
    println!("Cost per team (read back from the ledger; exact nano-dollar figures with --json)");
    println!(
        "{:<10} {:<24} {:<8} {:>7} {:>13} {:>12} {:>13} {:>12} {:>6}",
        "team", "name", "centre", "calls", "input tok", "output tok", "cached tok", "cost USD", "share"
    );
    for t in &s.teams {
        println!(
            "{:<10} {:<24} {:<8} {:>7} {:>13} {:>12} {:>13} {:>12} {:>5.1}%",
            t.team,
            t.name,
            t.cost_centre,
            t.calls,
            t.input_tokens,
            t.output_tokens,
            t.cached_tokens,
            Nanos(t.cost_nanos).to_usd_rounded(4),
            t.share_percent
        );
    }
    println!("{:<44} {:>7} {:>52}", "total", s.events, Nanos(s.total_cost_nanos).to_usd_rounded(4));
    println!();
    println!("Cost per use case");
    for (uc, calls, cost) in &s.use_cases {
        println!("  {uc:<20} {calls:>6} calls  {:>12} USD", cost.to_usd_rounded(4));
    }
    println!();
    println!("Cost per model (priced at the version in effect on each call's day)");
    for (m, calls, cost) in &s.models {
        println!("  {m:<24} {calls:>6} calls  {:>12} USD", cost.to_usd_rounded(4));
    }
    println!("  price versions in effect: {}", s.price_versions_in_effect.join(", "));
    println!();
    println!("Audit chain: {} entries verified, head {}", s.audit_entries, s.audit_head);
    println!();
    println!("Next: `tokenwise check-config examples/acme.toml` validates the policy this demo used.");
}

/// A deterministic month of work: every working day, each person makes a
/// handful of calls in their team's use cases; token counts follow each use
/// case's baseline with noise, repeated prompts hit the provider's cache,
/// reasoning models spend part of their output on reasoning.
fn synthesize(policy: &Policy, first: Date, tz: &jiff::tz::TimeZone) -> anyhow::Result<Vec<UsageEvent>> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let work: HashMap<&str, &[&str]> = WORK.iter().copied().collect();
    let projects: HashMap<&str, &str> = TEAM_PROJECT.iter().copied().collect();
    let templates: BTreeMap<&str, Vec<String>> =
        policy.templates.values().filter(|t| t.approved).fold(BTreeMap::new(), |mut m, t| {
            m.entry(t.use_case.as_str()).or_insert_with(Vec::new).push(t.key());
            m
        });
    let mut out = Vec::new();
    let mut day = first;
    let mut n: u64 = 0;
    while day.month() == first.month() {
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            let morning = day.to_zoned_datetime(tz.clone())?.timestamp() + 8.hours();
            for user in policy.users.values() {
                let Some(cases) = work.get(user.team.as_str()) else { continue };
                let calls = rng.random_range(3..=14);
                for _ in 0..calls {
                    let uc_id = cases[rng.random_range(0..cases.len())];
                    let Some(uc) = policy.use_cases.get(uc_id) else { continue };
                    let model_id = if rng.random_bool(0.8) {
                        uc.default_model.clone()
                    } else {
                        uc.allowed_models[rng.random_range(0..uc.allowed_models.len())].clone()
                    };
                    let Some(model) = policy.models.get(&model_id) else { continue };
                    let at: Timestamp = morning + rng.random_range(0i64..10 * 3600).seconds();
                    let Some(price) = model.price_at(at) else { continue };
                    let per_call = uc.baseline_tokens_per_outcome / rng.random_range(1..=4);
                    let scale = rng.random_range(0.5..1.6);
                    let total = ((per_call as f64) * scale) as u64;
                    let usage = if model.kind == ModelKind::Embedding {
                        TokenUsage { input: total / 4, ..Default::default() }
                    } else {
                        let input = total * 7 / 10;
                        let output = total - input;
                        TokenUsage {
                            input,
                            output,
                            cached_read: if rng.random_bool(0.35) { input / 2 } else { 0 },
                            cache_write: 0,
                            reasoning: if model.reasoning { output * 2 / 5 } else { 0 },
                        }
                    };
                    n += 1;
                    let streamed = rng.random_bool(0.6);
                    let operation = if model.kind == ModelKind::Embedding {
                        Operation::Embeddings
                    } else {
                        Operation::ChatCompletions
                    };
                    let event = UsageEvent::builder(
                        format!("demo-{n:06}"),
                        at,
                        EventSource::Simulator,
                        &user.id,
                        &user.team,
                        &model.id,
                        &model.upstream,
                    )
                    .project(projects.get(user.team.as_str()).copied())
                    .use_case(Some(&uc.id))
                    .template(templates.get(uc.id.as_str()).filter(|_| rng.random_bool(0.6)).and_then(|ts| ts.first()))
                    .task(Some(format!("T-{}", 1_000 + n / 3)))
                    .track(uc.track)
                    .operation(operation)
                    .priced(usage, usage.cost(&price.rates), &price.id)
                    .timing(u32::try_from(250 + usage.output / 40).unwrap_or(u32::MAX), streamed.then_some(180))
                    .streamed(streamed)
                    .build();
                    out.push(event);
                }
            }
        }
        day = day.tomorrow()?;
    }
    Ok(out)
}
