//! Usage events: group-committed inserts (which also capture budget holds
//! and count each event in its task's running totals), lookups, listings
//! and spend.

use crate::SqliteStore;
use crate::connection::{Inner, corrupt, db_err, lock};
use crate::rows::{EVENT_COLUMNS, event_from_row, int, uint};
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::rollup::{DayKey, DayTotals, ModelKey, ModelTotals, model_rollup, rollup};
use tokenwise_ledger::store::reports::{DayKey as UsageKey, DaySums, usage_rollup};
use tokenwise_ledger::task::{running_totals, task_deltas};
use tokenwise_ledger::{
    BlockingWriter, Committed, EventQuery, EventStore, SpendQuery, SpendRow, StoreError, TaskDelta, TaskSoFar,
    UsageEvent, to_micros,
};

/// Adds a batch's calls of one task to its row (creating it), and returns
/// the task's totals after them. When the batch's first call is earlier
/// than the task's first so far (an ingested call, say), it becomes the
/// first: its team, use case, template and prompt hash win, each where it
/// names one.
const COUNT_IN_TASK: &str = concat!(
    "INSERT INTO tasks (user_id, task, team_id, use_case, template, prompt_hash, \
     first_ts_us, last_ts_us, calls, cost_nanos, input_tokens, output_tokens) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
     ON CONFLICT (user_id, task) DO UPDATE SET ",
    add_excluded!("calls", "cost_nanos", "input_tokens", "output_tokens"),
    ", team_id = CASE WHEN excluded.first_ts_us < first_ts_us THEN excluded.team_id ELSE team_id END, \
     use_case = CASE WHEN excluded.first_ts_us < first_ts_us THEN COALESCE(excluded.use_case, use_case) \
                ELSE COALESCE(use_case, excluded.use_case) END, \
     template = CASE WHEN excluded.first_ts_us < first_ts_us THEN COALESCE(excluded.template, template) \
                ELSE COALESCE(template, excluded.template) END, \
     prompt_hash = CASE WHEN excluded.first_ts_us < first_ts_us THEN COALESCE(excluded.prompt_hash, prompt_hash) \
                ELSE COALESCE(prompt_hash, excluded.prompt_hash) END, \
     first_ts_us = MIN(first_ts_us, excluded.first_ts_us), last_ts_us = MAX(last_ts_us, excluded.last_ts_us) \
     RETURNING calls, cost_nanos"
);
const RETURNING_TOTALS: &str = " RETURNING calls, cost_nanos";

/// Counts the batch's new events in their tasks, one statement per task
/// (not per event). Returns each event's task totals once it was counted
/// (derived from its task's totals after the batch) when `totals` asks for
/// them; an import does not.
fn count_in_tasks<'a>(
    tx: &rusqlite::Transaction<'_>,
    events: &[UsageEvent],
    new: &[bool],
    deltas: BTreeMap<(&'a str, &'a str), TaskDelta<'a>>,
    totals: bool,
) -> Result<Vec<Option<TaskSoFar>>, StoreError> {
    if deltas.is_empty() {
        return Ok(vec![None; if totals { events.len() } else { 0 }]);
    }
    // RETURNING costs an ephemeral table per statement: only when asked.
    let sql = if totals { COUNT_IN_TASK } else { COUNT_IN_TASK.trim_end_matches(RETURNING_TOTALS) };
    let mut stmt = tx.prepare_cached(sql).map_err(db_err)?;
    let mut after = HashMap::with_capacity(if totals { deltas.len() } else { 0 });
    for ((user, task), d) in deltas {
        let values = params![
            user,
            task,
            d.team_id,
            d.use_case,
            d.template,
            d.prompt_hash,
            to_micros(d.first_ts),
            to_micros(d.last_ts),
            int(d.calls),
            d.cost.0,
            int(d.input_tokens),
            int(d.output_tokens)
        ];
        if !totals {
            stmt.execute(values).map_err(db_err)?;
            continue;
        }
        let so_far = stmt
            .query_row(values, |r| Ok(TaskSoFar { calls: uint(r.get(0)?), cost: Nanos(r.get(1)?) }))
            .map_err(db_err)?;
        after.insert((user.to_string(), task.to_string()), so_far);
    }
    Ok(if totals { running_totals(events, new, &after) } else { Vec::new() })
}

