//! Tasks: the calls a person makes under one task id (`x-tokenwise-task`),
//! counted together. A task id is per person: two people naming the same
//! id have two tasks. The stores keep each task's running totals in the
//! same transaction as the usage events that name it (see
//! [`TaskStore`](crate::store::TaskStore)), so the total a call is answered
//! with is exact under any concurrency and across replicas.

use crate::event::UsageEvent;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use tokenwise_core::Nanos;

/// A task's calls and cost so far: what a committed event's task stood at
/// once the event was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TaskSoFar {
    pub calls: u64,
    pub cost: Nanos,
}

/// One task's running totals: every ledger row that names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskTotals {
    pub user_id: String,
    pub task: String,
    /// The team of the task's first call.
    pub team_id: String,
    /// The first use case, template and prompt hash the task's calls named
    /// (the earliest call that named one).
    pub use_case: Option<String>,
    pub template: Option<String>,
    pub prompt_hash: Option<String>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Every row, refusals included (at their cost: nothing).
    pub calls: u64,
    pub cost: Nanos,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// What a baseline is the usual cost of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineOf {
    /// A template, `id@version`.
    Template(String),
    UseCase(String),
}

/// The median cost of the tasks of one template or use case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskBaseline {
    pub of: BaselineOf,
    /// How many tasks the median is of.
    pub tasks: u64,
    /// The middle cost; for an even count, the mean of the two middle
    /// costs, rounded down to the nano-dollar.
    pub median: Nanos,
}

/// What a committed batch did: how many events were new and, for each
/// event in the order given, its task's totals once it was counted (None
/// for an event naming no task, or one already stored by an earlier batch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    pub new: u64,
    pub tasks: Vec<Option<TaskSoFar>>,
}

/// The key of an event's task, if it names one.
pub fn task_key(e: &UsageEvent) -> Option<(&str, &str)> {
    e.task.as_deref().map(|t| (e.user_id.as_str(), t))
}

/// Each event's task totals once it was counted, from each task's totals
/// after the whole batch (`after`, keyed by user and task): the total
/// including that event and the new events of its task before it in the
/// batch. `new` says which events were stored by this batch.
pub fn running_totals(
    events: &[UsageEvent],
    new: &[bool],
    after: &HashMap<(String, String), TaskSoFar>,
) -> Vec<Option<TaskSoFar>> {
    let mut left: HashMap<(&str, &str), TaskSoFar> =
        after.iter().map(|((u, t), so_far)| ((u.as_str(), t.as_str()), *so_far)).collect();
    let mut out = vec![None; events.len()];
    for (i, e) in events.iter().enumerate().rev() {
        let Some(key) = task_key(e).filter(|_| new.get(i).copied().unwrap_or(false)) else { continue };
        if let Some(so_far) = left.get_mut(&key) {
            out[i] = Some(*so_far);
            so_far.calls = so_far.calls.saturating_sub(1);
            so_far.cost = so_far.cost.saturating_sub(e.cost);
        }
    }
    out
}

/// What one batch adds to one task: its new calls summed, the span of
/// their times, and what its earliest calls name — the team of the
/// earliest, and the use case, template and prompt hash of the earliest
/// that names each (ties in time go to the smaller event id). A store
/// merges it into the task's row in one statement, as PostgreSQL's does
/// in SQL: an earlier batch's row keeps what it names unless this batch's
/// first call is earlier still.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDelta<'a> {
    pub team_id: &'a str,
    pub use_case: Option<&'a str>,
    pub template: Option<&'a str>,
    pub prompt_hash: Option<&'a str>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub calls: u64,
    pub cost: Nanos,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// The (time, id) of the call each named field came from.
    first: (Timestamp, &'a str),
    use_case_at: (Timestamp, &'a str),
    template_at: (Timestamp, &'a str),
    prompt_hash_at: (Timestamp, &'a str),
}

impl<'a> TaskDelta<'a> {
    fn of(e: &'a UsageEvent) -> TaskDelta<'a> {
        let at = (e.ts, e.id.as_str());
        TaskDelta {
            team_id: &e.team_id,
            use_case: e.use_case.as_deref(),
            template: e.template.as_deref(),
            prompt_hash: e.prompt_hash.as_deref(),
            first_ts: e.ts,
            last_ts: e.ts,
            calls: 1,
            cost: e.cost,
            input_tokens: e.usage.input,
            output_tokens: e.usage.output,
            first: at,
            use_case_at: at,
            template_at: at,
            prompt_hash_at: at,
        }
    }

    fn add(&mut self, e: &'a UsageEvent) {
        let at = (e.ts, e.id.as_str());
        let earliest = |mine: &mut Option<&'a str>, mine_at: &mut (Timestamp, &'a str), theirs: Option<&'a str>| {
            if theirs.is_some() && (mine.is_none() || at < *mine_at) {
                *mine = theirs;
                *mine_at = at;
            }
        };
        earliest(&mut self.use_case, &mut self.use_case_at, e.use_case.as_deref());
        earliest(&mut self.template, &mut self.template_at, e.template.as_deref());
        earliest(&mut self.prompt_hash, &mut self.prompt_hash_at, e.prompt_hash.as_deref());
        if at < self.first {
            self.first = at;
            self.team_id = &e.team_id;
        }
        self.first_ts = self.first_ts.min(e.ts);
        self.last_ts = self.last_ts.max(e.ts);
        self.calls += 1;
        self.cost = self.cost.saturating_add(e.cost);
        self.input_tokens = self.input_tokens.saturating_add(e.usage.input);
        self.output_tokens = self.output_tokens.saturating_add(e.usage.output);
    }
}

/// What a batch adds to each task, keyed (and ordered) by person and task:
/// the events `new` says this batch stored, that name a task.
pub fn task_deltas<'a>(events: &'a [UsageEvent], new: &[bool]) -> BTreeMap<(&'a str, &'a str), TaskDelta<'a>> {
    let mut out: BTreeMap<(&str, &str), TaskDelta<'_>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let Some(key) = task_key(e).filter(|_| new.get(i).copied().unwrap_or(false)) else { continue };
        match out.entry(key) {
            Entry::Vacant(v) => {
                v.insert(TaskDelta::of(e));
            }
            Entry::Occupied(mut o) => o.get_mut().add(e),
        }
    }
    out
}

