//! The store for larger deployments: many stateless `tokenwise serve`
//! replicas share one PostgreSQL database. Every write is one statement or
//! one short transaction; anything that must be serialised across replicas
//! (the audit chain, migrations) takes a PostgreSQL advisory lock, never a
//! read-then-write race.
//!
//! One module per capability (`events`, `keys`, `audit`, `budgets`,
//! `exceptions`, `outcomes`), each implementing its trait from `tokenwise_ledger::store`;
//! `exceptions`, `tasks`), each implementing its trait from `tokenwise_ledger::store`;
//! `connection` holds the pool, `migrations` brings the schema up to date,
//! `rows` maps rows to types, and `revocations` listens for revoked keys so
//! each replica can cache keys and still drop a revoked one at once.

mod anomalies;
mod audit;
mod budgets;
mod connection;
mod dashboard;
mod escrow;
mod events;
mod exceptions;
mod keys;
mod migrations;
mod outcomes;
mod prompts;
mod reports;
mod revocations;
mod rollups;
mod rows;
mod scores;
mod tasks;

use deadpool_postgres::Pool;
use revocations::Revocations;
use std::sync::Arc;
use tokenwise_ledger::StoreBackend;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// Where the revocation listener connects: the pool's own settings.
    config: tokio_postgres::Config,
    revocations: Arc<Revocations>,
    /// This replica's allowances and the holds placed against them.
    escrow: Arc<escrow::EscrowState>,
    /// This replica's background fold of pending batches into the roll-ups.
    rollups: Arc<rollups::Folder>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("status", &self.pool.status()).finish()
    }
}

impl StoreBackend for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}
