//! The behaviour every `Store` backend must show, written once. Each
//! backend's `tests/suite.rs` implements [`Backend`] and calls
//! [`store_suite!`], which makes one test per case below.

// A test-suite reports failures by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use jiff::{Timestamp, ToSpan};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokenwise_core::{Nanos, TokenUsage, Track};
use tokenwise_ledger::*;

/// What a backend's test harness provides besides the store itself.
#[async_trait]
pub trait Backend: Send + Sync {
    fn store(&self) -> Arc<dyn Store>;
    /// A new store on the same database, as after a restart.
    async fn reopen(&self) -> Arc<dyn Store>;
    /// Edits an audit row's subject directly in the database, the way an
    /// intruder with database access would (disabling the append-only guard).
    async fn tamper_audit_subject(&self, seq: i64, subject: &str);
    /// A plain `UPDATE` of an audit row; the guard must refuse it.
    async fn raw_update_audit(&self, seq: i64) -> Result<(), String>;
    /// Removes what the harness created (run after a passing case).
    async fn cleanup(&self) {}
}

/// Generates one `#[tokio::test]` per suite case. `$make` is an async fn
/// returning `Option<impl Backend>` (None: backend not available, skip).
#[macro_export]
macro_rules! store_suite {
    ($make:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                match $make().await {
                    Some(backend) => {
                        $crate::$case(&backend).await;
                        $crate::Backend::cleanup(&backend).await;
                    }
                    None => eprintln!("skipped {}: backend not available", stringify!($case)),
                }
            }
        )+
    };
    ($make:path) => {
        $crate::store_suite!($make;
            events_round_trip_every_field,
            a_repeated_event_id_is_stored_once,
            event_queries_filter_and_order,
            spend_groups_and_sums_exactly,
            api_keys_are_found_by_hash_and_revoked,
            concurrent_audit_appends_form_one_chain,
            batched_audit_appends_continue_the_chain,
            a_hand_edited_audit_row_breaks_verification,
            the_audit_log_refuses_updates,
            group_commit_stores_every_event_once,
            data_survives_reopening,
            holds_are_all_or_nothing_and_events_capture_them,
            concurrent_holds_never_overspend_a_hard_budget,
            holds_expire_and_alerts_are_claimed_once,
            exceptions_are_approved_once_and_expire,
        );
    };
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// An event with every optional field set.
pub fn full_event(id: &str, at: Timestamp) -> UsageEvent {
    UsageEvent {
        id: id.to_string(),
        ts: at,
        source: EventSource::Gateway,
        user_id: "ivan.petrov".into(),
        team_id: "support".into(),
        project_id: Some("atlas".into()),
        use_case: Some("support-reply".into()),
        template: Some("support-refund@3".into()),
        task: Some("T-1042".into()),
        track: Track::Production,
        destination: Some("customer-email".into()),
        operation: Operation::ChatCompletions,
        requested_model: "gpt-4.1-mini".into(),
        model: "claude-haiku-4-5".into(),
        provider: "anthropic".into(),
        usage: TokenUsage { input: 1_834, output: 412, cached_read: 1_024, cache_write: 256, reasoning: 0 },
        cost: Nanos(3_914_000),
        price_version: "claude-haiku-4-5@2026-01-01~litellm-subset.json".into(),
        latency_ms: 812,
        ttft_ms: Some(140),
        streamed: true,
        status: Status::Ok,
        http_status: 200,
        error_code: None,
        estimated: false,
        data_class: Some("confidential".into()),
        findings: BTreeMap::from([("email".to_string(), 2), ("custom_term".to_string(), 1)]),
        decision: Decision::Reroute,
        exception_id: Some("exc_01".into()),
        prompt_hash: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        key_id: Some("key_abc".into()),
        budget_keys: Vec::new(),
    }
}

