//! Budgets at the gateway: which envelopes a call draws on, its worst-case
//! cost (the hold), exceptions when a hard envelope refuses, and the
//! background work — lease renewal, expiry, alerts, tranche unlocks.

use crate::AppState;
use crate::error::{ApiError, Code};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::json;
use sha2::Sha256;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tokenwise_core::{Nanos, Rates};
use tokenwise_ledger::budget::{EnvelopeSpec, HoldPart, HoldRequest, HoldResult, Refusal};
use tokenwise_ledger::{AuditAction, AuditDraft, Exception};
use tokenwise_policy::budgets::Subject;
use tokenwise_policy::{Model, Policy, Tranche};

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

impl Budgets {
    pub fn new(lease: Duration) -> Budgets {
        Budgets {
            owner: format!("replica-{}", tokenwise_ledger::UsageEvent::new_id()),
            lease,
            inflight: Mutex::new(HashSet::new()),
            unlocked: RwLock::new(HashMap::new()),
        }
    }
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

    /// The call's event has been recorded: its hold is captured.
    pub fn done(&self, id: &str) {
        lock(&self.inflight).remove(id);
    }

    /// Holds `amount` on every envelope of the call. When a hard envelope
    /// refuses, an approved exception covering the call may take over: the
    /// refusing envelopes are left alone and the exception's own envelope
    /// (its cap) is held instead.
    pub async fn hold(
        &self,
        state: &AppState,
        id: &str,
        specs: &[EnvelopeSpec],
        amount: Nanos,
        cover: &Cover<'_>,
    ) -> Result<Option<Held>, ApiError> {
        if specs.is_empty() {
            return Ok(None);
        }
        // Renewed from now until the call reports (`done`); an id whose
        // hold was not placed is forgotten on every way out.
        lock(&self.inflight).insert(id.to_string());
        let placed = self.place(state, id, specs, amount, cover).await;
        if placed.is_err() {
            self.done(id);
        }
        placed.map(Some)
    }

    /// Holds on every envelope, or else under an exception that covers
    /// the call; refused with the first refusal when neither fits.
    async fn place(
        &self,
        state: &AppState,
        id: &str,
        specs: &[EnvelopeSpec],
        amount: Nanos,
        cover: &Cover<'_>,
    ) -> Result<Held, ApiError> {
        let now = Timestamp::now();
        let expires_at =
            now + jiff::SignedDuration::try_from(self.lease).unwrap_or(jiff::SignedDuration::from_secs(60));
        let request = |parts: &[&EnvelopeSpec]| HoldRequest {
            id: id.to_string(),
            parts: parts.iter().map(|e| HoldPart { envelope: (*e).clone(), amount }).collect(),
            expires_at,
        };
        let all: Vec<&EnvelopeSpec> = specs.iter().collect();
        let refusal = match state.store.budget_hold(&request(&all), &self.owner).await? {
            HoldResult::Held { room } => {
                return Ok(Held { keys: keys(&all), exception_id: None, room: room.map(|r| r.1), amount });
            }
            HoldResult::Refused(r) => r,
        };
        for exc in cover.exceptions(state, now).await? {
            let spec = exception_envelope(&exc);
            let mut parts: Vec<&EnvelopeSpec> = specs.iter().filter(|e| e.key != refusal.key).collect();
            parts.push(&spec);
            // Each pass drops one more refusing hard envelope; the
            // exception's own envelope refusing means its cap is spent.
            for _ in 0..specs.len() {
                match state.store.budget_hold(&request(&parts), &self.owner).await? {
                    HoldResult::Held { room } => {
                        return Ok(Held {
                            keys: keys(&parts),
                            exception_id: Some(exc.id.clone()),
                            room: room.map(|r| r.1),
                            amount,
                        });
                    }
                    HoldResult::Refused(r) if r.key == spec.key => break,
                    HoldResult::Refused(r) => parts.retain(|e| e.key != r.key),
                }
            }
        }
        Err(refused(&state.policy, &refusal))
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
        scope: e.scope.clone(),
        period_start: e.decided_at.unwrap_or(e.created_at),
        period_end: e.valid_until.unwrap_or(e.created_at),
        limit: e.cap,
        hard: true,
        alert_at_percent: vec![80, 100],
    }
}

