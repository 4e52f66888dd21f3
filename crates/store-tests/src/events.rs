//! Usage events: round trips, idempotent inserts, queries, spend, group commit.

use crate::{Backend, ts};
use jiff::{Timestamp, ToSpan};
use std::collections::BTreeMap;
use tokenwise_core::{FindingKind, Nanos, TokenUsage, Track};
use tokenwise_ledger::*;

/// An event with every optional field set.
pub fn full_event(id: &str, at: Timestamp) -> UsageEvent {
    UsageEvent::builder(id, at, EventSource::Gateway, "ivan.petrov", "support", "claude-haiku-4-5", "anthropic")
        .project(Some("atlas"))
        .use_case(Some("support-reply"))
        .template(Some("support-refund@3"))
        .task(Some("T-1042"))
        .track(Track::Production)
        .destination(Some("customer-email"))
        .operation(Operation::ChatCompletions)
        .requested_model("gpt-4.1-mini")
        .priced(
            TokenUsage { input: 1_834, output: 412, cached_read: 1_024, cache_write: 256, reasoning: 0 },
            Nanos(3_914_000),
            "claude-haiku-4-5@2026-01-01~litellm-subset.json",
        )
        .timing(812, Some(140))
        .streamed(true)
        .ended(Status::Ok, 200, None::<String>)
        .estimated(false)
        .data_class(Some("confidential"))
        .findings(BTreeMap::from([(FindingKind::Email, 2), (FindingKind::CustomTerm, 1)]))
        .decision(Decision::Reroute)
        .exception(Some("exc_01"))
        .prompt_hash(Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"))
        .key(Some("key_abc"))
        .build()
}

/// A minimal event: every optional field empty.
pub fn bare_event(id: &str, at: Timestamp, user: &str, team: &str, cost: i64) -> UsageEvent {
    UsageEvent::builder(id, at, EventSource::Simulator, user, team, "text-embedding-3-small", "openai")
        .track(Track::Exploration)
        .operation(Operation::Embeddings)
        .priced(
            TokenUsage { input: 100, output: 0, ..Default::default() },
            Nanos(cost),
            "text-embedding-3-small@2026-01-01",
        )
        .timing(5, None)
        .build()
}

pub async fn events_round_trip_every_field(b: &impl Backend) {
    let s = b.store();
    let mut cut = full_event("ev-full-2", ts("2026-11-02T09:30:00.123456Z"));
    cut.status = Status::Cancelled;
    cut.estimated = true;
    cut.error_code = Some("upstream_error".into());
    cut.http_status = 502;
    let events = vec![
        full_event("ev-full", ts("2026-11-02T09:30:00.123456Z")),
        cut,
        bare_event("ev-bare", ts("2026-11-02T10:00:00Z"), "xin.zhao", "data", 2),
    ];
    assert_eq!(s.insert_events(&events).await.unwrap(), 3);
    for e in &events {
        assert_eq!(s.event(&e.id).await.unwrap().as_ref(), Some(e), "round trip of {}", e.id);
    }
    assert_eq!(s.event("missing").await.unwrap(), None);
}

pub async fn a_repeated_event_id_is_stored_once(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-11-03T00:00:00Z");
    let first: Vec<_> = (0..3).map(|i| bare_event(&format!("dup-{i}"), t, "u", "t", 10)).collect();
    assert_eq!(s.insert_events(&first).await.unwrap(), 3);
    // A retried batch that overlaps the first adds only what is new.
    let retry: Vec<_> = (1..5).map(|i| bare_event(&format!("dup-{i}"), t, "u", "t", 10)).collect();
    assert_eq!(s.insert_events(&retry).await.unwrap(), 2);
    let all = s.events(&EventQuery { user_id: Some("u".into()), ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 5);
    let spent: Nanos = all.iter().map(|e| e.cost).sum();
    assert_eq!(spent, Nanos(50));
}

pub async fn event_queries_filter_and_order(b: &impl Backend) {
    let s = b.store();
    let base = ts("2026-11-01T00:00:00Z");
    let mut events = Vec::new();
    for i in 0..30i64 {
        let (user, team) = if i % 3 == 0 { ("ana", "sales") } else { ("bo", "data") };
        let mut e = bare_event(&format!("q-{i:02}"), base + (i * 60).seconds(), user, team, i);
        e.task = (i % 10 == 0).then(|| "T-7".to_string());
        events.push(e);
    }
    s.insert_events(&events).await.unwrap();

    let ana = s.events(&EventQuery { user_id: Some("ana".into()), ..Default::default() }).await.unwrap();
    assert_eq!(ana.len(), 10);
    assert!(ana.iter().all(|e| e.user_id == "ana"));
    assert!(ana.windows(2).all(|w| w[0].ts >= w[1].ts), "newest first");

    let data = s.events(&EventQuery { team_id: Some("data".into()), limit: 5, ..Default::default() }).await.unwrap();
    assert_eq!(data.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["q-29", "q-28", "q-26", "q-25", "q-23"]);

    let one = s.events(&EventQuery { request_id: Some("q-07".into()), ..Default::default() }).await.unwrap();
    assert_eq!(one.len(), 1);

    let task = s.events(&EventQuery { task: Some("T-7".into()), ..Default::default() }).await.unwrap();
    assert_eq!(task.len(), 3);

    // [from, to): minute 10 included, minute 20 excluded.
    let window = s
        .events(&EventQuery { from: Some(base + 600.seconds()), to: Some(base + 1200.seconds()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(window.len(), 10);
    assert_eq!(window.last().unwrap().id, "q-10");
    assert_eq!(window.first().unwrap().id, "q-19");
}

pub async fn spend_groups_and_sums_exactly(b: &impl Backend) {
    let s = b.store();
    let base = ts("2026-10-01T00:00:00Z");
    // Costs near a trillion nano-dollars each: sums must stay exact.
    let big = 987_654_321_123i64;
    let mut events = vec![
        bare_event("s1", base, "ana", "sales", big),
        bare_event("s2", base + 1.hour(), "ana", "sales", big + 1),
        bare_event("s3", base + 2.hours(), "bo", "data", 7),
        // Outside the range.
        bare_event("s4", base + (31 * 24).hours(), "bo", "data", 1_000),
    ];
    events[2].project_id = Some("helios".into());
    s.insert_events(&events).await.unwrap();

    let q = |g| SpendQuery { group_by: g, from: base, to: base + (31 * 24).hours() };
    let teams = s.spend(&q(GroupBy::Team)).await.unwrap();
    assert_eq!(teams.len(), 2);
    assert_eq!(teams[0].key.as_deref(), Some("sales"), "largest cost first");
    assert_eq!(teams[0].calls, 2);
    assert_eq!(teams[0].cost, Nanos(2 * big + 1));
    assert_eq!(teams[0].usage.input, 200);
    assert_eq!(teams[1].cost, Nanos(7));

    let projects = s.spend(&q(GroupBy::Project)).await.unwrap();
    let none = projects.iter().find(|r| r.key.is_none()).unwrap();
    assert_eq!(none.calls, 2);
    assert!(projects.iter().any(|r| r.key.as_deref() == Some("helios") && r.cost == Nanos(7)));

    let decisions = s.spend(&q(GroupBy::Decision)).await.unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!((decisions[0].key.as_deref(), decisions[0].calls), (Some("allow"), 3));
}

pub async fn group_commit_stores_every_event_once(b: &impl Backend) {
    let s = b.store();
    let (recorder, writer) = Recorder::spawn(s.clone());
    let base = ts("2026-11-05T00:00:00Z");
    let mut tasks = Vec::new();
    for i in 0..2_000i64 {
        let r = recorder.clone();
        tasks.push(tokio::spawn(async move {
            r.record(bare_event(&format!("gc-{i:05}"), base + i.seconds(), "gc", "t", 3)).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = recorder.stats();
    let batches = stats.batches.load(std::sync::atomic::Ordering::Relaxed);
    let largest = stats.largest_batch.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(stats.events.load(std::sync::atomic::Ordering::Relaxed), 2_000);
    assert!(largest > 1 && batches < 2_000, "events were grouped: {batches} batches, largest {largest}");
    drop(recorder);
    writer.await.unwrap();

    let spent = s.spend(&SpendQuery { group_by: GroupBy::User, from: base, to: base + 24.hours() }).await.unwrap();
    assert_eq!(
        spent,
        vec![SpendRow {
            key: Some("gc".into()),
            calls: 2_000,
            usage: TokenUsage { input: 200_000, ..Default::default() },
            cost: Nanos(6_000)
        }]
    );
}
