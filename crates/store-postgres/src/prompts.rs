//! Prompts kept under a retention policy, and their purge.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::get;
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_ledger::{PromptStore, StoreError, StoredPrompt, from_micros, to_micros};

#[async_trait]
impl PromptStore for PgStore {
    async fn insert_prompt(&self, p: &StoredPrompt) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO stored_prompts (event_id, ts_us, user_id, use_case, mode, text, purge_after_us) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
                &[&p.event_id, &to_micros(p.ts), &p.user_id, &p.use_case, &p.mode, &p.text, &to_micros(p.purge_after)],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn prompt(&self, event_id: &str, at: Timestamp) -> Result<Option<StoredPrompt>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT event_id, ts_us, user_id, use_case, mode, text, purge_after_us FROM stored_prompts \
                 WHERE event_id = $1 AND purge_after_us > $2",
                &[&event_id, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredPrompt {
            event_id: get(&r, 0)?,
            ts: from_micros(get(&r, 1)?),
            user_id: get(&r, 2)?,
            use_case: get(&r, 3)?,
            mode: get(&r, 4)?,
            text: get(&r, 5)?,
            purge_after: from_micros(get(&r, 6)?),
        }))
    }

    async fn purge_prompts(&self, now: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM stored_prompts WHERE purge_after_us <= $1", &[&to_micros(now)])
            .await
            .map_err(db_err)
    }
}
