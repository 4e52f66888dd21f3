//! Group commit. A handler's `record` returns only once its event is
//! durable, so an acknowledged call is never lost, and with its task's
//! totals as that commit left them. Under load one fsync is shared by every
//! event queued while the previous commit ran.
//!
//! A backend that commits on the calling thread (SQLite) uses a
//! leader/follower group: the first handler to find no commit under way
//! commits the queue itself, on its own thread. At low load that is its own
//! event alone, with no thread hand-off before or after the fsync (two
//! wake-ups were most of the latency durability added besides the fsync
//! itself). Handlers arriving during a commit queue and wait; when the
//! leader's commit ends with more queued, it hands the lead to the group's
//! own thread, which commits batch after batch until the queue is empty, so
//! no handler's answer waits for other people's commits. A batch that
//! fails also goes to that thread, which retries it. Other backends (async
//! PostgreSQL) use one writer task fed by a channel.

use crate::event::UsageEvent;
use crate::store::{AuditStore, BlockingWriter, EventStore, StoreError};
use crate::task::{Committed, TaskSoFar};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const MAX_BATCH: usize = 512;
const QUEUE: usize = 8_192;
const ATTEMPTS: u32 = 4;

struct Job {
    event: UsageEvent,
    done: Waiter,
}

/// Counters for benchmarks, `/metrics` and `/healthz`.
#[derive(Debug)]
pub struct RecorderStats {
    pub events: AtomicU64,
    pub batches: AtomicU64,
    pub largest_batch: AtomicU64,
    pub failed_batches: AtomicU64,
    /// When the stats began (the writer started): the origin of the two below.
    started: Instant,
    /// Milliseconds after `started` + 1 of the last committed batch (0: none yet).
    last_commit: AtomicU64,
    /// Milliseconds after `started` + 1 of the last batch that failed for good (0: none).
    last_failure: AtomicU64,
}

impl Default for RecorderStats {
    fn default() -> RecorderStats {
        RecorderStats {
            events: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            started: Instant::now(),
            last_commit: AtomicU64::new(0),
            last_failure: AtomicU64::new(0),
        }
    }
}

impl RecorderStats {
    fn mark(&self, at: &AtomicU64) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        at.store(ms + 1, Ordering::Relaxed);
    }

    fn age(&self, at: &AtomicU64) -> Option<Duration> {
        let mark = at.load(Ordering::Relaxed).checked_sub(1)?;
        Some(self.started.elapsed().saturating_sub(Duration::from_millis(mark)))
    }

    /// How long ago the last batch committed (None: none has yet).
    pub fn since_commit(&self) -> Option<Duration> {
        self.age(&self.last_commit)
    }

    /// How long ago a batch last failed after every retry (None: never).
    pub fn since_failure(&self) -> Option<Duration> {
        self.age(&self.last_failure)
    }

    /// Whether the writer is failing: its last batch failed for good and
    /// none has committed since.
    pub fn failing(&self) -> bool {
        let failure = self.last_failure.load(Ordering::Relaxed);
        failure != 0 && failure >= self.last_commit.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
pub struct Recorder {
    way: Way,
    stats: Arc<RecorderStats>,
}

#[derive(Clone)]
enum Way {
    /// One writer task fed by a channel.
    Task(mpsc::Sender<Job>),
    /// A leader/follower group on a blocking writer; the last clone to go
    /// closes the group, which lets its thread finish.
    Group(Arc<Closer>),
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("stats", &self.stats).finish()
    }
}

