//! Opening the ledger named by a URL.

use anyhow::Context;
use std::sync::Arc;
use tokenwise_ledger::Store;
use tokenwise_policy::Durability;

/// `sqlite://PATH` or `postgres://…`, with the durability of SQLite
/// writes (PostgreSQL's is the database's own configuration).
pub async fn open_with(url: &str, durability: Durability) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = tokenwise_store_postgres::PgStore::connect(url, 16)
            .await
            .with_context(|| format!("cannot open the PostgreSQL ledger at {}", redact(url)))?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("sqlite://") {
        let d = match durability {
            Durability::PowerLoss => tokenwise_store_sqlite::Durability::PowerLoss,
            Durability::ProcessCrash => tokenwise_store_sqlite::Durability::ProcessCrash,
        };
        let store = tokenwise_store_sqlite::SqliteStore::open_with(url, d)
            .with_context(|| format!("cannot open the SQLite ledger at {url}"))?;
        return Ok(Arc::new(store));
    }
    anyhow::bail!("`{url}` is not a database URL; use sqlite://PATH or postgres://USER@HOST/DB")
}

/// A URL fit to print: the password, if any, hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}
