//! How SQLite's errors become the store's.

use tokenwise_ledger::StoreError;

/// What a client reads of a write a constraint refused.
pub(crate) const CONFLICT: &str = "this conflicts with what is already recorded";

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        // A conflict is answered to the client (409): in our words, the
        // database's (table and column names) to the log only.
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            tracing::info!(detail = %msg.unwrap_or_else(|| f.to_string()), "constraint refused a write");
            StoreError::Conflict(CONFLICT.into())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

pub(crate) fn corrupt(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            StoreError::Corrupt(e.to_string())
        }
        other => db_err(other),
    }
}
