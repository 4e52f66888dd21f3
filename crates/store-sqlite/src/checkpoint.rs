//! Keeping the WAL small, off every request's path.
//!
//! SQLite's own checkpoint runs inside whichever commit crosses 1,000 pages
//! (a multi-millisecond stall for that request), so it is switched off and
//! a thread of its own copies the WAL back into the database instead:
//!
//! - every [`TICK`] a *passive* checkpoint, which never blocks anyone;
//! - once the WAL passes a quarter of its limit, the writer's WAL hook
//!   wakes the thread at once for a passive checkpoint (a non-blocking
//!   send: nothing else happens on the commit's path), and the writer
//!   thread, between two batches, copies the few frames committed since
//!   ([`Wal::catch_up`]). The WAL is then wholly in the database while no
//!   write is under way, so the next commit starts it over from its first
//!   frame. Under steady writes nothing else would ever find it so: a
//!   checkpoint running beside the writer always ends a few commits behind;
//! - when the writer has been idle for a tick (the WAL has not grown since
//!   the last one) and the WAL is not empty, a *truncating* checkpoint that
//!   gives up at once if a reader or writer is busy ([`IDLE_WAIT`]);
//! - when a commit leaves more than the limit in the WAL anyway (readers
//!   kept the start-over from happening: the WAL grew to 1.08 GB in a soak
//!   of 149k requests before any of this), the hook wakes the thread and it
//!   copies the whole WAL back on the writer connection, writers waiting
//!   meanwhile (readers get at most [`FULL_WAIT`] to leave the WAL), and
//!   restarts it: a stall bounded by the limit instead of a full disk. The
//!   next write does the same first if the thread has not yet
//!   ([`Wal::restart_if_past`]): on two busy cores the thread came late and
//!   the WAL reached six times its limit. A restart waits for a copy the
//!   thread has under way instead of being turned away by it. It
//!   restarts rather than truncates: a bulk import (`tokenwise ingest`)
//!   goes past the limit at nearly every commit, and each truncation made
//!   the next commit grow the file again (2.5 → 2.1 s of system time for
//!   1,000,000 events in `/dev/shm`);
//! - `journal_size_limit` set to the limit, so whenever the writer starts the
//!   WAL over the file is cut back to it too.
//!
//! A forced restart's wait for readers polls every [`POLL`] instead of
//! SQLite's default busy handler, which sleeps 1, 2, 5, 10, 15, 20… ms in
//! turn: a reader that left after 0.1 ms cost the writers waiting behind a
//! truncation 33 ms.
//!
//! The thread ends when the writer connection (and with it the hook's
//! sender) is dropped.

use crate::errors::db_err;
use crate::locks::lock;
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokenwise_ledger::StoreError;

/// The WAL's size past which writers wait for it to be copied back and
/// restarted: 64 MiB (8,192 frames of a new ledger's 8 KiB pages).
pub(crate) const WAL_LIMIT_BYTES: i64 = 64 << 20;
/// How often the thread looks at the WAL when nothing wakes it.
const TICK: Duration = Duration::from_millis(200);
/// How long a truncation while the writer is idle waits for readers.
const IDLE_WAIT: Duration = Duration::from_millis(10);
/// How long a restart past the limit waits for readers to leave the
/// WAL; overlapping readers can keep it busy for seconds, so rather than
/// stall writers that long it gives up and tries again at the next commit.
const FULL_WAIT: Duration = Duration::from_millis(250);
/// A connection's wait for locks otherwise (the writer's, as opened).
const WAIT_AFTER: Duration = Duration::from_secs(10);
/// How often a checkpoint waiting for a lock tries again.
const POLL: Duration = Duration::from_micros(100);
/// At most how many frames the writer thread copies itself to start the
/// WAL over; more than that and it leaves them to the thread.
const CATCH_UP_FRAMES: i64 = 1_024;
/// How many more frames the WAL must hold before the writer thread tries
/// again, after a catch-up that did not lead to a start-over (a reader
/// still held an old snapshot): a few commits, so each try costs one sync.
const RETRY_FRAMES: i64 = 32;

