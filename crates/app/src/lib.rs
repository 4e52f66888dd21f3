//! The application layer: what tokenwise does for each kind of user —
//! read events, see budgets, ask for and decide exceptions, check a prompt,
//! report and validate outcomes, appeal a rejection, and the gateway's own
//! steps (route, scan, hold, meter) — as typed requests and responses over
//! the policy, the ledger and the scanner.
//! Who may see and do what is decided here once ([`access`]), so the JSON
//! API, the gateway and the dashboard cannot disagree. There are no HTTP
//! types here: the edges (`tokenwise-http`, the gateway, the server) turn
//! requests into these calls and [`AppError`]s into responses.

pub mod access;
pub mod anomalies;
pub mod appeals;
pub mod auth;
pub mod budgets;
pub mod check;
pub mod error;
pub mod events;
pub mod exceptions;
pub mod feedback;
pub mod finance;
pub mod governance;
pub mod guard;
pub mod health;
pub mod incidents;
pub mod ingest;
pub mod integrations;
pub mod leaderboard;
pub mod meta;
pub mod metering;
pub mod month;
pub mod outcomes;
pub mod output;
pub mod pilots;
pub mod ratelimit;
pub mod record;
pub mod reports;
pub mod retention;
pub mod routing;
pub mod scores;
pub mod sessions;
pub mod tasks;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod tokenize;

pub use auth::Caller;
pub use error::{AppError, AppResult, Code};

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokenwise_core::Clock;
use tokenwise_ledger::{AuditAction, AuditDraft, Auditor, Recorder, Store};
use tokenwise_policy::Policy;
use tokio::task::JoinHandle;

/// Everything the application shares: one per process.
#[derive(Debug)]
pub struct App {
    pub policy: Arc<Policy>,
    pub store: Arc<dyn Store>,
    /// Group commit of usage events.
    pub recorder: Recorder,
    /// Batched appends to the audit chain.
    pub auditor: Auditor,
    pub guard: guard::Guard,
    pub budgets: budgets::Budgets,
    /// The time every rule reads; manual in tests and the simulator.
    pub clock: Clock,
    /// Each integration's signing secret, read from the environment at start.
    pub integration_secrets: integrations::Secrets,
    /// The usual cost of a task, refreshed off the request path.
    pub task_baselines: tasks::TaskBaselines,
    /// The policy file as it was read at start, for governance to see.
    pub policy_file: PolicyText,
    /// Each API key's request bucket on this replica (`[rate_limits]`).
    pub rate_limiter: ratelimit::RateLimiter,
    /// The server secret `prompt_hash` is keyed with (kept once per
    /// database, so every replica hashes a prompt alike).
    pub prompt_key: metering::PromptKey,
}

/// The policy file in force: where it came from, its text and SHA-256 (the
/// digest the `policy.load` audit entry records).
#[derive(Debug, Clone)]
pub struct PolicyText {
    pub source: String,
    pub sha256: String,
    pub text: Arc<str>,
}

/// The ledger's writers, to await at shutdown once every `App` handle is
/// dropped, so what is queued is committed.
#[derive(Debug)]
pub struct Writers {
    recorder: JoinHandle<()>,
    auditor: JoinHandle<()>,
}

impl Writers {
    pub async fn flush(self) -> anyhow::Result<()> {
        self.recorder.await.context("the ledger writer failed")?;
        self.auditor.await.context("the audit writer failed")?;
        Ok(())
    }
}

impl App {
    /// Starts the application on a store: audits the policy in force (its
    /// SHA-256, so every later decision traces to it), builds the scanner
    /// from the policy's terms, and spawns the ledger's writers.
    pub async fn start(
        policy: Policy,
        policy_text: &str,
        store: Arc<dyn Store>,
        clock: Clock,
    ) -> anyhow::Result<(Arc<App>, Writers)> {
        let digest = hex::encode(Sha256::digest(policy_text.as_bytes()));
        let source = policy.source.display().to_string();
        let loaded = AuditDraft::new("system", AuditAction::PolicyLoad, &source, serde_json::json!({"sha256": digest}));
        store.append_audit(&loaded).await.context("cannot write to the audit log")?;
        let guard = guard::Guard::new(&policy.dlp).context("cannot build the DLP scanner from the policy")?;
        let lease = std::time::Duration::from_secs(policy.server.hold_lease_secs);
        let sv = &policy.server;
        store.budget_escrow(&tokenwise_ledger::escrow::EscrowConfig {
            enabled: sv.budget_escrow,
            allowance_bp: u32::try_from(sv.escrow_allowance_bp).unwrap_or(100),
            fallback_multiple: u32::try_from(sv.escrow_fallback_multiple).unwrap_or(8),
            tick: std::time::Duration::from_millis(sv.escrow_tick_ms),
            lease,
        });
        let (recorder, recorder_task) = Recorder::spawn(store.clone());
        let (auditor, auditor_task) = Auditor::spawn(store.clone());
        let integration_secrets = integrations::Secrets::from_env(&policy);
        let prompt_key =
            metering::PromptKey::of_store(store.as_ref()).await.context("cannot read the server secret")?;
        let app = App {
            policy: Arc::new(policy),
            store,
            recorder,
            auditor,
            guard,
            budgets: budgets::Budgets::new(lease),
            clock,
            integration_secrets,
            task_baselines: tasks::TaskBaselines::default(),
            policy_file: PolicyText { source, sha256: digest, text: Arc::from(policy_text) },
            rate_limiter: ratelimit::RateLimiter::default(),
            prompt_key,
        };
        Ok((Arc::new(app), Writers { recorder: recorder_task, auditor: auditor_task }))
    }
}
