//! Usage events: a whole batch in one statement (which also counts each
//! event in its task's running totals; the budget holds it closes are
//! captured in the same transaction), lookups, listings and spend.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{EVENT_COLUMNS, event_from_row, get, int, uint};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::task::running_totals;
use tokenwise_ledger::{
    Committed, EventQuery, EventStore, SpendQuery, SpendRow, StoreError, TaskSoFar, UsageEvent, to_micros,
};
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

/// One array per column: a whole batch is one `INSERT … SELECT FROM
/// UNNEST(…)` statement, one round trip, one prepared plan for any size.
#[derive(Default)]
struct Columns {
    text: [Vec<Option<String>>; 22],
    int: [Vec<Option<i64>>; 10],
    key_id: Vec<Option<String>>,
    flag: [Vec<bool>; 2],
    budget_keys: Vec<String>,
    minhash: Vec<Option<i64>>,
}

/// The columns in [`Columns`]' order: its texts, its integers, then the
/// rest. One statement stores the batch and records its new events as
/// pending for the daily roll-ups (folded later, off the call's path:
/// `rollups`); it returns the new events' ids (second column NULL) and,
/// with [`TASKS`], each task's totals after the batch.
const INSERT_HEAD: &str = "WITH ins AS (INSERT INTO usage_events (id, source, user_id, team_id, project_id, use_case, \
    template, task, track, destination, operation, requested_model, model, provider, price_version, status, \
    error_code, data_class, findings, decision, exception_id, prompt_hash, \
    ts_us, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, \
    cost_nanos, latency_ms, ttft_ms, http_status, key_id, streamed, estimated, budget_keys, prompt_minhash) \
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
    $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], \
    $23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bigint[], $28::bigint[], \
    $29::bigint[], $30::bigint[], $31::bigint[], $32::bigint[], $33::text[], $34::bool[], $35::bool[], \
    $36::text[], $37::bigint[]) \
    ON CONFLICT (id) DO NOTHING \
    RETURNING id, ts_us, user_id, team_id, use_case, template, task, prompt_hash, cost_nanos, input_tokens, \
    output_tokens), \
    pending AS (INSERT INTO rollup_pending (ids) SELECT array_agg(id) FROM ins HAVING COUNT(*) > 0)";

/// Counts the new events in their tasks' running totals (rows locked in
/// key order, so concurrent batches cannot deadlock on them). A task's
/// first call decides its team, use case, template and prompt hash, each
/// from the earliest call that names one.
const TASKS: &str = ", counted AS (INSERT INTO tasks AS t (user_id, task, team_id, use_case, template, prompt_hash, first_ts_us, \
    last_ts_us, calls, cost_nanos, input_tokens, output_tokens) \
    SELECT user_id, task, (array_agg(team_id ORDER BY ts_us, id))[1], \
    (array_agg(use_case ORDER BY ts_us, id) FILTER (WHERE use_case IS NOT NULL))[1], \
    (array_agg(template ORDER BY ts_us, id) FILTER (WHERE template IS NOT NULL))[1], \
    (array_agg(prompt_hash ORDER BY ts_us, id) FILTER (WHERE prompt_hash IS NOT NULL))[1], \
    MIN(ts_us), MAX(ts_us), COUNT(*), tw_cap(SUM(cost_nanos)), tw_cap(SUM(input_tokens)), \
    tw_cap(SUM(output_tokens)) \
    FROM ins WHERE task IS NOT NULL GROUP BY user_id, task ORDER BY user_id, task \
    ON CONFLICT (user_id, task) DO UPDATE SET \
    calls = tw_add(t.calls, excluded.calls), cost_nanos = tw_add(t.cost_nanos, excluded.cost_nanos), \
    input_tokens = tw_add(t.input_tokens, excluded.input_tokens), \
    output_tokens = tw_add(t.output_tokens, excluded.output_tokens), \
    team_id = CASE WHEN excluded.first_ts_us < t.first_ts_us THEN excluded.team_id ELSE t.team_id END, \
    use_case = CASE WHEN excluded.first_ts_us < t.first_ts_us THEN COALESCE(excluded.use_case, t.use_case) \
               ELSE COALESCE(t.use_case, excluded.use_case) END, \
    template = CASE WHEN excluded.first_ts_us < t.first_ts_us THEN COALESCE(excluded.template, t.template) \
               ELSE COALESCE(t.template, excluded.template) END, \
    prompt_hash = CASE WHEN excluded.first_ts_us < t.first_ts_us THEN COALESCE(excluded.prompt_hash, t.prompt_hash) \
               ELSE COALESCE(t.prompt_hash, excluded.prompt_hash) END, \
    first_ts_us = LEAST(t.first_ts_us, excluded.first_ts_us), \
    last_ts_us = GREATEST(t.last_ts_us, excluded.last_ts_us) \
    RETURNING user_id, task, calls, cost_nanos)";

