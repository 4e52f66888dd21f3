//! The outcomes side of a period's facts: every outcome reported in the
//! period, and who already had a validated outcome in a use case before.

use super::facts::Period;
use crate::error::{AppError, AppResult};
use tokenwise_ledger::{Outcome, OutcomeStatus, Store};
use tokenwise_policy::Policy;
use tokenwise_scoring::{Facts, Status};

fn fact(o: Outcome) -> tokenwise_scoring::Outcome {
    tokenwise_scoring::Outcome {
        status: match o.status {
            OutcomeStatus::Pending => Status::Pending,
            OutcomeStatus::Validated => Status::Validated,
            OutcomeStatus::Rejected => Status::Rejected,
        },
        quality: o.decided_quality.or(o.quality),
        // Without its task's first prompt, an outcome is its own action:
        // only evidence of sameness makes repetitions earn less.
        template: None,
        prompt_hash: Some(format!("task:{}", o.task)),
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
    facts.outcomes = outcomes.into_iter().map(fact).collect();
    facts.validated_before = store.validated_before(period.start).await.map_err(internal)?.into_iter().collect();
    Ok(())
}
