//! What scoring reads from the ledger: the period's calls summed per
//! person, day, use case and template (a month of millions of calls in a
//! few rows per person and day), and the scoring rules each version
//! stood for, so a past period re-scores under the rules it was scored by.

use super::StoreError;
use crate::rollup::{DAY_US, DayTotals};
use async_trait::async_trait;
use jiff::Timestamp;
use std::collections::BTreeMap;
use tokenwise_core::Nanos;

/// Calls of one person on one day of a range, for one use case and
/// template, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    pub user_id: String,
    /// Whole days (24 h) since the range's start.
    pub day: u16,
    pub use_case: Option<String>,
    pub template: Option<String>,
    pub calls: u64,
    /// Calls the policy blocked (`status = blocked`).
    pub blocked: u64,
    /// Allowed calls whose findings were masked or rerouted.
    pub flagged: u64,
    /// Calls that drew on a budget exception.
    pub exception_calls: u64,
    /// Input (cached included) plus output tokens.
    pub tokens: u64,
    pub cost: Nanos,
}

#[async_trait]
pub trait ScoreStore: Send + Sync {
    /// Every usage event in `[from, to)` summed per (person, day, use case,
    /// template), ordered by those keys.
    async fn activity(&self, from: Timestamp, to: Timestamp) -> Result<Vec<ActivityRow>, StoreError>;
    /// Keeps what a rules version stands for; a version already kept is
    /// left as it is (a version names one set of rules).
    async fn keep_rules(&self, version: &str, rules_json: &str, at: Timestamp) -> Result<(), StoreError>;
    /// The rules a version stands for, as kept.
    async fn rules(&self, version: &str) -> Result<Option<String>, StoreError>;
    /// Each (person, use case) with an outcome validated among those reported
    /// before `before`: a first validated outcome is a badge once.
    async fn validated_before(&self, before: Timestamp) -> Result<Vec<(String, String)>, StoreError>;
    /// The server's secret `name`: `fresh` is stored if there is none yet,
    /// and whichever was stored first is returned, on every replica.
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError>;
}

/// The whole UTC days inside `[from, to)` (microseconds), as `[d0, d1)`:
/// those are read from the daily rollup, the partial days at either end
/// from the events.
pub fn whole_days(from: i64, to: i64) -> Option<(i64, i64)> {
    let d0 = from.div_euclid(DAY_US) + i64::from(from.rem_euclid(DAY_US) != 0);
    let d1 = to.div_euclid(DAY_US);
    (d0 < d1).then_some((d0, d1))
}

/// Rows from the rollup and from the events merged per (person, day of
/// the range, use case, template); '' reads as none.
#[derive(Debug, Default)]
pub struct Sums(BTreeMap<(String, i64, Option<String>, Option<String>), DayTotals>);

impl Sums {
    pub fn add(&mut self, user: String, day: i64, use_case: String, template: String, t: DayTotals) {
        let some = |s: String| (!s.is_empty()).then_some(s);
        self.0.entry((user, day, some(use_case), some(template))).or_default().add(&t);
    }

    /// In (person, day, use case, template) order, none first.
    pub fn rows(self) -> Vec<ActivityRow> {
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        self.0
            .into_iter()
            .map(|((user_id, day, use_case, template), t)| ActivityRow {
                user_id,
                day: u16::try_from(day.max(0)).unwrap_or(u16::MAX),
                use_case,
                template,
                calls: count(t.calls),
                blocked: count(t.blocked),
                flagged: count(t.flagged),
                exception_calls: count(t.exception_calls),
                tokens: count(t.tokens),
                cost: Nanos(t.cost_nanos),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_leave_the_partial_ends_to_the_events() {
        let h = DAY_US / 24;
        // Europe/Berlin's November: 23:00 UTC to 23:00 UTC.
        assert_eq!(whole_days(20_392 * DAY_US - h, 20_422 * DAY_US - h), Some((20_392, 20_421)));
        assert_eq!(whole_days(20_392 * DAY_US, 20_422 * DAY_US), Some((20_392, 20_422)));
        assert_eq!(whole_days(20_392 * DAY_US + h, 20_393 * DAY_US + h), None);
    }
}