impl Recorder {
    /// Starts the writer. It ends once every `Recorder` clone is dropped
    /// and the queue is drained; await the handle to flush.
    pub fn spawn(store: Arc<dyn EventStore>) -> (Recorder, JoinHandle<()>) {
        let stats = Arc::new(RecorderStats::default());
        if let Some(w) = store.blocking_writer() {
            let group = Arc::new(Group {
                state: Mutex::new(GroupState::default()),
                writer: Mutex::new(w),
                wake: Condvar::new(),
                stats: stats.clone(),
            });
            let (done_tx, done_rx) = oneshot::channel();
            let g = group.clone();
            let spawned = std::thread::Builder::new().name("tokenwise-ledger".into()).spawn(move || {
                g.run_helper();
                let _ = done_tx.send(());
            });
            match spawned {
                Ok(_) => {
                    let handle = tokio::spawn(async move {
                        let _ = done_rx.await;
                    });
                    return (Recorder { way: Way::Group(Arc::new(Closer(group))), stats }, handle);
                }
                // Without its thread the group could not hand off a busy
                // lead or retry: fall back to the writer task below.
                Err(e) => tracing::error!(error = %e, "cannot start the ledger thread; writing from a task"),
            }
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let handle = tokio::spawn(writer(store, rx, stats.clone()));
        (Recorder { way: Way::Task(tx), stats }, handle)
    }

    /// Records one event and returns once it is committed, with its task's
    /// calls and cost including it (None when it names no task, or was
    /// already stored).
    pub async fn record(&self, event: UsageEvent) -> Result<Option<TaskSoFar>, StoreError> {
        let (done, wait) = oneshot::channel();
        match &self.way {
            Way::Task(tx) => tx
                .send(Job { event, done })
                .await
                .map_err(|_| StoreError::Backend("the ledger writer has stopped".into()))?,
            // No await between joining and leading: a handler dropped
            // mid-call cannot leave the group without a leader.
            Way::Group(c) => c.0.join(Job { event, done }),
        }
        wait.await.map_err(|_| StoreError::Backend("the ledger writer stopped before committing".into()))?
    }

    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }

    /// Events waiting for the writer (sent, not yet taken into a batch).
    pub fn queued(&self) -> usize {
        match &self.way {
            Way::Task(tx) => tx.max_capacity().saturating_sub(tx.capacity()),
            Way::Group(c) => c.0.lock_state().queue.len(),
        }
    }
}

/// A leader/follower group commit over a blocking writer (see the module's
/// comment). Invariant: whenever the queue is not empty, someone leads.
struct Group {
    state: Mutex<GroupState>,
    /// Held by whoever leads, for the length of one batch.
    writer: Mutex<Box<dyn BlockingWriter>>,
    /// Wakes the group's thread: the lead is handed to it, or it may stop.
    wake: Condvar,
    stats: Arc<RecorderStats>,
}

#[derive(Default)]
struct GroupState {
    queue: VecDeque<Job>,
    /// A handler or the group's thread is committing the queue.
    leading: bool,
    /// The lead was handed to the group's thread.
    handed: bool,
    /// Every `Recorder` is gone.
    closed: bool,
}

/// Closes its group when the last `Recorder` clone is dropped.
struct Closer(Arc<Group>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.lock_state().closed = true;
        self.0.wake.notify_one();
    }
}

impl Group {
    fn lock_state(&self) -> MutexGuard<'_, GroupState> {
        // A panic while holding the lock leaves only plain data behind.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job; if nobody leads, commits one batch here (it holds the
    /// job), then hands the lead on if more arrived meanwhile.
    fn join(&self, job: Job) {
        {
            let mut s = self.lock_state();
            s.queue.push_back(job);
            if s.leading {
                return;
            }
            s.leading = true;
        }
        let (events, waiters) = self.take_batch();
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let result = writer.commit_events_blocking(&events);
        drop(writer);
        let mut s = match result {
            Ok(c) => {
                settle(waiters, Ok(c), &self.stats);
                let mut s = self.lock_state();
                if s.queue.is_empty() {
                    s.leading = false;
                    return;
                }
                s
            }
            // Retrying sleeps: not on a handler's thread. The batch goes
            // back to the front of the queue, in order, for the group's
            // thread to retry.
            Err(e) => {
                tracing::warn!(error = %e, "ledger batch failed; retrying");
                let mut s = self.lock_state();
                for job in events.into_iter().zip(waiters).rev() {
                    s.queue.push_front(Job { event: job.0, done: job.1 });
                }
                s
            }
        };
        s.handed = true;
        drop(s);
        self.wake.notify_one();
    }

