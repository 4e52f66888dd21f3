//! How SQLite's errors become the store's.

use tokenwise_ledger::StoreError;

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(msg.unwrap_or_else(|| f.to_string()))
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