/// What the writer's hook, the checkpoint thread and the writer thread
/// know of the WAL.
#[derive(Debug)]
pub(crate) struct Wal {
    /// Frames in the WAL after the last commit (the hook's count).
    frames: AtomicI64,
    /// The last passive checkpoint's copied frames, with the generation of
    /// the WAL it copied (`generation << 32 | frames`): a count from before
    /// a start-over says nothing about the new WAL.
    copied: AtomicU64,
    /// How many times the WAL has started over.
    generation: AtomicU64,
    /// The thread has been woken to copy this generation's WAL.
    asked: AtomicBool,
    /// The WAL's size when the writer thread last caught up (0: not yet in
    /// this generation).
    tried_at: AtomicI64,
    /// Past this many frames writers wait for the WAL to be restarted.
    limit_frames: i64,
    /// Restarts past the limit, writers waiting (for tests and logs).
    forced: AtomicU64,
    /// One more than the generation a forced restart last succeeded in (0:
    /// none yet). A restarted WAL keeps its frame count until the next
    /// commit starts it over; without this an idle writer's WAL past the
    /// limit was restarted again at every look and never truncated.
    restarted: AtomicU64,
    /// Held by whoever of this store copies the WAL back: the thread's
    /// checkpoints, and a restart past the limit, which waits for them.
    /// SQLite lets one checkpoint run at a time and turns away a second at
    /// once, busy handler or not; a restart turned away so let the write
    /// go on, and in CI, the thread slow on a busy machine, the WAL grew to
    /// nine times its limit.
    copying: Mutex<()>,
}

impl Wal {
    fn new(limit_frames: i64) -> Wal {
        Wal {
            frames: AtomicI64::new(0),
            copied: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            asked: AtomicBool::new(false),
            tried_at: AtomicI64::new(0),
            limit_frames,
            forced: AtomicU64::new(0),
            restarted: AtomicU64::new(0),
            copying: Mutex::new(()),
        }
    }

    /// The WAL is past its limit and has not been restarted since.
    fn past_limit(&self) -> bool {
        self.frames.load(Ordering::Relaxed) > self.limit_frames
            && self.restarted.load(Ordering::Relaxed) != self.generation() + 1
    }

    /// On the writer connection, before a write: when the WAL is past its
    /// limit, copies it back and restarts it first (readers get
    /// [`FULL_WAIT`] to leave it). The writer that would grow it further
    /// does this itself, so the limit holds whether or not the checkpoint
    /// thread gets a CPU in time (on two busy cores it did not, and the WAL
    /// reached six times its limit). Answers the frames left, if it ran.
    pub(crate) fn restart_if_past(&self, writer: &mut Connection) -> Option<i64> {
        // Checked again under the writer's lock: another may have done it.
        if !self.past_limit() {
            return None;
        }
        let generation = self.generation();
        self.forced.fetch_add(1, Ordering::Relaxed);
        // A copy under way ends without waiting for anyone (it is passive,
        // or a truncation that waits at most `IDLE_WAIT`), and leaves less
        // to copy here.
        let _copying = lock(&self.copying);
        // Restarted, not truncated: the next commit writes over the file's
        // pages instead of growing it again page by page
        // (`journal_size_limit` keeps it within the limit).
        match checkpoint(writer, Mode::Restart, FULL_WAIT) {
            Ok((left, _)) => {
                self.restarted.store(generation + 1, Ordering::Relaxed);
                Some(left)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot restart a large WAL yet");
                None
            }
        }
    }

    /// Past this many frames the WAL is started over: a quarter of the limit.
    fn restart_at(&self) -> i64 {
        (self.limit_frames / 4).max(1)
    }

