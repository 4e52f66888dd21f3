//! `GET /api/v1/budgets`: the envelopes of the current period the caller
//! may see, with limit (base and unlocked tranches), captured, held,
//! remaining, and a linear forecast to the period's end.

use crate::App;
use crate::access::Sight;
use crate::auth::Caller;
use crate::error::AppResult;
use jiff::Timestamp;
use serde::Serialize;
use tokenwise_core::{Nanos, Scope};
use tokenwise_ledger::budget::EnvelopeState;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BudgetsView {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub envelopes: Vec<EnvelopeView>,
}

/// One envelope: a budget's allowance for one scope in the current period.
/// Money as exact decimal strings (`*_usd`) and as nano-dollars (`*_nanos`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnvelopeView {
    /// `budget|scope|period-start`.
    pub key: String,
    pub budget: String,
    /// `org`, `team:ID`, `project:ID`, `use_case:ID` or `user:ID`.
    pub scope: String,
    #[schema(value_type = String, format = DateTime)]
    pub period_start: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub period_end: Timestamp,
    /// `hard` (refuses) or `soft` (alerts only).
    #[schema(schema_with = enforcement)]
    pub enforcement: &'static str,
    /// The base limit plus every tranche unlocked so far.
    pub limit_usd: String,
    pub base_limit_usd: String,
    pub captured_usd: String,
    pub held_usd: String,
    pub remaining_usd: String,
    pub limit_nanos: i64,
    pub captured_nanos: i64,
    pub held_nanos: i64,
    pub tranches: Vec<TrancheView>,
    pub alert_at_percent: Vec<u32>,
    pub forecast: Forecast,
}

fn enforcement() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["hard", "soft"]))
        .build()
}

/// A tranche of the budget: unlocked when the scope meets its bars.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrancheView {
    pub amount_usd: String,
    pub min_efficiency: Option<f64>,
    pub min_validated_hours: Option<f64>,
    pub min_compliance: Option<f64>,
    pub unlocked: bool,
}

/// A linear projection of the period's spend to its end.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    pub projected_usd: String,
    pub exceeds_limit: bool,
    pub burn_per_day_usd: String,
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
            .map(|e| self.envelope_view(e, now))
            .collect();
        Ok(BudgetsView { at: now, envelopes })
    }

    /// The base allowance and every tranche unlocked so far: what holds
    /// are judged against.
    pub(crate) fn envelope_limit(&self, e: &EnvelopeState) -> Nanos {
        let budget = self.policy.budgets.iter().find(|b| b.id == e.spec.budget_id);
        budget.map_or(e.spec.limit, |b| b.limit).saturating_add(self.budgets.unlocked(&e.spec.key))
    }

    fn envelope_view(&self, e: &EnvelopeState, now: Timestamp) -> EnvelopeView {
        let budget = self.policy.budgets.iter().find(|b| b.id == e.spec.budget_id);
        let unlocked = self.budgets.unlocked(&e.spec.key);
        let tranches = budget.map_or(Vec::new(), |b| {
            let mut left = unlocked;
            b.tranches
                .iter()
                .map(|t| {
                    // Unlocked tranches are counted in order of their amounts.
                    let open = left >= t.amount && t.amount > Nanos::ZERO;
                    if open {
                        left = left.saturating_sub(t.amount);
                    }
                    TrancheView {
                        amount_usd: t.amount.to_usd_string(),
                        min_efficiency: t.min_efficiency,
                        min_validated_hours: t.min_validated_hours,
                        min_compliance: t.min_compliance,
                        unlocked: open,
                    }
                })
                .collect()
        });
        let limit = self.envelope_limit(e);
        EnvelopeView {
            key: e.spec.key.clone(),
            budget: e.spec.budget_id.clone(),
            scope: e.spec.scope.clone(),
            period_start: e.spec.period_start,
            period_end: e.spec.period_end,
            enforcement: if e.spec.hard { "hard" } else { "soft" },
            limit_usd: limit.to_usd_string(),
            base_limit_usd: budget.map_or(e.spec.limit, |b| b.limit).to_usd_string(),
            captured_usd: e.captured.to_usd_string(),
            held_usd: e.held.to_usd_string(),
            remaining_usd: limit.saturating_sub(e.captured).saturating_sub(e.held).max(Nanos::ZERO).to_usd_string(),
            limit_nanos: limit.0,
            captured_nanos: e.captured.0,
            held_nanos: e.held.0,
            tranches,
            alert_at_percent: e.spec.alert_at_percent.clone(),
            forecast: forecast(e, now),
        }
    }
}

/// A linear projection of the period's spend to its end: display figures,
/// not money owed.
fn forecast(e: &EnvelopeState, now: Timestamp) -> Forecast {
    let span = e.spec.period_end.duration_since(e.spec.period_start).as_secs_f64().max(1.0);
    let elapsed = now.duration_since(e.spec.period_start).as_secs_f64().clamp(1.0, span);
    #[allow(clippy::cast_possible_truncation)]
    let projected = Nanos((e.captured.0 as f64 * span / elapsed).round() as i64);
    #[allow(clippy::cast_possible_truncation)]
    let per_day = Nanos((e.captured.0 as f64 * 86_400.0 / elapsed) as i64);
    Forecast {
        projected_usd: projected.to_usd_string(),
        exceeds_limit: projected > e.spec.limit,
        burn_per_day_usd: per_day.to_usd_string(),
    }
}
