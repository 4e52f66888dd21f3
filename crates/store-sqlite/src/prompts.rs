//! Prompts kept under a retention policy, and their purge.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use tokenwise_ledger::{PromptStore, StoreError, StoredPrompt, from_micros, to_micros};

#[async_trait]
impl PromptStore for SqliteStore {
    async fn insert_prompt(&self, p: &StoredPrompt) -> Result<(), StoreError> {
        let p = p.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO stored_prompts (event_id, ts_us, user_id, use_case, mode, text, purge_after_us) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (event_id) DO NOTHING",
                params![p.event_id, to_micros(p.ts), p.user_id, p.use_case, p.mode, p.text, to_micros(p.purge_after)],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn prompt(&self, event_id: &str, at: Timestamp) -> Result<Option<StoredPrompt>, StoreError> {
        let event_id = event_id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT event_id, ts_us, user_id, use_case, mode, text, purge_after_us FROM stored_prompts \
                 WHERE event_id = ?1 AND purge_after_us > ?2",
                params![event_id, to_micros(at)],
                |r| {
                    Ok(StoredPrompt {
                        event_id: r.get(0)?,
                        ts: from_micros(r.get(1)?),
                        user_id: r.get(2)?,
                        use_case: r.get(3)?,
                        mode: r.get(4)?,
                        text: r.get(5)?,
                        purge_after: from_micros(r.get(6)?),
                    })
                },
            )
            .optional()
            .map_err(corrupt)
        })
        .await
    }

    async fn purge_prompts(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.write(move |c| {
            let n =
                c.execute("DELETE FROM stored_prompts WHERE purge_after_us <= ?1", [to_micros(now)]).map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }
}