    /// Called by the writer's WAL hook after each commit: wakes the thread
    /// once the WAL is past a quarter of its limit (once a generation), and
    /// after every commit past the limit.
    fn committed(&self, frames: i64, wake: &SyncSender<()>) {
        let before = self.frames.swap(frames, Ordering::Relaxed);
        if frames < before {
            // The commit started the WAL over.
            self.generation.fetch_add(1, Ordering::Relaxed);
            self.asked.store(false, Ordering::Relaxed);
            self.tried_at.store(0, Ordering::Relaxed);
        }
        let copy = if frames > self.limit_frames {
            false
        } else if frames > self.restart_at() && !self.asked.swap(true, Ordering::Relaxed) {
            true
        } else {
            return;
        };
        // Full means a wake-up is pending already; a copy is asked for
        // again by the next commit.
        if let Err(TrySendError::Full(())) = wake.try_send(())
            && copy
        {
            self.asked.store(false, Ordering::Relaxed);
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed) & 0xFFFF_FFFF
    }

    /// Records what a passive checkpoint of generation `generation` copied.
    fn record_copied(&self, generation: u64, frames: i64) {
        let frames = u64::try_from(frames.clamp(0, i64::from(u32::MAX))).unwrap_or(0);
        self.copied.store(generation << 32 | frames, Ordering::Relaxed);
    }

    /// Frames of the current WAL known to be in the database.
    fn copied(&self) -> i64 {
        let c = self.copied.load(Ordering::Relaxed);
        if c >> 32 == self.generation() { i64::try_from(c & 0xFFFF_FFFF).unwrap_or(0) } else { 0 }
    }

    /// On the writer thread, between two batches (no write under way): once
    /// the WAL is past a quarter of its limit and the checkpoint thread has
    /// copied all but the last few commits, copies those too, so the next
    /// commit starts the WAL over. Costs the writer one small copy and its
    /// sync, about once per quarter of the limit; never waits for a lock.
    pub(crate) fn catch_up(&self, writer: &mut Connection) {
        let frames = self.frames.load(Ordering::Relaxed);
        if frames <= self.restart_at() || frames - self.copied() > CATCH_UP_FRAMES {
            return;
        }
        let tried = self.tried_at.load(Ordering::Relaxed);
        if tried != 0 && frames < tried + RETRY_FRAMES {
            return;
        }
        self.tried_at.store(frames, Ordering::Relaxed);
        let generation = self.generation();
        match checkpoint(writer, Mode::Passive, Duration::ZERO) {
            // The checkpoint thread is copying: try again after the next batch.
            Ok((-1, _)) => self.tried_at.store(tried, Ordering::Relaxed),
            Ok((_, copied)) => self.record_copied(generation, copied),
            Err(e) => tracing::debug!(error = %e, "catch-up checkpoint skipped"),
        }
    }
}

/// Sets the writer up (the size limit, the hook) and starts the thread on a
/// connection of its own to the database at `path`; past the limit it
/// restarts the WAL on the writer connection itself, holding it, so a
/// writer that never pauses cannot starve the restart (SQLite's busy wait
/// would lose every race for the write lock to it).
pub(crate) fn start(path: &Path, writer: &Arc<Mutex<Connection>>, limit_bytes: i64) -> Result<Arc<Wal>, StoreError> {
    let (wake, woken) = sync_channel::<()>(1);
    let wal = {
        let mut w = lock(writer);
        // The hook counts frames, one a page; pages are 8 KiB in a new
        // ledger, 4 KiB in one made before.
        let page_size: i64 = w.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(db_err)?;
        let wal = Arc::new(Wal::new((limit_bytes / page_size.max(512)).max(1)));
        w.pragma_update(None, "journal_size_limit", limit_bytes).map_err(db_err)?;
        let hooked = wal.clone();
        w.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            hooked.committed(i64::from(pages), &wake);
            Ok(())
        }))
        .map_err(db_err)?;
        wal
    };
    let mut conn = Connection::open(path).map_err(db_err)?;
    conn.pragma_update(None, "journal_size_limit", limit_bytes).map_err(db_err)?;
    let writer = Arc::downgrade(writer);
    let state = wal.clone();
    std::thread::Builder::new()
        .name("tokenwise-checkpoint".into())
        .spawn(move || run(&mut conn, &writer, &woken, &state))
        .map(|_| wal)
        .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))
}