/// Where `recorded_us` comes after [`EVENT_COLUMNS`] in a select.
const RECORDED_AT: usize = 37;

/// A value bound to the insert, borrowed from its event: compared with
/// the previous event's so that only what changed is bound again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Arg::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Arg::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Arg::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
        })
    }
}

fn text(t: &str) -> Arg<'_> {
    Arg::Text(t)
}

fn opt(t: &Option<String>) -> Arg<'_> {
    t.as_deref().map_or(Arg::Null, Arg::Text)
}

fn num(v: Option<i64>) -> Arg<'static> {
    v.map_or(Arg::Null, Arg::Int)
}

/// Parameters of the insert ([`EVENT_COLUMNS`], then `recorded_us`).
const ARGS: usize = 38;
/// The 0-based places of the two texts made for each event (not borrowed).
const FINDINGS: usize = 30;
const BUDGET_KEYS: usize = 35;

/// An event's values, in [`EVENT_COLUMNS`] order, the findings and budget
/// keys left out (they are texts made from the event: see [`Binder`]).
fn args(e: &UsageEvent, recorded_us: i64) -> [Arg<'_>; ARGS] {
    let minhash = e.prompt_minhash.map(|h| i64::from_ne_bytes(h.to_ne_bytes()));
    [
        text(&e.id),
        Arg::Int(to_micros(e.ts)),
        text(e.source.as_str()),
        text(&e.user_id),
        text(&e.team_id),
        opt(&e.project_id),
        opt(&e.use_case),
        opt(&e.template),
        opt(&e.task),
        text(e.track.as_str()),
        opt(&e.destination),
        text(e.operation.as_str()),
        text(&e.requested_model),
        text(&e.model),
        text(&e.provider),
        Arg::Int(int(e.usage.input)),
        Arg::Int(int(e.usage.output)),
        Arg::Int(int(e.usage.cached_read)),
        Arg::Int(int(e.usage.cache_write)),
        Arg::Int(int(e.usage.reasoning)),
        Arg::Int(e.cost.0),
        text(&e.price_version),
        Arg::Int(i64::from(e.latency_ms)),
        num(e.ttft_ms.map(i64::from)),
        Arg::Int(i64::from(e.streamed)),
        text(e.status.as_str()),
        Arg::Int(i64::from(e.http_status)),
        opt(&e.error_code),
        Arg::Int(i64::from(e.estimated)),
        opt(&e.data_class),
        Arg::Null, // FINDINGS
        text(e.decision.as_str()),
        opt(&e.exception_id),
        opt(&e.prompt_hash),
        opt(&e.key_id),
        Arg::Null, // BUDGET_KEYS
        num(minhash),
        Arg::Int(recorded_us),
    ]
}

/// Binds a batch's events to the insert one after the other, each value
/// only when it differs from the one bound for the event before (a
/// statement keeps its bindings from one execution to the next): an
/// import's source, operation, status, decision and empty findings are
/// bound once a batch instead of once an event, and SQLite copies every
/// text it is given.
#[derive(Default)]
struct Binder<'a> {
    /// What is bound now; None before the batch's first event.
    bound: Option<[Arg<'a>; ARGS]>,
    findings: String,
    /// The budget keys whose JSON is bound now.
    keys_of: Option<&'a [String]>,
    /// The JSON of each list of budget keys seen in the batch: a subject's
    /// events all draw on the same envelopes.
    keys_json: HashMap<&'a [String], String>,
}

impl<'a> Binder<'a> {
    /// Inserts one event unless its id is stored: 1 if it was new.
    /// `recorded_us` is when its batch was written (usage digests cover
    /// rows by it).
    fn insert(
        &mut self,
        stmt: &mut rusqlite::CachedStatement<'_>,
        e: &'a UsageEvent,
        recorded_us: i64,
    ) -> Result<u64, StoreError> {
        let args = args(e, recorded_us);
        let first = self.bound.is_none();
        for (i, a) in args.iter().enumerate() {
            let same = self.bound.as_ref().is_some_and(|b| b[i] == *a);
            if i != FINDINGS && i != BUDGET_KEYS && !same {
                stmt.raw_bind_parameter(i + 1, a).map_err(db_err)?;
            }
        }
        self.bound = Some(args);
        // Most events have no findings: their JSON is `{}`, not worth a serializer.
        let findings: std::borrow::Cow<'_, str> =
            if e.findings.is_empty() { "{}".into() } else { e.findings_json().into() };
        if first || findings != self.findings.as_str() {
            stmt.raw_bind_parameter(FINDINGS + 1, findings.as_ref()).map_err(db_err)?;
            self.findings = findings.into_owned();
        }
        if self.keys_of != Some(e.budget_keys.as_slice()) {
            let json = self.keys_json.entry(&e.budget_keys).or_insert_with(|| e.budget_keys_json());
            stmt.raw_bind_parameter(BUDGET_KEYS + 1, json.as_str()).map_err(db_err)?;
            self.keys_of = Some(&e.budget_keys);
        }
        Ok(stmt.raw_execute().map_err(db_err)? as u64)
    }
}

