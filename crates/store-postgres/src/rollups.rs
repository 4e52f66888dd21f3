//! The daily roll-ups (`usage_daily`, `prompt_daily`, `sketch_daily`,
//! `model_daily`, `activity_daily`) on PostgreSQL, kept off the call's path.
//!
//! The event statement (`events.rs`) records each batch's new event ids as
//! one `rollup_pending` row, in the same statement as the events, so a batch
//! is pending exactly when its events are stored (a crash loses neither).
//! A replica folds pending batches into the roll-ups in bulk soon after it
//! commits (one statement for up to [`FOLD_BATCHES`] batches: the batches'
//! rows deleted and their events summed in one transaction, so each is
//! counted once), and every reader of a roll-up folds what is pending
//! first, waiting for folds under way, so it reads every event committed
//! before it asked. Measured (docs/benchmarks.md): the five upserts in
//! every batch's statement were ~17% of PostgreSQL's CPU a call, and rows
//! every replica's batches locked until their commits.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::get;
use deadpool_postgres::Object;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokenwise_ledger::StoreError;
use tokio_postgres::error::SqlState;

/// Pending batches one fold statement takes.
const FOLD_BATCHES: i64 = 512;

/// How long after a commit the replica folds: long enough to gather many
/// batches under load, short enough that little waits for a reader.
const FOLD_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// The roll-ups' upserts over `ins`, the events being counted: each groups
/// and orders its keys, so concurrent folds lock rows in the same order.
const ROLLUPS: &str = "usage_roll AS (INSERT INTO usage_daily (day, team_id, project_id, use_case, template, model, provider, \
    price_version, calls, input_tokens, output_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens, \
    cost_nanos) \
    SELECT ts_us / 86400000000, team_id, COALESCE(project_id, ''), COALESCE(use_case, ''), COALESCE(template, ''), \
    model, provider, price_version, COUNT(*), tw_cap(SUM(input_tokens)), tw_cap(SUM(output_tokens)), \
    tw_cap(SUM(cached_read_tokens)), \
    tw_cap(SUM(cache_write_tokens)), tw_cap(SUM(reasoning_tokens)), tw_cap(SUM(cost_nanos)) \
    FROM ins GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8 \
    ON CONFLICT (day, team_id, project_id, use_case, template, model, provider, price_version) DO UPDATE SET \
    calls = tw_add(usage_daily.calls, EXCLUDED.calls), input_tokens = tw_add(usage_daily.input_tokens, \
    EXCLUDED.input_tokens), \
    output_tokens = tw_add(usage_daily.output_tokens, EXCLUDED.output_tokens), \
    cached_read_tokens = tw_add(usage_daily.cached_read_tokens, EXCLUDED.cached_read_tokens), \
    cache_write_tokens = tw_add(usage_daily.cache_write_tokens, EXCLUDED.cache_write_tokens), \
    reasoning_tokens = tw_add(usage_daily.reasoning_tokens, EXCLUDED.reasoning_tokens), \
    cost_nanos = tw_add(usage_daily.cost_nanos, EXCLUDED.cost_nanos)), \
    prompts AS (INSERT INTO prompt_daily AS p (day, user_id, prompt_hash, calls, minhash) \
    SELECT ts_us / 86400000000, user_id, prompt_hash, COUNT(*), MIN(prompt_minhash) FROM ins \
    WHERE prompt_hash IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 \
    ON CONFLICT (day, user_id, prompt_hash) DO UPDATE SET calls = tw_add(p.calls, EXCLUDED.calls) \
    RETURNING day, user_id, minhash, (xmax = 0) AS fresh), \
    sketches AS (INSERT INTO sketch_daily AS k (day, user_id, band0, prompts) \
    SELECT day, user_id, minhash & 65535, COUNT(*) FROM prompts WHERE fresh AND minhash IS NOT NULL \
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 \
    ON CONFLICT (day, user_id, band0) DO UPDATE SET prompts = tw_add(k.prompts, EXCLUDED.prompts)), \
    models AS (INSERT INTO model_daily (day, user_id, use_case, model, calls, tokens, cost_nanos) \
    SELECT ts_us / 86400000000, user_id, COALESCE(use_case, ''), model, COUNT(*), \
    tw_cap(SUM(input_tokens) + SUM(output_tokens)), \
    tw_cap(SUM(cost_nanos)) FROM ins GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 \
    ON CONFLICT (day, user_id, use_case, model) DO UPDATE SET calls = tw_add(model_daily.calls, EXCLUDED.calls), \
    tokens = tw_add(model_daily.tokens, EXCLUDED.tokens), cost_nanos = tw_add(model_daily.cost_nanos, \
    EXCLUDED.cost_nanos)), \
    roll AS (INSERT INTO activity_daily (day, user_id, use_case, template, calls, blocked, flagged, \
    exception_calls, tokens, cost_nanos) \
    SELECT ts_us / 86400000000, user_id, COALESCE(use_case, ''), COALESCE(template, ''), COUNT(*), \
    SUM(CASE WHEN status = 'blocked' THEN 1 ELSE 0 END), \
    SUM(CASE WHEN status <> 'blocked' AND decision IN ('redact', 'reroute') THEN 1 ELSE 0 END), \
    SUM(CASE WHEN exception_id IS NOT NULL THEN 1 ELSE 0 END), tw_cap(SUM(input_tokens) + SUM(output_tokens)), \
    tw_cap(SUM(cost_nanos)) \
    FROM ins GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 \
    ON CONFLICT (day, user_id, use_case, template) DO UPDATE SET calls = tw_add(activity_daily.calls, EXCLUDED.calls), \
    blocked = tw_add(activity_daily.blocked, EXCLUDED.blocked), flagged = tw_add(activity_daily.flagged, \
    EXCLUDED.flagged), \
    exception_calls = tw_add(activity_daily.exception_calls, EXCLUDED.exception_calls), \
    tokens = tw_add(activity_daily.tokens, EXCLUDED.tokens), cost_nanos = tw_add(activity_daily.cost_nanos, \
    EXCLUDED.cost_nanos))";