    fn take_batch(&self) -> (Vec<UsageEvent>, Vec<Waiter>) {
        let mut s = self.lock_state();
        let n = s.queue.len().min(MAX_BATCH);
        s.queue.drain(..n).map(|j| (j.event, j.done)).unzip()
    }

    /// The group's thread: waits to be handed the lead, then commits batch
    /// after batch (retrying failures) until the queue is empty. Ends once
    /// the group is closed and nothing is left to commit.
    fn run_helper(&self) {
        loop {
            {
                let mut s = self.lock_state();
                while !s.handed && !s.closed {
                    s = self.wake.wait(s).unwrap_or_else(PoisonError::into_inner);
                }
                if !s.handed {
                    // Closed, and no lead to take: every `record` that
                    // led has already committed.
                    return;
                }
                s.handed = false;
            }
            loop {
                let (events, waiters) = self.take_batch();
                if !events.is_empty() {
                    let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
                    let result = commit_retrying(writer.as_mut(), &events);
                    drop(writer);
                    settle(waiters, result, &self.stats);
                }
                let mut s = self.lock_state();
                if s.queue.is_empty() {
                    s.leading = false;
                    break;
                }
            }
        }
    }
}

/// Moves what is queued behind `first` into the batch, up to the cap.
fn fill<T>(batch: &mut Vec<T>, first: T, rx: &mut mpsc::Receiver<T>) {
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
}

type Waiter = oneshot::Sender<Result<Option<TaskSoFar>, StoreError>>;

/// Takes the next batch of jobs: their events (moved, not copied) and the
/// waiters to answer once they are stored.
fn next_batch(first: Job, rx: &mut mpsc::Receiver<Job>) -> (Vec<UsageEvent>, Vec<Waiter>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH.min(rx.len() + 1));
    fill(&mut jobs, first, rx);
    jobs.into_iter().map(|j| (j.event, j.done)).unzip()
}

/// Counts the batch and answers every waiter in it, each with its event's
/// task totals.
fn settle(waiters: Vec<Waiter>, result: Result<Committed, StoreError>, stats: &RecorderStats) {
    let n = waiters.len() as u64;
    match &result {
        Ok(_) => {
            stats.events.fetch_add(n, Ordering::Relaxed);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.largest_batch.fetch_max(n, Ordering::Relaxed);
            stats.mark(&stats.last_commit);
        }
        Err(e) => {
            stats.failed_batches.fetch_add(1, Ordering::Relaxed);
            stats.mark(&stats.last_failure);
            tracing::error!(error = %e, events = n, "ledger batch failed; callers see the error");
        }
    }
    for (i, done) in waiters.into_iter().enumerate() {
        let answer = match &result {
            Ok(c) => Ok(c.tasks.get(i).copied().flatten()),
            Err(e) => Err(e.clone()),
        };
        // A waiter that went away no longer needs the answer.
        let _ = done.send(answer);
    }
}

/// Whether to try a failed batch again, and after how long. Retrying is
/// safe: inserts skip ids already stored.
fn retry_after(e: &StoreError, attempt: u32) -> Option<Duration> {
    if attempt >= ATTEMPTS || matches!(e, StoreError::Config(_)) {
        return None;
    }
    tracing::warn!(error = %e, attempt, "ledger batch failed; retrying");
    Some(Duration::from_millis(20 * 4u64.pow(attempt - 1)))
}

/// Runs `write` until it succeeds or `retry_after` gives up.
async fn retrying<T, F, Fut>(mut write: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Ok(v) => return Ok(v),
            Err(e) => match retry_after(&e, attempt) {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(e),
            },
        }
        attempt += 1;
    }
}

