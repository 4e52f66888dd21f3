//! The audit chain: appends serialised across replicas by an advisory lock.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{audit_from_row, get};
use async_trait::async_trait;
use tokenwise_ledger::{AuditDraft, AuditEntry, AuditStore, StoreError};

/// Advisory lock key (arbitrary, fixed) held by whoever appends to the chain.
const AUDIT_LOCK: i64 = 0x746f_6b77_0002;

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        // Serialises appenders across every replica until commit.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await.map_err(db_err)?;
        let head =
            tx.query_opt("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &[]).await.map_err(db_err)?;
        let head: Option<(i64, String)> = head.map(|r| Ok::<_, StoreError>((get(&r, 0)?, get(&r, 1)?))).transpose()?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO audit_log (seq, ts_us, actor, action, subject, details, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await
            .map_err(db_err)?;
        let out = AuditEntry::chain(head, drafts);
        for e in &out {
            tx.execute(&stmt, &[&e.seq, &e.ts_us, &e.actor, &e.action, &e.subject, &e.details, &e.prev_hash, &e.hash])
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT seq, ts_us, actor, action, subject, details, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after_seq, &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn last_audit(&self, action: &str) -> Result<Option<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT seq, ts_us, actor, action, subject, details, prev_hash, hash FROM audit_log \
                 WHERE action = $1 ORDER BY seq DESC LIMIT 1",
                &[&action],
            )
            .await
            .map_err(db_err)?;
        row.as_ref().map(audit_from_row).transpose()
    }
}
