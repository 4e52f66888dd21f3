//! Opening the database and running work on its connections: the one
//! writer and pooled read-only readers (the checkpoint thread: `checkpoint`).

use crate::checkpoint;
pub(crate) use crate::errors::{corrupt, db_err};
pub(crate) use crate::locks::lock;
use crate::migrations::migrate;
use crate::{Durability, SqliteStore};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokenwise_ledger::StoreError;
use tokenwise_ledger::budget::Book;

const MAX_IDLE_READERS: usize = 8;
/// How long a connection waits for a lock before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) struct Inner {
    /// None for an in-memory database, whose readers must share the writer.
    pub(crate) path: Option<PathBuf>,
    /// Shared with the checkpoint thread, which truncates a WAL past its
    /// limit on it.
    pub(crate) writer: Arc<Mutex<Connection>>,
    pub(crate) readers: Mutex<Vec<Connection>>,
    /// Budget envelopes and open holds: one process, so in memory under one
    /// lock (atomic holds in microseconds); captured totals are persisted
    /// with the usage events that capture them.
    pub(crate) book: Mutex<Book>,
    /// What the checkpoint thread and the writer know of the WAL (None in
    /// memory).
    pub(crate) wal: Option<Arc<checkpoint::Wal>>,
}

impl Inner {
    /// The writer connection, for a write: its WAL restarted first if a
    /// commit left it past its limit (see [`checkpoint::Wal::restart_if_past`]).
    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        let mut w = lock(&self.writer);
        if let Some(wal) = &self.wal {
            wal.restart_if_past(&mut w);
        }
        w
    }
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (or a bare path, or `sqlite://:memory:`),
    /// creating the file, its folder and the schema as needed.
    pub fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, Durability::PowerLoss)
    }

    pub fn open_with(url: &str, durability: Durability) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_limited(url, durability, checkpoint::WAL_LIMIT_BYTES)
    }

    /// [`open_with`](Self::open_with), truncating the WAL past
    /// `wal_limit_bytes` (see [`checkpoint`]).
    pub(crate) fn open_limited(
        url: &str,
        durability: Durability,
        wal_limit_bytes: i64,
    ) -> Result<SqliteStore, StoreError> {
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
        let writer = Arc::new(Mutex::new(writer));
        let wal = path.as_deref().map(|p| checkpoint::start(p, &writer, wal_limit_bytes)).transpose()?;
        let inner =
            Arc::new(Inner { path, writer, readers: Mutex::new(Vec::new()), book: Mutex::new(Book::default()), wal });
        Ok(SqliteStore { inner })
    }

    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Runs `f` on the writer connection on the blocking pool (restarting
    /// the WAL first if it is past its limit).
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut inner.writer()))
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

    /// Runs a one-row read `f` on the calling thread, if an idle reader is
    /// at hand and the database answers without waiting; otherwise as
    /// [`read`](Self::read). For the per-request key lookup: an index probe
    /// on a hot page takes microseconds, a hand-off to the blocking pool
    /// and back several times that.
    pub(crate) async fn read_now<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let idle = match &self.inner.path {
            Some(_) => lock(&self.inner.readers).pop(),
            None => None,
        };
        let Some(conn) = idle else {
            return self.read(move |c| f(c).map_err(corrupt)).await;
        };
        // Never wait on the calling thread: a busy database (a recovery, a
        // checkpoint resetting the WAL) sends the read to the pool instead.
        let out = conn.busy_timeout(std::time::Duration::ZERO).and_then(|()| f(&conn));
        let restored = conn.busy_timeout(BUSY_TIMEOUT);
        if restored.is_ok() {
            lock(&self.inner.readers).push(conn);
        }
        match out {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                self.read(move |c| f(c).map_err(corrupt)).await
            }
            other => other.map_err(corrupt),
        }
    }
}

/// `writer` is the durability of the writer connection; None for readers.
fn configure(c: &Connection, writer: Option<Durability>) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    if let Some(d) = writer {
        // 8 KiB pages for a new ledger (an existing one keeps its own; the
        // pragma must come before WAL mode to take effect). The primary key
        // on random event ids dirties nearly every leaf of its index in a
        // large transaction; with twice the entries a page there are half
        // the pages to walk and write: an import of 1,000,000 events ran 6%
        // faster in memory (median of 8 pairs) and 15% on disk than with
        // SQLite's default 4 KiB (docs/benchmarks.md, "Ingest into SQLite").
        c.pragma_update(None, "page_size", 8192)?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match d {
            Durability::PowerLoss => "FULL",
            Durability::ProcessCrash => "NORMAL",
        };
        c.pragma_update(None, "synchronous", sync)?;
        // Checkpoints run on their own thread; see `checkpoint`.
        c.pragma_update(None, "wal_autocheckpoint", 0)?;
        // 64 MiB of page cache (the default is 2 MiB): a large batch (an
        // ingest, a busy group commit) then keeps its dirty index pages in
        // memory until it commits, instead of spilling them to the WAL
        // mid-transaction and reading them back.
        c.pragma_update(None, "cache_size", -65_536)?;
    }
    c.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A new ledger is made with 8 KiB pages; one made before with SQLite's
    /// default 4 KiB still opens, is migrated, and keeps its own.
    #[tokio::test]
    async fn a_new_ledger_has_8_kib_pages_and_an_older_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |store: SqliteStore| async move {
            store.read(|c| c.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)).map_err(corrupt)).await.unwrap()
        };
        let new = SqliteStore::open(&format!("sqlite://{}", dir.path().join("new.db").display())).unwrap();
        assert_eq!(page_size(new).await, 8192);
        // Made before: 4 KiB pages, already in WAL mode, with a row to keep.
        let old = dir.path().join("old.db");
        let c = Connection::open(&old).unwrap();
        c.execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE kept (v INTEGER); INSERT INTO kept VALUES (7);")
            .unwrap();
        drop(c);
        let url = format!("sqlite://{}", old.display());
        let store = SqliteStore::open(&url).unwrap();
        let kept = store.read(|c| c.query_row("SELECT v FROM kept", [], |r| r.get::<_, i64>(0)).map_err(corrupt)).await;
        assert_eq!(kept.unwrap(), 7);
        assert_eq!(page_size(store).await, 4096);
        assert_eq!(page_size(SqliteStore::open(&url).unwrap()).await, 4096);
    }

    /// A read that finds the database busy on the calling thread is run
    /// again through the pool (which waits for the lock) instead of failing.
    #[tokio::test]
    async fn a_busy_read_on_the_calling_thread_goes_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("l.db").display())).unwrap();
        // A first read leaves an idle reader, so the next runs in place.
        store.read(|_| Ok(())).await.unwrap();
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let on_thread = std::thread::current().id();
        let answer = store
            .read_now(move |c| {
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    assert_eq!(std::thread::current().id(), on_thread, "the first try runs in place");
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        None,
                    ));
                }
                c.query_row("SELECT 7", [], |r| r.get::<_, i64>(0))
            })
            .await
            .unwrap();
        assert_eq!((answer, calls.load(Ordering::SeqCst)), (7, 2));
        // Other errors are answers, not retried.
        let err = store.read_now(|c| c.query_row("SELECT nope", [], |r| r.get::<_, i64>(0))).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    }
}
