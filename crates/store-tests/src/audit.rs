//! The audit chain: concurrent and batched appends, tampering, append-only.

use crate::Backend;
use tokenwise_ledger::*;

pub(crate) async fn verify_all(s: &dyn AuditStore) -> Result<Option<(i64, String)>, ChainBreak> {
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
                let d = AuditDraft::new(
                    "system",
                    AuditAction::PolicyDecision,
                    &format!("w{w}-{i}"),
                    serde_json::json!({"w": w, "i": i}),
                );
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
    s.append_audit(&AuditDraft::new("system", AuditAction::PolicyLoad, "acme.toml", serde_json::json!({})))
        .await
        .unwrap();
    let drafts: Vec<AuditDraft> = (0..20)
        .map(|i| {
            AuditDraft::new(
                "ivan.petrov",
                AuditAction::PolicyDecision,
                &format!("req-{i}"),
                serde_json::json!({"decision": "block"}),
            )
        })
        .collect();
    let entries = s.append_audit_batch(&drafts).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (2..=21).collect::<Vec<_>>());
    let (auditor, writer) = Auditor::spawn(s.clone());
    for i in 0..30 {
        auditor
            .submit(AuditDraft::new("x", AuditAction::PolicyDecision, &format!("z{i}"), serde_json::json!(null)))
            .await;
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
            AuditAction::ExceptionApprove,
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
    s.append_audit(&AuditDraft::new("system", AuditAction::PolicyLoad, "acme.toml", serde_json::json!({})))
        .await
        .unwrap();
    let err = b.raw_update_audit(1).await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");
}

/// A digest of what is recorded now, no lag (nothing else writes here).
async fn digest_now(s: &dyn Store) -> Option<(AuditEntry, digest::UsageDigest)> {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let now = to_micros(jiff::Timestamp::now());
    digest::append(s, "test", now, std::time::Duration::ZERO).await.unwrap()
}

pub async fn usage_digests_cover_each_row_once_and_name_the_one_a_change_breaks(b: &impl Backend) {
    let s = b.store();
    let at = crate::ts("2026-03-02T10:00:00Z");
    let first: Vec<UsageEvent> = (0..5)
        .map(|i| crate::events::bare_event(&format!("dg-a{i}"), at, "ivan.petrov", "support", 1_000 + i))
        .chain([crate::events::full_event("dg-full", at)])
        .collect();
    s.commit_events(&first).await.unwrap();
    let (e1, d1) = digest_now(s.as_ref()).await.expect("a first digest");
    assert_eq!((d1.from_us, d1.rows), (i64::MIN, 6));
    assert_eq!(e1.action, "ledger.digest");
    assert!(digest_now(s.as_ref()).await.is_none(), "nothing new, no digest");
    // Later rows go in the next window, which starts where the last ended;
    // an event recorded again is no new row.
    let second: Vec<UsageEvent> = (0..3)
        .map(|i| crate::events::bare_event(&format!("dg-b{i}"), at, "olga.berg", "payments", 7))
        .chain([first[0].clone()])
        .collect();
    s.commit_events(&second).await.unwrap();
    let (e2, d2) = digest_now(s.as_ref()).await.expect("a second digest");
    assert_eq!((d2.from_us, d2.rows), (d1.to_us, 3));
    assert_eq!(verify_all(s.as_ref()).await.unwrap().unwrap().0, e2.seq, "the digests are in the chain");
    let ok = digest::verify(s.as_ref()).await.unwrap();
    assert_eq!((ok.digests, ok.rows, ok.broken.len()), (2, 9, 0));
    // Another process (a replica, the CLI) sees the same digests.
    let other = b.reopen().await;
    assert_eq!(digest::verify(other.as_ref()).await.unwrap(), ok);

    let broken =
        |check: digest::DigestCheck| check.broken.iter().map(|b| (b.seq, b.reason.clone())).collect::<Vec<_>>();
    // A cost edited in place: the first digest breaks, and only it.
    b.execute_raw("UPDATE usage_events SET cost_nanos = cost_nanos + 1 WHERE id = 'dg-a2'").await;
    let got = broken(digest::verify(s.as_ref()).await.unwrap());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, e1.seq);
    assert!(got[0].1.contains("content changed"), "{got:?}");
    b.execute_raw("UPDATE usage_events SET cost_nanos = cost_nanos - 1 WHERE id = 'dg-a2'").await;
    assert!(digest::verify(s.as_ref()).await.unwrap().broken.is_empty(), "put back, it verifies");
    // A row removed from the second window.
    b.execute_raw("DELETE FROM usage_events WHERE id = 'dg-b1'").await;
    let got = broken(digest::verify(s.as_ref()).await.unwrap());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, e2.seq);
    assert!(got[0].1.contains("counted 3 rows, 2 are there now (1 removed)"), "{got:?}");
    // A row slipped into the first window (written now, stamped back).
    s.commit_events(&[crate::events::bare_event("dg-forged", at, "ivan.petrov", "support", 1)]).await.unwrap();
    b.execute_raw(&format!("UPDATE usage_events SET recorded_us = {} WHERE id = 'dg-forged'", d1.to_us - 1)).await;
    let got = broken(digest::verify(s.as_ref()).await.unwrap());
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [e1.seq, e2.seq], "{got:?}");
    assert!(got[0].1.contains("counted 6 rows, 7 are there now (1 added)"), "{got:?}");
}
