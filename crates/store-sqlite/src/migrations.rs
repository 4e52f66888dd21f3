//! The schema, brought up to date when a store opens.

use crate::errors::db_err;
use jiff::Timestamp;
use rusqlite::{Connection, params};
use tokenwise_ledger::{StoreError, to_micros};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (2, "budgets", include_str!("../migrations/0002_budgets.sql")),
    (3, "outcomes", include_str!("../migrations/0003_outcomes.sql")),
    (4, "tasks", include_str!("../migrations/0004_tasks.sql")),
    (5, "scores", include_str!("../migrations/0005_scores.sql")),
    (6, "activity", include_str!("../migrations/0006_activity.sql")),
    (8, "anomalies", include_str!("../migrations/0008_anomalies.sql")),
    (9, "usage_daily", include_str!("../migrations/0009_usage_daily.sql")),
    (10, "dashboard", include_str!("../migrations/0010_dashboard.sql")),
    (11, "pilots", include_str!("../migrations/0011_pilots.sql")),
    (12, "prompts", include_str!("../migrations/0012_prompts.sql")),
    (14, "usage_recorded", include_str!("../migrations/0014_usage_recorded.sql")),
];

pub(crate) fn migrate(c: &mut Connection) -> Result<(), StoreError> {
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
