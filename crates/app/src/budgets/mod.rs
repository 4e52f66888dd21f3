//! Budgets for a call: which envelopes it draws on, its worst-case cost
//! (the hold), an approved exception taking over when a hard envelope
//! refuses, and the 402 that names the envelope. The periodic work —
//! renewing leases, expiring dead replicas' holds, claiming alert
//! thresholds, unlocking tranches — is in [`upkeep`]; the server runs it.

pub mod tranches;
pub mod upkeep;
mod view;

pub use tranches::{NoResults, PeriodFacts, ResultsSource};
pub use view::{BudgetsView, EnvelopeView, Forecast, TrancheView};

use crate::App;
use crate::error::{AppError, Code};
use jiff::{SignedDuration, Timestamp};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tokenwise_core::{EnvelopeSpec, Nanos, Rates};
use tokenwise_ledger::Exception;
use tokenwise_ledger::budget::{HoldPart, HoldRequest, HoldResult, Refusal};
use tokenwise_policy::budgets::Subject;
use tokenwise_policy::{ExceptionApproval, Model, Policy};

/// Output tokens assumed for a call that sets no limit; with a hard budget
/// in play the limit is also sent upstream, so the hold really bounds it.
pub const DEFAULT_MAX_OUTPUT: u64 = 4_096;
/// How long a hold lives without renewal by default (a dead replica's
/// holds come back after this); `server.hold_lease_secs` sets it.
pub const LEASE: Duration = Duration::from_secs(60);

/// Per-replica budget state.
#[derive(Debug)]
pub struct Budgets {
    /// This replica's name on its holds.
    pub owner: String,
    /// How long a hold lives unless renewed.
    pub lease: Duration,
    inflight: Mutex<HashSet<String>>,
    /// Envelope key → allowance unlocked by tranches.
    unlocked: RwLock<HashMap<String, Nanos>>,
}

/// A placed hold.
#[derive(Debug, Clone)]
pub struct Held {
    pub keys: Vec<String>,
    pub exception_id: Option<String>,
    /// The tightest hard envelope's room once the hold was placed.
    pub room: Option<Nanos>,
    pub amount: Nanos,
}

impl Held {
    /// What the tightest hard budget has left once the call cost `cost`.
    pub fn remaining_after(&self, cost: Nanos) -> Option<Nanos> {
        Some(self.room?.saturating_add(self.amount.saturating_sub(cost)))
    }
}

/// What a call is, for finding exceptions that cover it.
#[derive(Debug)]
pub struct Cover<'a> {
    pub subject: &'a Subject<'a>,
    pub model: &'a Model,
    pub data_class: tokenwise_policy::DataClass,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Worst-case cost: every input byte a token (BPE tokens are never shorter
/// than a byte), at the dearest input rate (cache writes can cost more than
/// input), and the output limit at the dearest output rate.
pub fn worst_case(rates: &Rates, input_bytes: u64, messages: u64, max_output: u64) -> Nanos {
    let input = input_bytes + 4 * messages + 8;
    let in_rate = rates.input.0.max(rates.cached_read.0).max(rates.cache_write.0);
    let out_rate = rates.output.0.max(rates.reasoning.0);
    let total = i128::from(input) * i128::from(in_rate) + i128::from(max_output) * i128::from(out_rate);
    // Round up: a hold is never less than the cost.
    Nanos(i64::try_from((total + 999_999) / 1_000_000).unwrap_or(i64::MAX))
}

impl Budgets {
    pub fn new(lease: Duration) -> Budgets {
        Budgets {
            owner: format!("replica-{}", tokenwise_ledger::UsageEvent::new_id()),
            lease,
            inflight: Mutex::new(HashSet::new()),
            unlocked: RwLock::new(HashMap::new()),
        }
    }

    /// The envelopes of `s` with their current limits (base + unlocked).
    pub fn specs(&self, policy: &Policy, s: &Subject<'_>, at: Timestamp) -> Vec<EnvelopeSpec> {
        let unlocked = self.unlocked.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut specs = policy.envelopes_for(s, at);
        for e in &mut specs {
            e.limit = e.limit.saturating_add(unlocked.get(&e.key).copied().unwrap_or_default());
        }
        specs
    }

    pub fn unlocked(&self, key: &str) -> Nanos {
        self.unlocked.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).copied().unwrap_or_default()
    }

    pub(crate) fn set_unlocked(&self, extra: HashMap<String, Nanos>) {
        *self.unlocked.write().unwrap_or_else(std::sync::PoisonError::into_inner) = extra;
    }

    /// The call's event has been recorded: its hold is captured.
    pub fn done(&self, id: &str) {
        lock(&self.inflight).remove(id);
    }

    pub(crate) fn inflight(&self) -> Vec<String> {
        lock(&self.inflight).iter().cloned().collect()
    }

    fn lease_until(&self, now: Timestamp) -> Timestamp {
        now + SignedDuration::try_from(self.lease).unwrap_or(SignedDuration::from_secs(60))
    }
}

