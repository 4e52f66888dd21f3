//! What the anomaly detectors read and keep: calls per day and model from
//! the rollup, prompt groups found by the database, the events a finding
//! cites; findings kept once under their id, alerted once, suppressed by an
//! upheld appeal; incidents.

use crate::events::bare_event;
use crate::{Backend, ts};
use jiff::ToSpan;
use tokenwise_core::Nanos;
use tokenwise_ledger::store::anomalies::{EvidenceQuery, ModelDay};
use tokenwise_ledger::*;

const DAY: i64 = 86_400_000_000;

/// A sketch whose low band is `band0` and other bands differ per `i`.
fn sketch(band0: u64, i: u64) -> u64 {
    band0 | (i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15) & !0xffff)
}

pub async fn prompt_groups_and_model_days_come_from_the_database(b: &impl Backend) {
    let s = b.store();
    let day = ts("2026-10-05T00:00:00Z");
    let mut events = Vec::new();
    // ana: one prompt twelve times in a day, on two models.
    for i in 0..12 {
        let mut e = bare_event(&format!("rep-{i:02}"), day + (i * 10).minutes(), "ana", "support", 100 + i);
        e.model = if i < 4 { "opus".into() } else { "haiku".into() };
        e.use_case = Some("support-reply".into());
        e.prompt_hash = Some("h-same".into());
        e.prompt_minhash = Some(sketch(0xbeef, 99));
        events.push(e);
    }
    // bo: the same prompt three times; the next day once more.
    for i in 0..4 {
        let mut e = bare_event(&format!("bo-{i}"), day + (i * 8).hours(), "bo", "support", 5);
        e.prompt_hash = Some("h-bo".into());
        events.push(e);
    }
    // cy: five different prompts whose sketches share their low band; the
    // top bit set, which a signed BIGINT must keep.
    for i in 0..5u64 {
        let mut e = bare_event(&format!("cy-{i}"), day + (i as i64).hours(), "cy", "sales", 10 * i as i64);
        e.prompt_hash = Some(format!("h-cy-{i}"));
        e.prompt_minhash = Some(sketch(0x1234, i) | (1 << 63));
        events.push(e);
    }
    s.insert_events(&events).await.unwrap();
    assert_eq!(s.event("cy-3").await.unwrap().unwrap().prompt_minhash, Some(sketch(0x1234, 3) | (1 << 63)));

    let d = day.as_microsecond() / DAY;
    let rows = s.model_days(d, d + 2).await.unwrap();
    let ana: Vec<&ModelDay> = rows.iter().filter(|r| r.user_id == "ana").collect();
    assert_eq!(ana.len(), 2);
    assert_eq!((ana[0].model.as_str(), ana[0].calls, ana[0].use_case.as_str()), ("haiku", 8, "support-reply"));
    assert_eq!((ana[1].model.as_str(), ana[1].calls, ana[1].cost), ("opus", 4, Nanos(100 + 101 + 102 + 103)));
    assert_eq!(rows.iter().filter(|r| r.user_id == "bo").map(|r| r.calls).sum::<u64>(), 4);
    assert_eq!(rows.iter().filter(|r| r.user_id == "bo").count(), 2, "two days");

    let (from, to) = (d * DAY, (d + 2) * DAY);
    let reps = s.repeated_prompts(d, d + 2, 3, 10).await.unwrap();
    let got: Vec<(&str, i64, &str, u64)> =
        reps.iter().map(|r| (r.user_id.as_str(), r.day, r.prompt_hash.as_str(), r.calls)).collect();
    assert_eq!(got, vec![("ana", d, "h-same", 12), ("bo", d, "h-bo", 3)], "most repeated first, per day");
    assert_eq!(s.repeated_prompts(d, d + 2, 10, 10).await.unwrap().len(), 1);
    assert!(s.repeated_prompts(d + 1, d + 2, 2, 10).await.unwrap().is_empty(), "bo's next day is one call");

    // Each distinct prompt of a day counts once in its sketch's first band,
    // however often it was sent: ana's one prompt is one, cy's five are five.
    let groups = s.sketch_groups(d, d + 2, 2, 10).await.unwrap();
    let got: Vec<(&str, i64, i64, u64)> =
        groups.iter().map(|g| (g.user_id.as_str(), g.day, g.band0, g.prompts)).collect();
    assert_eq!(got, vec![("cy", d, 0x1234, 5)]);
    assert!(s.sketch_groups(d, d + 2, 6, 10).await.unwrap().is_empty());

    let q = EvidenceQuery {
        user_id: "ana".into(),
        from_us: from,
        to_us: to,
        prompt_hash: Some("h-same".into()),
        limit: 3,
        ..EvidenceQuery::default()
    };
    let ids: Vec<String> = s.evidence(&q).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec!["rep-11", "rep-10", "rep-09"], "dearest first");
    let q = EvidenceQuery { model: Some("opus".into()), prompt_hash: None, limit: 20, ..q };
    assert_eq!(s.evidence(&q).await.unwrap().len(), 4);
    let q = EvidenceQuery {
        user_id: "cy".into(),
        from_us: from,
        to_us: to,
        band: Some((0, 0x1234)),
        limit: 20,
        ..EvidenceQuery::default()
    };
    let cy = s.evidence(&q).await.unwrap();
    assert_eq!(cy.len(), 5);
    assert!(cy.iter().all(|r| r.prompt_minhash.is_some_and(|h| h & 0xffff == 0x1234)));

    // Sent again in a later batch, twice with one id: counted on, once.
    let mut again = bare_event("rep-later", day + 5.hours(), "ana", "support", 1);
    again.prompt_hash = Some("h-same".into());
    again.prompt_minhash = Some(sketch(0xbeef, 99));
    s.insert_events(&[again.clone(), again]).await.unwrap();
    assert_eq!(s.repeated_prompts(d, d + 1, 10, 10).await.unwrap()[0].calls, 13);
    assert!(s.sketch_groups(d, d + 1, 2, 10).await.unwrap().iter().all(|g| g.user_id == "cy"), "still one prompt");
}

