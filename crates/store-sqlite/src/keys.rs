//! API keys. No cache: another process (`tokenwise keys revoke`) can
//! revoke a key in the file at any time and nothing tells this one, so every
//! request reads its key: an index probe, run on the request's own thread
//! when it need not wait (see `docs/benchmarks.md`).

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use crate::rows::{KEY_COLUMNS, key_from_row};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use tokenwise_ledger::{ApiKey, KeyStore, StoreError, to_micros};

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let k = key.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    k.id,
                    k.hash,
                    k.prefix,
                    k.user_id,
                    k.use_case,
                    k.project_id,
                    k.track.map(|t| t.as_str()),
                    k.label,
                    to_micros(k.created_at),
                    k.revoked_at.map(to_micros)
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let hash = hash.to_string();
        self.read_now(move |c| {
            c.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"))?
                .query_row([&hash], key_from_row)
                .optional()
        })
        .await
    }

    async fn api_keys_for_user(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let user = user_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 ORDER BY created_us, id"))
                .map_err(db_err)?;
            let rows = stmt.query_map([user], key_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn api_keys_all(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.read(move |c| {
            let mut stmt = c
                .prepare(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY user_id, created_us, id"))
                .map_err(db_err)?;
            let rows = stmt.query_map([], key_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE api_keys SET revoked_us = ?2 WHERE id = ?1 AND revoked_us IS NULL",
                    params![id, to_micros(at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }
}
