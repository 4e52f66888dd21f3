//! Opening the policy and the ledger a command works on.

use std::path::Path;
use std::sync::Arc;
use tokenwise_ledger::Store;
use tokenwise_policy::{Policy, load_file};
pub use tokenwise_server::store::{open_with, redact};

/// The policy file, or its diagnostics as the error.
pub fn load_policy(config: &Path) -> anyhow::Result<Policy> {
    load_file(config).map(|l| l.policy).map_err(|report| anyhow::anyhow!("{report}"))
}

/// The database named on the command line, else the policy's.
pub fn url_for(policy: &Policy, flag: Option<&str>) -> anyhow::Result<String> {
    match flag {
        Some(url) => {
            let cwd = std::env::current_dir().map_err(|e| anyhow::anyhow!("cannot read the current directory: {e}"))?;
            // On the command line, relative paths mean the current directory.
            tokenwise_policy::resolve_database(url, &cwd)
                .map_err(|hint| anyhow::anyhow!("`{url}` is not a database URL: {hint}"))
        }
        None => Ok(policy.server.database.clone()),
    }
}

pub async fn for_policy(policy: &Policy, flag: Option<&str>) -> anyhow::Result<(String, Arc<dyn Store>)> {
    let url = url_for(policy, flag)?;
    let store = open_with(&url, policy.server.durability).await?;
    Ok((url, store))
}
