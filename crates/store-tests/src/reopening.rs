//! What must survive closing the store and opening it again.

use crate::audit::verify_all;
use crate::{Backend, full_event, ts};
use jiff::Timestamp;
use tokenwise_ledger::*;

pub async fn data_survives_reopening(b: &impl Backend) {
    let s = b.store();
    let e = full_event("persist-1", ts("2026-11-06T12:00:00Z"));
    s.insert_events(std::slice::from_ref(&e)).await.unwrap();
    s.append_audit(&AuditDraft::new(
        "system",
        AuditAction::PolicyLoad,
        "acme.toml",
        serde_json::json!({"digest": "x"}),
    ))
    .await
    .unwrap();
    let k = ApiKey::generate("ana", Timestamp::now());
    s.insert_api_key(&k.record).await.unwrap();
    drop(s);

    let again = b.reopen().await;
    assert_eq!(again.event("persist-1").await.unwrap(), Some(e));
    assert!(again.api_key_by_hash(&k.record.hash).await.unwrap().is_some());
    // Migrations ran twice without harm and the chain continues.
    again
        .append_audit(&AuditDraft::new("system", AuditAction::PolicyLoad, "acme.toml", serde_json::json!({})))
        .await
        .unwrap();
    assert_eq!(verify_all(again.as_ref()).await.unwrap().unwrap().0, 2);
}
