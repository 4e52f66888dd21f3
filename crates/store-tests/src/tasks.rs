//! Tasks: running totals kept with the events (per person, exact under
//! concurrency, never double-counting a retried event), finished tasks over
//! a window, and medians per template and use case.

use crate::events::bare_event;
use crate::{Backend, ts};
use jiff::{Timestamp, ToSpan};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::*;

/// A call of `user`'s task `task` costing `cost`.
pub fn task_event(id: &str, at: Timestamp, user: &str, task: &str, cost: i64) -> UsageEvent {
    let mut e = bare_event(id, at, user, "support", cost);
    e.task = Some(task.to_string());
    e.use_case = Some("support-reply".into());
    e.usage = TokenUsage { input: 100, output: 10, ..Default::default() };
    e
}

fn so_far(calls: u64, cost: i64) -> Option<TaskSoFar> {
    Some(TaskSoFar { calls, cost: Nanos(cost) })
}

/// An import (usage recorded elsewhere) through a backend's blocking
/// writer counts tasks as a commit does, without reading totals back, and
/// stores a re-sent event once.
pub async fn an_import_counts_tasks_as_a_commit_does(b: &impl Backend) {
    let s = b.store();
    let Some(mut w) = s.blocking_writer() else { return };
    let t0 = ts("2026-11-10T09:00:00Z");
    let batch = vec![task_event("im-1", t0, "ana", "T-9", 100), task_event("im-2", t0 + 1.minute(), "ana", "T-9", 50)];
    let new = tokio::task::spawn_blocking(move || {
        let first = w.import_events_blocking(&batch).unwrap();
        (first, w.import_events_blocking(&batch).unwrap())
    })
    .await
    .unwrap();
    assert_eq!(new, (2, 0));
    assert_eq!(s.task_cost("ana", "T-9").await.unwrap(), so_far(2, 150));
}

/// Several calls of one task in one batch, out of time order, are counted
/// each once (the store may write the task once per batch): each call is
/// answered with its task's total up to itself in the batch, and the task's
/// row names what its earliest calls name. A later batch (an import,
/// where the backend has one) with a re-sent call and a call earlier than
/// all the others adds only the new calls and moves the task's start.
pub async fn a_batch_counts_each_call_of_a_task_once(b: &impl Backend) {
    let s = b.store();
    let t0 = ts("2026-11-13T09:00:00Z");
    let call = |id: &str, at: Timestamp, team: &str, cost: i64| {
        let mut e = task_event(id, at, "ana", "T-7", cost);
        (e.team_id, e.use_case, e.template, e.prompt_hash) = (team.into(), None, None, None);
        e
    };
    let mut c1 = call("bt-1", t0 + 2.minutes(), "support", 10);
    c1.use_case = Some("support-reply".into());
    let mut c2 = call("bt-2", t0 + 1.minute(), "data", 20);
    (c2.template, c2.prompt_hash) = (Some("tpl@1".into()), Some("h2".into()));
    let mut c3 = call("bt-3", t0 + 3.minutes(), "support", 30);
    c3.template = Some("tpl@2".into());
    let batch = vec![
        c1,
        bare_event("bt-x", t0, "ana", "support", 1_000),
        c2.clone(),
        task_event("bt-b", t0, "bo", "T-7", 4),
        c3,
    ];
    let committed = s.commit_events(&batch).await.unwrap();
    assert_eq!(committed.new, 5);
    assert_eq!(committed.tasks, vec![so_far(1, 10), None, so_far(2, 30), so_far(1, 4), so_far(3, 60)]);
    let row = |all: Vec<TaskTotals>| all.into_iter().find(|t| t.user_id == "ana").unwrap();
    let mut want = TaskTotals {
        user_id: "ana".into(),
        task: "T-7".into(),
        team_id: "data".into(),
        use_case: Some("support-reply".into()),
        template: Some("tpl@1".into()),
        prompt_hash: Some("h2".into()),
        first_ts: t0 + 1.minute(),
        last_ts: t0 + 3.minutes(),
        calls: 3,
        cost: Nanos(60),
        input_tokens: 300,
        output_tokens: 30,
    };
    let window = (t0 - 24.hours(), t0 + 24.hours());
    assert_eq!(row(s.tasks_between(window.0, window.1).await.unwrap()), want);

    let mut c4 = call("bt-4", t0 - 1.minute(), "ops", 5);
    c4.prompt_hash = Some("h4".into());
    let later = vec![c2, c4, call("bt-5", t0 + 10.minutes(), "support", 7)];
    let new = match s.blocking_writer() {
        Some(mut w) => tokio::task::spawn_blocking(move || w.import_events_blocking(&later).unwrap()).await.unwrap(),
        None => s.commit_events(&later).await.unwrap().new,
    };
    assert_eq!(new, 2);
    want.team_id = "ops".into();
    want.prompt_hash = Some("h4".into());
    (want.first_ts, want.last_ts) = (t0 - 1.minute(), t0 + 10.minutes());
    (want.calls, want.cost, want.input_tokens, want.output_tokens) = (5, Nanos(72), 500, 50);
    assert_eq!(row(s.tasks_between(window.0, window.1).await.unwrap()), want);
    assert_eq!(s.task_cost("bo", "T-7").await.unwrap(), so_far(1, 4));
}

