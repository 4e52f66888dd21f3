//! The audit chain: appends serialised by SQLite's write lock.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use crate::rows::audit_from_row;
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use tokenwise_ledger::{AuditDraft, AuditEntry, AuditStore, StoreError};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError> {
        let drafts = drafts.to_vec();
        self.write(move |c| {
            // IMMEDIATE takes the write lock first, so no other process can
            // append between reading the head and writing the next entry.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let head: Option<(i64, String)> = tx
                .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(db_err)?;
            let out = AuditEntry::chain(head, &drafts);
            for entry in &out {
                tx.execute(
                    "INSERT INTO audit_log (seq, ts_us, actor, action, subject, details, prev_hash, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        entry.seq,
                        entry.ts_us,
                        entry.actor,
                        entry.action,
                        entry.subject,
                        entry.details,
                        entry.prev_hash,
                        entry.hash
                    ],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, ts_us, actor, action, subject, details, prev_hash, hash FROM audit_log \
                     WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(db_err)?;
            let rows = stmt.query_map(params![after_seq, limit], audit_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn last_audit(&self, action: &str) -> Result<Option<AuditEntry>, StoreError> {
        let action = action.to_string();
        self.read(move |c| {
            // Walks back from the newest entry: quick while such entries are frequent.
            c.query_row(
                "SELECT seq, ts_us, actor, action, subject, details, prev_hash, hash FROM audit_log \
                 WHERE action = ?1 ORDER BY seq DESC LIMIT 1",
                [action],
                audit_from_row,
            )
            .optional()
            .map_err(corrupt)
        })
        .await
    }
}
