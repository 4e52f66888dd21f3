//! Opening the ledger a command works on.

use anyhow::Context;
use std::sync::Arc;
use tokenwise_ledger::Store;
use tokenwise_policy::Policy;

/// `sqlite://PATH` or `postgres://…`.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = tokenwise_store_postgres::PgStore::connect(url, 16)
            .await
            .with_context(|| format!("cannot open the PostgreSQL ledger at {}", redact(url)))?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("sqlite://") {
        let store = tokenwise_store_sqlite::SqliteStore::open(url)
            .with_context(|| format!("cannot open the SQLite ledger at {url}"))?;
        return Ok(Arc::new(store));
    }
    anyhow::bail!("`{url}` is not a database URL; use sqlite://PATH or postgres://USER@HOST/DB")
}

/// The database named on the command line, else the policy's.
pub fn url_for(policy: &Policy, flag: Option<&str>) -> anyhow::Result<String> {
    match flag {
        Some(url) => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            // On the command line, relative paths mean the current directory.
            tokenwise_policy::resolve_database(url, &cwd)
                .map_err(|hint| anyhow::anyhow!("`{url}` is not a database URL: {hint}"))
        }
        None => Ok(policy.server.database.clone()),
    }
}

/// A URL fit to print: the password, if any, hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