/// The median of `costs` as [`TaskBaseline`] defines it; None when empty.
pub fn median(costs: &mut [Nanos]) -> Option<Nanos> {
    if costs.is_empty() {
        return None;
    }
    costs.sort_unstable();
    let n = costs.len();
    let (lo, hi) = (costs[(n - 1) / 2], costs[n / 2]);
    Some(Nanos(i64::midpoint(lo.0, hi.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventSource;
    use tokenwise_core::TokenUsage;

    fn ev(id: &str, user: &str, task: Option<&str>, cost: i64) -> UsageEvent {
        UsageEvent::builder(id, Timestamp::UNIX_EPOCH, EventSource::Simulator, user, "t", "m", "p")
            .task(task)
            .priced(TokenUsage::default(), Nanos(cost), "v")
            .build()
    }

    #[test]
    fn each_event_gets_its_task_total_up_to_itself() {
        let events = vec![
            ev("a", "u", Some("T"), 5),
            ev("b", "v", Some("T"), 7),
            ev("c", "u", None, 100),
            ev("d", "u", Some("T"), 3),
            ev("e", "u", Some("T"), 9),
        ];
        // `e` was stored by an earlier batch: it counts nowhere here.
        let new = [true, true, true, true, false];
        let after = HashMap::from([
            (("u".to_string(), "T".to_string()), TaskSoFar { calls: 4, cost: Nanos(20) }),
            (("v".to_string(), "T".to_string()), TaskSoFar { calls: 1, cost: Nanos(7) }),
        ]);
        let got = running_totals(&events, &new, &after);
        assert_eq!(
            got,
            vec![
                Some(TaskSoFar { calls: 3, cost: Nanos(17) }),
                Some(TaskSoFar { calls: 1, cost: Nanos(7) }),
                None,
                Some(TaskSoFar { calls: 4, cost: Nanos(20) }),
                None,
            ]
        );
    }

    #[test]
    fn a_batch_adds_to_each_task_once_naming_what_its_earliest_calls_name() {
        let at = |s: i64| Timestamp::from_second(1_800_000_000 + s).unwrap();
        let mut later = ev("b", "u", Some("T"), 7);
        (later.ts, later.team_id, later.use_case, later.template) =
            (at(20), "late".into(), Some("uc-late".into()), Some("tpl@1".into()));
        later.usage.input = 30;
        let mut first = ev("z", "u", Some("T"), 5);
        (first.ts, first.team_id, first.use_case) = (at(10), "early".into(), None);
        first.usage.output = 4;
        // Same time as `first`, smaller id: the tie goes to it.
        let mut tie = ev("a", "u", Some("T"), 1);
        (tie.ts, tie.team_id, tie.use_case) = (at(10), "tie".into(), Some("uc-tie".into()));
        let mut old = ev("c", "u", Some("T"), 100);
        old.ts = at(0);
        let events = vec![later, first, ev("x", "v", Some("T"), 2), ev("y", "u", None, 50), tie, old];
        let new = [true, true, true, true, true, false];
        let got = task_deltas(&events, &new);
        assert_eq!(got.len(), 2);
        let d = &got[&("u", "T")];
        assert_eq!((d.calls, d.cost, d.input_tokens, d.output_tokens), (3, Nanos(13), 30, 4));
        assert_eq!((d.first_ts, d.last_ts), (at(10), at(20)));
        assert_eq!((d.team_id, d.use_case, d.template, d.prompt_hash), ("tie", Some("uc-tie"), Some("tpl@1"), None));
        assert_eq!(got[&("v", "T")].calls, 1);
    }

    #[test]
    fn the_median_is_the_middle_or_the_mean_of_the_two_middles() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [Nanos(9), Nanos(1), Nanos(1_000_000)]), Some(Nanos(9)));
        assert_eq!(median(&mut [Nanos(4), Nanos(1), Nanos(2), Nanos(100)]), Some(Nanos(3)));
        assert_eq!(median(&mut [Nanos(2), Nanos(3)]), Some(Nanos(2)));
    }
}
