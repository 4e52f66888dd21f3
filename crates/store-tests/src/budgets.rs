//! Budgets: all-or-nothing holds, captures, races, expiry, alerts, unlocks.

use crate::{Backend, bare_event, ts};
use jiff::{Timestamp, ToSpan};
use tokenwise_core::Nanos;
use tokenwise_ledger::budget::{EnvelopeSpec, HoldPart, HoldRequest, HoldResult};
use tokenwise_ledger::*;

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

pub(crate) async fn state(s: &dyn BudgetStore, key: &str) -> (i64, i64) {
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

/// Usage that already happened elsewhere is captured with no hold: the
/// envelopes it names are made sure of first, and its cost counts, even
/// past a hard limit (it cannot be refused any more), once per event.
pub async fn recorded_usage_is_captured_without_a_hold(b: &impl Backend) {
    let s = b.store();
    let team = envelope("ingest|team:support|2026-11-01", 100, true);
    s.budget_ensure(std::slice::from_ref(&team)).await.unwrap();
    s.budget_ensure(std::slice::from_ref(&team)).await.unwrap();
    assert_eq!(state(s.as_ref(), &team.key).await, (0, 0));
    s.insert_events(&[capturing("elsewhere-1", &[&team], 80), capturing("elsewhere-2", &[&team], 70)]).await.unwrap();
    s.insert_events(&[capturing("elsewhere-1", &[&team], 80)]).await.unwrap();
    assert_eq!(state(s.as_ref(), &team.key).await, (150, 0), "counted once each, past the limit");
    // A later hold sees what was captured.
    let HoldResult::Refused(r) = s.budget_hold(&hold_on("h", &[(&team, 1)]), "r1").await.unwrap() else {
        panic!("the envelope is spent")
    };
    assert_eq!(r.captured, Nanos(150));
    // And so does a store opened afresh.
    let again = b.reopen().await;
    again.budget_ensure(std::slice::from_ref(&team)).await.unwrap();
    assert_eq!(state(again.as_ref(), &team.key).await.0, 150);
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