/// The captures of holds placed against this replica's allowances
/// (`$38`–`$42`: owner, key, grant, event id, cost), for the new events
/// only: in the same statement, so a capture is durable exactly when its
/// event is, and it locks no shared row.
const ESCROW: &str = ", escrow AS (INSERT INTO budget_escrow_captures (owner, key, grant_id, event_id, cost_nanos) \
    SELECT c.owner, c.key, c.grant_id, c.event_id, c.cost FROM UNNEST($38::text[], $39::text[], \
    $40::bigint[], $41::text[], $42::bigint[]) AS c(owner, key, grant_id, event_id, cost) \
    WHERE c.event_id IN (SELECT id FROM ins))";

/// Whether a batch's statement has [`TASKS`] and [`ESCROW`], in the order
/// [`insert_sql`] keeps the four statements.
const PARTS: [(bool, bool); 4] = [(false, false), (false, true), (true, false), (true, true)];

/// The statement for a batch: [`INSERT_HEAD`], then [`TASKS`] when one of
/// its events belongs to a task and [`ESCROW`] when it records captures.
/// Each part left out is a table PostgreSQL does not open, and a plan it
/// does not set up, for every batch (most of a small batch's cost).
fn insert_sql(tasks: bool, escrow: bool) -> &'static str {
    static SQL: std::sync::LazyLock<[String; 4]> = std::sync::LazyLock::new(|| {
        PARTS.map(|(t, e)| {
            let mut sql = String::from(INSERT_HEAD);
            if t {
                sql.push_str(TASKS);
            }
            if e {
                sql.push_str(ESCROW);
            }
            sql.push_str(" SELECT id, NULL::text, NULL::bigint, NULL::bigint FROM ins");
            if t {
                sql.push_str(" UNION ALL SELECT user_id, task, calls, cost_nanos FROM counted");
            }
            sql
        })
    });
    &SQL[usize::from(tasks) * 2 + usize::from(escrow)]
}

/// What the statement returned: the new events' ids, and the totals of
/// the tasks they joined.
#[derive(Default)]
struct Stored {
    new: HashSet<String>,
    tasks: HashMap<(String, String), TaskSoFar>,
}

impl Stored {
    fn of(rows: &[tokio_postgres::Row]) -> Result<Stored, StoreError> {
        let mut out = Stored::default();
        for r in rows {
            let first: String = get(r, 0)?;
            match get::<Option<String>>(r, 1)? {
                None => {
                    out.new.insert(first);
                }
                Some(task) => {
                    let so_far = TaskSoFar { calls: uint(get(r, 2)?), cost: Nanos(get(r, 3)?) };
                    out.tasks.insert((first, task), so_far);
                }
            }
        }
        Ok(out)
    }

    fn committed(&self, events: &[UsageEvent]) -> Committed {
        let new: Vec<bool> = events.iter().map(|e| self.new.contains(&e.id)).collect();
        Committed { new: self.new.len() as u64, tasks: running_totals(events, &new, &self.tasks) }
    }
}