impl App {
    /// Holds `amount` on every envelope of the call. When a hard envelope
    /// refuses, an approved exception covering the call may take over: the
    /// refusing envelopes are left alone and the exception's own envelope
    /// (its cap) is held instead.
    pub async fn hold(
        &self,
        id: &str,
        specs: &[EnvelopeSpec],
        amount: Nanos,
        cover: &Cover<'_>,
    ) -> Result<Option<Held>, AppError> {
        if specs.is_empty() {
            return Ok(None);
        }
        // Renewed from now until the call reports (`done`); an id whose
        // hold was not placed is forgotten on every way out.
        lock(&self.budgets.inflight).insert(id.to_string());
        let placed = self.place(id, specs, amount, cover).await;
        if placed.is_err() {
            self.budgets.done(id);
        }
        placed.map(Some)
    }

    /// Holds on every envelope, or else under an exception that covers
    /// the call; refused with the first refusal when neither fits.
    async fn place(
        &self,
        id: &str,
        specs: &[EnvelopeSpec],
        amount: Nanos,
        cover: &Cover<'_>,
    ) -> Result<Held, AppError> {
        let now = self.clock.now();
        let expires_at = self.budgets.lease_until(now);
        let request = |parts: &[&EnvelopeSpec]| HoldRequest {
            id: id.to_string(),
            parts: parts.iter().map(|e| HoldPart { envelope: (*e).clone(), amount }).collect(),
            expires_at,
        };
        let owner = &self.budgets.owner;
        let all: Vec<&EnvelopeSpec> = specs.iter().collect();
        let refusal = match self.store.budget_hold(&request(&all), owner).await? {
            HoldResult::Held { room } => {
                return Ok(Held { keys: keys(&all), exception_id: None, room: room.map(|r| r.1), amount });
            }
            HoldResult::Refused(r) => r,
        };
        for exc in self.covering_exceptions(cover, now).await? {
            let spec = exception_envelope(&exc);
            let mut parts: Vec<&EnvelopeSpec> = specs.iter().filter(|e| e.key != refusal.key).collect();
            parts.push(&spec);
            // Each pass drops one more refusing hard envelope; the
            // exception's own envelope refusing means its cap is spent.
            for _ in 0..specs.len() {
                match self.store.budget_hold(&request(&parts), owner).await? {
                    HoldResult::Held { room } => {
                        let exception_id = Some(exc.id.clone());
                        return Ok(Held { keys: keys(&parts), exception_id, room: room.map(|r| r.1), amount });
                    }
                    HoldResult::Refused(r) if r.key == spec.key => break,
                    HoldResult::Refused(r) => parts.retain(|e| e.key != r.key),
                }
            }
        }
        Err(refused(&self.policy, &refusal, cover.subject.use_case))
    }