pub async fn tasks_total_each_persons_calls_exactly(b: &impl Backend) {
    let s = b.store();
    let t0 = ts("2026-11-10T09:00:00Z");
    let mut first = task_event("tk-1", t0, "ana", "T-1", 100);
    first.template = None;
    first.prompt_hash = Some("h-first".into());
    let mut second = task_event("tk-2", t0 + 1.minute(), "ana", "T-1", 250);
    second.template = Some("support-refund@3".into());
    second.prompt_hash = Some("h-second".into());
    // The same task id, another person: another task.
    let other = task_event("tk-3", t0 + 2.minutes(), "bo", "T-1", 7);
    let untasked = bare_event("tk-4", t0, "ana", "support", 1_000);
    let batch = vec![first, untasked, second, other];
    let committed = s.commit_events(&batch).await.unwrap();
    assert_eq!(committed.new, 4);
    assert_eq!(committed.tasks, vec![so_far(1, 100), None, so_far(2, 350), so_far(1, 7)]);

    // A retried batch counts nothing twice; a new call joins the total.
    let retry = vec![batch[2].clone(), task_event("tk-5", t0 + 3.minutes(), "ana", "T-1", 50)];
    let committed = s.commit_events(&retry).await.unwrap();
    assert_eq!(committed.new, 1);
    assert_eq!(committed.tasks, vec![None, so_far(3, 400)]);
    // A late call from before the first (ingested afterwards) becomes the first.
    let mut early = task_event("tk-6", t0 - 1.hour(), "ana", "T-1", 1);
    early.team_id = "data".into();
    early.prompt_hash = None;
    assert_eq!(s.commit_events(&[early]).await.unwrap().tasks, vec![so_far(4, 401)]);

    assert_eq!(s.task_cost("ana", "T-1").await.unwrap(), so_far(4, 401));
    assert_eq!(s.task_cost("bo", "T-1").await.unwrap(), so_far(1, 7));
    assert_eq!(s.task_cost("ana", "T-2").await.unwrap(), None);
    // The total is the sum of the task's ledger rows.
    let q = EventQuery { user_id: Some("ana".into()), task: Some("T-1".into()), ..Default::default() };
    let rows = s.events(&q).await.unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows.iter().map(|e| e.cost).sum::<Nanos>(), Nanos(401));

    let all = s.tasks_between(t0 - 24.hours(), t0 + 24.hours()).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let ana = all.iter().find(|t| t.user_id == "ana").unwrap();
    let want = TaskTotals {
        user_id: "ana".into(),
        task: "T-1".into(),
        team_id: "data".into(),
        use_case: Some("support-reply".into()),
        template: Some("support-refund@3".into()),
        prompt_hash: Some("h-first".into()),
        first_ts: t0 - 1.hour(),
        last_ts: t0 + 3.minutes(),
        calls: 4,
        cost: Nanos(401),
        input_tokens: 400,
        output_tokens: 40,
    };
    assert_eq!(ana, &want);
    // [from, to) on the last call.
    assert_eq!(s.tasks_between(t0 + 2.minutes(), t0 + 3.minutes()).await.unwrap()[0].user_id, "bo");
    assert!(s.tasks_between(t0 + 4.minutes(), t0 + 24.hours()).await.unwrap().is_empty());
    // One person's, newest first, bounded.
    let hers = s.person_tasks("ana", t0 - 24.hours(), t0 + 24.hours(), 10).await.unwrap();
    assert_eq!(hers, vec![want.clone()]);
    assert!(s.person_tasks("ana", t0 + 4.minutes(), t0 + 24.hours(), 10).await.unwrap().is_empty());
    assert_eq!(s.person_tasks("bo", t0 - 24.hours(), t0 + 24.hours(), 10).await.unwrap().len(), 1);
    assert!(s.person_tasks("cy", t0 - 24.hours(), t0 + 24.hours(), 10).await.unwrap().is_empty());
    let later = task_event("tk-7", t0 + 5.minutes(), "ana", "T-9", 5);
    s.commit_events(&[later]).await.unwrap();
    let tasks = |v: Vec<TaskTotals>| v.into_iter().map(|t| t.task).collect::<Vec<_>>();
    assert_eq!(tasks(s.person_tasks("ana", t0 - 24.hours(), t0 + 24.hours(), 10).await.unwrap()), ["T-9", "T-1"]);
    assert_eq!(tasks(s.person_tasks("ana", t0 - 24.hours(), t0 + 24.hours(), 1).await.unwrap()), ["T-9"]);
}