/// Batches at least this large (an import's) have their sums made on a
/// thread beside the writer while it inserts: the writer is an import's
/// bottleneck, and the sums do not depend on the inserts unless an event
/// turns out to be stored already (then the writer sums the new ones).
const SUMS_BESIDE_FROM: usize = 1_000;

/// What a batch's new events add to the roll-ups, their tasks and their
/// envelopes, keyed by texts borrowed from the events.
struct Sums<'a> {
    usage: BTreeMap<UsageKey<'a>, DaySums>,
    models: BTreeMap<ModelKey<'a>, ModelTotals>,
    days: BTreeMap<DayKey<'a>, DayTotals>,
    tasks: BTreeMap<(&'a str, &'a str), TaskDelta<'a>>,
    /// Each envelope's captured cost: joins its persisted total (a
    /// repeated event captures nothing twice), written once per batch.
    captures: BTreeMap<&'a str, i64>,
}

impl<'a> Sums<'a> {
    /// `events` and `new` side by side: only new events count.
    fn of(events: &'a [UsageEvent], new: &[bool]) -> Sums<'a> {
        let fresh = || events.iter().zip(new).filter(|(_, n)| **n).map(|(e, _)| e);
        let mut captures = BTreeMap::new();
        for e in fresh() {
            for key in &e.budget_keys {
                let c: &mut i64 = captures.entry(key.as_str()).or_insert(0);
                *c = c.saturating_add(e.cost.0);
            }
        }
        Sums {
            usage: usage_rollup(fresh()),
            models: model_rollup(fresh()),
            days: rollup(fresh()),
            tasks: task_deltas(events, new),
            captures,
        }
    }
}

/// One transaction for the whole batch; ids already stored are skipped.
/// Returns what it committed, and the budget captures the new events carry.
fn insert<'a>(
    c: &mut Connection,
    events: &'a [UsageEvent],
    totals: bool,
) -> Result<(Committed, Captured<'a>), StoreError> {
    std::thread::scope(|scope| {
        let beside =
            (events.len() >= SUMS_BESIDE_FROM).then(|| scope.spawn(|| Sums::of(events, &vec![true; events.len()])));
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
        // Read once the write lock is held: batches are stamped in the order
        // they commit, so a digest of the rows recorded before a time is exact.
        let recorded_us = to_micros(jiff::Timestamp::now());
        let new = insert_rows(&tx, events, recorded_us)?;
        let inserted = new.iter().filter(|n| **n).count();
        let sums = match beside.map(|h| h.join()) {
            Some(Ok(sums)) if inserted == events.len() => sums,
            _ => Sums::of(events, &new),
        };
        {
            let mut cap = tx
                .prepare_cached(concat!(
                    "UPDATE budget_envelopes SET captured_nanos = ",
                    capped!("captured_nanos", "?1"),
                    " WHERE key = ?2"
                ))
                .map_err(db_err)?;
            for (key, cost) in &sums.captures {
                cap.execute(params![cost, key]).map_err(db_err)?;
            }
        }
        let fresh: Vec<&UsageEvent> = events.iter().zip(&new).filter(|(_, n)| **n).map(|(e, _)| e).collect();
        let captured = Captured {
            holds: fresh.iter().filter(|e| !e.budget_keys.is_empty()).map(|e| e.id.as_str()).collect(),
            sums: sums.captures,
        };
        let tasks = count_in_tasks(&tx, events, &new, sums.tasks, totals)?;
        crate::reports::roll_up(&tx, sums.usage)?;
        crate::anomalies::roll_up_models(&tx, sums.models)?;
        crate::anomalies::count_prompts(&tx, &fresh)?;
        crate::scores::roll_up(&tx, sums.days)?;
        tx.commit().map_err(db_err)?;
        Ok((Committed { new: inserted as u64, tasks }, captured))
    })
}

