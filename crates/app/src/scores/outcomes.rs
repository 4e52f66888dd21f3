//! The outcomes side of a period's facts: every outcome reported in the
//! period, and who already had a validated outcome in a use case before.

use super::facts::Period;
use crate::error::{AppError, AppResult};
use std::collections::HashMap;
use tokenwise_ledger::{Outcome, OutcomeStatus, Store};
use tokenwise_policy::Policy;
use tokenwise_scoring::{Facts, Status};

/// Its task's first template and prompt hash, when a call carried them.
type FirstCall = (Option<String>, Option<String>);

fn fact(o: Outcome, first: Option<&FirstCall>) -> tokenwise_scoring::Outcome {
    let (template, prompt_hash) = first.cloned().unwrap_or_default();
    tokenwise_scoring::Outcome {
        status: match o.status {
            OutcomeStatus::Pending => Status::Pending,
            OutcomeStatus::Validated => Status::Validated,
            OutcomeStatus::Rejected => Status::Rejected,
        },
        quality: o.decided_quality.or(o.quality),
        // Without its task's first prompt, an outcome is its own action
        // (its task's): only evidence of sameness makes repetitions earn less.
        prompt_hash: prompt_hash.or_else(|| Some(format!("task:{}", o.task))),
        template,
        at: o.reported_at.as_microsecond(),
        id: o.id,
        user: o.user_id,
        use_case: o.use_case,
        kind: o.kind,
        value: o.value,
        signed: o.signed,
        escalated: o.escalated,
        error: o.error,
        metered: o.metered,
    }
}

/// Adds the period's outcomes, and earlier validated firsts, to `facts`.
pub async fn read(store: &dyn Store, _policy: &Policy, period: &Period, facts: &mut Facts) -> AppResult<()> {
    let internal = |e: tokenwise_ledger::StoreError| AppError::internal(e.to_string());
    let outcomes = store.outcomes_between(period.start, period.end).await.map_err(internal)?;
    let keys: Vec<(String, String)> = outcomes.iter().map(|o| (o.user_id.clone(), o.task.clone())).collect();
    let tasks: HashMap<(String, String), FirstCall> = store
        .tasks_of(&keys)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|t| ((t.user_id, t.task), (t.template, t.prompt_hash)))
        .collect();
    facts.outcomes = outcomes
        .into_iter()
        .map(|o| {
            let first = tasks.get(&(o.user_id.clone(), o.task.clone()));
            fact(o, first)
        })
        .collect();
    facts.validated_before = store.validated_before(period.start).await.map_err(internal)?.into_iter().collect();
    Ok(())
}
