//! What the operator's Prometheus sees of the ledger: each recorded call
//! counted by how it went, its tokens by kind, its cost and its latency.
//! Labels are low-cardinality on purpose (model, use case, team, outcome
//! of the call), never a person: `/metrics` is for running the service,
//! the API is for who did what.

use std::collections::BTreeMap;
use tokenwise_core::Nanos;
use tokenwise_ledger::UsageEvent;

/// Counts one call the gateway records (usage ingested from elsewhere is
/// not counted here: it is stored in bulk by `app::ingest`).
pub fn observe(e: &UsageEvent) {
    let use_case = e.use_case.clone().unwrap_or_else(|| "none".into());
    let labels = [
        ("operation", e.operation.as_str().to_string()),
        ("status", e.status.as_str().to_string()),
        ("decision", e.decision.as_str().to_string()),
        ("model", e.model.clone()),
        ("use_case", use_case.clone()),
        ("team", e.team_id.clone()),
        ("source", e.source.as_str().to_string()),
    ];
    metrics::counter!("tokenwise_calls_total", &labels).increment(1);
    let u = &e.usage;
    // Disjoint kinds, so they add up to every token: uncached input, cache
    // reads and writes, visible output, reasoning.
    let kinds = [
        ("input", u.input.saturating_sub(u.cached_read).saturating_sub(u.cache_write)),
        ("cache_read", u.cached_read),
        ("cache_write", u.cache_write),
        ("output", u.output.saturating_sub(u.reasoning)),
        ("reasoning", u.reasoning),
    ];
    for (kind, n) in kinds.into_iter().filter(|(_, n)| *n > 0) {
        let labels = [("kind", kind.to_string()), ("model", e.model.clone()), ("use_case", use_case.clone())];
        metrics::counter!("tokenwise_tokens_total", &labels).increment(n);
    }
    if e.cost.0 > 0 {
        let labels = [("model", e.model.clone()), ("use_case", use_case), ("team", e.team_id.clone())];
        // Whole nano-dollars, like the ledger: exact, and dollars are a
        // division away in a query.
        metrics::counter!("tokenwise_cost_nanodollars_total", &labels).increment(e.cost.0.unsigned_abs());
    }
    if e.source == tokenwise_ledger::EventSource::Gateway {
        let labels = [("operation", e.operation.as_str().to_string()), ("status", e.status.as_str().to_string())];
        metrics::histogram!("tokenwise_call_duration_seconds", &labels).record(f64::from(e.latency_ms) / 1000.0);
        if let Some(t) = e.ttft_ms {
            let labels = [("operation", e.operation.as_str().to_string())];
            metrics::histogram!("tokenwise_time_to_first_token_seconds", &labels).record(f64::from(t) / 1000.0);
        }
    }
}

/// One budget's envelopes of one scope (every person's, for `user:*`).
#[derive(Default)]
struct Sum {
    limit: Nanos,
    captured: Nanos,
    held: Nanos,
    remaining: Nanos,
    exhausted: u32,
}

impl crate::App {
    /// Sets the budget gauges from the ledger, for each envelope of the
    /// current period: limit (with unlocked tranches), captured, held and
    /// remaining, in nano-dollars. Called when `/metrics` is read, so the
    /// figures are the ledger's at that moment on every replica.
    pub async fn observe_budgets(&self) {
        let now = self.clock.now();
        let envelopes = match self.store.budget_envelopes(now).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read budget envelopes for metrics");
                return;
            }
        };
        // A person's envelopes are summed per budget under `user:*`: no
        // person in a label, and one series per budget however many people.
        let mut sums: BTreeMap<(String, String), Sum> = BTreeMap::new();
        for e in &envelopes {
            let scope = if e.spec.scope.starts_with("user:") { "user:*".to_string() } else { e.spec.scope.clone() };
            let limit = self.envelope_limit(e);
            let remaining = limit.saturating_sub(e.captured).saturating_sub(e.held);
            let s = sums.entry((e.spec.budget_id.clone(), scope)).or_default();
            s.limit = s.limit.saturating_add(limit);
            s.captured = s.captured.saturating_add(e.captured);
            s.held = s.held.saturating_add(e.held);
            s.remaining = s.remaining.saturating_add(remaining.max(Nanos::ZERO));
            s.exhausted += u32::from(remaining <= Nanos::ZERO);
        }
        for ((budget, scope), s) in sums {
            let labels = [("budget", budget), ("scope", scope)];
            for (name, v) in [
                ("tokenwise_budget_limit_nanodollars", s.limit),
                ("tokenwise_budget_captured_nanodollars", s.captured),
                ("tokenwise_budget_held_nanodollars", s.held),
                ("tokenwise_budget_remaining_nanodollars", s.remaining),
            ] {
                metrics::gauge!(name, &labels).set(v.0 as f64);
            }
            metrics::gauge!("tokenwise_budget_envelopes_exhausted", &labels).set(f64::from(s.exhausted));
        }
    }
}
