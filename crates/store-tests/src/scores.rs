//! What scoring reads: calls summed per person, day, use case and
//! template, exactly; rules kept once per version.

use crate::events::bare_event;
use crate::{Backend, ts};
use jiff::ToSpan;
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
