//! The shared store suite, on SQLite.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

use async_trait::async_trait;
use std::sync::Arc;
use tokenwise_ledger::Store;
use tokenwise_store_sqlite::SqliteStore;
use tokenwise_store_tests::{Backend, store_suite};

struct Sqlite {
    _dir: tempfile::TempDir,
    url: String,
    store: Arc<SqliteStore>,
}

async fn make() -> Option<Sqlite> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let store = Arc::new(SqliteStore::open(&url).unwrap());
    Some(Sqlite { _dir: dir, url, store })
}

impl Sqlite {
    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.url.trim_start_matches("sqlite://")).unwrap()
    }
}

#[async_trait]
impl Backend for Sqlite {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.url).unwrap())
    }

    async fn tamper_audit_subject(&self, seq: i64, subject: &str) {
        let c = self.raw();
        c.execute_batch("DROP TRIGGER audit_log_no_update").unwrap();
        c.execute("UPDATE audit_log SET subject = ?1 WHERE seq = ?2", rusqlite::params![subject, seq]).unwrap();
    }

    async fn raw_update_audit(&self, seq: i64) -> Result<(), String> {
        self.raw()
            .execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?1", [seq])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn execute_raw(&self, sql: &str) {
        self.raw().execute_batch(sql).unwrap();
    }
}

store_suite!(make);
