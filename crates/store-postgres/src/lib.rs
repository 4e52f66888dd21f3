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
use tokenwise_ledger::{
    ApiKey, AuditDraft, AuditEntry, EventQuery, SpendQuery, SpendRow, Store, StoreError, UsageEvent, from_micros,
    to_micros,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "init", include_str!("../migrations/0001_init.sql"))];
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
    http_status, error_code, estimated, data_class, findings, decision, exception_id, prompt_hash, key_id";

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
        let sql = "INSERT INTO usage_events (id, source, user_id, team_id, project_id, use_case, template, task, \
            track, destination, operation, requested_model, model, provider, price_version, status, error_code, \
            data_class, findings, decision, exception_id, prompt_hash, \
            ts_us, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, \
            cost_nanos, latency_ms, ttft_ms, http_status, key_id, streamed, estimated) \
            SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], \
            $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], \
            $23::bigint[], $24::bigint[], $25::bigint[], $26::bigint[], $27::bigint[], $28::bigint[], \
            $29::bigint[], $30::bigint[], $31::bigint[], $32::bigint[], $33::text[], $34::bool[], $35::bool[]) \
            ON CONFLICT (id) DO NOTHING";
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
        // One statement is one implicit transaction: all rows or none, and
        // with synchronous_commit on (the default) durable when it returns.
        client.execute(&stmt, &params).await.map_err(db_err)
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

    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditEntry, StoreError> {
        let mut entries = self.append_audit_batch(std::slice::from_ref(draft)).await?;
        entries.pop().ok_or_else(|| StoreError::Backend("no audit entry written".into()))
    }

    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        // Serialises appenders across every replica until commit.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK]).await.map_err(db_err)?;
        let head =
            tx.query_opt("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", &[]).await.map_err(db_err)?;
        let mut head: Option<(i64, String)> =
            head.map(|r| Ok::<_, StoreError>((get(&r, 0)?, get(&r, 1)?))).transpose()?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO audit_log (seq, ts_us, actor, action, subject, details, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await
            .map_err(db_err)?;
        let mut out = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let e = AuditEntry::next(head.as_ref().map(|(s, h)| (*s, h.as_str())), draft);
            tx.execute(&stmt, &[&e.seq, &e.ts_us, &e.actor, &e.action, &e.subject, &e.details, &e.prev_hash, &e.hash])
                .await
                .map_err(db_err)?;
            head = Some((e.seq, e.hash.clone()));
            out.push(e);
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
}
