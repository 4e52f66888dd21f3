//! What scoring reads: calls summed per person, day, use case and
//! template, exactly; rules kept once per version.

use crate::events::bare_event;
use crate::{Backend, ts};
use jiff::{Timestamp, ToSpan};
use tokenwise_core::Nanos;
use tokenwise_ledger::*;

pub async fn activity_sums_calls_per_person_day_use_case_and_template(b: &impl Backend) {
    let s = b.store();
    let start = ts("2026-09-01T00:00:00Z");
    let big = 987_654_321_123i64;
    let mut events = Vec::new();
    for (i, (hours, user, template, status, decision, cost)) in [
        (1, "ana", Some("reply@3"), Status::Ok, Decision::Allow, big),
        (2, "ana", Some("reply@3"), Status::Ok, Decision::Redact, big + 1),
        (3, "ana", Some("reply@3"), Status::Blocked, Decision::Block, 0),
        (4, "ana", None, Status::Ok, Decision::Reroute, 5),
        (25, "ana", Some("reply@3"), Status::Ok, Decision::Allow, 7),
        (26, "bo", Some("reply@3"), Status::Ok, Decision::Allow, 11),
        // Outside the range, on both sides.
        (-1, "ana", Some("reply@3"), Status::Ok, Decision::Allow, 1_000),
        (30 * 24, "ana", Some("reply@3"), Status::Ok, Decision::Allow, 1_000),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = bare_event(&format!("act-{i}"), start + hours.hours(), user, "support", cost);
        e.use_case = Some("support-reply".into());
        e.template = template.map(str::to_string);
        e.status = status;
        e.decision = decision;
        e.usage.output = 10;
        if i == 1 {
            e.exception_id = Some("exc_1".into());
        }
        events.push(e);
    }
    s.insert_events(&events).await.unwrap();

    let rows = s.activity(start, start + (30 * 24).hours()).await.unwrap();
    let key = |r: &ActivityRow| (r.user_id.clone(), r.day, r.template.clone());
    assert_eq!(
        rows.iter().map(key).collect::<Vec<_>>(),
        vec![
            ("ana".to_string(), 0, None),
            ("ana".to_string(), 0, Some("reply@3".to_string())),
            ("ana".to_string(), 1, Some("reply@3".to_string())),
            ("bo".to_string(), 1, Some("reply@3".to_string())),
        ],
        "ordered by person, day, use case, template"
    );
    let day0 = &rows[1];
    assert_eq!((day0.calls, day0.blocked, day0.flagged, day0.exception_calls), (3, 1, 1, 1));
    assert_eq!(day0.cost, Nanos(2 * big + 1), "sums stay exact");
    assert_eq!(day0.tokens, 3 * 110);
    assert_eq!(day0.use_case.as_deref(), Some("support-reply"));
    assert_eq!((rows[0].calls, rows[0].flagged, rows[0].cost), (1, 1, Nanos(5)), "a reroute is flagged");
    assert_eq!((rows[2].calls, rows[2].cost), (1, Nanos(7)));
}