/// A minimal event: every optional field empty.
pub fn bare_event(id: &str, at: Timestamp, user: &str, team: &str, cost: i64) -> UsageEvent {
    UsageEvent {
        id: id.to_string(),
        ts: at,
        source: EventSource::Simulator,
        user_id: user.into(),
        team_id: team.into(),
        project_id: None,
        use_case: None,
        template: None,
        task: None,
        track: Track::Exploration,
        destination: None,
        operation: Operation::Embeddings,
        requested_model: "text-embedding-3-small".into(),
        model: "text-embedding-3-small".into(),
        provider: "openai".into(),
        usage: TokenUsage { input: 100, output: 0, ..Default::default() },
        cost: Nanos(cost),
        price_version: "text-embedding-3-small@2026-01-01".into(),
        latency_ms: 5,
        ttft_ms: None,
        streamed: false,
        status: Status::Ok,
        http_status: 200,
        error_code: None,
        estimated: false,
        data_class: None,
        findings: BTreeMap::new(),
        decision: Decision::Allow,
        exception_id: None,
        prompt_hash: None,
        key_id: None,
        budget_keys: Vec::new(),
    }
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
}

pub async fn api_keys_are_found_by_hash_and_revoked(b: &impl Backend) {
    let s = b.store();
    let now = Timestamp::now();
    let mut k = ApiKey::generate("ivan.petrov", now);
    k.record.use_case = Some("support-reply".into());
    k.record.track = Some(Track::Production);
    k.record.created_at = ts("2026-11-01T08:00:00Z");
    s.insert_api_key(&k.record).await.unwrap();
    let other = ApiKey::generate("ivan.petrov", now);
    s.insert_api_key(&other.record).await.unwrap();

    let found = s.api_key_by_hash(&ApiKey::hash_secret(&k.secret)).await.unwrap().unwrap();
    assert_eq!(found, k.record);
    assert!(s.api_key_by_hash(&ApiKey::hash_secret("tw_wrong")).await.unwrap().is_none());
    assert_eq!(s.api_keys_for_user("ivan.petrov").await.unwrap().len(), 2);

    // The same secret cannot be stored twice.
    let mut clash = other.record.clone();
    clash.id = "key_other".into();
    assert!(matches!(s.insert_api_key(&clash).await, Err(StoreError::Conflict(_))));

    assert!(s.revoke_api_key(&k.record.id, now).await.unwrap());
    assert!(!s.revoke_api_key(&k.record.id, now).await.unwrap(), "already revoked");
    let revoked = s.api_key_by_hash(&k.record.hash).await.unwrap().unwrap();
    assert!(!revoked.is_active());
}

async fn verify_all(s: &dyn Store) -> Result<Option<(i64, String)>, ChainBreak> {
    // A small page size so the walk crosses page boundaries.
    verify_store(s, 7).await.unwrap()
}

pub async fn concurrent_audit_appends_form_one_chain(b: &impl Backend) {
    let s = b.store();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..8 {
                let d =
                    AuditDraft::new("system", "test.append", &format!("w{w}-{i}"), serde_json::json!({"w": w, "i": i}));
                s.append_audit(&d).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let head = verify_all(s.as_ref()).await.unwrap().unwrap();
    assert_eq!(head.0, 64);
}

pub async fn batched_audit_appends_continue_the_chain(b: &impl Backend) {
    let s = b.store();
    s.append_audit(&AuditDraft::new("system", "policy.load", "acme.toml", serde_json::json!({}))).await.unwrap();
    let drafts: Vec<AuditDraft> = (0..20)
        .map(|i| {
            AuditDraft::new(
                "ivan.petrov",
                "policy.decision",
                &format!("req-{i}"),
                serde_json::json!({"decision": "block"}),
            )
        })
        .collect();
    let entries = s.append_audit_batch(&drafts).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (2..=21).collect::<Vec<_>>());
    let (auditor, writer) = Auditor::spawn(s.clone());
    for i in 0..30 {
        auditor.submit(AuditDraft::new("x", "y", &format!("z{i}"), serde_json::json!(null))).await;
    }
    drop(auditor);
    writer.await.unwrap();
    assert_eq!(verify_all(s.as_ref()).await.unwrap().unwrap().0, 51);
}

