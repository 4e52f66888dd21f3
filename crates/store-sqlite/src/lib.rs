//! The embedded store: one SQLite file in WAL mode. One writer connection
//! (SQLite allows one writer at a time anyway; the ledger's group commit
//! feeds it batches) and a small pool of readers that never block it.
//! Durability is chosen per deployment (`server.durability`): `PowerLoss`
//! (`synchronous = FULL`, the default) fsyncs every committed batch, so an
//! acknowledged usage record survives a power cut; `ProcessCrash`
//! (`synchronous = NORMAL`) hands each committed batch to the OS, so it
//! survives any crash of tokenwise itself but not of the machine, at a
//! fraction of the latency.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ledger::budget::{Book, Capture, EnvelopeSpec, EnvelopeState, HoldRequest, HoldResult};
use tokenwise_ledger::{
    ApiKey, AuditDraft, AuditEntry, BlockingWriter, EventQuery, Exception, SpendQuery, SpendRow, Store, StoreError,
    UsageEvent, from_micros, to_micros,
};

/// What an acknowledged write must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    #[default]
    PowerLoss,
    ProcessCrash,
}

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "budgets", include_str!("../migrations/0002_budgets.sql")),
];
const MAX_IDLE_READERS: usize = 8;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish()
    }
}

struct Inner {
    /// None for an in-memory database, whose readers must share the writer.
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Budget envelopes and open holds: one process, so in memory under one
    /// lock (atomic holds in microseconds); captured totals are persisted
    /// with the usage events that capture them.
    book: Mutex<Book>,
}

fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(msg.unwrap_or_else(|| f.to_string()))
        }
        other => StoreError::Backend(other.to_string()),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a rusqlite connection in
    // a state worse than the error it returned; keep using it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens `sqlite://PATH` (or a bare path, or `sqlite://:memory:`),
    /// creating the file, its folder and the schema as needed.
    pub fn open(url: &str) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(url, Durability::PowerLoss)
    }

    pub fn open_with(url: &str, durability: Durability) -> Result<SqliteStore, StoreError> {
        let target = url.strip_prefix("sqlite://").unwrap_or(url);
        let path = if target == ":memory:" { None } else { Some(PathBuf::from(target)) };
        if let Some(dir) = path.as_deref().and_then(Path::parent).filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer = match &path {
            Some(p) => Connection::open(p),
            None => Connection::open_in_memory(),
        }
        .map_err(|e| StoreError::Config(format!("cannot open {url}: {e}")))?;
        configure(&writer, Some(durability)).map_err(db_err)?;
        migrate(&mut writer)?;
        let inner = Arc::new(Inner {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            book: Mutex::new(Book::default()),
        });
        if let Some(p) = &inner.path {
            start_checkpointer(p, Arc::downgrade(&inner))?;
        }
        Ok(SqliteStore { inner })
    }

    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Runs `f` on the writer connection on the blocking pool.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&inner.writer)))
            .await
            .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }

    /// Runs `f` on a pooled read-only connection (the writer, in memory).
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let Some(path) = &inner.path else {
                return f(&lock(&inner.writer));
            };
            let pooled = lock(&inner.readers).pop();
            let conn = match pooled {
                Some(c) => c,
                None => {
                    let c = Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                    .map_err(db_err)?;
                    configure(&c, None).map_err(db_err)?;
                    c
                }
            };
            let out = f(&conn);
            let mut idle = lock(&inner.readers);
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Backend(format!("sqlite task failed: {e}")))?
    }
}

/// Copies the WAL back into the database from a thread of its own, so no
/// request's commit ever pays for a checkpoint (SQLite's default runs one
/// inside whichever commit crosses 1,000 pages, a multi-millisecond stall).
/// Passive checkpoints never block the writer; once everything is copied,
/// the next commit starts the WAL from the beginning, keeping it small.
/// The thread ends once the store is dropped.
fn start_checkpointer(path: &Path, store: std::sync::Weak<Inner>) -> Result<(), StoreError> {
    let conn = Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(1)).map_err(db_err)?;
    std::thread::Builder::new()
        .name("tokenwise-checkpoint".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                if store.strong_count() == 0 {
                    return;
                }
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!(error = %e, "checkpoint skipped");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| StoreError::Backend(format!("cannot start the checkpoint thread: {e}")))
}