pub async fn the_calls_dlp_stopped_are_read_per_day_and_cited(b: &impl Backend) {
    let s = b.store();
    let day = ts("2026-10-05T00:00:00Z");
    let mut events = Vec::new();
    for i in 0..6 {
        let mut e = bare_event(&format!("dlp-{i}"), day + (i * 10).minutes(), "ana", "support", 100 + i);
        // DLP refused one, masked one, rerouted one; the rest went as sent.
        match i {
            1 => (e.status, e.decision) = (Status::Blocked, Decision::Block),
            3 => e.decision = Decision::Redact,
            4 => e.decision = Decision::Reroute,
            _ => {}
        }
        events.push(e);
    }
    // bo: two calls the next day, one blocked, in a use case; cy: nothing stopped.
    for i in 0..2 {
        let mut e = bare_event(&format!("bo-{i}"), day + (24 + i).hours(), "bo", "support", 7);
        e.use_case = Some("code-review".into());
        if i == 0 {
            (e.status, e.decision) = (Status::Blocked, Decision::Block);
        }
        events.push(e);
    }
    events.push(bare_event("cy-0", day, "cy", "sales", 3));
    s.insert_events(&events).await.unwrap();
    let d = day.as_microsecond() / DAY;
    let rows = s.stopped_days(d, d + 2).await.unwrap();
    let got: Vec<(i64, &str, &str, u64, u64)> =
        rows.iter().map(|r| (r.day, r.user_id.as_str(), r.use_case.as_str(), r.blocked, r.flagged)).collect();
    assert_eq!(got, vec![(d, "ana", "", 1, 2), (d + 1, "bo", "code-review", 1, 0)]);
    assert_eq!(s.stopped_days(d + 1, d + 2).await.unwrap().len(), 1);
    let q = EvidenceQuery {
        user_id: "ana".into(),
        from_us: d * DAY,
        to_us: (d + 1) * DAY,
        limit: 20,
        ..EvidenceQuery::default()
    };
    assert_eq!(s.evidence(&q).await.unwrap().len(), 6);
    let ids: Vec<String> =
        s.evidence(&EvidenceQuery { dlp: true, ..q }).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec!["dlp-4", "dlp-3", "dlp-1"], "only the calls DLP stopped, dearest first");
}

