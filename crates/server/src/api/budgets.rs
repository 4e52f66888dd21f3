//! `GET /api/v1/budgets`: the envelopes of the current period the caller
//! may see, with limit (base and unlocked tranches), captured, held,
//! remaining, and a linear forecast to the period's end.

use super::{Sight, sight};
use crate::error::ApiError;
use crate::{AppState, auth};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use tokenwise_core::Nanos;
use tokenwise_ledger::budget::EnvelopeState;
use tokenwise_policy::Policy;

pub async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match run(&state, &headers).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Whether a caller may see an envelope of `scope`.
fn visible(policy: &Policy, sight: &Sight, scope: &str) -> bool {
    match sight {
        Sight::All => true,
        Sight::Own(me) => scope.strip_prefix("user:") == Some(me.as_str()),
        Sight::Team(team) => super::team_of(policy, scope) == Some(team.as_str()),
    }
}

async fn run(state: &AppState, headers: &HeaderMap) -> Result<Value, ApiError> {
    let caller = auth::authenticate(&state.policy, state.store.as_ref(), headers).await?;
    let policy = &state.policy;
    let sight = sight(&caller);
    let now = Timestamp::now();
    let envelopes: Vec<Value> = state
        .store
        .budget_envelopes(now)
        .await?
        .iter()
        .filter(|e| visible(policy, &sight, &e.spec.scope))
        .map(|e| envelope_json(state, e, now))
        .collect();
    Ok(json!({"at": now, "envelopes": envelopes}))
}

fn envelope_json(state: &AppState, e: &EnvelopeState, now: Timestamp) -> Value {
    let policy = &state.policy;
    let budget = policy.budgets.iter().find(|b| b.id == e.spec.budget_id);
    let unlocked = state.budgets.unlocked(&e.spec.key);
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
    let span = e.spec.period_end.duration_since(e.spec.period_start).as_secs_f64().max(1.0);
    let elapsed = now.duration_since(e.spec.period_start).as_secs_f64().clamp(1.0, span);
    // Display figures: the forecast is a linear projection, not money owed.
    #[allow(clippy::cast_possible_truncation)]
    let projected = Nanos((e.captured.0 as f64 * span / elapsed).round() as i64);
    json!({
        "key": e.spec.key,
        "budget": e.spec.budget_id,
        "scope": e.spec.scope,
        "period_start": e.spec.period_start,
        "period_end": e.spec.period_end,
        "enforcement": if e.spec.hard { "hard" } else { "soft" },
        "limit_usd": e.spec.limit.to_usd_string(),
        "base_limit_usd": budget.map_or(e.spec.limit, |b| b.limit).to_usd_string(),
        "captured_usd": e.captured.to_usd_string(),
        "held_usd": e.held.to_usd_string(),
        "remaining_usd": e.remaining().to_usd_string(),
        "limit_nanos": e.spec.limit.0,
        "captured_nanos": e.captured.0,
        "held_nanos": e.held.0,
        "tranches": tranches,
        "alert_at_percent": e.spec.alert_at_percent,
        "forecast": {
            "projected_usd": projected.to_usd_string(),
            "exceeds_limit": projected > e.spec.limit,
            "burn_per_day_usd": Nanos((e.captured.0 as f64 * 86_400.0 / elapsed) as i64).to_usd_string(),
        },
    })
}