pub async fn a_hand_edited_audit_row_breaks_verification(b: &impl Backend) {
    let s = b.store();
    for i in 0..5 {
        s.append_audit(&AuditDraft::new(
            "omar.haddad",
            "exception.approve",
            &format!("exc_{i}"),
            serde_json::json!({"cap_usd": "100"}),
        ))
        .await
        .unwrap();
    }
    assert!(verify_all(s.as_ref()).await.is_ok());
    b.tamper_audit_subject(3, "exc_999").await;
    let err = verify_all(s.as_ref()).await.unwrap_err();
    assert_eq!(err.seq, 3, "{err}");
}

pub async fn the_audit_log_refuses_updates(b: &impl Backend) {
    let s = b.store();
    s.append_audit(&AuditDraft::new("system", "policy.load", "acme.toml", serde_json::json!({}))).await.unwrap();
    let err = b.raw_update_audit(1).await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");
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

pub async fn data_survives_reopening(b: &impl Backend) {
    let s = b.store();
    let e = full_event("persist-1", ts("2026-11-06T12:00:00Z"));
    s.insert_events(std::slice::from_ref(&e)).await.unwrap();
    s.append_audit(&AuditDraft::new("system", "policy.load", "acme.toml", serde_json::json!({"digest": "x"})))
        .await
        .unwrap();
    let k = ApiKey::generate("ana", Timestamp::now());
    s.insert_api_key(&k.record).await.unwrap();
    drop(s);

    let again = b.reopen().await;
    assert_eq!(again.event("persist-1").await.unwrap(), Some(e));
    assert!(again.api_key_by_hash(&k.record.hash).await.unwrap().is_some());
    // Migrations ran twice without harm and the chain continues.
    again.append_audit(&AuditDraft::new("system", "policy.load", "acme.toml", serde_json::json!({}))).await.unwrap();
    assert_eq!(verify_all(again.as_ref()).await.unwrap().unwrap().0, 2);
}

use tokenwise_ledger::budget::{EnvelopeSpec, HoldPart, HoldRequest, HoldResult};

pub fn envelope(key: &str, limit: i64, hard: bool) -> EnvelopeSpec {
    EnvelopeSpec {
        key: key.into(),
        budget_id: key.split('|').next().unwrap_or(key).into(),
        scope: "team:support".into(),
        period_start: ts("2026-11-01T00:00:00Z"),
        period_end: ts("2026-12-01T00:00:00Z"),
        limit: Nanos(limit),
        hard,
        alert_at_percent: vec![50, 100],
    }
}

pub fn hold_on(id: &str, parts: &[(&EnvelopeSpec, i64)]) -> HoldRequest {
    HoldRequest {
        id: id.into(),
        parts: parts.iter().map(|(e, a)| HoldPart { envelope: (*e).clone(), amount: Nanos(*a) }).collect(),
        expires_at: Timestamp::now() + 600.seconds(),
    }
}

/// The usage event that captures hold `id` on `keys` at `cost`.
pub fn capturing(id: &str, keys: &[&EnvelopeSpec], cost: i64) -> UsageEvent {
    let mut e = bare_event(id, ts("2026-11-10T12:00:00Z"), "ivan.petrov", "support", cost);
    e.budget_keys = keys.iter().map(|k| k.key.clone()).collect();
    e
}

async fn state(s: &dyn Store, key: &str) -> (i64, i64) {
    let all = s.budget_envelopes(ts("2026-11-15T00:00:00Z")).await.unwrap();
    let e = all.iter().find(|e| e.spec.key == key).unwrap_or_else(|| panic!("no envelope {key}"));
    (e.captured.0, e.held.0)
}

pub async fn holds_are_all_or_nothing_and_events_capture_them(b: &impl Backend) {
    let s = b.store();
    let team = envelope("team|team:support|2026-11-01", 1_000, true);
    let user = envelope("user|user:ivan|2026-11-01", 300, true);
    let soft = envelope("org|org|2026-11-01", 10, false);
    assert_eq!(
        s.budget_hold(&hold_on("h1", &[(&team, 200), (&user, 200), (&soft, 200)]), "r1").await.unwrap(),
        HoldResult::Held { room: Some((user.key.clone(), Nanos(100))) },
        "the tightest hard envelope and its room after the hold"
    );
    // The user envelope has 100 left: the whole hold is refused, naming it.
    let HoldResult::Refused(r) = s.budget_hold(&hold_on("h2", &[(&team, 150), (&user, 150)]), "r1").await.unwrap()
    else {
        panic!("should refuse")
    };
    assert_eq!((r.key.as_str(), r.remaining()), ("user|user:ivan|2026-11-01", Nanos(100)));
    assert_eq!(state(s.as_ref(), &team.key).await, (0, 200), "nothing of the refused hold stuck");
    // Recording the call captures its hold: the cost is added, the rest released.
    s.insert_events(&[capturing("h1", &[&team, &user, &soft], 120)]).await.unwrap();
    assert_eq!(state(s.as_ref(), &team.key).await, (120, 0));
    assert_eq!(state(s.as_ref(), &user.key).await, (120, 0));
    assert_eq!(state(s.as_ref(), &soft.key).await, (120, 0), "soft envelopes record beyond their limit");
    // Recording the same event again captures nothing twice.
    s.insert_events(&[capturing("h1", &[&team, &user, &soft], 120)]).await.unwrap();
    assert_eq!(state(s.as_ref(), &team.key).await, (120, 0));
    assert!(s.budget_hold(&hold_on("h3", &[(&team, 150), (&user, 150)]), "r1").await.unwrap().is_held());
    assert_eq!(s.event("h1").await.unwrap().unwrap().budget_keys.len(), 3);
    // Parts on one envelope count together: 2 × 20 does not fit the 30 left.
    let HoldResult::Refused(r) = s.budget_hold(&hold_on("h4", &[(&user, 20), (&user, 20)]), "r1").await.unwrap() else {
        panic!("parts on one envelope should be refused together")
    };
    assert_eq!((r.key.as_str(), r.requested, r.remaining()), (user.key.as_str(), Nanos(40), Nanos(30)));
    assert_eq!(state(s.as_ref(), &user.key).await, (120, 150), "nothing of the refused hold stuck");
}

/// Many tasks race for a tight hard budget: whatever the interleaving, the
/// envelope never holds more than its limit, and a hold is refused only
/// when what remains is really less than it asks.
pub async fn concurrent_holds_never_overspend_a_hard_budget(b: &impl Backend) {
    let s = b.store();
    let tight = envelope("tight|team:support|2026-11-01", 10_000, true);
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (s, tight) = (s.clone(), tight.clone());
        tasks.push(tokio::spawn(async move {
            let mut granted = 0;
            for i in 0..25 {
                let id = format!("c{w}-{i}");
                match s.budget_hold(&hold_on(&id, &[(&tight, 100)]), "r1").await.unwrap() {
                    HoldResult::Held { .. } => {
                        granted += 1;
                        s.insert_events(&[capturing(&id, &[&tight], 60 + (i % 40))]).await.unwrap();
                    }
                    HoldResult::Refused(r) => {
                        assert!(r.remaining() < Nanos(100), "refused with {} left", r.remaining())
                    }
                }
            }
            granted
        }));
    }
    let mut granted = 0;
    for t in tasks {
        granted += t.await.unwrap();
    }
    let (captured, held) = state(s.as_ref(), &tight.key).await;
    assert_eq!(held, 0);
    assert!(captured <= 10_000, "overspent: {captured}");
    assert!(captured > 10_000 - 100, "refused while room remained: captured {captured}");
    assert!(granted > 100);
}