/// Inserts the batch's events (an id already stored is skipped): which
/// of them were new.
fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    events: &[UsageEvent],
    recorded_us: i64,
) -> Result<Vec<bool>, StoreError> {
    let sql = format!(
        "INSERT OR IGNORE INTO usage_events ({EVENT_COLUMNS}, recorded_us) VALUES \
         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
          ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38)"
    );
    let mut stmt = tx.prepare_cached(&sql).map_err(db_err)?;
    let mut binder = Binder::default();
    let mut new = Vec::with_capacity(events.len());
    for e in events {
        new.push(binder.insert(&mut stmt, e, recorded_us)? == 1);
    }
    Ok(new)
}

/// What a committed batch captured: the holds its new events release (a
/// hold's id is its event's), and their costs summed per envelope.
struct Captured<'a> {
    holds: Vec<&'a str>,
    sums: BTreeMap<&'a str, i64>,
}

/// Commits a batch on the writer, then applies its captures to the
/// in-memory book (the writer's lock released first).
fn commit(inner: &Inner, events: &[UsageEvent], totals: bool) -> Result<Committed, StoreError> {
    let (committed, captured) = insert(&mut inner.writer(), events, totals)?;
    if !captured.holds.is_empty() {
        let mut book = lock(&inner.book);
        for id in captured.holds {
            book.release(id);
        }
        for (key, cost) in captured.sums {
            book.add_captured(key, Nanos(cost));
        }
    }
    Ok(committed)
}

/// The group-commit thread's handle on the writer connection.
struct Writer(Arc<Inner>);

impl BlockingWriter for Writer {
    fn commit_events_blocking(&mut self, events: &[UsageEvent]) -> Result<Committed, StoreError> {
        commit(&self.0, events, true)
    }

    fn import_events_blocking(&mut self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        Ok(commit(&self.0, events, false)?.new)
    }