impl Columns {
    fn of(events: &[UsageEvent]) -> Columns {
        let mut c = Columns::default();
        for e in events {
            let texts: [Option<String>; 22] = [
                Some(e.id.clone()),
                Some(e.source.as_str().into()),
                Some(e.user_id.clone()),
                Some(e.team_id.clone()),
                e.project_id.clone(),
                e.use_case.clone(),
                e.template.clone(),
                e.task.clone(),
                Some(e.track.as_str().into()),
                e.destination.clone(),
                Some(e.operation.as_str().into()),
                Some(e.requested_model.clone()),
                Some(e.model.clone()),
                Some(e.provider.clone()),
                Some(e.price_version.clone()),
                Some(e.status.as_str().into()),
                e.error_code.clone(),
                e.data_class.clone(),
                Some(e.findings_json()),
                Some(e.decision.as_str().into()),
                e.exception_id.clone(),
                e.prompt_hash.clone(),
            ];
            for (col, v) in c.text.iter_mut().zip(texts) {
                col.push(v);
            }
            let ints: [Option<i64>; 10] = [
                Some(to_micros(e.ts)),
                Some(int(e.usage.input)),
                Some(int(e.usage.output)),
                Some(int(e.usage.cached_read)),
                Some(int(e.usage.cache_write)),
                Some(int(e.usage.reasoning)),
                Some(e.cost.0),
                Some(i64::from(e.latency_ms)),
                e.ttft_ms.map(i64::from),
                Some(i64::from(e.http_status)),
            ];
            for (col, v) in c.int.iter_mut().zip(ints) {
                col.push(v);
            }
            c.key_id.push(e.key_id.clone());
            c.flag[0].push(e.streamed);
            c.flag[1].push(e.estimated);
            c.budget_keys.push(e.budget_keys_json());
            c.minhash.push(e.prompt_minhash.map(|h| i64::from_ne_bytes(h.to_ne_bytes())));
        }
        c
    }

    /// The statement's parameters, `$1` to `$37`.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(37);
        for col in &self.text {
            params.push(col);
        }
        for col in &self.int {
            params.push(col);
        }
        params.push(&self.key_id);
        for col in &self.flag {
            params.push(col);
        }
        params.push(&self.budget_keys);
        params.push(&self.minhash);
        params
    }
}

/// Captures the holds on the shared rows of the newly stored events among
/// `captures` (event, key): their cost joins each envelope, the rest of
/// the hold is released.
async fn capture(
    tx: &Transaction<'_>,
    captures: &[(&UsageEvent, &String)],
    new: &HashSet<String>,
) -> Result<(), StoreError> {
    let (mut hold_ids, mut cap_keys, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    for (e, k) in captures.iter().filter(|(e, _)| new.contains(&e.id)) {
        hold_ids.push(e.id.clone());
        cap_keys.push((*k).clone());
        costs.push(e.cost.0);
    }
    if hold_ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "WITH c AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS c(hold_id, key, cost)), \
         rel AS (DELETE FROM budget_hold_parts p USING c WHERE p.hold_id = c.hold_id AND p.key = c.key \
                 RETURNING p.hold_id, p.key, p.amount_nanos), \
         x AS (SELECT c.key, tw_cap(SUM(c.cost)) AS cost, COALESCE(SUM(rel.amount_nanos), 0)::BIGINT AS released \
               FROM c LEFT JOIN rel ON rel.hold_id = c.hold_id AND rel.key = c.key GROUP BY c.key) \
         UPDATE budget_envelopes e SET captured_nanos = tw_add(e.captured_nanos, x.cost), \
         held_nanos = e.held_nanos - x.released \
         FROM x WHERE e.key = x.key",
        &[&hold_ids, &cap_keys, &costs],
    )
    .await
    .map_err(db_err)?;
    tx.execute("DELETE FROM budget_holds WHERE hold_id = ANY($1)", &[&hold_ids]).await.map_err(db_err)?;
    Ok(())
}