/// The fold: takes up to `$1` pending batches (oldest first; `wait`: waits
/// for batches another fold holds, else skips them) and counts their events.
fn fold_sql(wait: bool) -> String {
    let lock = if wait { "FOR UPDATE" } else { "FOR UPDATE SKIP LOCKED" };
    format!(
        "WITH p AS (DELETE FROM rollup_pending WHERE seq IN \
         (SELECT seq FROM rollup_pending ORDER BY seq LIMIT $1 {lock}) RETURNING ids), \
         ins AS (SELECT e.ts_us, e.user_id, e.team_id, e.project_id, e.use_case, e.template, e.model, e.provider, \
         e.price_version, e.input_tokens, e.output_tokens, e.cached_read_tokens, e.cache_write_tokens, \
         e.reasoning_tokens, e.cost_nanos, e.prompt_hash, e.prompt_minhash, e.status, e.decision, e.exception_id \
         FROM p CROSS JOIN LATERAL unnest(p.ids) AS u(id) JOIN usage_events e ON e.id = u.id), \
         {ROLLUPS} \
         SELECT COUNT(*)::BIGINT FROM p"
    )
}

static FOLD_WAIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| fold_sql(true));
static FOLD_SKIP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| fold_sql(false));

/// This replica's background fold: at most one at a time.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    running: AtomicBool,
    /// A batch was committed since the running fold began.
    dirty: AtomicBool,
}

/// Folds every pending batch into the roll-ups on `client`; with `wait`,
/// also those another fold holds (a reader's fold: what it reads then
/// counts every event committed before).
async fn fold(client: &mut Object, wait: bool) -> Result<(), StoreError> {
    let sql: &str = if wait { &FOLD_WAIT } else { &FOLD_SKIP };
    let mut retries = 3u32;
    loop {
        let tx = client.transaction().await.map_err(db_err)?;
        // The events are read by their ids, one index lookup each: never
        // a scan of the whole table, whatever the planner's estimates of
        // a table that has not been analysed yet.
        tx.batch_execute(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off",
        )
        .await
        .map_err(db_err)?;
        let stmt = tx.prepare_cached(sql).await.map_err(db_err)?;
        let row = match tx.query_one(&stmt, &[&FOLD_BATCHES]).await {
            Ok(row) => row,
            // Folds upsert the same roll-up rows in the same order, but
            // should PostgreSQL still pick this one to break a deadlock,
            // its batches are pending as before: fold again.
            Err(e) if e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) && retries > 0 => {
                retries -= 1;
                continue;
            }
            Err(e) => return Err(db_err(e)),
        };
        tx.commit().await.map_err(db_err)?;
        if get::<i64>(&row, 0)? < FOLD_BATCHES {
            return Ok(());
        }
    }
}

impl PgStore {
    /// A connection to read the roll-ups on, once every batch committed so
    /// far is folded into them (folds under way waited for).
    pub(crate) async fn rollup_client(&self) -> Result<Object, StoreError> {
        let mut client = self.client().await?;
        fold(&mut client, true).await?;
        Ok(client)
    }

    /// After a commit that stored new events: folds them soon, on a task of
    /// its own (the caller does not wait).
    pub(crate) fn fold_rollups_soon(&self) {
        let folder = &self.rollups;
        folder.dirty.store(true, Ordering::Release);
        if folder.running.swap(true, Ordering::AcqRel) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            // No runtime to fold on: the next reader folds.
            folder.running.store(false, Ordering::Release);
            return;
        }
        let store = self.clone();
        tokio::spawn(async move { store.fold_in_background().await });
    }

    async fn fold_in_background(&self) {
        let folder: Arc<Folder> = self.rollups.clone();
        loop {
            tokio::time::sleep(FOLD_AFTER).await;
            folder.dirty.store(false, Ordering::Release);
            let folded = match self.client().await {
                Ok(mut client) => fold(&mut client, false).await,
                Err(e) => Err(e),
            };
            if let Err(e) = folded {
                // Nothing is lost: the batches stay pending for the next fold.
                tracing::warn!(error = %e, "cannot fold usage into the daily roll-ups");
            }
            if folder.dirty.load(Ordering::Acquire) {
                continue;
            }
            folder.running.store(false, Ordering::Release);
            // A commit between the check and the store saw a fold running
            // and left its batch to it: take it back unless another began.
            if !folder.dirty.load(Ordering::Acquire) || folder.running.swap(true, Ordering::AcqRel) {
                return;
            }
        }
    }
}
