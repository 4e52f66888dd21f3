//! Tasks: running totals (written with the events, see `events`), read by
//! one primary-key probe; finished tasks over a window; medians per
//! template and use case, computed by SQLite with window functions.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use crate::rows::{TASK_COLUMNS, task_from_row, uint};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use tokenwise_core::Nanos;
use tokenwise_ledger::{BaselineOf, StoreError, TaskBaseline, TaskSoFar, TaskStore, TaskTotals, to_micros};

/// The median cost per group of the tasks in a window: the middle row, or
/// the two middle rows averaged (integer division, rounding down), in one
/// pass over the window's tasks. `col` is `template` or `use_case`.
fn baseline_sql(col: &str) -> String {
    format!(
        "SELECT {col}, n, SUM(cost_nanos) / COUNT(*) FROM ( \
           SELECT {col}, cost_nanos, \
                  ROW_NUMBER() OVER (PARTITION BY {col} ORDER BY cost_nanos) AS k, \
                  COUNT(*) OVER (PARTITION BY {col}) AS n \
           FROM tasks WHERE last_ts_us >= ?1 AND last_ts_us < ?2 AND cost_nanos > 0 AND {col} IS NOT NULL) \
         WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY {col}, n ORDER BY {col}"
    )
}

#[async_trait]
impl TaskStore for SqliteStore {
    async fn task_cost(&self, user: &str, task: &str) -> Result<Option<TaskSoFar>, StoreError> {
        let (user, task) = (user.to_string(), task.to_string());
        self.read_now(move |c| {
            c.prepare_cached("SELECT calls, cost_nanos FROM tasks WHERE user_id = ?1 AND task = ?2")?
                .query_row(params![user, task], |r| Ok(TaskSoFar { calls: uint(r.get(0)?), cost: Nanos(r.get(1)?) }))
                .optional()
        })
        .await
    }

    async fn tasks_of(&self, keys: &[(String, String)]) -> Result<Vec<TaskTotals>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |c| {
            let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = ?1 AND task = ?2");
            let mut stmt = c.prepare_cached(&sql).map_err(db_err)?;
            let mut out = Vec::new();
            for (user, task) in &keys {
                if let Some(t) = stmt.query_row(params![user, task], task_from_row).optional().map_err(corrupt)? {
                    out.push(t);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn tasks_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<TaskTotals>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        self.read(move |c| {
            let sql = format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE last_ts_us >= ?1 AND last_ts_us < ?2 \
                 ORDER BY last_ts_us, user_id, task"
            );
            let mut stmt = c.prepare(&sql).map_err(db_err)?;
            let rows = stmt.query_map(params![from, to], task_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn person_tasks(
        &self,
        user: &str,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<TaskTotals>, StoreError> {
        let (user, from, to) = (user.to_string(), to_micros(from), to_micros(to));
        self.read(move |c| {
            let sql = format!(
                "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = ?1 AND last_ts_us >= ?2 AND last_ts_us < ?3 \
                 ORDER BY last_ts_us DESC, task LIMIT ?4"
            );
            let mut stmt = c.prepare(&sql).map_err(db_err)?;
            let rows = stmt.query_map(params![user, from, to, limit], task_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn task_baselines(&self, from: Timestamp, to: Timestamp) -> Result<Vec<TaskBaseline>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        self.read(move |c| {
            let mut out = Vec::new();
            let groups: [(&str, fn(String) -> BaselineOf); 2] =
                [("template", BaselineOf::Template), ("use_case", BaselineOf::UseCase)];
            for (col, of) in groups {
                let mut stmt = c.prepare(&baseline_sql(col)).map_err(db_err)?;
                let rows = stmt
                    .query_map(params![from, to], |r| {
                        Ok(TaskBaseline { of: of(r.get(0)?), tasks: uint(r.get(1)?), median: Nanos(r.get(2)?) })
                    })
                    .map_err(db_err)?;
                for row in rows {
                    out.push(row.map_err(corrupt)?);
                }
            }
            Ok(out)
        })
        .await
    }
}
