//! Budget exceptions.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use crate::rows::{EXCEPTION_COLUMNS, exception_from_row};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use tokenwise_ledger::{Exception, ExceptionStatus, ExceptionStore, StoreError, to_micros};

#[async_trait]
impl ExceptionStore for SqliteStore {
    async fn insert_exception(&self, e: &Exception) -> Result<(), StoreError> {
        let e = e.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO exceptions ({EXCEPTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
                params![
                    e.id,
                    e.scope.to_string(),
                    e.reason_code,
                    e.justification,
                    e.requested_by,
                    e.status.as_str(),
                    e.cap.0,
                    e.duration_secs,
                    serde_json::to_string(&e.models).unwrap_or_else(|_| "[]".into()),
                    e.data_class,
                    to_micros(e.created_at),
                    e.decided_by,
                    e.decided_at.map(to_micros),
                    e.valid_until.map(to_micros)
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn exception(&self, id: &str) -> Result<Option<Exception>, StoreError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(&format!("SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?1"), [id], exception_from_row)
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn decide_exception(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        at: Timestamp,
    ) -> Result<Option<Exception>, StoreError> {
        let (id, by) = (id.to_string(), by.to_string());
        self.write(move |c| {
            let status = if approve { "approved" } else { "denied" };
            let n = c
                .execute(
                    "UPDATE exceptions SET status = ?2, decided_by = ?3, decided_us = ?4, \
                     valid_until_us = CASE WHEN ?2 = 'approved' THEN ?4 + duration_secs * 1000000 ELSE NULL END \
                     WHERE id = ?1 AND status = 'pending'",
                    params![id, status, by, to_micros(at)],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Ok(None);
            }
            c.query_row(&format!("SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?1"), [&id], exception_from_row)
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn list_exceptions(
        &self,
        status: Option<ExceptionStatus>,
        scope: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Exception>, StoreError> {
        let (status, scope) = (status.map(|s| s.as_str().to_string()), scope.map(str::to_string));
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE (?1 IS NULL OR status = ?1) \
                     AND (?2 IS NULL OR scope = ?2) ORDER BY created_us DESC, id DESC LIMIT ?3"
                ))
                .map_err(db_err)?;
            let rows = stmt.query_map(params![status, scope, i64::from(limit)], exception_from_row).map_err(db_err)?;
            rows.map(|e| e.map_err(corrupt)).collect()
        })
        .await
    }

    async fn active_exceptions(&self, scopes: &[String], at: Timestamp) -> Result<Vec<Exception>, StoreError> {
        let scopes = scopes.to_vec();
        let at_us = to_micros(at);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE scope = ?1 AND status = 'approved' \
                     AND decided_us <= ?2 AND ?2 < valid_until_us ORDER BY decided_us, id"
                ))
                .map_err(db_err)?;
            let mut out = Vec::new();
            for s in &scopes {
                let rows = stmt.query_map(params![s, at_us], exception_from_row).map_err(db_err)?;
                for e in rows {
                    out.push(e.map_err(corrupt)?);
                }
            }
            Ok(out)
        })
        .await
    }
}
