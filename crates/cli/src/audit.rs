//! `tokenwise audit verify`, `tokenwise audit head` and `tokenwise audit digest`.
//!
//! The chain alone proves that no entry was edited, removed or inserted
//! between others without recomputing every hash after it. Someone with
//! write access to the database can do that, or cut the newest entries;
//! a head (SEQ:HASH) kept outside the database catches both: `verify
//! --expect-head` fails unless entry SEQ still has that hash. Usage rows
//! are covered by the chain's usage digests (`ledger.digest`, see
//! `tokenwise_ledger::digest`): `verify` recomputes each from the rows.

use crate::store;
use std::path::Path;
use std::process::ExitCode;
use tokenwise_ledger::{AuditStore, digest, verify_store};

const PAGE: u32 = 1_000;

/// A head as `audit head` prints it: `SEQ:HASH`.
fn parse_head(text: &str) -> anyhow::Result<(i64, String)> {
    let (seq, hash) = text.trim().split_once(':').ok_or_else(|| {
        anyhow::anyhow!("--expect-head takes SEQ:HASH as `tokenwise audit head` prints it, got `{text}`")
    })?;
    let seq: i64 = seq.parse().map_err(|_| anyhow::anyhow!("--expect-head: `{seq}` is not an entry number"))?;
    let hash = hash.trim().to_ascii_lowercase();
    if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("--expect-head takes SEQ:HASH, a positive entry number and a 64-digit hex SHA-256");
    }
    Ok((seq, hash))
}

/// Why the chain does not hold the expected head, if it does not.
async fn missing_head(ledger: &dyn AuditStore, last: i64, seq: i64, hash: &str) -> anyhow::Result<Option<String>> {
    if seq > last {
        return Ok(Some(format!(
            "the chain ends at entry {last}, before the expected head {seq}: its newest entries were removed"
        )));
    }
    let at = ledger.audit_page(seq - 1, 1).await?;
    Ok(match at.first() {
        Some(e) if e.seq == seq && e.hash == hash => None,
        _ => Some(format!(
            "entry {seq} no longer has the expected hash: the chain was rewritten from entry {seq} or before"
        )),
    })
}

pub async fn verify(
    config: &Path,
    database: Option<&str>,
    json: bool,
    expect: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let expect = expect.map(parse_head).transpose()?;
    let p = store::load_policy(config)?;
    let (url, ledger) = store::for_policy(&p, database).await?;
    let outcome = verify_store(ledger.as_ref(), PAGE).await?;
    let (mut ok, entries, head, broken) = match &outcome {
        Ok(Some((seq, hash))) => (true, *seq, Some(format!("{seq}:{hash}")), None),
        Ok(None) => (true, 0, None, None),
        Err(b) => (false, b.seq - 1, None, Some(b)),
    };
    let mut head_problem = None;
    if let (true, Some((seq, hash))) = (ok, &expect) {
        head_problem = missing_head(ledger.as_ref(), entries, *seq, hash).await?;
        ok = head_problem.is_none();
    }
    // The usage digests, once the chain that holds them is sound.
    let digests = if broken.is_none() { Some(digest::verify(ledger.as_ref()).await?) } else { None };
    let digest_broken = digests.as_ref().and_then(|d| d.broken.first());
    ok &= digest_broken.is_none();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "database": store::redact(&url),
                "verified_entries": entries,
                "head": head,
                "head_hash": head.as_deref().and_then(|h| h.split_once(':')).map(|(_, h)| h),
                "expected_head": expect.as_ref().map(|(s, h)| format!("{s}:{h}")),
                "expected_head_found": expect.as_ref().map(|_| ok),
                "broken_at": broken.map(|b| b.seq),
                "reason": broken.map(|b| b.reason.clone()).or(head_problem.clone())
                    .or(digest_broken.map(|d| d.reason.clone())),
                "usage_digests": digests.as_ref().map(|d| d.digests),
                "usage_rows_digested": digests.as_ref().map(|d| d.rows),
                "usage_digests_broken": digests.as_ref().map(|d| d.broken.iter().map(|b| serde_json::json!({
                    "seq": b.seq, "reason": b.reason})).collect::<Vec<_>>()),
            })
        );
    } else if let Some(b) = broken {
        eprintln!("audit log BROKEN: entry {} — {}", b.seq, b.reason);
        eprintln!("entries 1..{} verify; everything from entry {} on is untrusted", b.seq - 1, b.seq);
    } else if let Some(problem) = &head_problem {
        eprintln!("audit log BROKEN: {problem}");
        eprintln!("the {entries} entries verify among themselves, but not against the head kept elsewhere");
    } else if let Some(d) = &digests
        && !d.broken.is_empty()
    {
        for b in &d.broken {
            eprintln!("usage rows BROKEN: {b}");
        }
        eprintln!("the {entries} audit entries verify, but the usage rows no longer match their digests");
    } else {
        println!("audit log ok: {entries} entries verified in {}", store::redact(&url));
        if let Some(d) = &digests {
            println!("usage rows ok: {} digests recomputed, covering {} rows", d.digests, d.rows);
        }
        if let Some((seq, _)) = &expect {
            println!("expected head {seq} found: nothing up to it was rewritten or removed");
        }
        if let Some(h) = head {
            println!(
                "head: {h}  (keep it elsewhere; `audit verify --expect-head {h}` catches a rewrite or truncation)"
            );
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub async fn head(config: &Path, database: Option<&str>) -> anyhow::Result<ExitCode> {
    let p = store::load_policy(config)?;
    let (_, ledger) = store::for_policy(&p, database).await?;
    match verify_store(ledger.as_ref(), PAGE).await? {
        Ok(Some((seq, hash))) => {
            println!("{seq}:{hash}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => {
            eprintln!("the audit log is empty");
            Ok(ExitCode::FAILURE)
        }
        Err(b) => {
            eprintln!("audit log BROKEN: entry {} — {}; no head to give", b.seq, b.reason);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `audit digest`: what `serve` does every ten minutes, on demand.
pub async fn digest(config: &Path, database: Option<&str>, lag_secs: u64) -> anyhow::Result<ExitCode> {
    let p = store::load_policy(config)?;
    let (_, ledger) = store::for_policy(&p, database).await?;
    let now = tokenwise_ledger::to_micros(jiff::Timestamp::now());
    let lag = std::time::Duration::from_secs(lag_secs);
    match digest::append(ledger.as_ref(), "cli", now, lag).await? {
        Some((entry, d)) => println!(
            "usage digest: audit entry {}, {} rows recorded from {} to {} µs, sha256 {}",
            entry.seq, d.rows, d.from_us, d.to_us, d.sha256
        ),
        None => println!("usage digest: no usage rows recorded since the last digest"),
    }
    Ok(ExitCode::SUCCESS)
}