async fn writer(store: Arc<dyn EventStore>, mut rx: mpsc::Receiver<Job>, stats: Arc<RecorderStats>) {
    while let Some(first) = rx.recv().await {
        let (events, waiters) = next_batch(first, &mut rx);
        let result = retrying(|| store.commit_events(&events)).await;
        settle(waiters, result, &stats);
    }
}

/// Commits on the calling thread until it succeeds or `retry_after` gives up.
fn commit_retrying(w: &mut dyn BlockingWriter, events: &[UsageEvent]) -> Result<Committed, StoreError> {
    let mut attempt = 1;
    loop {
        match w.commit_events_blocking(events) {
            Ok(c) => return Ok(c),
            Err(e) => match retry_after(&e, attempt) {
                Some(d) => std::thread::sleep(d),
                None => return Err(e),
            },
        }
        attempt += 1;
    }
}

/// Appends audit entries in the background, batched like usage events. The
/// usage event of a call is what must be durable before the answer; its
/// audit entry follows within a commit or two.
#[derive(Clone, Debug)]
pub struct Auditor {
    tx: mpsc::Sender<crate::audit::AuditDraft>,
}

impl Auditor {
    pub fn spawn(store: Arc<dyn AuditStore>) -> (Auditor, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<crate::audit::AuditDraft>(QUEUE);
        let handle = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while let Some(first) = rx.recv().await {
                fill(&mut batch, first, &mut rx);
                if let Err(e) = retrying(|| store.append_audit_batch(&batch)).await {
                    tracing::error!(error = %e, entries = batch.len(), "audit entries lost");
                }
                batch.clear();
            }
        });
        (Auditor { tx }, handle)
    }

    /// Queues an entry; waits only if the queue is full.
    pub async fn submit(&self, draft: crate::audit::AuditDraft) {
        if self.tx.send(draft).await.is_err() {
            tracing::error!("the auditor has stopped; an audit entry was dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::event::EventSource;
    use crate::store::{EventQuery, SpendQuery, SpendRow};
    use async_trait::async_trait;
    use std::collections::BTreeSet;
    use std::sync::atomic::AtomicU32;

    /// Stores ids in memory; each commit takes `delay` (the fsync) and the
    /// first `fail_first` commits fail as a busy database would.
    #[derive(Default)]
    struct Fake {
        stored: Mutex<BTreeSet<String>>,
        /// The threads commits ran on.
        threads: Mutex<BTreeSet<String>>,
        delay: Duration,
        fail_first: AtomicU32,
        commits: AtomicU32,
    }

    struct FakeWriter(Arc<Fake>);

    impl BlockingWriter for FakeWriter {
        fn commit_events_blocking(&mut self, events: &[UsageEvent]) -> Result<Committed, StoreError> {
            let f = &self.0;
            f.commits.fetch_add(1, Ordering::SeqCst);
            f.threads.lock().unwrap().insert(std::thread::current().name().unwrap_or("?").to_string());
            std::thread::sleep(f.delay);
            if f.fail_first.load(Ordering::SeqCst) > 0 {
                f.fail_first.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Backend("database is locked".into()));
            }
            let mut stored = f.stored.lock().unwrap();
            let new = events.iter().filter(|e| stored.insert(e.id.clone())).count() as u64;
            Ok(Committed { new, tasks: vec![None; events.len()] })
        }
    }

    struct FakeStore(Arc<Fake>);

    #[async_trait]
    impl EventStore for FakeStore {
        fn blocking_writer(&self) -> Option<Box<dyn BlockingWriter>> {
            Some(Box::new(FakeWriter(self.0.clone())))
        }
        async fn commit_events(&self, _: &[UsageEvent]) -> Result<Committed, StoreError> {
            panic!("the group commits on the calling thread")
        }
        async fn event(&self, _: &str) -> Result<Option<UsageEvent>, StoreError> {
            Ok(None)
        }
        async fn events(&self, _: &EventQuery) -> Result<Vec<UsageEvent>, StoreError> {
            Ok(vec![])
        }
        async fn spend(&self, _: &SpendQuery) -> Result<Vec<SpendRow>, StoreError> {
            Ok(vec![])
        }
    }

    fn event(i: usize) -> UsageEvent {
        UsageEvent::builder(format!("e{i}"), jiff::Timestamp::UNIX_EPOCH, EventSource::Simulator, "u", "t", "m", "p")
            .build()
    }

    fn fake(delay_ms: u64, fail_first: u32) -> Arc<Fake> {
        Arc::new(Fake {
            delay: Duration::from_millis(delay_ms),
            fail_first: AtomicU32::new(fail_first),
            ..Fake::default()
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alone_a_call_commits_on_its_own_thread() {
        let f = fake(0, 0);
        let (r, writer) = Recorder::spawn(Arc::new(FakeStore(f.clone())));
        for i in 0..20 {
            r.record(event(i)).await.unwrap();
        }
        assert_eq!(f.stored.lock().unwrap().len(), 20);
        assert_eq!(f.commits.load(Ordering::SeqCst), 20, "one commit per call: nothing waited to be batched");
        assert!(!f.threads.lock().unwrap().contains("tokenwise-ledger"), "no hand-off to the group's thread");
        drop(r);
        writer.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn under_load_commits_are_shared_and_every_event_is_stored_once() {
        let f = fake(2, 0);
        let (r, writer) = Recorder::spawn(Arc::new(FakeStore(f.clone())));
        let calls: Vec<_> = (0..600)
            .map(|i| {
                let r = r.clone();
                tokio::spawn(async move { r.record(event(i)).await })
            })
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
        let batches = r.stats().batches.load(Ordering::Relaxed);
        assert_eq!(r.stats().events.load(Ordering::Relaxed), 600);
        assert_eq!(f.stored.lock().unwrap().len(), 600);
        assert!(batches < 300, "{batches} commits for 600 concurrent calls: they were not shared");
        assert!(f.threads.lock().unwrap().contains("tokenwise-ledger"), "a busy lead goes to the group's thread");
        assert_eq!(r.queued(), 0);
        drop(r);
        writer.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_commit_is_retried_off_the_callers_thread_and_succeeds() {
        let f = fake(0, 2);
        let (r, writer) = Recorder::spawn(Arc::new(FakeStore(f.clone())));
        r.record(event(1)).await.unwrap();
        assert_eq!(f.stored.lock().unwrap().len(), 1);
        assert_eq!(f.commits.load(Ordering::SeqCst), 3, "the first try, then the group's thread's retries");
        assert!(f.threads.lock().unwrap().contains("tokenwise-ledger"));
        // The group leads again from a caller once the queue is empty.
        r.record(event(2)).await.unwrap();
        assert_eq!(r.stats().events.load(Ordering::Relaxed), 2);
        drop(r);
        writer.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_that_keeps_failing_answers_every_caller_with_the_error() {
        let f = fake(0, 100);
        let (r, writer) = Recorder::spawn(Arc::new(FakeStore(f.clone())));
        let e = r.record(event(1)).await.unwrap_err();
        assert!(e.to_string().contains("locked"), "{e}");
        assert!(r.stats().failing());
        assert_eq!(f.commits.load(Ordering::SeqCst), 1 + ATTEMPTS);
        drop(r);
        writer.await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn on_a_single_threaded_runtime_calls_still_commit_and_the_writer_stops() {
        let f = fake(1, 1);
        let (r, writer) = Recorder::spawn(Arc::new(FakeStore(f.clone())));
        for i in 0..50 {
            r.record(event(i)).await.unwrap();
        }
        assert_eq!(f.stored.lock().unwrap().len(), 50);
        drop(r);
        writer.await.unwrap();
    }
}
