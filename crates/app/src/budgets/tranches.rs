//! Progressive allocation: a tranche adds to an envelope's limit once the
//! period's results meet its conditions. Results come from a
//! [`ResultsSource`]: in service, the scores of the envelope's scope over
//! its period (`scores::Scored`).

use crate::App;
use jiff::Timestamp;
use serde_json::json;
use std::collections::HashMap;
use tokenwise_core::Nanos;
use tokenwise_ledger::{AuditAction, AuditDraft, StoreError};
use tokenwise_policy::Tranche;

/// What a period's results were, for a scope.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeriodFacts {
    pub efficiency: Option<f64>,
    pub validated_hours: Option<f64>,
    pub compliance: Option<f64>,
}

#[async_trait::async_trait]
pub trait ResultsSource: Send + Sync {
    /// The results of `scope` over `[start, end)`; None when it has none
    /// to judge by (then no tranche of it unlocks).
    async fn facts(&self, app: &App, scope: &str, start: Timestamp, end: Timestamp) -> Option<PeriodFacts>;
}

/// No results at all: nothing unlocks.
#[derive(Debug, Default)]
pub struct NoResults;

#[async_trait::async_trait]
impl ResultsSource for NoResults {
    async fn facts(&self, _: &App, _: &str, _: Timestamp, _: Timestamp) -> Option<PeriodFacts> {
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

impl App {
    /// Evaluates tranches of the current period's envelopes, records and
    /// audits new unlocks, and refreshes the unlocked allowances.
    pub async fn unlock_tranches(&self, results: &dyn ResultsSource, now: Timestamp) -> Result<(), StoreError> {
        let envelopes = self.store.budget_envelopes(now).await?;
        let mut keys = Vec::new();
        for e in &envelopes {
            let Some(budget) = self.policy.budgets.iter().find(|b| b.id == e.spec.budget_id) else { continue };
            if budget.tranches.is_empty() {
                continue;
            }
            keys.push(e.spec.key.clone());
            let Some(facts) = results.facts(self, &e.spec.scope, e.spec.period_start, e.spec.period_end).await else {
                continue;
            };
            for (i, t) in budget.tranches.iter().enumerate().filter(|(_, t)| unlocks(t, &facts)) {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                let details = json!({"efficiency": facts.efficiency, "validated_hours": facts.validated_hours,
                                     "compliance": facts.compliance, "amount_usd": t.amount.to_usd_string()});
                if self.store.budget_unlock(&e.spec.key, i, now, &details).await? {
                    let details = json!({"tranche": i, "facts": details});
                    self.auditor
                        .submit(AuditDraft::new("system", AuditAction::BudgetUnlock, &e.spec.key, details))
                        .await;
                }
            }
        }
        let mut extra: HashMap<String, Nanos> = HashMap::new();
        for (key, i) in self.store.budget_unlocks(&keys).await? {
            let budget_id =
                key.parse::<tokenwise_core::EnvelopeKey>().map(|k| k.budget().to_string()).unwrap_or_default();
            let amount = self
                .policy
                .budgets
                .iter()
                .find(|b| b.id == budget_id)
                .and_then(|b| b.tranches.get(i as usize))
                .map_or(Nanos::ZERO, |t| t.amount);
            let e = extra.entry(key).or_default();
            *e = e.saturating_add(amount);
        }
        self.budgets.set_unlocked(extra);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
