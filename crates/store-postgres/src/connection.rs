//! The connection pool, and turning driver errors into store errors.

use crate::PgStore;
use crate::revocations::Revocations;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::str::FromStr;
use std::sync::Arc;
use tokenwise_ledger::StoreError;
use tokio_postgres::NoTls;

pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION {
            // Answered to the client (409): in our words, the database's to the log.
            tracing::info!(detail = %db.message(), "constraint refused a write");
            return StoreError::Conflict("this conflicts with what is already recorded".into());
        }
        return StoreError::Backend(db.message().to_string());
    }
    StoreError::Backend(e.to_string())
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
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
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the connection pool: {e}")))?;
        let store = PgStore {
            pool,
            config,
            revocations: Arc::new(Revocations::default()),
            escrow: Arc::default(),
            rollups: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }
}
