//! `GET /api/v1/budgets`: the envelopes of the current period the caller
//! may see, with limit (base and unlocked tranches), captured, held,
//! remaining, and a linear forecast to the period's end.

use crate::App;
use crate::access::Sight;
use crate::auth::Caller;
use crate::error::AppResult;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use tokenwise_core::{Nanos, Scope};
use tokenwise_ledger::budget::EnvelopeState;

#[derive(Debug, Clone, Serialize)]
pub struct BudgetsView {
    pub at: Timestamp,
    pub envelopes: Vec<Value>,
}

impl App {
    pub async fn budgets(&self, caller: &Caller) -> AppResult<BudgetsView> {
        let sight = Sight::of(&caller.user);
        let now = self.clock.now();
        let envelopes = self
            .store
            .budget_envelopes(now)
            .await?
            .iter()
            .filter(|e| e.spec.scope.parse::<Scope>().is_ok_and(|s| sight.sees_scope(&self.policy, &s)))
            .map(|e| self.envelope_json(e, now))
            .collect();
        Ok(BudgetsView { at: now, envelopes })
    }

    /// The base allowance and every tranche unlocked so far: what holds
    /// are judged against.
    pub(crate) fn envelope_limit(&self, e: &EnvelopeState) -> Nanos {
        let budget = self.policy.budgets.iter().find(|b| b.id == e.spec.budget_id);
        budget.map_or(e.spec.limit, |b| b.limit).saturating_add(self.budgets.unlocked(&e.spec.key))
    }

    fn envelope_json(&self, e: &EnvelopeState, now: Timestamp) -> Value {
        let budget = self.policy.budgets.iter().find(|b| b.id == e.spec.budget_id);
        let unlocked = self.budgets.unlocked(&e.spec.key);
        let tranches: Vec<Value> = budget.map_or(Vec::new(), |b| {
            let mut left = unlocked;
            b.tranches
                .iter()
                .map(|t| {
                    // Unlocked tranches are counted in order of their amounts.
                    let open = left >= t.amount && t.amount > Nanos::ZERO;
                    if open {
                        left = left.saturating_sub(t.amount);
                    }
                    json!({"amount_usd": t.amount.to_usd_string(), "min_efficiency": t.min_efficiency,
                           "min_validated_hours": t.min_validated_hours, "min_compliance": t.min_compliance, "unlocked": open})
                })
                .collect()
        });
        let limit = self.envelope_limit(e);
        json!({
            "key": e.spec.key,
            "budget": e.spec.budget_id,
            "scope": e.spec.scope,
            "period_start": e.spec.period_start,
            "period_end": e.spec.period_end,
            "enforcement": if e.spec.hard { "hard" } else { "soft" },
            "limit_usd": limit.to_usd_string(),
            "base_limit_usd": budget.map_or(e.spec.limit, |b| b.limit).to_usd_string(),
            "captured_usd": e.captured.to_usd_string(),
            "held_usd": e.held.to_usd_string(),
            "remaining_usd": limit.saturating_sub(e.captured).saturating_sub(e.held).max(Nanos::ZERO).to_usd_string(),
            "limit_nanos": limit.0,
            "captured_nanos": e.captured.0,
            "held_nanos": e.held.0,
            "tranches": tranches,
            "alert_at_percent": e.spec.alert_at_percent,
            "forecast": forecast(e, now),
        })
    }
}

/// A linear projection of the period's spend to its end: display figures,
/// not money owed.
fn forecast(e: &EnvelopeState, now: Timestamp) -> Value {
    let span = e.spec.period_end.duration_since(e.spec.period_start).as_secs_f64().max(1.0);
    let elapsed = now.duration_since(e.spec.period_start).as_secs_f64().clamp(1.0, span);
    #[allow(clippy::cast_possible_truncation)]
    let projected = Nanos((e.captured.0 as f64 * span / elapsed).round() as i64);
    #[allow(clippy::cast_possible_truncation)]
    let per_day = Nanos((e.captured.0 as f64 * 86_400.0 / elapsed) as i64);
    json!({
        "projected_usd": projected.to_usd_string(),
        "exceeds_limit": projected > e.spec.limit,
        "burn_per_day_usd": per_day.to_usd_string(),
    })
}
