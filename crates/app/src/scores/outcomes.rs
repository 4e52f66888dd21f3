//! The outcomes side of a period's facts.

use super::facts::Period;
use crate::error::AppResult;
use tokenwise_ledger::Store;
use tokenwise_policy::Policy;
use tokenwise_scoring::Facts;

/// Adds the period's outcomes to `facts`. Outcomes arrive with the
/// outcomes store; until it is merged, a period has none.
pub async fn read(_store: &dyn Store, _policy: &Policy, _period: &Period, _facts: &mut Facts) -> AppResult<()> {
    Ok(())
}
