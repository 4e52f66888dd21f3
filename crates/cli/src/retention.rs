//! `tokenwise retention purge`: what `serve` does every ten minutes, on
//! demand (e.g. from cron while no server runs).

use crate::store;
use jiff::Timestamp;
use std::path::Path;
use tokenwise_ledger::{AuditAction, AuditDraft};

pub async fn purge(config: &Path, database: Option<&str>) -> anyhow::Result<()> {
    let p = store::load_policy(config)?;
    let (_, ledger) = store::for_policy(&p, database).await?;
    let n = ledger.purge_prompts(Timestamp::now()).await?;
    if n > 0 {
        let entry = AuditDraft::new("cli", AuditAction::RetentionPurge, "prompts", serde_json::json!({"purged": n}));
        ledger.append_audit(&entry).await?;
    }
    println!("purged {n} prompts past their retention");
    Ok(())
}