/// What a call is, for finding exceptions that cover it.
#[derive(Debug)]
pub struct Cover<'a> {
    pub subject: &'a Subject<'a>,
    pub model: &'a Model,
    pub data_class: tokenwise_policy::DataClass,
}

impl Cover<'_> {
    async fn exceptions(&self, state: &AppState, at: Timestamp) -> Result<Vec<Exception>, ApiError> {
        let s = self.subject;
        let mut scopes = vec![
            format!("user:{}", s.user),
            format!("team:{}", s.team),
            format!("use_case:{}", s.use_case),
            "org".to_string(),
        ];
        if let Some(p) = s.project {
            scopes.push(format!("project:{p}"));
        }
        let all = state.store.active_exceptions(&scopes, at).await?;
        let policy = &state.policy;
        Ok(all
            .into_iter()
            .filter(|e| e.models.is_empty() || e.models.contains(&self.model.id))
            .filter(|e| {
                e.data_class.as_deref().and_then(|c| policy.classes.get(c)).is_none_or(|c| self.data_class <= c)
            })
            .collect())
    }
}

/// 402, naming the envelope, what is left and what the call needed: in the
/// message for people, and as fields of `error` for programs (amounts as
/// exact decimal strings, the period by its start as in the envelope key).
pub fn refused(policy: &Policy, r: &Refusal) -> ApiError {
    let when = r.key.rsplit('|').next().unwrap_or("");
    let mut err = ApiError::new(
        Code::BudgetExceeded,
        format!(
            "budget `{}` ({}, period from {when}) has ${} left of ${}; this call may cost up to ${}. \
             Ask your manager for an exception (POST /api/v1/exceptions, reasons: {}) or wait for the next period",
            r.budget_id,
            r.scope,
            r.remaining().to_usd_string(),
            r.limit.to_usd_string(),
            r.requested.to_usd_string(),
            policy.exceptions.reason_codes.join(", ")
        ),
    );
    err.remaining = Some(r.remaining());
    err.with_field("budget", r.budget_id.as_str())
        .with_field("scope", r.scope.as_str())
        .with_field("period", when)
        .with_field("remaining_usd", r.remaining().to_usd_string())
        .with_field("needed_usd", r.requested.to_usd_string())
}

/// Background work, run by every replica: renew the leases of calls in
/// flight, expire dead replicas' holds, announce crossed alert thresholds,
/// unlock tranches.
pub async fn maintain(state: std::sync::Weak<AppState>, results: Box<dyn ResultsSource>) {
    let lease = state.upgrade().map_or(LEASE, |s| s.budgets.lease);
    let mut tick = tokio::time::interval((lease / 3).min(Duration::from_secs(2)).max(Duration::from_millis(100)));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        let Some(state) = state.upgrade() else { return };
        n += 1;
        let now = Timestamp::now();
        let ids: Vec<String> = lock(&state.budgets.inflight).iter().cloned().collect();
        let until = now + jiff::SignedDuration::try_from(lease).unwrap_or(jiff::SignedDuration::from_secs(60));
        if let Err(e) = state.store.budget_renew(&state.budgets.owner, &ids, until).await {
            tracing::warn!(error = %e, "cannot renew hold leases");
        }
        match state.store.budget_expire(now).await {
            Ok(0) => {}
            Ok(k) => tracing::info!(holds = k, "expired holds of replicas that stopped"),
            Err(e) => tracing::warn!(error = %e, "cannot expire holds"),
        }
        if let Err(e) = alerts(&state, now).await {
            tracing::warn!(error = %e, "cannot announce budget alerts");
        }
        let evaluate = n % 15 == 1;
        if let Err(e) = if evaluate { unlock(&state, results.as_ref(), now).await } else { Ok(()) } {
            tracing::warn!(error = %e, "cannot evaluate budget tranches");
        }
    }
}

async fn alerts(state: &AppState, now: Timestamp) -> Result<(), tokenwise_ledger::StoreError> {
    for (e, pct) in state.store.budget_claim_alerts(now).await? {
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
        let delivered = deliver(state, &body).await;
        state
            .auditor
            .submit(AuditDraft::new(
                "system",
                AuditAction::BudgetAlert,
                &e.spec.key,
                json!({"threshold_percent": pct, "delivered": delivered, "alert": body}),
            ))
            .await;
    }
    Ok(())
}

