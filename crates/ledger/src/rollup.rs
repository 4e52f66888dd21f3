//! What the writers add to the daily activity rollup for a batch of new
//! events: one definition of a blocked, flagged or exception call, shared
//! by both backends and by the SQL that fills the rollup from old events.

use crate::event::{Decision, Status, UsageEvent};
use std::collections::BTreeMap;

pub const DAY_US: i64 = 86_400_000_000;

/// (UTC day since the epoch, person, use case or '', template or '').
pub type DayKey<'a> = (i64, &'a str, &'a str, &'a str);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayTotals {
    pub calls: i64,
    pub blocked: i64,
    pub flagged: i64,
    pub exception_calls: i64,
    pub tokens: i64,
    pub cost_nanos: i64,
}

impl DayTotals {
    /// Saturating, as the stores' roll-ups are: a sum past `i64::MAX`
    /// ($9.2 billion) stays there instead of wrapping to a negative figure.
    pub fn add(&mut self, o: &DayTotals) {
        self.calls = self.calls.saturating_add(o.calls);
        self.blocked = self.blocked.saturating_add(o.blocked);
        self.flagged = self.flagged.saturating_add(o.flagged);
        self.exception_calls = self.exception_calls.saturating_add(o.exception_calls);
        self.tokens = self.tokens.saturating_add(o.tokens);
        self.cost_nanos = self.cost_nanos.saturating_add(o.cost_nanos);
    }
}

/// The UTC day of a timestamp in microseconds, as the SQL fill computes it.
pub fn utc_day(ts_us: i64) -> i64 {
    // SQL's integer division truncates towards zero: so does Rust's.
    ts_us / DAY_US
}

/// One event's part of its day's totals.
pub fn totals(e: &UsageEvent) -> DayTotals {
    let blocked = e.status == Status::Blocked;
    DayTotals {
        calls: 1,
        blocked: i64::from(blocked),
        flagged: i64::from(!blocked && matches!(e.decision, Decision::Redact | Decision::Reroute)),
        exception_calls: i64::from(e.exception_id.is_some()),
        tokens: i64::try_from(e.usage.input.saturating_add(e.usage.output)).unwrap_or(i64::MAX),
        cost_nanos: e.cost.0,
    }
}

/// A batch of new events summed per day key, in key order (the order the
/// writers lock rows in, so concurrent writers cannot deadlock).
pub fn rollup<'a>(events: impl IntoIterator<Item = &'a UsageEvent>) -> BTreeMap<DayKey<'a>, DayTotals> {
    let mut out: BTreeMap<DayKey<'a>, DayTotals> = BTreeMap::new();
    for e in events {
        let key = (
            utc_day(e.ts.as_microsecond()),
            e.user_id.as_str(),
            e.use_case.as_deref().unwrap_or_default(),
            e.template.as_deref().unwrap_or_default(),
        );
        out.entry(key).or_default().add(&totals(e));
    }
    out
}

/// (UTC day, person, use case or '', model).
pub type ModelKey<'a> = (i64, &'a str, &'a str, &'a str);

/// Calls, tokens and cost: what the model rollup (`model_daily`) sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelTotals {
    pub calls: i64,
    pub tokens: i64,
    pub cost_nanos: i64,
}

/// A batch of new events summed per day, person, use case and model, in
/// key order (the order rows are locked in).
pub fn model_rollup<'a>(events: impl IntoIterator<Item = &'a UsageEvent>) -> BTreeMap<ModelKey<'a>, ModelTotals> {
    let mut out: BTreeMap<ModelKey<'a>, ModelTotals> = BTreeMap::new();
    for e in events {
        let key = (
            utc_day(e.ts.as_microsecond()),
            e.user_id.as_str(),
            e.use_case.as_deref().unwrap_or_default(),
            e.model.as_str(),
        );
        let t = totals(e);
        let s = out.entry(key).or_default();
        s.calls = s.calls.saturating_add(t.calls);
        s.tokens = s.tokens.saturating_add(t.tokens);
        s.cost_nanos = s.cost_nanos.saturating_add(t.cost_nanos);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reports::usage_rollup;
    use proptest::prelude::*;

    fn call(i: usize, cost: i64, input: u64) -> UsageEvent {
        let ts = jiff::Timestamp::from_second(1_700_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let mut e = UsageEvent::builder(format!("e{i}"), ts, crate::EventSource::Gateway, "ana", "t", "m", "p").build();
        e.cost = tokenwise_core::Nanos(cost);
        e.usage.input = input;
        e
    }

    proptest! {
        /// A batch's sums are exact up to `i64::MAX` and stop there, in
        /// every roll-up, never wrapping to a negative figure (as `+=` did
        /// in a release build).
        #[test]
        fn a_batch_sums_exactly_and_stops_at_the_largest_integer(
            calls in prop::collection::vec((0..=i64::MAX, 0..=u64::MAX / 2), 1..20),
        ) {
            let events: Vec<UsageEvent> = calls.iter().enumerate().map(|(i, (c, t))| call(i, *c, *t)).collect();
            let capped = |sum: i128| i64::try_from(sum).unwrap_or(i64::MAX);
            let cost = capped(calls.iter().map(|(c, _)| i128::from(*c)).sum());
            let tokens = capped(calls.iter().map(|(_, t)| i128::from(i64::try_from(*t).unwrap_or(i64::MAX))).sum());
            let day: Vec<DayTotals> = rollup(&events).into_values().collect();
            prop_assert_eq!(day.len(), 1);
            prop_assert_eq!((day[0].cost_nanos, day[0].tokens), (cost, tokens));
            let model: Vec<ModelTotals> = model_rollup(&events).into_values().collect();
            prop_assert_eq!((model[0].cost_nanos, model[0].tokens), (cost, tokens));
            let usage: Vec<_> = usage_rollup(&events).into_values().collect();
            prop_assert_eq!(usage[0].cost_nanos, cost);
        }
    }
}
