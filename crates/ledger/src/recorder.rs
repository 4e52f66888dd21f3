//! Group commit. Request handlers hand their usage event to one writer task
//! and wait; the writer takes every event queued while the previous commit
//! was running and stores them in one transaction, then wakes each waiter.
//! At low load a batch is one event and adds no delay; under load one
//! fsync is shared by the whole batch. A handler's `record` returns only
//! once its event is durable, so an acknowledged call is never lost, and
//! with its task's totals as that commit left them.

use crate::event::UsageEvent;
use crate::store::{AuditStore, BlockingWriter, EventStore, StoreError};
use crate::task::{Committed, TaskSoFar};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    tx: mpsc::Sender<Job>,
    stats: Arc<RecorderStats>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("stats", &self.stats).finish()
    }
}

impl Recorder {
    /// Starts the writer task. It ends once every `Recorder` clone is
    /// dropped and the queue is drained; await the handle to flush.
    pub fn spawn(store: Arc<dyn EventStore>) -> (Recorder, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(RecorderStats::default());
        let handle = match store.blocking_writer() {
            Some(w) => {
                let (done_tx, done_rx) = oneshot::channel();
                let s = stats.clone();
                let spawned = std::thread::Builder::new().name("tokenwise-ledger".into()).spawn(move || {
                    blocking_writer(w, rx, &s);
                    let _ = done_tx.send(());
                });
                match spawned {
                    Ok(_) => tokio::spawn(async move {
                        let _ = done_rx.await;
                    }),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the ledger thread");
                        tokio::spawn(async {})
                    }
                }
            }
            None => tokio::spawn(writer(store, rx, stats.clone())),
        };
        (Recorder { tx, stats }, handle)
    }

    /// Records one event and returns once it is committed, with its task's
    /// calls and cost including it (None when it names no task, or was
    /// already stored).
    pub async fn record(&self, event: UsageEvent) -> Result<Option<TaskSoFar>, StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job { event, done })
            .await
            .map_err(|_| StoreError::Backend("the ledger writer has stopped".into()))?;
        wait.await.map_err(|_| StoreError::Backend("the ledger writer stopped before committing".into()))?
    }

    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }

    /// Events waiting for the writer (sent, not yet taken into a batch).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity().saturating_sub(self.tx.capacity())
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

fn blocking_writer(mut w: Box<dyn BlockingWriter>, mut rx: mpsc::Receiver<Job>, stats: &RecorderStats) {
    while let Some(first) = rx.blocking_recv() {
        let (events, waiters) = next_batch(first, &mut rx);
        let mut attempt = 1;
        let result = loop {
            match w.commit_events_blocking(&events) {
                Ok(c) => break Ok(c),
                Err(e) => match retry_after(&e, attempt) {
                    Some(d) => std::thread::sleep(d),
                    None => break Err(e),
                },
            }
            attempt += 1;
        };
        settle(waiters, result, stats);
        w.after_batch();
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
