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

pub async fn feedback_is_kept_once_a_week_per_pilot_and_subject(b: &impl Backend) {
    let s = b.store();
    let t0 = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let tag = t0.as_microsecond().to_string();
    let pilot = format!("p-{tag}");
    let one = |user: &str, about: &str, week: &str, answer: &str, secs: i64| Feedback {
        id: format!("fb-{tag}-{user}-{about}-{week}-{secs}"),
        user_id: format!("{user}-{tag}"),
        pilot: Some(pilot.clone()),
        about: Some(about.into()),
        week: Some(week.into()),
        period: "2026-11".into(),
        answer: answer.into(),
        comment: (answer == "unfair").then(|| "my validated work counts less than a colleague's".into()),
        model: "efficiency".into(),
        rules_version: "s2-0123456789".into(),
        at: t0 + secs.seconds(),
    };
    let (a, bb, c) = (
        one("ivan", "score", "2026-W48", "unfair", 2),
        one("ivan", "nudge", "2026-W48", "motivating", 1),
        one("jade", "score", "2026-W48", "confusing", 0),
    );
    for f in [&a, &bb, &c] {
        assert!(s.insert_feedback(f).await.unwrap(), "the first answer of the week about {:?}", f.about);
    }
    let again = one("ivan", "score", "2026-W48", "motivating", 5);
    assert!(!s.insert_feedback(&again).await.unwrap(), "a second answer about the score in the same week");
    let next_week = one("ivan", "score", "2026-W49", "motivating", 6);
    assert!(s.insert_feedback(&next_week).await.unwrap(), "a new week");
    let ivan = format!("ivan-{tag}");
    let his = s.feedback(Some(&ivan), Some(&pilot)).await.unwrap();
    assert_eq!(his, vec![bb.clone(), a.clone(), next_week.clone()], "oldest first, the refused one not kept");
    assert_eq!(s.feedback(Some(&ivan), Some("another-pilot")).await.unwrap(), vec![]);
    assert_eq!(s.feedback(None, Some(&pilot)).await.unwrap(), vec![c.clone(), bb, a, next_week]);
    let mut bad = one("ivan", "budget", "2026-W48", "meh", 3);
    bad.id.push('x');
    assert!(s.insert_feedback(&bad).await.is_err(), "only the three answers are kept");
}

pub async fn a_pilot_is_decided_once(b: &impl Backend) {
    let s = b.store();
    let t0 = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
    let pilot = format!("p-{}", t0.as_microsecond());
    let decision = |what: &str, secs: i64| PilotDecision {
        pilot: pilot.clone(),
        decision: what.into(),
        reward_model: "efficiency".into(),
        rules_version: "s2-0123456789".into(),
        decided_by: "gina".into(),
        at: t0 + secs.seconds(),
    };
    let promoted = decision("promoted", 0);
    assert!(s.decide_pilot(&promoted).await.unwrap());
    assert!(!s.decide_pilot(&decision("ended", 1)).await.unwrap(), "already decided");
    let kept = s.pilot_decisions().await.unwrap();
    assert_eq!(kept.iter().filter(|d| d.pilot == pilot).collect::<Vec<_>>(), vec![&promoted]);
}
