//! Group commit. Request handlers hand their usage event to one writer task
//! and wait; the writer takes every event queued while the previous commit
//! was running and stores them in one transaction, then wakes each waiter.
//! At low load a batch is one event and adds no delay; under load one
//! fsync is shared by the whole batch. A handler's `record` returns only
//! once its event is durable, so an acknowledged call is never lost.

use crate::event::UsageEvent;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const MAX_BATCH: usize = 512;
const QUEUE: usize = 8_192;
const ATTEMPTS: u32 = 4;

struct Job {
    event: UsageEvent,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Counters for benchmarks and `/metrics`.
#[derive(Debug, Default)]
pub struct RecorderStats {
    pub events: AtomicU64,
    pub batches: AtomicU64,
    pub largest_batch: AtomicU64,
    pub failed_batches: AtomicU64,
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
    pub fn spawn(store: Arc<dyn Store>) -> (Recorder, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(RecorderStats::default());
        let handle = tokio::spawn(writer(store, rx, stats.clone()));
        (Recorder { tx, stats }, handle)
    }

    /// Records one event and returns once it is committed.
    pub async fn record(&self, event: UsageEvent) -> Result<(), StoreError> {
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
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>, stats: Arc<RecorderStats>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let events: Vec<UsageEvent> = batch.iter().map(|j| j.event.clone()).collect();
        let result = commit(store.as_ref(), &events).await;
        let n = batch.len() as u64;
        match &result {
            Ok(()) => {
                stats.events.fetch_add(n, Ordering::Relaxed);
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.largest_batch.fetch_max(n, Ordering::Relaxed);
            }
            Err(e) => {
                stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = n, "ledger batch failed; callers see the error");
            }
        }
        for job in batch.drain(..) {
            // A waiter that went away no longer needs the answer.
            let _ = job.done.send(result.clone());
        }
    }
}

/// Retries transient failures; safe because inserts skip ids already stored.
async fn commit(store: &dyn Store, events: &[UsageEvent]) -> Result<(), StoreError> {
    let mut delay = Duration::from_millis(20);
    let mut attempt = 1;
    loop {
        match store.insert_events(events).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt >= ATTEMPTS || matches!(e, StoreError::Config(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, attempt, "ledger batch failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 4;
                attempt += 1;
            }
        }
    }
}