fn run(conn: &mut Connection, writer: &Weak<Mutex<Connection>>, woken: &Receiver<()>, wal: &Wal) {
    let mut last_frames = 0;
    loop {
        if let Err(RecvTimeoutError::Disconnected) = woken.recv_timeout(TICK) {
            return;
        }
        if wal.past_limit() {
            // Writers wait for the writer connection meanwhile: a stall
            // bounded by the limit, only under writes that never pause. The
            // next writer does the same if this thread comes late.
            let Some(writer) = writer.upgrade() else { return };
            if let Some(left) = wal.restart_if_past(&mut lock(&writer)) {
                last_frames = left;
            }
            continue;
        }
        let _copying = lock(&wal.copying);
        let generation = wal.generation();
        let frames = match checkpoint(conn, Mode::Passive, Duration::ZERO) {
            Ok((frames, copied)) => {
                wal.record_copied(generation, copied);
                frames
            }
            Err(e) => {
                tracing::debug!(error = %e, "checkpoint skipped");
                continue;
            }
        };
        let idle = frames > 0 && frames == last_frames;
        let outcome = if idle { Some(checkpoint(conn, Mode::Truncate, IDLE_WAIT)) } else { None };
        last_frames = match outcome {
            Some(Ok((left, _))) => left,
            Some(Err(_)) | None => frames,
        };
    }
}

/// One checkpoint, waiting at most `wait` for locks; the frames in the WAL
/// (all of them, copied or not) and how many of them are in the database.
/// A checkpoint that could not finish (a truncation that found the WAL
/// busy) is an error.
fn checkpoint(conn: &mut Connection, mode: Mode, wait: Duration) -> rusqlite::Result<(i64, i64)> {
    set_wait(conn, wait)?;
    // The pragma (unlike `sqlite3_wal_checkpoint_v2` on a connection that
    // has not read yet) opens the database in WAL mode first.
    let sql = match mode {
        Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
        Mode::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        Mode::Restart => "PRAGMA wal_checkpoint(RESTART)",
    };
    let done = conn.query_row(sql, [], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)));
    conn.busy_timeout(WAIT_AFTER)?;
    match (mode, done?) {
        (Mode::Truncate | Mode::Restart, (0, _, _)) => Ok((0, 0)),
        (Mode::Truncate | Mode::Restart, (_, log, _)) => Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some(format!("the WAL ({log} frames) is busy")),
        )),
        (Mode::Passive, (_, log, copied)) => Ok((log, copied)),
    }
}

/// Makes `conn` wait up to `wait` for a lock. The wait past the limit,
/// when writers wait too, tries again every [`POLL`]; the others (an idle
/// writer's truncation) keep SQLite's own handler.
fn set_wait(conn: &mut Connection, wait: Duration) -> rusqlite::Result<()> {
    thread_local!(static WAITING_SINCE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) });
    fn full(tried: i32) -> bool {
        let now = std::time::Instant::now();
        let since = WAITING_SINCE.with(|s| {
            let since = if tried == 0 { now } else { s.get().unwrap_or(now) };
            s.set(Some(since));
            since
        });
        if now.duration_since(since) >= FULL_WAIT {
            return false;
        }
        std::thread::sleep(POLL);
        true
    }
    if wait < FULL_WAIT {
        return conn.busy_timeout(wait);
    }
    conn.busy_handler(Some(full))
}

#[derive(Clone, Copy)]
enum Mode {
    Passive,
    Restart,
    Truncate,
}