fn record(id: &str, explanation: &str, at: jiff::Timestamp) -> AnomalyRecord {
    AnomalyRecord {
        id: id.into(),
        detector: "repeated_prompt".into(),
        subject: "user:ana".into(),
        user_id: "ana".into(),
        team_id: Some("support".into()),
        use_case: None,
        period: "2026-10".into(),
        window: "2026-10-05T00:00:00Z/24h".into(),
        severity: "medium".into(),
        explanation: explanation.into(),
        evidence: "{\"event_ids\":[]}".into(),
        first_seen: at,
        last_seen: at,
        alerted_at: None,
        appeal: None,
    }
}

pub async fn anomalies_are_kept_once_alerted_once_and_suppressed_by_an_upheld_appeal(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-10-06T08:00:00Z");
    s.keep_anomalies(&[record("anm_1", "twelve times", t), record("anm_2", "other", t + 1.second())]).await.unwrap();
    // Found again later with more evidence: one row, first seen kept.
    s.keep_anomalies(&[record("anm_1", "fifteen times", t + 1.hour())]).await.unwrap();
    let all = s.anomalies("2026-10").await.unwrap();
    assert_eq!(all.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), vec!["anm_1", "anm_2"]);
    assert_eq!((all[0].explanation.as_str(), all[0].first_seen, all[0].last_seen), ("fifteen times", t, t + 1.hour()));
    assert!(s.anomalies("2026-11").await.unwrap().is_empty());

    assert!(s.claim_anomaly_alert("anm_1", t).await.unwrap());
    assert!(!s.claim_anomaly_alert("anm_1", t + 1.second()).await.unwrap(), "alerted once");
    assert!(!s.claim_anomaly_alert("anm_9", t).await.unwrap());
    assert_eq!(s.get_anomaly("anm_1").await.unwrap().unwrap().alerted_at, Some(t));

    let appeal = Appeal {
        id: Appeal::new_id(),
        subject_kind: AppealSubject::Anomaly,
        subject_id: "anm_1".into(),
        appellant: "ana".into(),
        comment: "The loop was a load test agreed with my manager".into(),
        status: AppealStatus::Open,
        filed_at: t,
        decided_by: None,
        decided_at: None,
        decision_comment: None,
    };
    s.insert_appeal(&appeal).await.unwrap();
    let open = s.get_anomaly("anm_1").await.unwrap().unwrap();
    assert_eq!((open.appeal.as_deref(), open.suppressed()), (Some("open"), false));
    s.decide_appeal(&appeal.id, AppealDecision::Upheld, "omar", "Agreed load test", t + 2.hours()).await.unwrap();
    let all = s.anomalies("2026-10").await.unwrap();
    assert!(all[0].suppressed() && !all[1].suppressed());
    assert!(s.get_anomaly("anm_nope").await.unwrap().is_none());
}

pub async fn incidents_are_stored_updated_and_listed_newest_first(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-10-07T12:00:00Z");
    let inc = |id: &str, at: jiff::Timestamp| Incident {
        id: id.into(),
        title: "Retry loop in the support bot".into(),
        category: "misuse".into(),
        status: "open".into(),
        occurred_at: at,
        created_by: "omar".into(),
        created_at: t,
        updated_at: t,
        body: "{\"anomalies\":[\"anm_1\"]}".into(),
    };
    s.insert_incident(&inc("inc_a", t - 48.hours())).await.unwrap();
    s.insert_incident(&inc("inc_b", t - 24.hours())).await.unwrap();
    assert!(matches!(s.insert_incident(&inc("inc_a", t)).await, Err(StoreError::Conflict(_))));
    let mut a = s.get_incident("inc_a").await.unwrap().unwrap();
    assert_eq!(a, inc("inc_a", t - 48.hours()));
    a.status = "mitigated".into();
    a.body = "{\"anomalies\":[\"anm_1\"],\"actions\":[\"capped retries\"]}".into();
    a.updated_at = t + 1.hour();
    assert!(s.update_incident(&a).await.unwrap());
    assert!(!s.update_incident(&Incident { id: "inc_zz".into(), ..a.clone() }).await.unwrap());
    assert_eq!(s.get_incident("inc_a").await.unwrap().unwrap(), a);
    let ids: Vec<String> = s.incidents(10).await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(ids, vec!["inc_b", "inc_a"]);
    assert_eq!(s.incidents(1).await.unwrap().len(), 1);
}