/// Posts an alert to the policy's webhook, signed; a few tries.
async fn deliver(state: &AppState, body: &serde_json::Value) -> bool {
    let Some(url) = &state.policy.alerts.webhook_url else { return false };
    let payload = body.to_string();
    let signature = state
        .policy
        .alerts
        .secret_env
        .as_ref()
        .and_then(|v| std::env::var(v).ok())
        .map(|secret| sign(&secret, &payload));
    let client = reqwest::Client::new();
    for attempt in 0..3u32 {
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(5))
            .body(payload.clone());
        if let Some(sig) = &signature {
            req = req.header("x-tokenwise-signature", format!("sha256={sig}"));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => tracing::warn!(status = %r.status(), attempt, "alert webhook refused"),
            Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
        }
        tokio::time::sleep(Duration::from_millis(200 * 4u64.pow(attempt))).await;
    }
    false
}

/// HMAC-SHA256 of the body, hex.
pub fn sign(secret: &str, body: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// What a period's results were, for a scope: the facts tranches are
/// unlocked on. Scores arrive with the scoring capability; until then no
/// source reports any, and nothing unlocks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeriodFacts {
    pub efficiency: Option<f64>,
    pub validated_hours: Option<f64>,
    pub compliance: Option<f64>,
}

pub trait ResultsSource: Send + Sync {
    fn facts(&self, scope: &str, start: Timestamp, end: Timestamp) -> Option<PeriodFacts>;
}

/// No results yet (before the scoring capability).
#[derive(Debug, Default)]
pub struct NoResults;

impl ResultsSource for NoResults {
    fn facts(&self, _: &str, _: Timestamp, _: Timestamp) -> Option<PeriodFacts> {
        None
    }
}

/// Whether a tranche's conditions all hold; a condition with no fact fails.
pub fn unlocks(t: &Tranche, f: &PeriodFacts) -> bool {
    let at_least = |want: Option<f64>, have: Option<f64>| want.is_none_or(|w| have.is_some_and(|h| h >= w));
    at_least(t.min_efficiency, f.efficiency)
        && at_least(t.min_validated_hours, f.validated_hours)
        && at_least(t.min_compliance, f.compliance)
}

