//! The embedded store: one SQLite file in WAL mode. One writer connection
//! (SQLite allows one writer at a time anyway; the ledger's group commit
//! feeds it batches) and a small pool of readers that never block it.
//! Durability is chosen per deployment (`server.durability`): `PowerLoss`
//! (`synchronous = FULL`, the default) fsyncs every committed batch, so an
//! acknowledged usage record survives a power cut; `ProcessCrash`
//! (`synchronous = NORMAL`) hands each committed batch to the OS, so it
//! survives any crash of tokenwise itself but not of the machine, at a
//! fraction of the latency.
//!
//! One module per capability (`events`, `keys`, `audit`, `budgets`,
//! `exceptions`, `outcomes`), each implementing its trait from `tokenwise_ledger::store`;
//! `exceptions`, `tasks`), each implementing its trait from `tokenwise_ledger::store`;
//! `connection` opens the file and runs work on the writer or a reader,
//! `migrations` brings the schema up to date, `rows` maps rows to types.

/// SQL for `a + b` that stops at `i64::MAX` ($9.2 billion; 9.2e18 tokens),
/// the one rule for every roll-up, task and envelope sum. SQLite would turn
/// a sum past it into floating point; PostgreSQL's twin is `tw_add`.
macro_rules! capped {
    ($a:expr, $b:expr) => {
        concat!("min(", $a, " + ", $b, ", 9223372036854775807)")
    };
}

/// An upsert's `SET` list adding each column's `excluded` value, capped:
/// `calls = min(calls + excluded.calls, …), …`.
macro_rules! add_excluded {
    ($c:literal) => {
        concat!($c, " = ", capped!($c, concat!("excluded.", $c)))
    };
    ($c:literal, $($rest:literal),+) => {
        concat!(add_excluded!($c), ", ", add_excluded!($($rest),+))
    };
}

mod anomalies;
mod audit;
mod budgets;
mod checkpoint;
mod connection;
mod dashboard;
mod errors;
mod events;
mod exceptions;
mod keys;
mod locks;
mod migrations;
mod outcomes;
mod prompts;
mod reports;
mod rows;
mod scores;
mod tasks;

use connection::Inner;
use std::sync::Arc;
use tokenwise_ledger::StoreBackend;

/// What an acknowledged write must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    #[default]
    PowerLoss,
    ProcessCrash,
}

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish()
    }
}

impl StoreBackend for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
