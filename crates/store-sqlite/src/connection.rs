//! Opening the database and running work on its connections: the one
//! writer, pooled read-only readers, and the checkpoint thread.

use crate::migrations::migrate;
use crate::{Durability, SqliteStore};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokenwise_ledger::StoreError;
use tokenwise_ledger::budget::Book;

const MAX_IDLE_READERS: usize = 8;

pub(crate) struct Inner {
    /// None for an in-memory database, whose readers must share the writer.
    pub(crate) path: Option<PathBuf>,
    pub(crate) writer: Mutex<Connection>,
    pub(crate) readers: Mutex<Vec<Connection>>,
    /// Budget envelopes and open holds: one process, so in memory under one
    /// lock (atomic holds in microseconds); captured totals are persisted
    /// with the usage events that capture them.
    pub(crate) book: Mutex<Book>,
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(msg.unwrap_or_else(|| f.to_string()))
        }
        other => StoreError::Backend(other.to_string()),
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a rusqlite connection in
    // a state worse than the error it returned; keep using it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn corrupt(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            StoreError::Corrupt(e.to_string())
        }
        other => db_err(other),
    }
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (or a bare path, or `sqlite://:memory:`),
    /// creating the file, its folder and the schema as needed.
    pub fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, Durability::PowerLoss)
    }

    pub fn open_with(url: &str, durability: Durability) -> Result<SqliteStore, StoreError> {
        let target = url.strip_prefix("sqlite://").unwrap_or(url);
        let path = if target == ":memory:" { None } else { Some(PathBuf::from(target)) };
        if let Some(dir) = path.as_deref().and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer = match &path {
            Some(p) => Connection::open(p),
            None => Connection::open_in_memory(),
        }
        .map_err(|e| StoreError::Config(format!("cannot open {url}: {e}")))?;
        configure(&writer, Some(durability)).map_err(db_err)?;
        migrate(&mut writer)?;
        let inner = Arc::new(Inner {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            book: Mutex::new(Book::default()),
        });
        if let Some(p) = &inner.path {
            start_checkpointer(p, Arc::downgrade(&inner))?;
        }
        Ok(SqliteStore { inner })
    }

    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Runs `f` on the writer connection on the blocking pool.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&inner.writer)))
            .await
            .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }

    /// Runs `f` on a pooled read-only connection (the writer, in memory).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let Some(path) = &inner.path else {
                return f(&lock(&inner.writer));
            };
            let pooled = lock(&inner.readers).pop();
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(db_err)?;
                    configure(&c, None).map_err(db_err)?;
                    c
                }
            };
            let out = f(&conn);
            let mut idle = lock(&inner.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }
}

/// Copies the WAL back into the database from a thread of its own, so no
/// request's commit ever pays for a checkpoint (SQLite's default runs one
/// inside whichever commit crosses 1,000 pages, a multi-millisecond stall).
/// Passive checkpoints never block the writer; once everything is copied,
/// the next commit starts the WAL from the beginning, keeping it small.
/// The thread ends once the store is dropped.
fn start_checkpointer(path: &Path, store: std::sync::Weak<Inner>) -> Result<(), StoreError> {
    let conn = Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(1)).map_err(db_err)?;
    std::thread::Builder::new()
        .name("tokenwise-checkpoint".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                if store.strong_count() == 0 {
                    return;
                }
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "checkpoint skipped");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))
}

/// `writer` is the durability of the writer connection; None for readers.
fn configure(c: &Connection, writer: Option<Durability>) -> rusqlite::Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    if let Some(d) = writer {
        c.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match d {
            Durability::PowerLoss => "FULL",
            Durability::ProcessCrash => "NORMAL",
        };
        c.pragma_update(None, "synchronous", sync)?;
        // Checkpoints run on their own thread; see `start_checkpointer`.
        c.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    c.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}
