//! The store for larger deployments: many stateless `tokenwise serve`
//! replicas share one PostgreSQL database. Every write is one statement or
//! one short transaction; anything that must be serialised across replicas
//! (the audit chain, migrations) takes a PostgreSQL advisory lock, never a
//! read-then-write race.

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use jiff::Timestamp;
use std::str::FromStr;
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::budget::{EnvelopeSpec, EnvelopeState, HoldRequest, HoldResult, judge};
use tokenwise_ledger::{
    ApiKey, AuditDraft, AuditEntry, EventQuery, Exception, SpendQuery, SpendRow, Store, StoreError, UsageEvent,
    from_micros, to_micros,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "budgets", include_str!("../migrations/0002_budgets.sql")),
];
/// Advisory lock keys (arbitrary, fixed): one for migrations, one for the
/// audit chain's head.
const MIGRATION_LOCK: i64 = 0x746f_6b77_0001;
const AUDIT_LOCK: i64 = 0x746f_6b77_0002;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("status", &self.pool.status()).finish()
    }
}

fn db_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION {
            return StoreError::Conflict(db.message().to_string());
        }
        return StoreError::Backend(db.message().to_string());
    }
    StoreError::Backend(e.to_string())
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_err(e),
        other => StoreError::Backend(format!("postgres pool: {other}")),
    }
}

