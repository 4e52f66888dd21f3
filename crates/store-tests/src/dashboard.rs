//! The dashboard's sessions (live until they expire or are ended, seen by
//! every replica) and the scorecard's feedback.

use crate::Backend;
use jiff::{Timestamp, ToSpan};
use tokenwise_ledger::*;

fn session(id: &str, user: &str, at: Timestamp, hours: i64) -> Session {
    Session {
        id_hash: id.into(),
        user_id: user.into(),
        key_hash: (user != "sso.person").then(|| format!("hash-of-{user}")),
        via: if user == "sso.person" { "proxy".into() } else { "key".into() },
        csrf: format!("csrf-{id}"),
        created_at: at,
        expires_at: at + hours.hours(),
    }
}

pub async fn sessions_live_until_they_expire_or_end(b: &impl Backend) {
    let s = b.store();
    let t0 = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let a = session(&format!("a-{t0}"), "ivan.petrov", t0, 8);
    let sso = session(&format!("s-{t0}"), "sso.person", t0, 8);
    s.insert_session(&a).await.unwrap();
    s.insert_session(&sso).await.unwrap();
    assert_eq!(s.session(&a.id_hash, t0 + 1.hour()).await.unwrap(), Some(a.clone()));
    // Another replica (another connection) sees it.
    let other = b.reopen().await;
    assert_eq!(other.session(&sso.id_hash, t0).await.unwrap(), Some(sso.clone()));
    assert_eq!(s.session(&a.id_hash, t0 + 8.hours()).await.unwrap(), None, "expired at its end");
    assert_eq!(s.session("nope", t0).await.unwrap(), None);
    assert!(other.delete_session(&a.id_hash).await.unwrap());
    assert!(!s.delete_session(&a.id_hash).await.unwrap());
    assert_eq!(s.session(&a.id_hash, t0).await.unwrap(), None, "ended by logout");
    // A new session sweeps those already expired.
    s.insert_session(&session(&format!("c-{t0}"), "jade.nguyen", t0 + 9.hours(), 8)).await.unwrap();
    assert_eq!(s.session(&sso.id_hash, t0).await.unwrap(), None, "swept: it expired before the new one began");
}

pub async fn feedback_is_kept_and_read_by_person_and_period(b: &impl Backend) {
    let s = b.store();
    let t0 = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let tag = t0.as_microsecond().to_string();
    let one = |user: &str, period: &str, answer: &str, secs: i64| Feedback {
        id: format!("fb-{tag}-{user}-{period}-{secs}"),
        user_id: format!("{user}-{tag}"),
        period: period.into(),
        answer: answer.into(),
        comment: (answer == "unfair").then(|| "my validated work counts less than a colleague's".into()),
        model: "balanced".into(),
        rules_version: "balanced-1".into(),
        at: t0 + secs.seconds(),
    };
    let (a, bb, c) = (
        one("ivan", "2026-11", "unfair", 2),
        one("ivan", "2026-11", "motivating", 1),
        one("jade", "2026-10", "confusing", 0),
    );
    for f in [&a, &bb, &c] {
        s.insert_feedback(f).await.unwrap();
    }
    let ivan = format!("ivan-{tag}");
    assert_eq!(s.feedback(Some(&ivan), None).await.unwrap(), vec![bb.clone(), a.clone()], "oldest first");
    assert_eq!(s.feedback(Some(&ivan), Some("2026-10")).await.unwrap(), vec![]);
    let all = s.feedback(None, Some("2026-10")).await.unwrap();
    assert!(all.contains(&c) && !all.contains(&a));
    let mut bad = one("ivan", "2026-11", "meh", 3);
    bad.id.push('x');
    assert!(s.insert_feedback(&bad).await.is_err(), "only the three answers are kept");
}
