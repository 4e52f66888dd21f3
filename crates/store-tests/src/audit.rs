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
