//! Budget exceptions: decided once, in force for their duration.

use crate::Backend;
use jiff::{Timestamp, ToSpan};
use tokenwise_core::Nanos;
use tokenwise_ledger::*;

fn ask(scope: &str, by: &str, created_at: Timestamp) -> Exception {
    Exception {
        id: Exception::new_id(),
        scope: scope.parse().unwrap(),
        reason_code: "customer-escalation".into(),
        justification: "Black Friday backlog".into(),
        requested_by: by.into(),
        status: ExceptionStatus::Pending,
        cap: Nanos(1_000_000_000),
        duration_secs: 600,
        models: Vec::new(),
        data_class: None,
        created_at,
        decided_by: None,
        decided_at: None,
        valid_until: None,
    }
}

pub async fn exceptions_are_listed_newest_first_by_status_and_scope(b: &impl Backend) {
    let s = b.store();
    let t0 = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let a = ask("team:support", "ivan.petrov", t0);
    let b2 = ask("user:ivan.petrov", "ivan.petrov", t0 + 1.second());
    let c = ask("team:support", "jade.nguyen", t0 + 2.seconds());
    for e in [&a, &b2, &c] {
        s.insert_exception(e).await.unwrap();
    }
    s.decide_exception(&a.id, false, "lucia.fernandez", t0 + 3.seconds()).await.unwrap().unwrap();
    let ids = |v: Vec<Exception>| v.into_iter().map(|e| e.id).collect::<Vec<String>>().join(",");
    assert_eq!(ids(s.list_exceptions(None, None, 10).await.unwrap()), [c.id.as_str(), &b2.id, &a.id].join(","));
    assert_eq!(
        ids(s.list_exceptions(Some(ExceptionStatus::Pending), None, 10).await.unwrap()),
        [c.id.as_str(), &b2.id].join(",")
    );
    assert_eq!(ids(s.list_exceptions(None, Some("team:support"), 10).await.unwrap()), [c.id.as_str(), &a.id].join(","));
    assert_eq!(ids(s.list_exceptions(Some(ExceptionStatus::Denied), Some("team:support"), 10).await.unwrap()), a.id);
    assert_eq!(ids(s.list_exceptions(None, None, 1).await.unwrap()), c.id, "at most the limit");
}

pub async fn exceptions_are_approved_once_and_expire(b: &impl Backend) {
    let s = b.store();
    // Stores keep microseconds.
    let now = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let e = Exception {
        id: Exception::new_id(),
        scope: "team:support".parse().unwrap(),
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