    async fn covering_exceptions(&self, cover: &Cover<'_>, at: Timestamp) -> Result<Vec<Exception>, AppError> {
        let s = cover.subject;
        let mut scopes = vec![
            tokenwise_core::Scope::User(s.user.to_string()),
            tokenwise_core::Scope::Team(s.team.to_string()),
            tokenwise_core::Scope::UseCase(s.use_case.to_string()),
            tokenwise_core::Scope::Org,
        ];
        if let Some(p) = s.project {
            scopes.push(tokenwise_core::Scope::Project(p.to_string()));
        }
        let scopes: Vec<String> = scopes.iter().map(ToString::to_string).collect();
        let all = self.store.active_exceptions(&scopes, at).await?;
        let policy = &self.policy;
        Ok(all
            .into_iter()
            // A use case's risk tier may take exceptions from governance only, or none.
            .filter(|e| crate::access::exception_covers(policy, s.use_case, e.decided_by.as_deref()))
            .filter(|e| e.models.is_empty() || e.models.contains(&cover.model.id))
            .filter(|e| {
                e.data_class.as_deref().and_then(|c| policy.classes.get(c)).is_none_or(|c| cover.data_class <= c)
            })
            .collect())
    }
}

fn keys(parts: &[&EnvelopeSpec]) -> Vec<String> {
    parts.iter().map(|e| e.key.clone()).collect()
}

/// An exception's spending is held on an envelope of its own: its cap, for
/// its validity.
pub fn exception_envelope(e: &Exception) -> EnvelopeSpec {
    EnvelopeSpec {
        key: e.envelope_key(),
        budget_id: format!("exception:{}", e.id),
        scope: e.scope.to_string(),
        period_start: e.decided_at.unwrap_or(e.created_at),
        period_end: e.valid_until.unwrap_or(e.created_at),
        limit: e.cap,
        hard: true,
        alert_at_percent: vec![80, 100],
    }
}

/// 402, naming the envelope, what is left and what the call needed, in the
/// message and as fields; and who may grant an exception for a call of
/// `use_case`, as its risk tier says.
pub fn refused(policy: &Policy, r: &Refusal, use_case: &str) -> AppError {
    let period = r.key.parse::<tokenwise_core::EnvelopeKey>().ok().and_then(|k| k.period());
    let when = period.map(|d| d.to_string()).unwrap_or_default();
    let tier = policy.use_cases.get(use_case).map_or("", |u| u.risk_tier.as_str());
    let reasons = policy.exceptions.reason_codes.join(", ");
    let ask = match policy.exception_approval(use_case) {
        ExceptionApproval::Managers => {
            format!(
                "Ask your manager for an exception (POST /api/v1/exceptions, reasons: {reasons}) or wait for the next period"
            )
        }
        ExceptionApproval::Governance => format!(
            "Use case `{use_case}` is of risk tier `{tier}`: only an exception approved by governance covers it \
             (POST /api/v1/exceptions, reasons: {reasons}); or wait for the next period"
        ),
        ExceptionApproval::None => {
            format!(
                "Use case `{use_case}` is of risk tier `{tier}`, which allows no exception: wait for the next period"
            )
        }
    };
    let mut err = AppError::new(
        Code::BudgetExceeded,
        format!(
            "budget `{}` ({}, period from {when}) has ${} left of ${}; this call may cost up to ${}. {ask}",
            r.budget_id,
            r.scope,
            r.remaining().to_usd_string(),
            r.limit.to_usd_string(),
            r.requested.to_usd_string(),
        ),
    )
    .with_field("budget", r.budget_id.clone())
    .with_field("scope", r.scope.clone())
    .with_field("period", if when.is_empty() { serde_json::Value::Null } else { when.into() })
    .with_field("remaining_usd", r.remaining().to_usd_string())
    .with_field("needed_usd", r.requested.to_usd_string());
    err.remaining = Some(r.remaining());
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenwise_core::PricePerMtok;

    #[test]
    fn the_hold_bounds_any_real_cost() {
        let rates = Rates {
            input: PricePerMtok(3_000_000_000),
            output: PricePerMtok(15_000_000_000),
            cached_read: PricePerMtok(300_000_000),
            cache_write: PricePerMtok(3_750_000_000),
            reasoning: PricePerMtok(15_000_000_000),
        };
        let hold = worst_case(&rates, 4_000, 2, 500);
        // 4,016 tokens at the cache-write rate + 500 at the output rate.
        assert_eq!(hold, Nanos((4_016 * 3_750 + 500 * 15_000) as i64));
        let real = tokenwise_core::TokenUsage { input: 1_000, output: 500, cache_write: 1_000, ..Default::default() };
        assert!(real.cost(&rates) <= hold);
    }
}