pub async fn rules_are_kept_once_per_version(b: &impl Backend) {
    let s = b.store();
    let at = ts("2026-11-01T00:00:00Z");
    assert_eq!(s.rules("s1-abc").await.unwrap(), None);
    s.keep_rules("s1-abc", r#"{"team_share":0.65}"#, at).await.unwrap();
    s.keep_rules("s1-abc", r#"{"team_share":0.99}"#, at + 1.hour()).await.unwrap();
    assert_eq!(s.rules("s1-abc").await.unwrap().as_deref(), Some(r#"{"team_share":0.65}"#), "first kept wins");
    let again = b.reopen().await;
    assert_eq!(again.rules("s1-abc").await.unwrap().as_deref(), Some(r#"{"team_share":0.65}"#));
}

pub async fn a_server_secret_is_made_once_for_every_replica(b: &impl Backend) {
    let s = b.store();
    let first = s.server_secret("pseudonyms", "aaa").await.unwrap();
    assert_eq!(first, "aaa");
    let other = b.reopen().await;
    assert_eq!(other.server_secret("pseudonyms", "bbb").await.unwrap(), "aaa", "the first one stays");
    assert_eq!(s.server_secret("another", "ccc").await.unwrap(), "ccc");
}

/// Person, day of the range, use case, template.
type Key = (String, i64, Option<String>, Option<String>);

/// The daily rollup the writer keeps gives the same sums as the events
/// themselves, for ranges on and off UTC day boundaries, however the
/// events arrived (batches, repeats).
pub async fn activity_from_the_rollup_equals_the_events(b: &impl Backend) {
    let s = b.store();
    let start = ts("2026-10-01T00:00:00Z");
    let mut events = Vec::new();
    for i in 0..240i64 {
        let user = ["ana", "bo", "cy"][(i % 3) as usize];
        let mut e =
            bare_event(&format!("roll-{i}"), start + (i * 7).hours() + (i * 13).minutes(), user, "sales", 1_000 + i);
        e.use_case = (i % 4 != 0).then(|| "kb-search".to_string());
        e.template = (i % 5 == 0).then(|| "kb@1".to_string());
        if i % 11 == 0 {
            e.status = Status::Blocked;
            e.decision = Decision::Block;
        } else if i % 7 == 0 {
            e.decision = Decision::Redact;
        }
        events.push(e);
    }
    for chunk in events.chunks(17) {
        s.insert_events(chunk).await.unwrap();
    }
    // A repeated batch is stored once, and counted once.
    s.insert_events(&events[..30]).await.unwrap();
    let day = 24.hours();
    for (from, to) in [
        (start, start + (70 * 24).hours()),
        (start - 1.hour(), start + (30 * 24).hours() - 1.hour()),
        (start + 5.hours() + 30.minutes(), start + (9 * 24).hours() + 3.hours()),
        (start + 2.hours(), start + 20.hours()),
        (start + day, start + day + day),
    ] {
        let got = s.activity(from, to).await.unwrap();
        let mut want: std::collections::BTreeMap<Key, (u64, u64, u64, i64)> = Default::default();
        for e in events.iter().filter(|e| e.ts >= from && e.ts < to) {
            let d = (e.ts.as_microsecond() - from.as_microsecond()).div_euclid(86_400_000_000);
            let w = want.entry((e.user_id.clone(), d, e.use_case.clone(), e.template.clone())).or_default();
            w.0 += 1;
            w.1 += u64::from(e.status == Status::Blocked);
            w.2 += u64::from(e.status != Status::Blocked && e.decision == Decision::Redact);
            w.3 += e.cost.0;
        }
        let calls: u64 = got.iter().map(|r| r.calls).sum();
        assert_eq!(calls, want.values().map(|w| w.0).sum::<u64>(), "calls in {from}..{to}");
        let cost: i64 = got.iter().map(|r| r.cost.0).sum();
        assert_eq!(cost, want.values().map(|w| w.3).sum::<i64>(), "cost in {from}..{to}");
        let blocked: u64 = got.iter().map(|r| r.blocked).sum();
        assert_eq!(blocked, want.values().map(|w| w.1).sum::<u64>());
        let flagged: u64 = got.iter().map(|r| r.flagged).sum();
        assert_eq!(flagged, want.values().map(|w| w.2).sum::<u64>());
        // Per person, use case and template, exactly (days may differ by the
        // rollup's UTC days at a range that does not start at midnight UTC).
        let per = |rows: Vec<(String, Option<String>, Option<String>, u64)>| {
            let mut m: std::collections::BTreeMap<(String, Option<String>, Option<String>), u64> = Default::default();
            for (u, uc, t, n) in rows {
                *m.entry((u, uc, t)).or_default() += n;
            }
            m
        };
        assert_eq!(
            per(got.iter().map(|r| (r.user_id.clone(), r.use_case.clone(), r.template.clone(), r.calls)).collect()),
            per(want.iter().map(|((u, _, uc, t), w)| (u.clone(), uc.clone(), t.clone(), w.0)).collect()),
        );
    }
}

/// The tasks behind outcomes are read by (person, task), with their first
/// template and prompt hash; keys with no calls are simply absent.
pub async fn tasks_are_read_by_person_and_task(b: &impl Backend) {
    let s = b.store();
    let start = ts("2026-09-01T00:00:00Z");
    let mut events = Vec::new();
    for (i, (user, task, template, hash)) in [
        ("ana", "T-1", Some("reply@3"), "h1"),
        ("ana", "T-1", Some("reply@4"), "h2"),
        ("bo", "T-1", None, "h3"),
        ("bo", "T-2", Some("kb@1"), "h4"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = bare_event(&format!("task-of-{i}"), start + (i as i64).hours(), user, "sales", 10);
        e.task = Some(task.into());
        e.template = template.map(str::to_string);
        e.prompt_hash = Some(hash.into());
        events.push(e);
    }
    s.insert_events(&events).await.unwrap();
    let keys: Vec<(String, String)> = [("ana", "T-1"), ("bo", "T-1"), ("cy", "T-1"), ("bo", "T-9")]
        .iter()
        .map(|(u, t)| (u.to_string(), t.to_string()))
        .collect();
    let mut got = s.tasks_of(&keys).await.unwrap();
    got.sort_by(|a, b| (&a.user_id, &a.task).cmp(&(&b.user_id, &b.task)));
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[0].template.as_deref(), got[0].prompt_hash.as_deref(), got[0].calls),
        (Some("reply@3"), Some("h1"), 2)
    );
    assert_eq!(
        (got[1].user_id.as_str(), got[1].template.as_deref(), got[1].prompt_hash.as_deref()),
        ("bo", None, Some("h3"))
    );
    assert!(s.tasks_of(&[]).await.unwrap().is_empty());
}

/// Two stores on one database (two replicas) each commit batches from
/// several tasks at once, some of them twice, while readers ask for the
/// roll-ups: every read after the writers stop counts each stored event
/// exactly once, in the activity, model and usage roll-ups alike.
pub async fn rollups_count_each_event_once_with_writers_and_readers_at_once(b: &impl Backend) {
    let stores = [b.store(), b.reopen().await];
    let start = ts("2026-08-03T00:00:00Z");
    let (from, to) = (start, start + (7 * 24).hours());
    let days = (from.as_microsecond() / rollup::DAY_US, to.as_microsecond() / rollup::DAY_US);
    let users = ["ana", "bo", "cy"];
    let mut writers = Vec::new();
    for w in 0..6usize {
        let s = stores[w % 2].clone();
        writers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for batch in 0..15i64 {
                let events: Vec<UsageEvent> = (0..3i64)
                    .map(|i| {
                        let n = batch * 3 + i;
                        let at = start + (n * 97).minutes() + (w as i64).minutes();
                        let mut e =
                            bare_event(&format!("rc-{w}-{n}"), at, users[(n as usize + w) % 3], "sales", 10 + n);
                        e.use_case = Some(["kb-search", "support-reply"][(n % 2) as usize].into());
                        e
                    })
                    .collect();
                s.insert_events(&events).await.unwrap();
                // A retried batch: stored and counted once.
                if batch % 4 == 0 {
                    s.insert_events(&events).await.unwrap();
                }
                sent.extend(events);
            }
            sent
        }));
    }
    let readers: Vec<_> = (0..2usize)
        .map(|r| {
            let s = stores[r].clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    s.activity(from, to).await.unwrap();
                    s.model_days(days.0, days.1).await.unwrap();
                }
            })
        })
        .collect();
    let mut events = Vec::new();
    for w in writers {
        events.extend(w.await.unwrap());
    }
    for r in readers {
        r.await.unwrap();
    }
    let calls = events.len() as u64;
    let cost: i64 = events.iter().map(|e| e.cost.0).sum();
    for s in &stores {
        let act = s.activity(from, to).await.unwrap();
        assert_eq!(act.iter().map(|r| r.calls).sum::<u64>(), calls, "activity calls");
        assert_eq!(act.iter().map(|r| r.cost.0).sum::<i64>(), cost, "activity cost");
        let days = s.model_days(days.0, days.1).await.unwrap();
        assert_eq!(days.iter().map(|r| r.calls).sum::<u64>(), calls, "model days calls");
        assert_eq!(days.iter().map(|r| r.cost.0).sum::<i64>(), cost, "model days cost");
        let edges: Vec<Timestamp> = (0..=7).map(|d| start + (d * 24).hours()).collect();
        let usage = s.usage_totals(&edges, None).await.unwrap();
        assert_eq!(usage.iter().map(|r| r.calls).sum::<u64>(), calls, "usage calls");
        assert_eq!(usage.iter().map(|r| r.cost.0).sum::<i64>(), cost, "usage cost");
    }
}
