//! Budget exceptions.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{EXCEPTION_COLUMNS, exception_from_row};
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_ledger::{Exception, ExceptionStatus, ExceptionStore, StoreError, to_micros};

#[async_trait]
impl ExceptionStore for PgStore {
    async fn insert_exception(&self, e: &Exception) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO exceptions ({EXCEPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
                &[
                    &e.id,
                    &e.scope.to_string(),
                    &e.reason_code,
                    &e.justification,
                    &e.requested_by,
                    &e.status.as_str(),
                    &e.cap.0,
                    &e.duration_secs,
                    &serde_json::to_string(&e.models).unwrap_or_else(|_| "[]".into()),
                    &e.data_class,
                    &to_micros(e.created_at),
                    &e.decided_by,
                    &e.decided_at.map(to_micros),
                    &e.valid_until.map(to_micros),
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn exception(&self, id: &str) -> Result<Option<Exception>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = $1"), &[&id])
            .await
            .map_err(db_err)?;
        row.as_ref().map(exception_from_row).transpose()
    }

    async fn decide_exception(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        at: Timestamp,
    ) -> Result<Option<Exception>, StoreError> {
        let client = self.client().await?;
        let status = if approve { "approved" } else { "denied" };
        let row = client
            .query_opt(
                &format!(
                    "UPDATE exceptions SET status = $2, decided_by = $3, decided_us = $4, \
                     valid_until_us = CASE WHEN $2 = 'approved' THEN $4 + duration_secs * 1000000 ELSE NULL END \
                     WHERE id = $1 AND status = 'pending' RETURNING {EXCEPTION_COLUMNS}"
                ),
                &[&id, &status, &by, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        row.as_ref().map(exception_from_row).transpose()
    }

    async fn list_exceptions(
        &self,
        status: Option<ExceptionStatus>,
        scope: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Exception>, StoreError> {
        let client = self.client().await?;
        let status = status.map(ExceptionStatus::as_str);
        let rows = client
            .query(
                &format!(
                    "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE ($1::TEXT IS NULL OR status = $1) \
                     AND ($2::TEXT IS NULL OR scope = $2) ORDER BY created_us DESC, id DESC LIMIT $3"
                ),
                &[&status, &scope, &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(exception_from_row).collect()
    }

    async fn active_exceptions(&self, scopes: &[String], at: Timestamp) -> Result<Vec<Exception>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE scope = ANY($1) AND status = 'approved' \
                     AND decided_us <= $2 AND $2 < valid_until_us ORDER BY decided_us, id"
                ),
                &[&scopes, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(exception_from_row).collect()
    }
}