pub async fn holds_expire_and_alerts_are_claimed_once(b: &impl Backend) {
    let s = b.store();
    let env = envelope("alerting|team:support|2026-11-01", 1_000, true);
    let mut h = hold_on("dead", &[(&env, 900)]);
    h.expires_at = Timestamp::now() - 1.seconds();
    assert!(s.budget_hold(&h, "dead-replica").await.unwrap().is_held());
    assert_eq!(
        s.budget_hold(&hold_on("x", &[(&env, 200)]), "r1").await.unwrap(),
        HoldResult::Refused(tokenwise_ledger::budget::Refusal {
            key: env.key.clone(),
            budget_id: env.budget_id.clone(),
            scope: env.scope.clone(),
            limit: Nanos(1_000),
            captured: Nanos(0),
            held: Nanos(900),
            requested: Nanos(200),
        })
    );
    // A live owner renews; the dead one's hold expires and comes back.
    s.budget_renew("r1", &["dead".into()], Timestamp::now() + 600.seconds()).await.unwrap();
    s.budget_renew("dead-replica", &[], Timestamp::now() + 600.seconds()).await.unwrap();
    assert_eq!(s.budget_expire(Timestamp::now()).await.unwrap(), 1);
    assert_eq!(state(s.as_ref(), &env.key).await, (0, 0));
    // 60% captured: the 50% alert is claimed once, by one caller.
    assert!(s.budget_hold(&hold_on("y", &[(&env, 700)]), "r1").await.unwrap().is_held());
    s.insert_events(&[capturing("y", &[&env], 600)]).await.unwrap();
    let at = ts("2026-11-15T00:00:00Z");
    let (a, b2) = tokio::join!(s.budget_claim_alerts(at), s.budget_claim_alerts(at));
    let claimed: Vec<u32> =
        a.unwrap().into_iter().chain(b2.unwrap()).filter(|(e, _)| e.spec.key == env.key).map(|(_, p)| p).collect();
    assert_eq!(claimed, vec![50]);
    assert!(s.budget_claim_alerts(at).await.unwrap().is_empty());
    // Unlocks are recorded once.
    assert!(s.budget_unlock(&env.key, 0, at, &serde_json::json!({"efficiency": 0.8})).await.unwrap());
    assert!(!s.budget_unlock(&env.key, 0, at, &serde_json::json!({})).await.unwrap());
    assert_eq!(s.budget_unlocks(std::slice::from_ref(&env.key)).await.unwrap(), vec![(env.key.clone(), 0)]);
}