/// Several writers (on PostgreSQL: concurrent transactions, as replicas
/// make) add calls to one task at once: the total is exact, and each call
/// was answered with a different count, every one from 1 to N.
pub async fn concurrent_writers_to_one_task_sum_exactly(b: &impl Backend) {
    let s = b.store();
    let base = ts("2026-11-11T00:00:00Z");
    let writers: Vec<Recorder> = (0..4).map(|_| Recorder::spawn(s.clone()).0).collect();
    let writers = Arc::new(writers);
    let mut calls = Vec::new();
    for i in 0..400i64 {
        let w = writers.clone();
        calls.push(tokio::spawn(async move {
            let e = task_event(&format!("cw-{i:04}"), base + i.seconds(), "ana", "T-hot", 1_000 + i);
            w[usize::try_from(i).unwrap() % 4].record(e).await.unwrap().unwrap()
        }));
    }
    let mut counts = BTreeSet::new();
    for c in calls {
        counts.insert(c.await.unwrap().calls);
    }
    assert_eq!(counts, (1..=400).collect::<BTreeSet<u64>>());
    let cost: i64 = (0..400).map(|i| 1_000 + i).sum();
    assert_eq!(s.task_cost("ana", "T-hot").await.unwrap(), so_far(400, cost));
}

pub async fn task_baselines_are_medians_of_finished_tasks(b: &impl Backend) {
    let s = b.store();
    let base = ts("2026-11-12T00:00:00Z");
    let mut events = Vec::new();
    let mut add = |user: &str, task: &str, template: Option<&str>, use_case: &str, at: Timestamp, costs: &[i64]| {
        for (i, c) in costs.iter().enumerate() {
            let mut e = task_event(&format!("bl-{user}-{task}-{i}"), at, user, task, *c);
            e.template = template.map(str::to_string);
            e.use_case = Some(use_case.to_string());
            events.push(e);
        }
    };
    // support-refund@3: five tasks, one of them runaway; the median ignores it.
    for (k, costs) in [[10, 10], [5, 15], [30, 0], [1, 39], [500_000, 500_000]].iter().enumerate() {
        add("ana", &format!("R-{k}"), Some("support-refund@3"), "support-reply", base + (k as i64).hours(), costs);
    }
    // Untemplated support replies: an even count, the mean of the middle two.
    for (k, cost) in [8, 3, 100, 9].iter().enumerate() {
        add("bo", &format!("U-{k}"), None, "support-reply", base + 90.minutes(), &[*cost]);
    }
    // A refused-only task (cost 0) and one outside the window count nowhere.
    add("bo", "Z", None, "support-reply", base, &[0]);
    add("bo", "old", Some("support-refund@3"), "support-reply", base - 24.hours(), &[1]);
    s.insert_events(&events).await.unwrap();

    let got = s.task_baselines(base, base + 24.hours()).await.unwrap();
    let find = |of: BaselineOf| got.iter().find(|b| b.of == of).cloned();
    assert_eq!(
        find(BaselineOf::Template("support-refund@3".into())),
        Some(TaskBaseline { of: BaselineOf::Template("support-refund@3".into()), tasks: 5, median: Nanos(30) })
    );
    // Use case: 3, 8, 9, 20, 20, 30, 40, 100, 1,000,000: nine tasks, the middle one 20.
    assert_eq!(
        find(BaselineOf::UseCase("support-reply".into())),
        Some(TaskBaseline { of: BaselineOf::UseCase("support-reply".into()), tasks: 9, median: Nanos(20) })
    );
    assert_eq!(got.len(), 2, "{got:?}");
    // The untemplated ones alone: 3, 8, 9, 100 → (8 + 9) / 2, rounded down.
    let later = s.task_baselines(base + 90.minutes(), base + 2.hours()).await.unwrap();
    assert_eq!(
        later,
        vec![TaskBaseline { of: BaselineOf::UseCase("support-reply".into()), tasks: 4, median: Nanos(8) }]
    );
}

/// A ledger from before the tasks table gets one when it is opened, holding
/// what counting every event as it came would have given.
pub async fn the_tasks_migration_counts_events_recorded_before_it(b: &impl Backend) {
    let s = b.store();
    let t0 = ts("2026-11-13T08:00:00Z");
    let mut events = vec![
        task_event("mg-1", t0 + 1.minute(), "ana", "T-1", 40),
        task_event("mg-2", t0 + 2.minutes(), "ana", "T-1", 2),
        task_event("mg-3", t0, "bo", "T-1", 5),
        bare_event("mg-4", t0, "ana", "support", 9),
    ];
    events[0].template = Some("support-refund@3".into());
    events[1].prompt_hash = Some("h".into());
    let mut late = task_event("mg-5", t0 - 1.minute(), "ana", "T-1", 1);
    late.team_id = "data".into();
    late.use_case = None;
    s.insert_events(&events).await.unwrap();
    s.insert_events(&[late]).await.unwrap();
    let counted = s.tasks_between(t0 - 1.hour(), t0 + 1.hour()).await.unwrap();
    assert_eq!(counted.len(), 2);
    drop(s);

    b.execute_raw("DROP TABLE tasks; DELETE FROM schema_migrations WHERE version = 4").await;
    let again = b.reopen().await;
    assert_eq!(again.tasks_between(t0 - 1.hour(), t0 + 1.hour()).await.unwrap(), counted);
    assert_eq!(again.task_cost("ana", "T-1").await.unwrap(), so_far(3, 43));
}
