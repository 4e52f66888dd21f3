//! `/healthz`: whether this replica's ledger can take usage. The store is
//! probed with one indexed read (bounded in time), and the group commit's
//! writer says how much is queued, when it last committed and whether its
//! last batch failed for good. Unhealthy — the store unreachable or the
//! writer failing — is a 503, so a load balancer stops sending calls that
//! could not be recorded. No database text is included: it goes to the log.

use crate::App;
use serde::Serialize;
use std::time::Duration;

/// How long the store probe may take before the ledger counts as unreachable.
const PROBE: Duration = Duration::from_secs(2);

/// What `/healthz` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    pub ledger: LedgerHealth,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerHealth {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The probe read answered in time.
    pub reachable: bool,
    /// The writer's last batch committed (or none has been sent yet).
    pub writing: bool,
    /// Usage events waiting for the writer.
    pub queue_depth: usize,
    /// Milliseconds since the last committed batch (null: none since start).
    pub last_commit_age_ms: Option<u64>,
    /// Milliseconds since a batch last failed after its retries (null: never).
    pub last_failure_age_ms: Option<u64>,
    /// Batches that failed after their retries since start.
    pub failed_batches: u64,
}

impl Health {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

impl App {
    pub async fn ledger_health(&self) -> Health {
        let reachable = match tokio::time::timeout(PROBE, self.store.audit_page(i64::MAX, 1)).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "health probe: the ledger refused a read");
                false
            }
            Err(_) => {
                tracing::error!("health probe: the ledger did not answer within {PROBE:?}");
                false
            }
        };
        let stats = self.recorder.stats();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let ledger = LedgerHealth {
            backend: self.store.backend(),
            reachable,
            writing: !stats.failing(),
            queue_depth: self.recorder.queued(),
            last_commit_age_ms: stats.since_commit().map(ms),
            last_failure_age_ms: stats.since_failure().map(ms),
            failed_batches: stats.failed_batches.load(std::sync::atomic::Ordering::Relaxed),
        };
        let status = if ledger.reachable && ledger.writing { "ok" } else { "unavailable" };
        Health { status, ledger }
    }
}