impl PgStore {
    /// Connects to `postgres://…` (the URL may carry libpq options such as
    /// `?options=-c%20search_path%3Dtenant`) and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: usize) -> Result<PgStore, StoreError> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the connection pool: {e}")))?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client.transaction().await.map_err(db_err)?;
        // Replicas starting together migrate one at a time.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db_err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)",
        )
        .await
        .map_err(db_err)?;
        for (version, name, sql) in MIGRATIONS {
            let done = tx
                .query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version])
                .await
                .map_err(db_err)?
                .is_some();
            if !done {
                tx.batch_execute(sql)
                    .await
                    .map_err(|e| StoreError::Config(format!("migration {version} ({name}) failed: {e}")))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_us) VALUES ($1, $2, $3)",
                    &[version, name, &to_micros(Timestamp::now())],
                )
                .await
                .map_err(db_err)?;
            }
        }
        tx.commit().await.map_err(db_err)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Creates envelopes seen for the first time (once per scope and period).
    async fn create_envelopes<'a>(&self, specs: impl Iterator<Item = &'a EnvelopeSpec>) -> Result<(), StoreError> {
        let specs: Vec<&EnvelopeSpec> = specs.collect();
        let col = |f: fn(&EnvelopeSpec) -> String| specs.iter().map(|s| f(s)).collect::<Vec<String>>();
        let num = |f: fn(&EnvelopeSpec) -> i64| specs.iter().map(|s| f(s)).collect::<Vec<i64>>();
        let hards: Vec<bool> = specs.iter().map(|s| s.hard).collect();
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO budget_envelopes (key, budget_id, scope, period_start_us, period_end_us, limit_nanos, hard, alert_at)                  SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bool[],                  $8::text[]) ON CONFLICT (key) DO NOTHING",
                &[
                    &col(|s| s.key.clone()),
                    &col(|s| s.budget_id.clone()),
                    &col(|s| s.scope.clone()),
                    &num(|s| to_micros(s.period_start)),
                    &num(|s| to_micros(s.period_end)),
                    &num(|s| s.limit.0),
                    &hards,
                    &col(|s| serde_json::to_string(&s.alert_at_percent).unwrap_or_else(|_| "[]".into())),
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn small(v: i64, column: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{column} = {v} is out of range")))
}

fn parse<T: FromStr>(text: &str, column: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> Result<T, StoreError> {
    r.try_get(i).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const EVENT_COLUMNS: &str = "id, ts_us, source, user_id, team_id, project_id, use_case, template, task, track, \
    destination, operation, requested_model, model, provider, input_tokens, output_tokens, cached_read_tokens, \
    cache_write_tokens, reasoning_tokens, cost_nanos, price_version, latency_ms, ttft_ms, streamed, status, \
    http_status, error_code, estimated, data_class, findings, decision, exception_id, prompt_hash, key_id, budget_keys";

fn event_from_row(r: &Row) -> Result<UsageEvent, StoreError> {
    Ok(UsageEvent {
        id: get(r, 0)?,
        ts: from_micros(get(r, 1)?),
        source: parse(get(r, 2)?, "source")?,
        user_id: get(r, 3)?,
        team_id: get(r, 4)?,
        project_id: get(r, 5)?,
        use_case: get(r, 6)?,
        template: get(r, 7)?,
        task: get(r, 8)?,
        track: parse(get(r, 9)?, "track")?,
        destination: get(r, 10)?,
        operation: parse(get(r, 11)?, "operation")?,
        requested_model: get(r, 12)?,
        model: get(r, 13)?,
        provider: get(r, 14)?,
        usage: TokenUsage {
            input: uint(get(r, 15)?),
            output: uint(get(r, 16)?),
            cached_read: uint(get(r, 17)?),
            cache_write: uint(get(r, 18)?),
            reasoning: uint(get(r, 19)?),
        },
        cost: Nanos(get(r, 20)?),
        price_version: get(r, 21)?,
        latency_ms: small(get(r, 22)?, "latency_ms")?,
        ttft_ms: get::<Option<i64>>(r, 23)?.map(|v| small(v, "ttft_ms")).transpose()?,
        streamed: get(r, 24)?,
        status: parse(get(r, 25)?, "status")?,
        http_status: u16::try_from(get::<i64>(r, 26)?).map_err(|e| StoreError::Corrupt(format!("http_status: {e}")))?,
        error_code: get(r, 27)?,
        estimated: get(r, 28)?,
        data_class: get(r, 29)?,
        findings: UsageEvent::parse_findings(get(r, 30)?),
        decision: parse(get(r, 31)?, "decision")?,
        exception_id: get(r, 32)?,
        prompt_hash: get(r, 33)?,
        key_id: get(r, 34)?,
        budget_keys: UsageEvent::parse_budget_keys(get(r, 35)?),
    })
}

const KEY_COLUMNS: &str = "id, key_hash, prefix, user_id, use_case, project_id, track, label, created_us, revoked_us";

fn key_from_row(r: &Row) -> Result<ApiKey, StoreError> {
    let track: Option<String> = get(r, 6)?;
    Ok(ApiKey {
        id: get(r, 0)?,
        hash: get(r, 1)?,
        prefix: get(r, 2)?,
        user_id: get(r, 3)?,
        use_case: get(r, 4)?,
        project_id: get(r, 5)?,
        track: track.map(|t| parse(&t, "track")).transpose()?,
        label: get(r, 7)?,
        created_at: from_micros(get(r, 8)?),
        revoked_at: get::<Option<i64>>(r, 9)?.map(from_micros),
    })
}

const EXCEPTION_COLUMNS: &str = "id, scope, reason_code, justification, requested_by, status, cap_nanos, duration_secs, \
    models, data_class, created_us, decided_by, decided_us, valid_until_us";

fn exception_from_row(r: &Row) -> Result<Exception, StoreError> {
    Ok(Exception {
        id: get(r, 0)?,
        scope: get(r, 1)?,
        reason_code: get(r, 2)?,
        justification: get(r, 3)?,
        requested_by: get(r, 4)?,
        status: parse(get(r, 5)?, "status")?,
        cap: Nanos(get(r, 6)?),
        duration_secs: get(r, 7)?,
        models: serde_json::from_str(get(r, 8)?).unwrap_or_default(),
        data_class: get(r, 9)?,
        created_at: from_micros(get(r, 10)?),
        decided_by: get(r, 11)?,
        decided_at: get::<Option<i64>>(r, 12)?.map(from_micros),
        valid_until: get::<Option<i64>>(r, 13)?.map(from_micros),
    })
}

fn envelope_from_row(r: &Row) -> Result<EnvelopeState, StoreError> {
    Ok(EnvelopeState {
        spec: EnvelopeSpec {
            key: get(r, 0)?,
            budget_id: get(r, 1)?,
            scope: get(r, 2)?,
            period_start: from_micros(get(r, 3)?),
            period_end: from_micros(get(r, 4)?),
            limit: Nanos(get(r, 5)?),
            hard: get(r, 6)?,
            alert_at_percent: serde_json::from_str(get(r, 7)?).unwrap_or_default(),
        },
        captured: Nanos(get(r, 8)?),
        held: Nanos(get(r, 9)?),
        alerted: u32::try_from(get::<i32>(r, 10)?).unwrap_or(0),
    })
}

fn audit_from_row(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: get(r, 0)?,
        ts_us: get(r, 1)?,
        actor: get(r, 2)?,
        action: get(r, 3)?,
        subject: get(r, 4)?,
        details: get(r, 5)?,
        prev_hash: get(r, 6)?,
        hash: get(r, 7)?,
    })
}

/// One array per column: a whole batch is one `INSERT … SELECT FROM
/// UNNEST(…)` statement, one round trip, one prepared plan for any size.
#[derive(Default)]
struct Columns {
    text: [Vec<Option<String>>; 22],
    int: [Vec<Option<i64>>; 10],
    flag: [Vec<bool>; 2],
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn insert_events(&self, events: &[UsageEvent]) -> Result<u64, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
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
            c.flag[0].push(e.streamed);
            c.flag[1].push(e.estimated);
        }
        let key_ids: Vec<Option<String>> = events.iter().map(|e| e.key_id.clone()).collect();
        let budget_keys: Vec<String> = events.iter().map(UsageEvent::budget_keys_json).collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(36);
        for col in &c.text {
            params.push(col);
        }
        for col in &c.int {
            params.push(col);
        }
        params.push(&key_ids);
        for col in &c.flag {
            params.push(col);
        }
        params.push(&budget_keys);
        let sql = "INSERT INTO usage_events (id, source, user_id, team_id, project_id, use_case, template, task, \
            track, destination, operation, requested_model, model, provider, price_version, status, error_code, \
            data_class, findings, decision, exception_id, prompt_hash, \
            ts_us, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, \
            cost_nanos, latency_ms, ttft_ms, http_status, key_id, streamed, estimated, budget_keys) \
            SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
            $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], \
            $23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bigint[], $28::bigint[], \
            $29::bigint[], $30::bigint[], $31::bigint[], $32::bigint[], $33::text[], $34::bool[], $35::bool[], \
            $36::text[]) \
            ON CONFLICT (id) DO NOTHING RETURNING id";
        let mut client = self.client().await?;
        let captures: Vec<&UsageEvent> = events.iter().filter(|e| !e.budget_keys.is_empty()).collect();
        if captures.is_empty() {
            // One statement is one implicit transaction: all rows or none,
            // and with synchronous_commit on (the default) durable when it
            // returns.
            let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
            return Ok(client.query(&stmt, &params).await.map_err(db_err)?.len() as u64);
        }
        // Events that capture holds: insert and capture in one transaction,
        // the envelopes locked first in key order (as holds lock them).
        let tx = client.transaction().await.map_err(db_err)?;
        let mut keys: Vec<&String> = captures.iter().flat_map(|e| e.budget_keys.iter()).collect();
        keys.sort();
        keys.dedup();
        tx.query("SELECT key FROM budget_envelopes WHERE key = ANY($1) ORDER BY key FOR UPDATE", &[&keys])
            .await
            .map_err(db_err)?;
        let stmt = tx.prepare_cached(sql).await.map_err(db_err)?;
        let new: std::collections::HashSet<String> = tx
            .query(&stmt, &params)
            .await
            .map_err(db_err)?
            .iter()
            .filter_map(|r| r.try_get::<_, String>(0).ok())
            .collect();
        let (mut hold_ids, mut cap_keys, mut costs) = (Vec::new(), Vec::new(), Vec::new());
        for e in captures.iter().filter(|e| new.contains(&e.id)) {
            for k in &e.budget_keys {
                hold_ids.push(e.id.clone());
                cap_keys.push(k.clone());
                costs.push(e.cost.0);
            }
        }
        if !hold_ids.is_empty() {
            tx.execute(
                "WITH c AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS c(hold_id, key, cost)), \
                 rel AS (DELETE FROM budget_hold_parts p USING c WHERE p.hold_id = c.hold_id AND p.key = c.key \
                         RETURNING p.hold_id, p.key, p.amount_nanos), \
                 x AS (SELECT c.key, SUM(c.cost)::BIGINT AS cost, COALESCE(SUM(rel.amount_nanos), 0)::BIGINT AS released \
                       FROM c LEFT JOIN rel ON rel.hold_id = c.hold_id AND rel.key = c.key GROUP BY c.key) \
                 UPDATE budget_envelopes e SET captured_nanos = e.captured_nanos + x.cost, held_nanos = e.held_nanos - x.released \
                 FROM x WHERE e.key = x.key",
                &[&hold_ids, &cap_keys, &costs],
            )
            .await
            .map_err(db_err)?;
            tx.execute("DELETE FROM budget_holds WHERE hold_id = ANY($1)", &[&hold_ids]).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(new.len() as u64)
    }

    async fn event(&self, id: &str) -> Result<Option<UsageEvent>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT {EVENT_COLUMNS} FROM usage_events WHERE id = $1"), &[&id])
            .await
            .map_err(db_err)?;
        row.as_ref().map(event_from_row).transpose()
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

    async fn insert_api_key(&self, k: &ApiKey) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                &[
                    &k.id,
                    &k.hash,
                    &k.prefix,
                    &k.user_id,
                    &k.use_case,
                    &k.project_id,
                    &k.track.map(|t| t.as_str()),
                    &k.label,
                    &to_micros(k.created_at),
                    &k.revoked_at.map(to_micros),
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1"), &[&hash])
            .await
            .map_err(db_err)?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn api_keys_for_user(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_us, id"),
                &[&user_id],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute("UPDATE api_keys SET revoked_us = $2 WHERE id = $1 AND revoked_us IS NULL", &[&id, &to_micros(at)])
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        // Serialises appenders across every replica until commit.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await.map_err(db_err)?;
        let head =
            tx.query_opt("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &[]).await.map_err(db_err)?;
        let head: Option<(i64, String)> = head.map(|r| Ok::<_, StoreError>((get(&r, 0)?, get(&r, 1)?))).transpose()?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO audit_log (seq, ts_us, actor, action, subject, details, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await
            .map_err(db_err)?;
        let out = AuditEntry::chain(head, drafts);
        for e in &out {
            tx.execute(&stmt, &[&e.seq, &e.ts_us, &e.actor, &e.action, &e.subject, &e.details, &e.prev_hash, &e.hash])
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(out)
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT seq, ts_us, actor, action, subject, details, prev_hash, hash FROM audit_log \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after_seq, &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn budget_hold(&self, req: &HoldRequest, owner: &str) -> Result<HoldResult, StoreError> {
        let keys: Vec<&str> = req.parts.iter().map(|p| p.envelope.key.as_str()).collect();
        let amounts: Vec<i64> = req.parts.iter().map(|p| p.amount.0).collect();
        let limits: Vec<i64> = req.parts.iter().map(|p| p.envelope.limit.0).collect();
        let hards: Vec<bool> = req.parts.iter().map(|p| p.envelope.hard).collect();
        let expires = to_micros(req.expires_at);
        // One statement, one round trip: lock the envelopes in key order,
        // check every hard one, and only if all fit add the hold to each and
        // record it. No read-then-write race: the check and the update see
        // the same locked rows.
        let sql = "WITH req AS (SELECT r.key, SUM(r.amount)::BIGINT AS amount, MAX(r.lim) AS lim, bool_or(r.hard) AS hard \
                   FROM UNNEST($4::text[], $5::bigint[], $6::bigint[], $7::bool[]) AS r(key, amount, lim, hard) GROUP BY r.key), \
             locked AS (SELECT e.key, e.captured_nanos, e.held_nanos FROM budget_envelopes e \
                        WHERE e.key IN (SELECT key FROM req) ORDER BY e.key FOR UPDATE), \
             verdict AS (SELECT (SELECT count(*) FROM locked) = (SELECT count(*) FROM req) AS present, \
                                COALESCE(bool_and(NOT r.hard OR l.captured_nanos + l.held_nanos + r.amount <= r.lim), false) AS fits \
                         FROM req r JOIN locked l USING (key)), \
             upd AS (UPDATE budget_envelopes e SET held_nanos = e.held_nanos + r.amount, limit_nanos = r.lim, hard = r.hard \
                     FROM req r, verdict v WHERE e.key = r.key AND v.present AND v.fits RETURNING e.key), \
             hold AS (INSERT INTO budget_holds (hold_id, owner, expires_us) SELECT $1, $2, $3 FROM verdict v \
                      WHERE v.present AND v.fits RETURNING hold_id), \
             parts AS (INSERT INTO budget_hold_parts (hold_id, key, amount_nanos) SELECT $1, r.key, r.amount FROM req r, verdict v \
                       WHERE v.present AND v.fits RETURNING key) \
             SELECT v.present, v.fits, l.key, l.captured_nanos, l.held_nanos FROM verdict v LEFT JOIN locked l ON true";
        for attempt in 0..2 {
            // The connection goes back to the pool before envelopes are
            // created below (which takes one): no task ever waits for a
            // second connection while holding the first.
            let rows = {
                let client = self.client().await?;
                let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
                client
                    .query(&stmt, &[&req.id, &owner, &expires, &keys, &amounts, &limits, &hards])
                    .await
                    .map_err(db_err)?
            };
            let present = rows.first().map(|r| get::<bool>(r, 0)).transpose()?.unwrap_or(false);
            let fits = rows.first().map(|r| get::<bool>(r, 1)).transpose()?.unwrap_or(false);
            let mut state = std::collections::HashMap::new();
            for r in &rows {
                if let Some(k) = get::<Option<String>>(r, 2)? {
                    state.insert(k, (get::<i64>(r, 3)?, get::<i64>(r, 4)?));
                }
            }
            if present {
                // The locked rows are as they were before this hold; the SQL
                // applied the same rule, so the verdicts agree.
                let before =
                    |key: &str| state.get(key).map_or((Nanos::ZERO, Nanos::ZERO), |&(c, h)| (Nanos(c), Nanos(h)));
                return match judge(req, before) {
                    r if r.is_held() == fits => Ok(r),
                    _ => Err(StoreError::Backend("the hold's SQL and its rule disagree".into())),
                };
            }
            if attempt == 0 {
                self.create_envelopes(req.parts.iter().map(|p| &p.envelope)).await?;
            }
        }
        Err(StoreError::Backend("budget envelopes could not be created".into()))
    }

    async fn budget_renew(&self, owner: &str, ids: &[String], until: Timestamp) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        client
            .execute(
                "UPDATE budget_holds SET expires_us = GREATEST(expires_us, $2) WHERE owner = $1 AND hold_id = ANY($3)",
                &[&owner, &to_micros(until), &ids],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn budget_expire(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let dead: Vec<String> = tx
            .query("SELECT hold_id FROM budget_holds WHERE expires_us <= $1 FOR UPDATE SKIP LOCKED", &[&to_micros(now)])
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| get::<String>(r, 0))
            .collect::<Result<_, _>>()?;
        if dead.is_empty() {
            return Ok(0);
        }
        tx.query(
            "SELECT key FROM budget_envelopes WHERE key IN (SELECT key FROM budget_hold_parts WHERE hold_id = ANY($1)) \
             ORDER BY key FOR UPDATE",
            &[&dead],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "WITH rel AS (DELETE FROM budget_hold_parts WHERE hold_id = ANY($1) RETURNING key, amount_nanos), \
             x AS (SELECT key, SUM(amount_nanos)::BIGINT AS amount FROM rel GROUP BY key) \
             UPDATE budget_envelopes e SET held_nanos = e.held_nanos - x.amount FROM x WHERE e.key = x.key",
            &[&dead],
        )
        .await
        .map_err(db_err)?;
        tx.execute("DELETE FROM budget_holds WHERE hold_id = ANY($1)", &[&dead]).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(dead.len() as u64)
    }

    async fn budget_envelopes(&self, at: Timestamp) -> Result<Vec<EnvelopeState>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT key, budget_id, scope, period_start_us, period_end_us, limit_nanos, hard, alert_at, captured_nanos, \
                 held_nanos, alerted FROM budget_envelopes WHERE period_start_us <= $1 AND $1 < period_end_us ORDER BY key",
                &[&to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(envelope_from_row).collect()
    }

    async fn budget_claim_alerts(&self, at: Timestamp) -> Result<Vec<(EnvelopeState, u32)>, StoreError> {
        let current = self.budget_envelopes(at).await?;
        let client = self.client().await?;
        let mut out = Vec::new();
        for e in current {
            for (bit, pct) in tokenwise_ledger::budget::crossed(&e) {
                let bit_i = i32::try_from(bit).unwrap_or(i32::MAX);
                let won = client
                    .execute(
                        "UPDATE budget_envelopes SET alerted = alerted | $2 WHERE key = $1 AND (alerted & $2) = 0",
                        &[&e.spec.key, &bit_i],
                    )
                    .await
                    .map_err(db_err)?;
                if won == 1 {
                    out.push((e.clone(), pct));
                }
            }
        }
        Ok(out)
    }

    async fn budget_unlock(
        &self,
        key: &str,
        tranche: u32,
        at: Timestamp,
        facts: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "INSERT INTO budget_unlocks (key, tranche, at_us, facts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&key, &i32::try_from(tranche).unwrap_or(i32::MAX), &to_micros(at), &facts.to_string()],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn budget_unlocks(&self, keys: &[String]) -> Result<Vec<(String, u32)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT key, tranche FROM budget_unlocks WHERE key = ANY($1) ORDER BY key, tranche", &[&keys])
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| Ok((get(r, 0)?, u32::try_from(get::<i32>(r, 1)?).unwrap_or(0)))).collect()
    }

    async fn insert_exception(&self, e: &Exception) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO exceptions ({EXCEPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"),
                &[
                    &e.id,
                    &e.scope,
                    &e.reason_code,
                    &e.justification,
                    &e.requested_by,
                    &e.status.as_str(),
                    &e.cap.0,
                    &e.duration_secs,
                    &serde_json::to_string(&e.models).unwrap_or_else(|_| "[]".into()),
                    &e.data_class,
                    &to_micros(e.created_at),
                    &e.decided_by,
                    &e.decided_at.map(to_micros),
                    &e.valid_until.map(to_micros),
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn exception(&self, id: &str) -> Result<Option<Exception>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&format!("SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = $1"), &[&id])
            .await
            .map_err(db_err)?;
        row.as_ref().map(exception_from_row).transpose()
    }

    async fn decide_exception(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        at: Timestamp,
    ) -> Result<Option<Exception>, StoreError> {
        let client = self.client().await?;
        let status = if approve { "approved" } else { "denied" };
        let row = client
            .query_opt(
                &format!(
                    "UPDATE exceptions SET status = $2, decided_by = $3, decided_us = $4, \
                     valid_until_us = CASE WHEN $2 = 'approved' THEN $4 + duration_secs * 1000000 ELSE NULL END \
                     WHERE id = $1 AND status = 'pending' RETURNING {EXCEPTION_COLUMNS}"
                ),
                &[&id, &status, &by, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        row.as_ref().map(exception_from_row).transpose()
    }

    async fn active_exceptions(&self, scopes: &[String], at: Timestamp) -> Result<Vec<Exception>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE scope = ANY($1) AND status = 'approved' \
                     AND decided_us <= $2 AND $2 < valid_until_us ORDER BY decided_us, id"
                ),
                &[&scopes, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(exception_from_row).collect()
    }
}
