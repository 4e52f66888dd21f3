//! The schema, brought up to date when a store connects; replicas starting
//! together migrate one at a time.

use crate::PgStore;
use crate::connection::db_err;
use jiff::Timestamp;
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
    (15, "escrow", include_str!("../migrations/0015_escrow.sql")),
    (16, "rollup_pending", include_str!("../migrations/0016_rollup_pending.sql")),
    (17, "capped_sums", include_str!("../migrations/0017_capped_sums.sql")),
];
/// Advisory lock key (arbitrary, fixed) serialising migrations.
const MIGRATION_LOCK: i64 = 0x746f_6b77_0001;

impl PgStore {
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
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
}
