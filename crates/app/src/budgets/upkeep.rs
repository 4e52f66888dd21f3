//! The periodic budget work every replica does: renew the leases of its
//! calls in flight, expire holds whose lease ran out (a dead replica's),
//! claim newly crossed alert thresholds (each announced once per period
//! across replicas), and unlock tranches. Time is the app's clock, so a
//! test or the simulator moves it instead of waiting.

use super::ResultsSource;
use crate::App;
use jiff::Timestamp;
use serde_json::{Value, json};
use tokenwise_ledger::{AuditAction, AuditDraft};

/// A crossed threshold to announce: the webhook body.
#[derive(Debug, Clone)]
pub struct Alert {
    pub envelope: String,
    pub threshold_percent: u32,
    pub body: Value,
}

/// What one pass did, for logs and tests.
#[derive(Debug, Clone, Default)]
pub struct Upkeep {
    pub expired: u64,
    pub alerts: Vec<Alert>,
}

impl App {
    /// One pass; `tranches` says whether to evaluate tranche conditions
    /// this time (they read results, so they run less often). Failures are
    /// logged and the pass goes on: each step is retried on the next one.
    pub async fn budget_upkeep(&self, results: &dyn ResultsSource, tranches: bool) -> Upkeep {
        let now = self.clock.now();
        let ids = self.budgets.inflight();
        if let Err(e) = self.store.budget_renew(&self.budgets.owner, &ids, self.budgets.lease_until(now)).await {
            tracing::warn!(error = %e, "cannot renew hold leases");
        }
        let mut done = Upkeep::default();
        match self.store.budget_expire(now).await {
            Ok(0) => {}
            Ok(k) => {
                tracing::info!(holds = k, "expired holds of replicas that stopped");
                done.expired = k;
            }
            Err(e) => tracing::warn!(error = %e, "cannot expire holds"),
        }
        match self.store.budget_claim_alerts(now).await {
            Ok(claimed) => done.alerts = claimed.iter().map(|(e, pct)| alert(e, *pct, now)).collect(),
            Err(e) => tracing::warn!(error = %e, "cannot claim budget alerts"),
        }
        if tranches && let Err(e) = self.unlock_tranches(results, now).await {
            tracing::warn!(error = %e, "cannot evaluate budget tranches");
        }
        done
    }

    /// Records an alert in the audit log, with whether it was delivered.
    pub async fn audit_alert(&self, a: &Alert, delivered: bool) {
        let details = json!({"threshold_percent": a.threshold_percent, "delivered": delivered, "alert": a.body});
        self.auditor.submit(AuditDraft::new("system", AuditAction::BudgetAlert, &a.envelope, details)).await;
    }
}

fn alert(e: &tokenwise_ledger::budget::EnvelopeState, pct: u32, now: Timestamp) -> Alert {
    let body = json!({
        "type": "budget.threshold",
        "envelope": e.spec.key,
        "budget": e.spec.budget_id,
        "scope": e.spec.scope,
        "period_start": e.spec.period_start,
        "period_end": e.spec.period_end,
        "threshold_percent": pct,
        "hard": e.spec.hard,
        "limit_usd": e.spec.limit.to_usd_string(),
        "captured_usd": e.captured.to_usd_string(),
        "at": now,
    });
    Alert { envelope: e.spec.key.clone(), threshold_percent: pct, body }
}