impl PgStore {
    /// After the commit: the escrow book learns which captures were
    /// recorded, new events are folded into the roll-ups soon, and the
    /// caller gets what was stored.
    fn after_commit(&self, events: &[UsageEvent], stored: &Stored) -> Committed {
        self.escrow_captured(events, &stored.new);
        if !stored.new.is_empty() {
            self.fold_rollups_soon();
        }
        stored.committed(events)
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn commit_events(&self, events: &[UsageEvent]) -> Result<Committed, StoreError> {
        if events.is_empty() {
            return Ok(Committed::default());
        }
        let columns = Columns::of(events);
        let mut params = columns.params();
        // Holds placed against this replica's allowances are captured as
        // rows written by the insert itself; the others on the shared rows.
        let (rows, local) = self.escrow_rows(events);
        let escrow = !rows.event.is_empty();
        if escrow {
            params.extend([&rows.owner as &(dyn ToSql + Sync), &rows.key, &rows.grant, &rows.event, &rows.cost]);
        }
        let sql = insert_sql(events.iter().any(|e| e.task.is_some()), escrow);
        let mut client = self.client().await?;
        let captures: Vec<(&UsageEvent, &String)> = events
            .iter()
            .flat_map(|e| e.budget_keys.iter().map(move |k| (e, k)))
            .filter(|(e, k)| local.get(&e.id).is_none_or(|l| !l.contains(*k)))
            .collect();
        if captures.is_empty() {
            // One statement is one implicit transaction: all rows or none,
            // and with synchronous_commit on (the default) durable when it
            // returns.
            let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
            let stored = Stored::of(&client.query(&stmt, &params).await.map_err(db_err)?)?;
            return Ok(self.after_commit(events, &stored));
        }
        // Events that capture holds on the shared rows: insert and capture
        // in one transaction, the envelopes locked first in key order (as
        // holds lock them).
        let tx = client.transaction().await.map_err(db_err)?;
        let mut keys: Vec<&String> = captures.iter().map(|(_, k)| *k).collect();
        keys.sort();
        keys.dedup();
        tx.query("SELECT key FROM budget_envelopes WHERE key = ANY($1) ORDER BY key FOR UPDATE", &[&keys])
            .await
            .map_err(db_err)?;
        let stmt = tx.prepare_cached(sql).await.map_err(db_err)?;
        let stored = Stored::of(&tx.query(&stmt, &params).await.map_err(db_err)?)?;
        capture(&tx, &captures, &stored.new).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(self.after_commit(events, &stored))
    }

    async fn event(&self, id: &str) -> Result<Option<UsageEvent>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT {EVENT_COLUMNS} FROM usage_events WHERE id = $1"), &[&id])
            .await
            .map_err(db_err)?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn digest_recorded(&self, windows: &[(i64, i64)]) -> Result<Vec<(u64, String)>, StoreError> {
        use futures_util::TryStreamExt;
        let mut fold = tokenwise_ledger::digest::Fold::new(windows);
        let Some((from, to)) = fold.span() else { return Ok(fold.finish()) };
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, recorded_us FROM usage_events \
             WHERE recorded_us >= $1 AND recorded_us < $2 ORDER BY recorded_us, id"
        );
        let client = self.client().await?;
        // Streamed: the rows are hashed as they come, never held at once.
        let rows = client.query_raw(&sql, [&from, &to]).await.map_err(db_err)?;
        futures_util::pin_mut!(rows);
        while let Some(r) = rows.try_next().await.map_err(db_err)? {
            fold.row(get::<i64>(&r, 37)?, &event_from_row(&r)?);
        }
        Ok(fold.finish())
    }