/// Evaluates tranches of the current period's envelopes, records and audits
/// new unlocks, and refreshes the unlocked allowances.
pub async fn unlock(
    state: &AppState,
    results: &dyn ResultsSource,
    now: Timestamp,
) -> Result<(), tokenwise_ledger::StoreError> {
    let envelopes = state.store.budget_envelopes(now).await?;
    let mut keys = Vec::new();
    for e in &envelopes {
        let Some(budget) = state.policy.budgets.iter().find(|b| b.id == e.spec.budget_id) else { continue };
        if budget.tranches.is_empty() {
            continue;
        }
        keys.push(e.spec.key.clone());
        let Some(facts) = results.facts(&e.spec.scope, e.spec.period_start, e.spec.period_end) else { continue };
        for (i, t) in budget.tranches.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            if unlocks(t, &facts) {
                let details = json!({"efficiency": facts.efficiency, "validated_hours": facts.validated_hours,
                                     "compliance": facts.compliance, "amount_usd": t.amount.to_usd_string()});
                if state.store.budget_unlock(&e.spec.key, i, now, &details).await? {
                    state
                        .auditor
                        .submit(AuditDraft::new(
                            "system",
                            AuditAction::BudgetUnlock,
                            &e.spec.key,
                            json!({"tranche": i, "facts": details}),
                        ))
                        .await;
                }
            }
        }
    }
    let mut extra: HashMap<String, Nanos> = HashMap::new();
    for (key, i) in state.store.budget_unlocks(&keys).await? {
        let budget_id = key.split('|').next().unwrap_or("");
        let amount = state
            .policy
            .budgets
            .iter()
            .find(|b| b.id == budget_id)
            .and_then(|b| b.tranches.get(i as usize))
            .map_or(Nanos::ZERO, |t| t.amount);
        let e = extra.entry(key).or_default();
        *e = e.saturating_add(amount);
    }
    *state.budgets.unlocked.write().unwrap_or_else(std::sync::PoisonError::into_inner) = extra;
    Ok(())
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

    /// Fixed results, standing in for the scoring capability.
    struct Fixed(&'static str, PeriodFacts);

    impl ResultsSource for Fixed {
        fn facts(&self, scope: &str, _: Timestamp, _: Timestamp) -> Option<PeriodFacts> {
            (scope == self.0).then_some(self.1)
        }
    }

    #[tokio::test]
    async fn a_tranche_unlocks_on_results_raises_the_limit_and_is_audited_once() {
        let policy = tokenwise_policy::load_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml"),
        )
        .unwrap()
        .policy;
        let store: std::sync::Arc<dyn tokenwise_ledger::Store> =
            std::sync::Arc::new(tokenwise_store_sqlite::SqliteStore::open("sqlite://:memory:").unwrap());
        let (recorder, _w) = tokenwise_ledger::Recorder::spawn(store.clone());
        let (auditor, _a) = tokenwise_ledger::Auditor::spawn(store.clone());
        let state = AppState {
            guard: crate::guard::Guard::new(&policy.dlp).unwrap(),
            policy: std::sync::Arc::new(policy),
            store: store.clone(),
            recorder,
            upstreams: HashMap::new(),
            auditor,
            budgets: Budgets::new(LEASE),
        };
        let now = Timestamp::now();
        let chen = Subject {
            user: "chen.wei",
            team: "platform",
            project: Some("apollo"),
            use_case: "code-review",
            track: tokenwise_core::Track::Production,
        };
        let specs = state.budgets.specs(&state.policy, &chen, now);
        let cover = Cover {
            subject: &chen,
            model: &state.policy.models["gpt-4.1"],
            data_class: tokenwise_policy::DataClass(0),
        };
        state.budgets.hold(&state, "r1", &specs, Nanos(1_000), &cover).await.unwrap();
        let key = specs.iter().find(|e| e.budget_id == "platform-monthly").unwrap().key.clone();
        let limit =
            |st: &AppState| st.budgets.specs(&st.policy, &chen, now).into_iter().find(|e| e.key == key).unwrap().limit;
        assert_eq!(limit(&state), Nanos::from_whole_usd(12_000));

        // Results short of the tranche (efficiency 0.7, 120 validated hours): nothing.
        unlock(
            &state,
            &Fixed(
                "team:platform",
                PeriodFacts { efficiency: Some(0.9), validated_hours: Some(80.0), compliance: None },
            ),
            now,
        )
        .await
        .unwrap();
        assert_eq!(limit(&state), Nanos::from_whole_usd(12_000));
        // Results that meet it: $3,000 more, recorded and audited once.
        let good = Fixed(
            "team:platform",
            PeriodFacts { efficiency: Some(0.82), validated_hours: Some(131.5), compliance: Some(0.97) },
        );
        unlock(&state, &good, now).await.unwrap();
        unlock(&state, &good, now).await.unwrap();
        assert_eq!(limit(&state), Nanos::from_whole_usd(15_000));
        assert_eq!(store.budget_unlocks(std::slice::from_ref(&key)).await.unwrap(), vec![(key.clone(), 0)]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let audit = store.audit_page(0, 100).await.unwrap();
        let unlocks: Vec<_> = audit.iter().filter(|e| e.action == "budget.unlock").collect();
        assert_eq!(unlocks.len(), 1);
        assert!(unlocks[0].details.contains("131.5"), "the facts behind it: {}", unlocks[0].details);
    }

    #[test]
    fn tranches_unlock_only_when_every_condition_holds() {
        let t = Tranche {
            amount: Nanos(1),
            min_efficiency: Some(0.7),
            min_validated_hours: Some(120.0),
            min_compliance: None,
        };
        assert!(unlocks(&t, &PeriodFacts { efficiency: Some(0.8), validated_hours: Some(130.0), compliance: None }));
        assert!(!unlocks(
            &t,
            &PeriodFacts { efficiency: Some(0.8), validated_hours: Some(100.0), compliance: Some(1.0) }
        ));
        assert!(!unlocks(&t, &PeriodFacts { efficiency: None, validated_hours: Some(500.0), compliance: None }));
    }
}
