//! What reports read: calls summed per charge period and group, exactly,
//! with the period edges honoured to the microsecond.

use crate::events::bare_event;
use crate::{Backend, ts};
use jiff::ToSpan;
use std::collections::BTreeMap as BTreeMapOf;
use tokenwise_core::{FindingKind, Nanos, TokenUsage};
use tokenwise_ledger::*;

const BIG: i64 = 987_654_321_123;

/// Calls around Europe/Berlin's November 1st: before, at and after UTC
/// midnight, and just outside the ranges read.
fn calls() -> (jiff::Timestamp, Vec<UsageEvent>) {
    let start = ts("2026-10-31T23:00:00Z");
    let big = BIG;
    let mut events = Vec::new();
    // (offset from start, team, project, model, cost, cached tokens)
    for (i, (at, team, project, model, cost, cached)) in [
        (0.hours(), "support", None, "gpt-4.1-mini", big, 40),
        (30.minutes(), "support", None, "gpt-4.1-mini", big + 1, 60),
        (59.minutes(), "support", Some("atlas"), "gpt-4.1-mini", 3, 0),
        (1.hour(), "support", None, "gpt-4.1-mini", 5, 10),
        (2.hours(), "data", None, "claude-haiku-4-5", 7, 0),
        (25.hours(), "support", None, "gpt-4.1-mini", 11, 0),
        // Before the first edge and at the last one: outside.
        ((-1).microseconds(), "support", None, "gpt-4.1-mini", 1_000, 0),
        (49.hours(), "support", None, "gpt-4.1-mini", 1_000, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = bare_event(&format!("rep-{i}"), start + at, "ana", team, cost);
        e.project_id = project.map(str::to_string);
        e.use_case = Some("support-reply".into());
        e.model = model.into();
        e.usage = TokenUsage { input: 100, output: 20, cached_read: cached, cache_write: 1, reasoning: 2 };
        events.push(e);
    }
    (start, events)
}

pub async fn usage_totals_sum_per_charge_period_and_group(b: &impl Backend) {
    let s = b.store();
    let (start, events) = calls();
    let big = BIG;
    s.insert_events(&events).await.unwrap();
    let edges = [start, start + 1.hour(), start + 25.hours(), start + 49.hours()];
    let rows = s.usage_totals(&edges, None).await.unwrap();
    let key = |r: &UsageTotals| (r.bucket, r.team_id.clone(), r.project_id.clone(), r.model.clone());
    assert_eq!(
        rows.iter().map(key).collect::<Vec<_>>(),
        vec![
            (0, "support".to_string(), None, "gpt-4.1-mini".to_string()),
            (0, "support".to_string(), Some("atlas".to_string()), "gpt-4.1-mini".to_string()),
            (1, "data".to_string(), None, "claude-haiku-4-5".to_string()),
            (1, "support".to_string(), None, "gpt-4.1-mini".to_string()),
            (2, "support".to_string(), None, "gpt-4.1-mini".to_string()),
        ],
        "ordered by period, then team, project, …"
    );
    let first = &rows[0];
    assert_eq!((first.calls, first.cost), (2, Nanos(2 * big + 1)), "sums stay exact");
    assert_eq!(first.usage, TokenUsage { input: 200, output: 40, cached_read: 100, cache_write: 2, reasoning: 4 });
    assert_eq!((first.use_case.as_deref(), first.provider.as_str()), (Some("support-reply"), "openai"));
    assert_eq!(first.price_version, "text-embedding-3-small@2026-01-01");
    let total: i64 = rows.iter().map(|r| r.cost.0).sum();
    assert_eq!(total, 2 * big + 1 + 3 + 5 + 7 + 11);

    let data = s.usage_totals(&edges, Some("data")).await.unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!((data[0].bucket, data[0].cost), (1, Nanos(7)));
    assert!(s.usage_totals(&edges[..1], None).await.unwrap().is_empty(), "no period, no rows");
}

/// Periods between UTC midnights come from the daily rollup the writer
/// keeps; they agree with the events, alone and mixed with cut periods.
pub async fn usage_totals_of_whole_days_come_from_the_rollup(b: &impl Backend) {
    let s = b.store();
    let (start, events) = calls();
    let big = BIG;
    s.insert_events(&events).await.unwrap();
    let m = |d: &str| ts(&format!("{d}T00:00:00Z"));
    let days = [m("2026-10-31"), m("2026-11-01"), m("2026-11-02"), m("2026-11-03")];
    let rows = s.usage_totals(&days, None).await.unwrap();
    let sums = |rows: &[UsageTotals]| -> Vec<(usize, String, Option<String>, u64, i64)> {
        rows.iter().map(|r| (r.bucket, r.team_id.clone(), r.project_id.clone(), r.calls, r.cost.0)).collect()
    };
    let support = "support".to_string();
    assert_eq!(
        sums(&rows),
        vec![
            (0, support.clone(), None, 3, 2 * big + 1 + 1_000),
            (0, support.clone(), Some("atlas".to_string()), 1, 3),
            (1, "data".to_string(), None, 1, 7),
            (1, support.clone(), None, 1, 5),
            (2, support.clone(), None, 1, 11),
        ]
    );
    assert_eq!(rows[0].usage, TokenUsage { input: 300, output: 60, cached_read: 100, cache_write: 3, reasoning: 6 });
    let mixed = s.usage_totals(&[start, days[1], days[3]], None).await.unwrap();
    assert_eq!(
        sums(&mixed),
        vec![
            (0, support.clone(), None, 2, 2 * big + 1),
            (0, support.clone(), Some("atlas".to_string()), 1, 3),
            (1, "data".to_string(), None, 1, 7),
            (1, support, None, 2, 16),
        ]
    );
    let data = s.usage_totals(&days, Some("data")).await.unwrap();
    assert_eq!(sums(&data), vec![(1, "data".to_string(), None, 1, 7)]);
    // A retried batch counts nothing twice in the rollup either.
    s.insert_events(&events).await.unwrap();
    assert_eq!(sums(&s.usage_totals(&days, None).await.unwrap()), sums(&rows));
}

/// Prompts that began tasks of several teams, counted by the database.
pub async fn shared_prompts_are_those_of_several_teams(b: &impl Backend) {
    let s = b.store();
    let at = ts("2026-11-10T10:00:00Z");
    let mut events = Vec::new();
    // (user, team, task, template, prompt hash)
    for (i, (user, team, task, template, hash)) in [
        ("ana", "support", "S-1", None, "aaaa"),
        ("ana", "support", "S-2", Some("reply@1"), "aaaa"),
        ("bo", "data", "D-1", None, "aaaa"),
        ("bo", "data", "D-2", None, "aaaa"),
        // One team only: not shared.
        ("ana", "support", "S-3", None, "bbbb"),
        ("cy", "support", "S-4", None, "bbbb"),
        // Shared, but its tasks ended outside the range.
        ("cy", "support", "S-5", None, "cccc"),
        ("bo", "data", "D-3", None, "cccc"),
    ]
    .into_iter()
    .enumerate()
    {
        let when = if hash == "cccc" && team == "data" { at + (30 * 24).hours() } else { at + (i as i64).minutes() };
        let mut e = bare_event(&format!("sp-{i}"), when, user, team, 1);
        e.task = Some(task.into());
        e.template = template.map(str::to_string);
        e.prompt_hash = Some(hash.into());
        events.push(e);
    }
    s.insert_events(&events).await.unwrap();
    let shared = s.shared_prompts(at, at + 24.hours()).await.unwrap();
    let got: Vec<(&str, &str, Option<&str>, u64)> =
        shared.iter().map(|r| (r.prompt_hash.as_str(), r.team_id.as_str(), r.template.as_deref(), r.tasks)).collect();
    assert_eq!(
        got,
        vec![("aaaa", "data", None, 2), ("aaaa", "support", None, 1), ("aaaa", "support", Some("reply@1"), 1)]
    );
}

/// The usage rollup's migration fills it from events stored before it.
pub async fn the_usage_rollup_migration_counts_events_recorded_before_it(b: &impl Backend) {
    let s = b.store();
    let (_, events) = calls();
    s.insert_events(&events).await.unwrap();
    let m = |d: &str| ts(&format!("{d}T00:00:00Z"));
    let days = [m("2026-10-31"), m("2026-11-01"), m("2026-11-02"), m("2026-11-03")];
    let kept = s.usage_totals(&days, None).await.unwrap();
    assert_eq!(kept.len(), 5);
    drop(s);

    b.execute_raw("DROP TABLE usage_daily; DELETE FROM schema_migrations WHERE version = 9").await;
    let again = b.reopen().await;
    assert_eq!(again.usage_totals(&days, None).await.unwrap(), kept);
}

/// The calls the policy acted on, counted per use case, decision, status and
/// findings; calls that passed untouched and calls outside the range are not.
pub async fn decision_counts_are_the_calls_the_policy_acted_on(b: &impl Backend) {
    let s = b.store();
    let at = ts("2026-11-10T10:00:00Z");
    let card = BTreeMapOf::from([(FindingKind::CreditCard, 1u32)]);
    let mut events = Vec::new();
    // (use case, decision, status, findings, minutes from `at`)
    for (i, (use_case, decision, status, findings, minutes)) in [
        (Some("support-reply"), Decision::Redact, Status::Ok, card.clone(), 0),
        (Some("support-reply"), Decision::Redact, Status::Ok, card.clone(), 1),
        (Some("support-reply"), Decision::Block, Status::Blocked, BTreeMapOf::new(), 2),
        (None, Decision::Allow, Status::Ok, card.clone(), 3),
        // Untouched, and outside the range: not counted.
        (Some("support-reply"), Decision::Allow, Status::Ok, BTreeMapOf::new(), 4),
        (Some("support-reply"), Decision::Redact, Status::Ok, card.clone(), 24 * 60),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = bare_event(&format!("dc-{i}"), at + minutes.minutes(), "ana", "support", 1);
        e.use_case = use_case.map(str::to_string);
        e.decision = decision;
        e.status = status;
        e.findings = findings;
        events.push(e);
    }
    s.insert_events(&events).await.unwrap();
    let got = s.decision_counts(at, at + 24.hours()).await.unwrap();
    let got: Vec<(Option<&str>, &str, &str, &str, u64)> = got
        .iter()
        .map(|r| (r.use_case.as_deref(), r.decision.as_str(), r.status.as_str(), r.findings.as_str(), r.calls))
        .collect();
    assert_eq!(
        got,
        vec![
            (None, "allow", "ok", "{\"credit_card\":1}", 1),
            (Some("support-reply"), "block", "blocked", "{}", 1),
            (Some("support-reply"), "redact", "ok", "{\"credit_card\":1}", 2),
        ]
    );
}

/// Money and tokens past what a signed 64-bit integer holds ($9.2 billion
/// in a day: an admin importing ~9,300 calls at ingest's $1M-a-record
/// bound): the day's roll-ups, the task's and the envelope's totals stop
/// at the largest integer instead of turning into floats (SQLite) or
/// failing every later fold and read (PostgreSQL); every event is kept and
/// later batches still commit.
pub async fn sums_past_the_largest_integer_stop_there(b: &impl Backend) {
    use crate::budgets::{capturing, envelope, state};
    let s = b.store();
    let env = envelope("ingest|team:support|2026-11-01", 100, false);
    s.budget_ensure(std::slice::from_ref(&env)).await.unwrap();
    let day = ts("2026-11-10T00:00:00Z");
    let third = i64::MAX / 3 + 1;
    let huge = |i: i64| {
        let mut e = capturing(&format!("huge-{i}"), &[&env], third);
        e.ts = day + i.hours();
        e.task = Some("T-huge".into());
        e.usage = TokenUsage { input: 4_000_000_000_000_000_000, output: 1, ..Default::default() };
        e
    };
    // Two batches take the sums past the limit; the third and fourth add to
    // sums already there.
    s.insert_events(&[huge(0), huge(1)]).await.unwrap();
    s.insert_events(&[huge(2)]).await.unwrap();
    s.insert_events(&[huge(3)]).await.unwrap();
    s.insert_events(&[huge(4), huge(5)]).await.unwrap();
    assert!(s.event("huge-5").await.unwrap().is_some());

    let max = Nanos(i64::MAX);
    let activity = s.activity(day, day + 24.hours()).await.unwrap();
    assert_eq!(
        activity.iter().map(|r| (r.calls, r.tokens, r.cost)).collect::<Vec<_>>(),
        vec![(6, i64::MAX as u64, max)]
    );
    let usage = s.usage_totals(&[day, day + 24.hours()], None).await.unwrap();
    assert_eq!(
        usage.iter().map(|r| (r.calls, r.usage.input, r.usage.output, r.cost)).collect::<Vec<_>>(),
        vec![(6, i64::MAX as u64, 6, max)]
    );
    let d = day.as_microsecond() / 86_400_000_000;
    let models = s.model_days(d, d + 1).await.unwrap();
    assert_eq!(models.iter().map(|r| (r.calls, r.tokens, r.cost)).collect::<Vec<_>>(), vec![(6, i64::MAX as u64, max)]);
    let tasks = s.tasks_of(&[("ivan.petrov".to_string(), "T-huge".to_string())]).await.unwrap();
    assert_eq!(
        tasks.iter().map(|t| (t.calls, t.cost, t.input_tokens, t.output_tokens)).collect::<Vec<_>>(),
        vec![(6, max, i64::MAX as u64, 6)]
    );
    assert_eq!(state(s.as_ref(), &env.key).await, (i64::MAX, 0), "the envelope's captured sum stops too");
    // As another replica reads them, from the database alone.
    let again = b.reopen().await;
    again.budget_ensure(std::slice::from_ref(&env)).await.unwrap();
    assert_eq!(state(again.as_ref(), &env.key).await.0, i64::MAX);
    assert_eq!(again.activity(day, day + 24.hours()).await.unwrap()[0].cost, max);
}