    fn after_batch(&mut self) {
        if let Some(wal) = &self.0.wal {
            wal.catch_up(&mut lock(&self.0.writer));
        }
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    fn blocking_writer(&self) -> Option<Box<dyn BlockingWriter>> {
        Some(Box::new(Writer(self.inner.clone())))
    }

    async fn commit_events(&self, events: &[UsageEvent]) -> Result<Committed, StoreError> {
        if events.is_empty() {
            return Ok(Committed::default());
        }
        let (events, inner) = (events.to_vec(), self.inner.clone());
        tokio::task::spawn_blocking(move || commit(&inner, &events, true))
            .await
            .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }

    async fn event(&self, id: &str) -> Result<Option<UsageEvent>, StoreError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(&format!("SELECT {EVENT_COLUMNS} FROM usage_events WHERE id = ?1"), [id], event_from_row)
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn digest_recorded(&self, windows: &[(i64, i64)]) -> Result<Vec<(u64, String)>, StoreError> {
        let mut fold = tokenwise_ledger::digest::Fold::new(windows);
        let Some((from, to)) = fold.span() else { return Ok(fold.finish()) };
        self.read(move |c| {
            let sql = format!(
                "SELECT {EVENT_COLUMNS}, recorded_us FROM usage_events \
                 WHERE recorded_us >= ?1 AND recorded_us < ?2 ORDER BY recorded_us, id"
            );
            let mut stmt = c.prepare(&sql).map_err(db_err)?;
            let mut rows = stmt.query(params![from, to]).map_err(db_err)?;
            while let Some(r) = rows.next().map_err(db_err)? {
                let recorded: i64 = r.get(RECORDED_AT).map_err(corrupt)?;
                fold.row(recorded, &event_from_row(r).map_err(corrupt)?);
            }
            Ok(fold.finish())
        })
        .await
    }

    async fn events(&self, q: &EventQuery) -> Result<Vec<UsageEvent>, StoreError> {
        let q = q.clone();
        self.read(move |c| {
            let mut sql = format!("SELECT {EVENT_COLUMNS} FROM usage_events WHERE 1 = 1");
            let mut args: Vec<Value> = Vec::new();
            let mut filter = |clause: &str, v: Value, sql: &mut String| {
                args.push(v);
                sql.push_str(&format!(" AND {clause} ?{}", args.len()));
            };
            if let Some(v) = &q.user_id {
                filter("user_id =", v.clone().into(), &mut sql);
            }
            if let Some(v) = &q.team_id {
                filter("team_id =", v.clone().into(), &mut sql);
            }
            if let Some(v) = &q.request_id {
                filter("id =", v.clone().into(), &mut sql);
            }
            if let Some(v) = &q.task {
                filter("task =", v.clone().into(), &mut sql);
            }
            if let Some(v) = q.from {
                filter("ts_us >=", to_micros(v).into(), &mut sql);
            }
            if let Some(v) = q.to {
                filter("ts_us <", to_micros(v).into(), &mut sql);
            }
            sql.push_str(&format!(" ORDER BY ts_us DESC, id DESC LIMIT {}", q.effective_limit()));
            let mut stmt = c.prepare(&sql).map_err(db_err)?;
            let rows = stmt.query_map(params_from_iter(args), event_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn spend(&self, q: &SpendQuery) -> Result<Vec<SpendRow>, StoreError> {
        let col = q.group_by.column();
        let (from, to) = (to_micros(q.from), to_micros(q.to));
        self.read(move |c| {
            let sql = format!(
                "SELECT {col}, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cached_read_tokens), \
                 SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_nanos) FROM usage_events \
                 WHERE ts_us >= ?1 AND ts_us < ?2 GROUP BY {col} ORDER BY SUM(cost_nanos) DESC, {col}"
            );
            let mut stmt = c.prepare(&sql).map_err(db_err)?;
            let rows = stmt
                .query_map(params![from, to], |r| {
                    Ok(SpendRow {
                        key: r.get(0)?,
                        calls: uint(r.get(1)?),
                        usage: TokenUsage {
                            input: uint(r.get(2)?),
                            output: uint(r.get(3)?),
                            cached_read: uint(r.get(4)?),
                            cache_write: uint(r.get(5)?),
                            reasoning: uint(r.get(6)?),
                        },
                        cost: Nanos(r.get(7)?),
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenwise_core::FindingKind;
    use tokenwise_ledger::EventSource;

    /// Consecutive events of one batch differ in every way a value can (a
    /// text to another, to NULL and back, findings and budget keys coming,
    /// changing and going): each reads back as it was written, though only
    /// what changed from the event before is bound again.
    #[tokio::test]
    async fn a_batch_binds_only_what_changed_and_stores_each_event_whole() {
        let store = SqliteStore::open("sqlite://:memory:").unwrap();
        let at = |i: i64| jiff::Timestamp::from_second(1_800_000_000 + i).unwrap();
        let user = |i: i64| if i % 2 == 0 { "ann" } else { "bob" };
        let ev = |i: i64| UsageEvent::builder(format!("e{i}"), at(i), EventSource::Gateway, user(i), "t", "m", "p");
        let keys = |k: &[&str]| k.iter().map(|k| (*k).to_string()).collect::<Vec<_>>();
        let mut events = vec![
            ev(0)
                .project(Some("p1"))
                .timing(40, Some(7))
                .findings(BTreeMap::from([(FindingKind::Email, 2)]))
                .budget_keys(keys(&["k1", "k2"]))
                .build(),
            ev(1).build(),
            ev(2).project(Some("p1")).task(Some("T")).budget_keys(keys(&["k1", "k2"])).build(),
            ev(3)
                .project(Some("p2"))
                .task(Some("T"))
                .findings(BTreeMap::from([(FindingKind::CreditCard, 1)]))
                .budget_keys(keys(&["k1"]))
                .build(),
            ev(4).timing(40, Some(7)).findings(BTreeMap::from([(FindingKind::CreditCard, 1)])).build(),
            ev(5).budget_keys(keys(&["k1", "k2"])).build(),
        ];
        events[1].prompt_minhash = Some(u64::MAX);
        events[2].prompt_minhash = Some(3);
        let committed = store.commit_events(&events).await.unwrap();
        assert_eq!(committed.new, 6);
        for e in &events {
            assert_eq!(store.event(&e.id).await.unwrap().as_ref(), Some(e), "{}", e.id);
        }
        // A second batch starts with everything bound afresh.
        let later = vec![ev(6).build(), ev(7).project(Some("p1")).build()];
        assert_eq!(store.commit_events(&later).await.unwrap().new, 2);
        for e in &later {
            assert_eq!(store.event(&e.id).await.unwrap().as_ref(), Some(e), "{}", e.id);
        }
    }

    /// Every table a batch writes to besides the events, each row as text,
    /// sorted: what two ledgers must agree on.
    fn sums_in(path: &std::path::Path) -> Vec<(String, Vec<String>)> {
        let c = Connection::open(path).unwrap();
        ["usage_daily", "model_daily", "activity_daily", "prompt_daily", "sketch_daily", "tasks", "budget_envelopes"]
            .iter()
            .map(|t| {
                let mut st = c.prepare(&format!("SELECT * FROM {t}")).unwrap();
                let n = st.column_count();
                let mut rows: Vec<String> = st
                    .query_map([], |r| Ok((0..n).map(|i| format!("{:?}", r.get::<_, Value>(i).unwrap())).collect()))
                    .unwrap()
                    .map(|r: rusqlite::Result<Vec<String>>| r.unwrap().join("|"))
                    .collect();
                rows.sort();
                ((*t).to_string(), rows)
            })
            .collect()
    }

    /// A batch large enough to be summed beside the writer leaves the
    /// roll-ups, tasks and envelopes exactly as the same events in small
    /// batches do — also when part of it was stored before (then only the
    /// new events count, summed by the writer).
    #[tokio::test]
    async fn a_large_batch_sums_beside_the_writer_as_small_batches_do() {
        use tokenwise_ledger::BudgetStore;
        let dir = tempfile::tempdir().unwrap();
        let n = (SUMS_BESIDE_FROM * 2 + 300) as i64;
        let users = ["ann", "bob", "cy", "dee", "eve"];
        let events: Vec<UsageEvent> = (0..n)
            .map(|i| {
                let u = users[(i % 5) as usize];
                // Three days; a task for one call in three; two envelopes.
                let at = jiff::Timestamp::from_second(1_800_000_000 + i * 97).unwrap();
                let mut e = UsageEvent::builder(format!("e{i}"), at, EventSource::Gateway, u, "t", "m", "p")
                    .project(Some(if i % 4 == 0 { "p1" } else { "p2" }))
                    .task((i % 3 == 0).then(|| format!("T{}", i % 40)).as_deref())
                    .budget_keys(vec!["org".to_string(), format!("user:{u}")])
                    .build();
                e.cost = Nanos(1_000 + i);
                e.use_case = Some(["a", "b"][(i % 2) as usize].to_string());
                e.template = (i % 7 == 0).then(|| "tpl".to_string());
                e.model = ["m1", "m2", "m3"][(i % 3) as usize].to_string();
                e.prompt_hash = Some(format!("h{}", i % 11));
                e.prompt_minhash = Some(i as u64 % 13);
                e
            })
            .collect();
        let envelopes: Vec<_> = ["org", "user:ann", "user:bob", "user:cy", "user:dee", "user:eve"]
            .iter()
            .map(|k| tokenwise_store_tests::envelope(k, i64::MAX / 4, false))
            .collect();
        let open = |name: &str| {
            let path = dir.path().join(name);
            (SqliteStore::open(&format!("sqlite://{}", path.display())).unwrap(), path)
        };
        // Small batches: summed on the writer.
        let (small, small_path) = open("small.db");
        small.budget_ensure(&envelopes).await.unwrap();
        for chunk in events.chunks(7) {
            small.commit_events(chunk).await.unwrap();
        }
        // One large batch, all new: summed beside.
        let (whole, whole_path) = open("whole.db");
        whole.budget_ensure(&envelopes).await.unwrap();
        let mut w = whole.blocking_writer().unwrap();
        assert_eq!(w.import_events_blocking(&events).unwrap(), n as u64);
        // A large batch of which the first half was stored before.
        let (again, again_path) = open("again.db");
        again.budget_ensure(&envelopes).await.unwrap();
        let mut w = again.blocking_writer().unwrap();
        let half = events.len() / 2;
        assert_eq!(w.import_events_blocking(&events[..half]).unwrap(), half as u64);
        assert_eq!(w.import_events_blocking(&events).unwrap(), (events.len() - half) as u64);
        let expected = sums_in(&small_path);
        assert!(expected.iter().all(|(_, rows)| !rows.is_empty()), "{expected:?}");
        assert_eq!(sums_in(&whole_path), expected);
        assert_eq!(sums_in(&again_path), expected);
    }
}
