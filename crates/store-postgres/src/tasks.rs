//! Tasks: running totals (written with the events, see `events`), read by
//! one primary-key probe; finished tasks over a window; medians per
//! template and use case, computed by PostgreSQL with window functions.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{TASK_COLUMNS, get, task_from_row, uint};
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_core::Nanos;
use tokenwise_ledger::{BaselineOf, StoreError, TaskBaseline, TaskSoFar, TaskStore, TaskTotals, to_micros};

/// The median cost per group of the tasks in a window: the middle row, or
/// the two middle rows averaged (integer division, rounding down, as on
/// SQLite). `col` is `template` or `use_case`.
fn baseline_sql(col: &str) -> String {
    format!(
        "SELECT {col}, n, SUM(cost_nanos)::BIGINT / COUNT(*) FROM ( \
           SELECT {col}, cost_nanos, \
                  ROW_NUMBER() OVER (PARTITION BY {col} ORDER BY cost_nanos) AS k, \
                  COUNT(*) OVER (PARTITION BY {col}) AS n \
           FROM tasks WHERE last_ts_us >= $1 AND last_ts_us < $2 AND cost_nanos > 0 AND {col} IS NOT NULL) w \
         WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY {col}, n ORDER BY {col}"
    )
}

#[async_trait]
impl TaskStore for PgStore {
    async fn task_cost(&self, user: &str, task: &str) -> Result<Option<TaskSoFar>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT calls, cost_nanos FROM tasks WHERE user_id = $1 AND task = $2")
            .await
            .map_err(db_err)?;
        let row = client.query_opt(&stmt, &[&user, &task]).await.map_err(db_err)?;
        row.map(|r| Ok(TaskSoFar { calls: uint(get(&r, 0)?), cost: Nanos(get(&r, 1)?) })).transpose()
    }

    async fn tasks_of(&self, keys: &[(String, String)]) -> Result<Vec<TaskTotals>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let users: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
        let tasks: Vec<&str> = keys.iter().map(|k| k.1.as_str()).collect();
        let client = self.client().await?;
        let sql = format!(
            "SELECT {} FROM tasks t JOIN UNNEST($1::text[], $2::text[]) AS k(user_id, task) \
             ON t.user_id = k.user_id AND t.task = k.task",
            TASK_COLUMNS.split(", ").map(|c| format!("t.{}", c.trim())).collect::<Vec<_>>().join(", ")
        );
        let rows = client.query(&sql, &[&users, &tasks]).await.map_err(db_err)?;
        rows.iter().map(task_from_row).collect()
    }

    async fn tasks_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<TaskTotals>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE last_ts_us >= $1 AND last_ts_us < $2 \
             ORDER BY last_ts_us, user_id, task"
        );
        let rows = client.query(&sql, &[&to_micros(from), &to_micros(to)]).await.map_err(db_err)?;
        rows.iter().map(task_from_row).collect()
    }

    async fn person_tasks(
        &self,
        user: &str,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<Vec<TaskTotals>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE user_id = $1 AND last_ts_us >= $2 AND last_ts_us < $3 \
             ORDER BY last_ts_us DESC, task LIMIT $4"
        );
        let rows =
            client.query(&sql, &[&user, &to_micros(from), &to_micros(to), &i64::from(limit)]).await.map_err(db_err)?;
        rows.iter().map(task_from_row).collect()
    }

    async fn task_baselines(&self, from: Timestamp, to: Timestamp) -> Result<Vec<TaskBaseline>, StoreError> {
        let client = self.client().await?;
        let mut out = Vec::new();
        let groups: [(&str, fn(String) -> BaselineOf); 2] =
            [("template", BaselineOf::Template), ("use_case", BaselineOf::UseCase)];
        for (col, of) in groups {
            let rows = client.query(&baseline_sql(col), &[&to_micros(from), &to_micros(to)]).await.map_err(db_err)?;
            for r in &rows {
                out.push(TaskBaseline { of: of(get(r, 0)?), tasks: uint(get(r, 1)?), median: Nanos(get(r, 2)?) });
            }
        }
        Ok(out)
    }
}