    async fn events(&self, q: &EventQuery) -> Result<Vec<UsageEvent>, StoreError> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM usage_events WHERE TRUE");
        let from = q.from.map(to_micros);
        let to = q.to.map(to_micros);
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let text_filters = [("user_id", &q.user_id), ("team_id", &q.team_id), ("id", &q.request_id), ("task", &q.task)];
        for (col, v) in text_filters {
            if let Some(v) = v {
                params.push(v);
                sql.push_str(&format!(" AND {col} = ${}", params.len()));
            }
        }
        if let Some(v) = &from {
            params.push(v);
            sql.push_str(&format!(" AND ts_us >= ${}", params.len()));
        }
        if let Some(v) = &to {
            params.push(v);
            sql.push_str(&format!(" AND ts_us < ${}", params.len()));
        }
        sql.push_str(&format!(" ORDER BY ts_us DESC, id DESC LIMIT {}", q.effective_limit()));
        let client = self.client().await?;
        let rows = client.query(&sql, &params).await.map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn spend(&self, q: &SpendQuery) -> Result<Vec<SpendRow>, StoreError> {
        let col = q.group_by.column();
        let sql = format!(
            "SELECT {col}, COUNT(*)::BIGINT, SUM(input_tokens)::BIGINT, SUM(output_tokens)::BIGINT, \
             SUM(cached_read_tokens)::BIGINT, SUM(cache_write_tokens)::BIGINT, SUM(reasoning_tokens)::BIGINT, \
             SUM(cost_nanos)::BIGINT FROM usage_events WHERE ts_us >= $1 AND ts_us < $2 \
             GROUP BY {col} ORDER BY SUM(cost_nanos) DESC, {col}"
        );
        let client = self.client().await?;
        let rows = client.query(&sql, &[&to_micros(q.from), &to_micros(q.to)]).await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(SpendRow {
                    key: get(r, 0)?,
                    calls: uint(get(r, 1)?),
                    usage: TokenUsage {
                        input: uint(get(r, 2)?),
                        output: uint(get(r, 3)?),
                        cached_read: uint(get(r, 4)?),
                        cache_write: uint(get(r, 5)?),
                        reasoning: uint(get(r, 6)?),
                    },
                    cost: Nanos(get(r, 7)?),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{PARTS, insert_sql};

    #[test]
    fn each_statement_has_the_parts_its_batch_needs() {
        for (tasks, escrow) in PARTS {
            let sql = insert_sql(tasks, escrow);
            assert!(sql.starts_with("WITH ins AS (INSERT INTO usage_events"));
            assert!(sql.contains("INSERT INTO rollup_pending"));
            assert_eq!(sql.contains("INSERT INTO tasks"), tasks);
            assert_eq!(sql.contains("FROM counted"), tasks);
            assert_eq!(sql.contains("INSERT INTO budget_escrow_captures"), escrow);
            assert_eq!(sql.contains("$42::bigint[]"), escrow);
            assert!(sql.contains("SELECT id, NULL::text, NULL::bigint, NULL::bigint FROM ins"));
        }
    }

    /// PostgreSQL accepts all four statements (only some run in the
    /// suites: a batch with tasks and escrow captures needs both at once).
    #[tokio::test]
    async fn postgres_prepares_every_statement() {
        let Ok(base) = std::env::var("TOKENWISE_TEST_POSTGRES_URL") else { return };
        let schema = format!("tw_unit_events_{}", std::process::id());
        let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        let store = crate::PgStore::connect(&format!("{base}{sep}options=-c%20search_path%3D{schema}"), 1)
            .await
            .expect("store");
        let client = store.client().await.expect("client");
        for (tasks, escrow) in PARTS {
            let stmt = client.prepare(insert_sql(tasks, escrow)).await;
            assert!(stmt.is_ok(), "tasks {tasks}, escrow {escrow}: {stmt:?}");
        }
        drop(client);
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.expect("drop");
    }
}
