//! API keys. Each replica caches the keys it has seen (saving a round trip
//! per request) and drops one the moment any process revokes it: the
//! revoking statement notifies every listening replica in the same
//! transaction (see `revocations`).

use crate::PgStore;
use crate::connection::db_err;
use crate::revocations::CHANNEL;
use crate::rows::{KEY_COLUMNS, get, key_from_row};
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_ledger::{ApiKey, KeyCache, KeyStore, StoreError, to_micros};

#[async_trait]
impl KeyStore for PgStore {
    async fn insert_api_key(&self, k: &ApiKey) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                &[
                    &k.id,
                    &k.hash,
                    &k.prefix,
                    &k.user_id,
                    &k.use_case,
                    &k.project_id,
                    &k.track.map(|t| t.as_str()),
                    &k.label,
                    &to_micros(k.created_at),
                    &k.revoked_at.map(to_micros),
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"), &[&hash])
            .await
            .map_err(db_err)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn api_keys_for_user(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_us, id"),
                &[&user_id],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn api_keys_all(&self) -> Result<Vec<ApiKey>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY user_id, created_us, id"), &[])
            .await
            .map_err(db_err)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let client = self.client().await?;
        // One statement, one transaction: the notification is delivered when
        // the revocation commits, never without it.
        let rows = client
            .query(
                &format!(
                    "WITH r AS (UPDATE api_keys SET revoked_us = $2 WHERE id = $1 AND revoked_us IS NULL \
                     RETURNING key_hash) SELECT key_hash, pg_notify('{CHANNEL}', key_hash) FROM r"
                ),
                &[&id, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        for r in &rows {
            // This replica need not wait for its own notification.
            self.revocations.cache.evict(&get::<String>(r, 0)?);
        }
        Ok(rows.len() == 1)
    }

    fn key_cache(&self) -> Option<&KeyCache> {
        self.revocations.start(&self.config);
        Some(&self.revocations.cache)
    }
}