#[cfg(test)]
mod tests {
    use crate::errors::db_err;
    use crate::{Durability, SqliteStore};
    use rusqlite::OptionalExtension;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// Held by each test here: each runs a writer, the checkpoint thread and
    /// busy readers against the clock, and run together on two cores they
    /// starved one another's checkpoint thread (a WAL of 6 MB against a
    /// 1 MB limit, once in a full run of the suite).
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    /// A store at `l.db` in a fresh folder, its WAL limited to
    /// `limit_bytes`, with an empty table `blobs (id, b)`.
    async fn blobs(limit_bytes: i64) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("l.db").display());
        let store = SqliteStore::open_limited(&url, Durability::ProcessCrash, limit_bytes).unwrap();
        store
            .write(|c| c.execute_batch("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)").map_err(db_err))
            .await
            .unwrap();
        (dir, store)
    }

    /// Under writes that never pause, with readers always inside a read
    /// transaction (the soak's dashboards and key lookups), the WAL stays
    /// near its limit instead of growing with every commit; once the writer
    /// is idle it is truncated to nothing, the readers still busy.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_steady_writes_and_busy_readers() {
        let _alone = ONE_AT_A_TIME.lock().await;
        const LIMIT_BYTES: i64 = 1 << 20;
        const WRITES: usize = 400; // 64 KiB each: ~26 MiB through the WAL
        let (dir, store) = blobs(LIMIT_BYTES).await;
        let (db, wal) = (dir.path().join("l.db"), dir.path().join("l.db-wal"));
        let stop = Arc::new(AtomicBool::new(false));
        // Two readers whose read transactions overlap: at every moment one
        // of them holds a snapshot.
        let readers: Vec<_> = (0..2u64)
            .map(|i| {
                let (db, stop) = (db.clone(), stop.clone());
                std::thread::spawn(move || {
                    let c = rusqlite::Connection::open(&db).unwrap();
                    let mut reads = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        c.execute_batch("BEGIN").unwrap();
                        let _: i64 = c.query_row("SELECT count(*) FROM blobs", [], |r| r.get(0)).unwrap();
                        std::thread::sleep(Duration::from_millis(2 + i));
                        c.execute_batch("COMMIT").unwrap();
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        let wal_size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        let mut largest = 0;
        let started = Instant::now();
        for _ in 0..WRITES {
            store
                .write(|c| c.execute("INSERT INTO blobs (b) VALUES (zeroblob(65536))", []).map(|_| ()).map_err(db_err))
                .await
                .unwrap();
            largest = largest.max(wal_size());
        }
        let limit_bytes = u64::try_from(LIMIT_BYTES).unwrap();
        // Past the limit by the commit that crossed it, and by one more each
        // time readers hold the WAL for a whole `FULL_WAIT`: 1.03–1.11 MiB
        // alone under four busy loops, up to 1.94 MiB beside this binary's
        // other tests and four busy loops; 3.2 MiB under three when a restart
        // gave up on meeting the thread's copy (9.2 MiB once in CI).
        assert!(largest <= 3 * limit_bytes, "the WAL reached {largest} bytes (limit {limit_bytes})");
        // Idle writer, busy readers: the WAL is truncated.
        let writes_took = started.elapsed();
        let deadline = Instant::now() + Duration::from_secs(30);
        while wal_size() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let idle_size = wal_size();
        let idle_took = started.elapsed() - writes_took;
        stop.store(true, Ordering::Relaxed);
        let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert_eq!(idle_size, 0, "an idle writer's WAL is truncated");
        assert!(reads > 10, "the readers were busy throughout ({reads} reads)");
        let rows =
            store.read(|c| c.query_row("SELECT count(*) FROM blobs", [], |r| r.get::<_, i64>(0)).map_err(db_err)).await;
        assert_eq!(rows.unwrap(), i64::try_from(WRITES).unwrap());
        eprintln!(
            "WAL: largest {largest} bytes over {WRITES} writes of 64 KiB, limit {limit_bytes}; {reads} reads; writes {writes_took:?}, truncated idle after {idle_took:?}"
        );
    }

    /// One commit larger than the limit, then nothing: the WAL is restarted
    /// at once (writers waiting), and once the writer has been idle for a
    /// tick it is truncated to nothing like any idle writer's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_writer_s_wal_past_its_limit_is_truncated_too() {
        let _alone = ONE_AT_A_TIME.lock().await;
        let (dir, store) = blobs(1 << 20).await;
        let wal_path = dir.path().join("l.db-wal");
        store
            .write(|c| c.execute("INSERT INTO blobs (b) VALUES (zeroblob(3145728))", []).map(|_| ()).map_err(db_err))
            .await
            .unwrap();
        let wal = store.inner.wal.clone().unwrap();
        let wal_size = || std::fs::metadata(&wal_path).map_or(0, |m| m.len());
        assert!(wal_size() > 3 << 20, "the commit went past the limit: {} bytes", wal_size());
        let deadline = Instant::now() + Duration::from_secs(10);
        while wal_size() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let forced = wal.forced.load(Ordering::Relaxed);
        assert_eq!(wal_size(), 0, "an idle writer's WAL is truncated ({forced} forced restarts)");
        // One restart for the one commit past the limit (a second if the
        // first found a reader still in the WAL).
        assert!((1..=2).contains(&forced), "{forced} forced restarts");
    }

    /// The gateway's case: a commit every millisecond or so, each followed
    /// by the writer thread's catch-up, and readers that come and go (key
    /// lookups). The WAL starts over again and again near a quarter of its
    /// limit, and writers seldom wait for a forced restart.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_starts_the_wal_over_without_making_writers_wait() {
        let _alone = ONE_AT_A_TIME.lock().await;
        const LIMIT_BYTES: i64 = 4 << 20; // starts over past 1 MiB
        const WRITES: usize = 3_000; // 16 KiB each: ~47 MiB through the WAL
        let (dir, store) = blobs(LIMIT_BYTES).await;
        let (db, wal_path) = (dir.path().join("l.db"), dir.path().join("l.db-wal"));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2u64)
            .map(|_| {
                let (db, stop) = (db.clone(), stop.clone());
                std::thread::spawn(move || {
                    let c = rusqlite::Connection::open(&db).unwrap();
                    let mut reads = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // A lookup by key, as a request's key check is (a
                        // scan of the table would read more pages with
                        // larger ones and overlap more commits).
                        let _: Option<i64> = c
                            .query_row("SELECT length(b) FROM blobs ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
                            .optional()
                            .unwrap()
                            .flatten();
                        reads += 1;
                        std::thread::sleep(Duration::from_micros(500));
                    }
                    reads
                })
            })
            .collect();
        let wal = store.inner.wal.clone().unwrap();
        let mut largest = 0;
        for _ in 0..WRITES {
            let mut w = crate::connection::lock(&store.inner.writer);
            w.execute("INSERT INTO blobs (b) VALUES (zeroblob(16384))", []).unwrap();
            wal.catch_up(&mut w);
            drop(w);
            largest = largest.max(std::fs::metadata(&wal_path).map_or(0, |m| m.len()));
            std::thread::sleep(Duration::from_micros(300));
        }
        stop.store(true, Ordering::Relaxed);
        let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        let (starts, forced) = (wal.generation.load(Ordering::Relaxed), wal.forced.load(Ordering::Relaxed));
        eprintln!("WAL: largest {largest} bytes, started over {starts} times, {forced} forced; {reads} reads");
        assert!(reads > 100, "the readers were busy throughout ({reads} reads)");
        // A forced restart also starts the WAL over; without the catch-up
        // nearly every start-over is one.
        assert!(starts >= 20, "the WAL started over only {starts} times");
        assert!(forced * 5 <= starts, "writers waited for {forced} forced restarts in {starts} start-overs");
        // A forced restart comes once a commit has gone past the limit
        // (by more when the checkpoint thread is slow to wake): bounded.
        let limit_bytes = u64::try_from(LIMIT_BYTES).unwrap();
        assert!(largest <= 2 * limit_bytes, "the WAL reached {largest} bytes (limit {limit_bytes})");
    }
}
