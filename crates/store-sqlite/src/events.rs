//! Usage events: group-committed inserts (which also capture budget holds),
//! lookups, listings and spend.

use crate::SqliteStore;
use crate::connection::{Inner, corrupt, db_err, lock};
use crate::rows::{EVENT_COLUMNS, event_from_row, int, uint};
use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::sync::Arc;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::budget::Capture;
use tokenwise_ledger::{
    BlockingWriter, EventQuery, EventStore, SpendQuery, SpendRow, StoreError, UsageEvent, to_micros,
};

/// One transaction for the whole batch; ids already stored are skipped.
/// Returns how many were new, and the budget captures they carry.
fn insert(c: &mut Connection, events: &[UsageEvent]) -> Result<(u64, Vec<Capture>), StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
    let mut inserted = 0u64;
    let mut captures = Vec::new();
    let mut fresh: Vec<&UsageEvent> = Vec::new();
    {
        let sql = format!(
            "INSERT OR IGNORE INTO usage_events ({EVENT_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
              ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36)"
        );
        let mut stmt = tx.prepare_cached(&sql).map_err(db_err)?;
        for e in events {
            let values: [Value; 36] = [
                e.id.clone().into(),
                to_micros(e.ts).into(),
                e.source.as_str().to_string().into(),
                e.user_id.clone().into(),
                e.team_id.clone().into(),
                e.project_id.clone().into(),
                e.use_case.clone().into(),
                e.template.clone().into(),
                e.task.clone().into(),
                e.track.as_str().to_string().into(),
                e.destination.clone().into(),
                e.operation.as_str().to_string().into(),
                e.requested_model.clone().into(),
                e.model.clone().into(),
                e.provider.clone().into(),
                int(e.usage.input).into(),
                int(e.usage.output).into(),
                int(e.usage.cached_read).into(),
                int(e.usage.cache_write).into(),
                int(e.usage.reasoning).into(),
                e.cost.0.into(),
                e.price_version.clone().into(),
                i64::from(e.latency_ms).into(),
                e.ttft_ms.map(i64::from).into(),
                i64::from(e.streamed).into(),
                e.status.as_str().to_string().into(),
                i64::from(e.http_status).into(),
                e.error_code.clone().into(),
                i64::from(e.estimated).into(),
                e.data_class.clone().into(),
                e.findings_json().into(),
                e.decision.as_str().to_string().into(),
                e.exception_id.clone().into(),
                e.prompt_hash.clone().into(),
                e.key_id.clone().into(),
                e.budget_keys_json().into(),
            ];
            let new = stmt.execute(params_from_iter(values)).map_err(db_err)? as u64;
            inserted += new;
            if new == 1 {
                fresh.push(e);
            }
            // Capture: the cost joins each envelope's persisted total (a
            // repeated event captures nothing twice).
            if new == 1 && !e.budget_keys.is_empty() {
                let mut cap = tx
                    .prepare_cached("UPDATE budget_envelopes SET captured_nanos = captured_nanos + ?1 WHERE key = ?2")
                    .map_err(db_err)?;
                for key in &e.budget_keys {
                    cap.execute(params![e.cost.0, key]).map_err(db_err)?;
                }
                captures.push(Capture { hold_id: e.id.clone(), keys: e.budget_keys.clone(), cost: e.cost });
            }
        }
    }
    crate::scores::roll_up(&tx, fresh)?;
    tx.commit().map_err(db_err)?;
    Ok((inserted, captures))
}

/// Applies committed captures to the in-memory book.
fn settle(inner: &Inner, captures: &[Capture]) {
    if captures.is_empty() {
        return;
    }
    let mut book = lock(&inner.book);
    for c in captures {
        book.capture(c);
    }
}

/// The group-commit thread's handle on the writer connection.
struct Writer(Arc<Inner>);

impl BlockingWriter for Writer {
    fn insert_events_blocking(&mut self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        let (n, captures) = insert(&mut lock(&self.0.writer), events)?;
        settle(&self.0, &captures);
        Ok(n)
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    fn blocking_writer(&self) -> Option<Box<dyn BlockingWriter>> {
        Some(Box::new(Writer(self.inner.clone())))
    }

    async fn insert_events(&self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let events = events.to_vec();
        let (n, captures) = self.write(move |c| insert(c, &events)).await?;
        settle(&self.inner, &captures);
        Ok(n)
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