/// `writer` is the durability of the writer connection; None for readers.
fn configure(c: &Connection, writer: Option<Durability>) -> rusqlite::Result<()> {
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    if let Some(d) = writer {
        c.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match d {
            Durability::PowerLoss => "FULL",
            Durability::ProcessCrash => "NORMAL",
        };
        c.pragma_update(None, "synchronous", sync)?;
        // Checkpoints run on their own thread; see `start_checkpointer`.
        c.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    c.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(c: &mut Connection) -> Result<(), StoreError> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us INTEGER NOT NULL)",
    )
    .map_err(db_err)?;
    for (version, name, sql) in MIGRATIONS {
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
        let done: bool = tx
            .query_row("SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)", [version], |r| r.get(0))
            .map_err(db_err)?;
        if !done {
            tx.execute_batch(sql)
                .map_err(|e| StoreError::Config(format!("migration {version} ({name}) failed: {e}")))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_us) VALUES (?1, ?2, ?3)",
                params![version, name, to_micros(Timestamp::now())],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
    }
    Ok(())
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const EVENT_COLUMNS: &str = "id, ts_us, source, user_id, team_id, project_id, use_case, template, task, track, \
    destination, operation, requested_model, model, provider, input_tokens, output_tokens, cached_read_tokens, \
    cache_write_tokens, reasoning_tokens, cost_nanos, price_version, latency_ms, ttft_ms, streamed, status, \
    http_status, error_code, estimated, data_class, findings, decision, exception_id, prompt_hash, key_id, budget_keys";

fn parse<T: std::str::FromStr>(text: String, column: &str) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse::<T>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("{column}: {e}").into())
    })
}

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<UsageEvent> {
    Ok(UsageEvent {
        id: r.get(0)?,
        ts: from_micros(r.get(1)?),
        source: parse(r.get(2)?, "source")?,
        user_id: r.get(3)?,
        team_id: r.get(4)?,
        project_id: r.get(5)?,
        use_case: r.get(6)?,
        template: r.get(7)?,
        task: r.get(8)?,
        track: parse(r.get(9)?, "track")?,
        destination: r.get(10)?,
        operation: parse(r.get(11)?, "operation")?,
        requested_model: r.get(12)?,
        model: r.get(13)?,
        provider: r.get(14)?,
        usage: TokenUsage {
            input: uint(r.get(15)?),
            output: uint(r.get(16)?),
            cached_read: uint(r.get(17)?),
            cache_write: uint(r.get(18)?),
            reasoning: uint(r.get(19)?),
        },
        cost: Nanos(r.get(20)?),
        price_version: r.get(21)?,
        latency_ms: r.get(22)?,
        ttft_ms: r.get(23)?,
        streamed: r.get(24)?,
        status: parse(r.get(25)?, "status")?,
        http_status: r.get(26)?,
        error_code: r.get(27)?,
        estimated: r.get(28)?,
        data_class: r.get(29)?,
        findings: UsageEvent::parse_findings(&r.get::<_, String>(30)?),
        decision: parse(r.get(31)?, "decision")?,
        exception_id: r.get(32)?,
        prompt_hash: r.get(33)?,
        key_id: r.get(34)?,
        budget_keys: UsageEvent::parse_budget_keys(&r.get::<_, String>(35)?),
    })
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let track: Option<String> = r.get(6)?;
    Ok(ApiKey {
        id: r.get(0)?,
        hash: r.get(1)?,
        prefix: r.get(2)?,
        user_id: r.get(3)?,
        use_case: r.get(4)?,
        project_id: r.get(5)?,
        track: track.map(|t| parse(t, "track")).transpose()?,
        label: r.get(7)?,
        created_at: from_micros(r.get(8)?),
        revoked_at: r.get::<_, Option<i64>>(9)?.map(from_micros),
    })
}

const KEY_COLUMNS: &str = "id, key_hash, prefix, user_id, use_case, project_id, track, label, created_us, revoked_us";

const EXCEPTION_COLUMNS: &str = "id, scope, reason_code, justification, requested_by, status, cap_nanos, duration_secs, \
    models, data_class, created_us, decided_by, decided_us, valid_until_us";

fn exception_from_row(r: &Row<'_>) -> rusqlite::Result<Exception> {
    Ok(Exception {
        id: r.get(0)?,
        scope: r.get(1)?,
        reason_code: r.get(2)?,
        justification: r.get(3)?,
        requested_by: r.get(4)?,
        status: parse(r.get(5)?, "status")?,
        cap: Nanos(r.get(6)?),
        duration_secs: r.get(7)?,
        models: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        data_class: r.get(9)?,
        created_at: from_micros(r.get(10)?),
        decided_by: r.get(11)?,
        decided_at: r.get::<_, Option<i64>>(12)?.map(from_micros),
        valid_until: r.get::<_, Option<i64>>(13)?.map(from_micros),
    })
}

fn envelope_from_row(r: &Row<'_>) -> rusqlite::Result<EnvelopeState> {
    Ok(EnvelopeState {
        spec: EnvelopeSpec {
            key: r.get(0)?,
            budget_id: r.get(1)?,
            scope: r.get(2)?,
            period_start: from_micros(r.get(3)?),
            period_end: from_micros(r.get(4)?),
            limit: Nanos(r.get(5)?),
            hard: r.get(6)?,
            alert_at_percent: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default(),
        },
        captured: Nanos(r.get(8)?),
        held: Nanos::ZERO,
        alerted: u32::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
    })
}