pub async fn exceptions_are_approved_once_and_expire(b: &impl Backend) {
    let s = b.store();
    // Stores keep microseconds.
    let now = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let e = Exception {
        id: Exception::new_id(),
        scope: "team:support".into(),
        reason_code: "customer-escalation".into(),
        justification: "Black Friday backlog".into(),
        requested_by: "ivan.petrov".into(),
        status: ExceptionStatus::Pending,
        cap: Nanos(5_000_000_000),
        duration_secs: 3_600,
        models: vec!["claude-sonnet-4-5".into()],
        data_class: Some("confidential".into()),
        created_at: now,
        decided_by: None,
        decided_at: None,
        valid_until: None,
    };
    s.insert_exception(&e).await.unwrap();
    assert_eq!(s.exception(&e.id).await.unwrap().unwrap(), e);
    assert!(s.active_exceptions(&["team:support".into()], now).await.unwrap().is_empty(), "pending is not active");
    let approved = s.decide_exception(&e.id, true, "lucia.fernandez", now).await.unwrap().unwrap();
    assert_eq!(approved.status, ExceptionStatus::Approved);
    assert_eq!(approved.valid_until.unwrap().as_microsecond(), now.as_microsecond() + 3_600_000_000);
    assert!(s.decide_exception(&e.id, false, "omar.haddad", now).await.unwrap().is_none(), "decided once");
    let active =
        s.active_exceptions(&["user:ivan.petrov".into(), "team:support".into()], now + 10.seconds()).await.unwrap();
    assert_eq!(active.len(), 1);
    assert!(active[0].is_active(now + 10.seconds()));
    assert!(
        s.active_exceptions(&["team:support".into()], now + 3_601.seconds()).await.unwrap().is_empty(),
        "it expires by itself"
    );
}
