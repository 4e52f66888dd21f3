//! `tokenwise audit verify`

use crate::store;
use std::path::Path;
use std::process::ExitCode;
use tokenwise_ledger::verify_store;

const PAGE: u32 = 1_000;

pub async fn verify(config: &Path, database: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let p = store::load_policy(config)?;
    let (url, ledger) = store::for_policy(&p, database).await?;
    let outcome = verify_store(ledger.as_ref(), PAGE).await?;
    let (ok, entries, head, broken) = match &outcome {
        Ok(Some((seq, hash))) => (true, *seq, Some(hash.clone()), None),
        Ok(None) => (true, 0, None, None),
        Err(b) => (false, b.seq - 1, None, Some(b)),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "database": store::redact(&url),
                "verified_entries": entries,
                "head_hash": head,
                "broken_at": broken.map(|b| b.seq),
                "reason": broken.map(|b| b.reason.clone()),
            })
        );
    } else if let Some(b) = broken {
        eprintln!("audit log BROKEN: entry {} — {}", b.seq, b.reason);
        eprintln!("entries 1..{} verify; everything from entry {} on is untrusted", b.seq - 1, b.seq);
    } else {
        println!("audit log ok: {entries} entries verified in {}", store::redact(&url));
        if let Some(h) = head {
            println!("head hash: {h}  (record it elsewhere to detect truncation later)");
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