fn audit_from_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        ts_us: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        details: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

fn corrupt(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            StoreError::Corrupt(e.to_string())
        }
        other => db_err(other),
    }
}

/// One transaction for the whole batch; ids already stored are skipped.
/// Returns how many were new, and the budget captures they carry.
fn insert(c: &mut Connection, events: &[UsageEvent]) -> Result<(u64, Vec<Capture>), StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
    let mut inserted = 0u64;
    let mut captures = Vec::new();
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
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

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

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let k = key.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    k.id,
                    k.hash,
                    k.prefix,
                    k.user_id,
                    k.use_case,
                    k.project_id,
                    k.track.map(|t| t.as_str()),
                    k.label,
                    to_micros(k.created_at),
                    k.revoked_at.map(to_micros)
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let hash = hash.to_string();
        self.read(move |c| {
            c.query_row(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1"), [hash], key_from_row)
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn api_keys_for_user(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let user = user_id.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_id = ?1 ORDER BY created_us, id"))
                .map_err(db_err)?;
            let rows = stmt.query_map([user], key_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE api_keys SET revoked_us = ?2 WHERE id = ?1 AND revoked_us IS NULL",
                    params![id, to_micros(at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError> {
        let drafts = drafts.to_vec();
        self.write(move |c| {
            // IMMEDIATE takes the write lock first, so no other process can
            // append between reading the head and writing the next entry.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let head: Option<(i64, String)> = tx
                .query_row("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(db_err)?;
            let out = AuditEntry::chain(head, &drafts);
            for entry in &out {
                tx.execute(
                    "INSERT INTO audit_log (seq, ts_us, actor, action, subject, details, prev_hash, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        entry.seq,
                        entry.ts_us,
                        entry.actor,
                        entry.action,
                        entry.subject,
                        entry.details,
                        entry.prev_hash,
                        entry.hash
                    ],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, ts_us, actor, action, subject, details, prev_hash, hash FROM audit_log \
                     WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(db_err)?;
            let rows = stmt.query_map(params![after_seq, limit], audit_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn budget_hold(&self, req: &HoldRequest, owner: &str) -> Result<HoldResult, StoreError> {
        let inner = self.inner.clone();
        let req = req.clone();
        // Envelopes not yet in memory are loaded (or created) first.
        let missing: Vec<EnvelopeSpec> = {
            let book = lock(&inner.book);
            req.parts.iter().filter(|p| !book.contains(&p.envelope.key)).map(|p| p.envelope.clone()).collect()
        };
        if !missing.is_empty() {
            let loaded = self
                .write(move |c| {
                    let mut out = Vec::new();
                    for spec in &missing {
                        c.execute(
                            "INSERT OR IGNORE INTO budget_envelopes (key, budget_id, scope, period_start_us, period_end_us, \
                             limit_nanos, hard, alert_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            params![
                                spec.key,
                                spec.budget_id,
                                spec.scope,
                                to_micros(spec.period_start),
                                to_micros(spec.period_end),
                                spec.limit.0,
                                spec.hard,
                                serde_json::to_string(&spec.alert_at_percent).unwrap_or_else(|_| "[]".into())
                            ],
                        )
                        .map_err(db_err)?;
                        let (captured, alerted): (i64, i64) = c
                            .query_row("SELECT captured_nanos, alerted FROM budget_envelopes WHERE key = ?1", [&spec.key], |r| {
                                Ok((r.get(0)?, r.get(1)?))
                            })
                            .map_err(db_err)?;
                        out.push((spec.clone(), captured, alerted));
                    }
                    Ok(out)
                })
                .await?;
            let mut book = lock(&inner.book);
            for (spec, captured, alerted) in loaded {
                book.ensure(&spec, Nanos(captured), u32::try_from(alerted).unwrap_or(0));
            }
        }
        let mut book = lock(&inner.book);
        Ok(book.hold(&req, owner))
    }

    async fn budget_renew(&self, owner: &str, ids: &[String], until: Timestamp) -> Result<(), StoreError> {
        lock(&self.inner.book).renew(owner, ids, until);
        Ok(())
    }

    async fn budget_expire(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(lock(&self.inner.book).expire(now).len() as u64)
    }

    async fn budget_envelopes(&self, at: Timestamp) -> Result<Vec<EnvelopeState>, StoreError> {
        let at_us = to_micros(at);
        let mut rows = self
            .read(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT key, budget_id, scope, period_start_us, period_end_us, limit_nanos, hard, alert_at, \
                         captured_nanos, alerted FROM budget_envelopes WHERE period_start_us <= ?1 AND ?1 < period_end_us \
                         ORDER BY key",
                    )
                    .map_err(db_err)?;
                let rows = stmt.query_map([at_us], envelope_from_row).map_err(db_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
            })
            .await?;
        // What is held, and captured but not yet persisted, lives in memory.
        let book = lock(&self.inner.book);
        for r in &mut rows {
            if let Some(live) = book.envelope(&r.spec.key) {
                r.held = live.held;
                r.captured = r.captured.max(live.captured);
                r.spec.limit = live.spec.limit;
            }
        }
        Ok(rows)
    }

    async fn budget_claim_alerts(&self, at: Timestamp) -> Result<Vec<(EnvelopeState, u32)>, StoreError> {
        let current = self.budget_envelopes(at).await?;
        let due: Vec<(EnvelopeState, u32, u32)> = current
            .into_iter()
            .flat_map(|e| {
                tokenwise_ledger::budget::crossed(&e).into_iter().map(move |(bit, pct)| (e.clone(), bit, pct))
            })
            .collect();
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let claims: Vec<(String, u32)> = due.iter().map(|(e, bit, _)| (e.spec.key.clone(), *bit)).collect();
        let won = self
            .write(move |c| {
                let mut won = Vec::new();
                for (key, bit) in &claims {
                    let n = c
                        .execute(
                            "UPDATE budget_envelopes SET alerted = alerted | ?2 WHERE key = ?1 AND (alerted & ?2) = 0",
                            params![key, bit],
                        )
                        .map_err(db_err)?;
                    won.push(n == 1);
                }
                Ok(won)
            })
            .await?;
        let mut book = lock(&self.inner.book);
        Ok(due
            .into_iter()
            .zip(won)
            .filter(|(_, w)| *w)
            .map(|((e, bit, pct), _)| {
                book.mark_alerted(&e.spec.key, bit);
                (e, pct)
            })
            .collect())
    }

    async fn budget_unlock(
        &self,
        key: &str,
        tranche: u32,
        at: Timestamp,
        facts: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let (key, facts) = (key.to_string(), facts.to_string());
        self.write(move |c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO budget_unlocks (key, tranche, at_us, facts) VALUES (?1, ?2, ?3, ?4)",
                    params![key, tranche, to_micros(at), facts],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn budget_unlocks(&self, keys: &[String]) -> Result<Vec<(String, u32)>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT tranche FROM budget_unlocks WHERE key = ?1 ORDER BY tranche")
                .map_err(db_err)?;
            let mut out = Vec::new();
            for k in &keys {
                let rows = stmt.query_map([k], |r| r.get::<_, u32>(0)).map_err(db_err)?;
                for t in rows {
                    out.push((k.clone(), t.map_err(corrupt)?));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn insert_exception(&self, e: &Exception) -> Result<(), StoreError> {
        let e = e.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO exceptions ({EXCEPTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
                params![
                    e.id,
                    e.scope,
                    e.reason_code,
                    e.justification,
                    e.requested_by,
                    e.status.as_str(),
                    e.cap.0,
                    e.duration_secs,
                    serde_json::to_string(&e.models).unwrap_or_else(|_| "[]".into()),
                    e.data_class,
                    to_micros(e.created_at),
                    e.decided_by,
                    e.decided_at.map(to_micros),
                    e.valid_until.map(to_micros)
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn exception(&self, id: &str) -> Result<Option<Exception>, StoreError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(&format!("SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?1"), [id], exception_from_row)
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn decide_exception(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        at: Timestamp,
    ) -> Result<Option<Exception>, StoreError> {
        let (id, by) = (id.to_string(), by.to_string());
        self.write(move |c| {
            let status = if approve { "approved" } else { "denied" };
            let n = c
                .execute(
                    "UPDATE exceptions SET status = ?2, decided_by = ?3, decided_us = ?4, \
                     valid_until_us = CASE WHEN ?2 = 'approved' THEN ?4 + duration_secs * 1000000 ELSE NULL END \
                     WHERE id = ?1 AND status = 'pending'",
                    params![id, status, by, to_micros(at)],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Ok(None);
            }
            c.query_row(&format!("SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?1"), [&id], exception_from_row)
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn active_exceptions(&self, scopes: &[String], at: Timestamp) -> Result<Vec<Exception>, StoreError> {
        let scopes = scopes.to_vec();
        let at_us = to_micros(at);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE scope = ?1 AND status = 'approved' \
                     AND decided_us <= ?2 AND ?2 < valid_until_us ORDER BY decided_us, id"
                ))
                .map_err(db_err)?;
            let mut out = Vec::new();
            for s in &scopes {
                let rows = stmt.query_map(params![s, at_us], exception_from_row).map_err(db_err)?;
                for e in rows {
                    out.push(e.map_err(corrupt)?);
                }
            }
            Ok(out)
        })
        .await
    }
}
