//! Usage digests: the usage rows (`usage_events`) covered by the audit
//! chain. Every so often (`serve` on a timer, `tokenwise audit digest` on
//! demand) an entry `ledger.digest` is appended to the chain naming a
//! window of *recording* time — `from_us <= recorded_us < to_us` — with
//! the number of rows recorded in it and a SHA-256 over their canonical
//! fields in `(recorded_us, id)` order. `tokenwise audit verify`
//! recomputes every digest from the rows, so a row removed, added or
//! altered inside a digested window breaks the digest that covers it.
//!
//! **The window is exact.** `recorded_us` is stamped as the row is written
//! (SQLite: the writer's clock once it holds the write lock, so stamps
//! follow commit order; PostgreSQL: the database's clock at insert, one
//! clock for every replica), and a digest covers only rows recorded before
//! `now - lag`. Any row stamped before that had committed by then as long
//! as no insert takes longer than `lag` to commit — [`DEFAULT_LAG`] is ten
//! minutes, far beyond a group commit (milliseconds) and the budget hold
//! lease (a minute). Each window starts where the newest digest's ended (the
//! first at the beginning of time), so the windows cover every row once;
//! two replicas digesting at the same moment write overlapping windows,
//! each of which verifies on its own. Nothing here runs per request: the
//! writer only stamps `recorded_us` (not indexed, so inserts pay nothing
//! more). A digest reads its window's rows in one ordered query, and
//! `verify` every digest's rows in one pass ([`Fold`]).

use crate::audit::{AuditAction, AuditDraft, AuditEntry};
use crate::event::UsageEvent;
use crate::store::{AuditStore, EventStore, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How far behind now a digest's window ends.
pub const DEFAULT_LAG: Duration = Duration::from_secs(600);

/// Audit entries read per page.
const PAGE: u32 = 1_000;

/// What a `ledger.digest` entry's details say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDigest {
    /// The window: rows with `from_us <= recorded_us < to_us`.
    pub from_us: i64,
    pub to_us: i64,
    /// How many rows were recorded in it.
    pub rows: u64,
    /// SHA-256 (hex) over the rows' canonical fields, in `(recorded_us, id)` order.
    pub sha256: String,
}

/// Feeds one row's canonical fields to `h`, each length-prefixed (an absent
/// one as `u64::MAX`), so no two different rows hash alike: who, what,
/// when, the tokens, the cost and how the call ended.
pub fn hash_row(h: &mut Sha256, recorded_us: i64, e: &UsageEvent) {
    let numbers = [
        recorded_us,
        crate::to_micros(e.ts),
        e.usage.input as i64,
        e.usage.output as i64,
        e.usage.cached_read as i64,
        e.usage.cache_write as i64,
        e.usage.reasoning as i64,
        e.cost.0,
        i64::from(e.latency_ms),
        e.ttft_ms.map_or(-1, i64::from),
        i64::from(e.streamed),
        i64::from(e.http_status),
        i64::from(e.estimated),
    ];
    let texts: [Option<&str>; 20] = [
        Some(&e.id),
        Some(e.source.as_str()),
        Some(&e.user_id),
        Some(&e.team_id),
        e.project_id.as_deref(),
        e.use_case.as_deref(),
        e.template.as_deref(),
        e.task.as_deref(),
        Some(e.track.as_str()),
        e.destination.as_deref(),
        Some(e.operation.as_str()),
        Some(&e.requested_model),
        Some(&e.model),
        Some(&e.provider),
        Some(&e.price_version),
        Some(e.status.as_str()),
        e.error_code.as_deref(),
        e.data_class.as_deref(),
        Some(e.decision.as_str()),
        e.key_id.as_deref(),
    ];
    for n in numbers {
        h.update(n.to_be_bytes());
    }
    for t in texts {
        match t {
            Some(t) => {
                h.update((t.len() as u64).to_be_bytes());
                h.update(t.as_bytes());
            }
            None => h.update(u64::MAX.to_be_bytes()),
        }
    }
}

/// Digests of several windows, fed the rows once in `(recorded_us, id)`
/// order (each row goes to every window that holds it: windows written by
/// two replicas at once may overlap).
#[derive(Debug)]
pub struct Fold {
    /// The windows, sorted by start, with their index in the caller's order.
    windows: Vec<(i64, i64, usize)>,
    /// The greatest end among the windows up to each one.
    reach: Vec<i64>,
    hashers: Vec<Sha256>,
    rows: Vec<u64>,
}

impl Fold {
    pub fn new(windows: &[(i64, i64)]) -> Fold {
        let mut sorted: Vec<(i64, i64, usize)> = windows.iter().enumerate().map(|(i, (f, t))| (*f, *t, i)).collect();
        sorted.sort_unstable();
        let mut reach = Vec::with_capacity(sorted.len());
        let mut max = i64::MIN;
        for (_, to, _) in &sorted {
            max = max.max(*to);
            reach.push(max);
        }
        Fold { windows: sorted, reach, hashers: vec![Sha256::new(); windows.len()], rows: vec![0; windows.len()] }
    }

    /// The span of recording time that holds every window, if any is not empty.
    pub fn span(&self) -> Option<(i64, i64)> {
        let from = self.windows.first()?.0;
        let to = self.reach.last().copied()?;
        (from < to).then_some((from, to))
    }

    /// One row; rows come in `(recorded_us, id)` order.
    pub fn row(&mut self, recorded_us: i64, e: &UsageEvent) {
        let k = self.windows.partition_point(|w| w.0 <= recorded_us);
        for i in (0..k).rev() {
            if self.reach[i] <= recorded_us {
                break;
            }
            let (_, to, at) = self.windows[i];
            if recorded_us < to {
                hash_row(&mut self.hashers[at], recorded_us, e);
                self.rows[at] += 1;
            }
        }
    }

    /// Each window's row count and SHA-256 (hex), in the caller's order.
    pub fn finish(self) -> Vec<(u64, String)> {
        self.rows.into_iter().zip(self.hashers).map(|(n, h)| (n, hex::encode(h.finalize()))).collect()
    }
}

/// The digest of the rows recorded in `[from_us, to_us)`.
pub async fn compute<S: EventStore + ?Sized>(store: &S, from_us: i64, to_us: i64) -> Result<UsageDigest, StoreError> {
    let (rows, sha256) = store.digest_recorded(&[(from_us, to_us)]).await?.pop().unwrap_or_default();
    Ok(UsageDigest { from_us, to_us, rows, sha256 })
}

/// The digest a `ledger.digest` entry states.
fn stated(e: &AuditEntry) -> Result<UsageDigest, String> {
    serde_json::from_str(&e.details).map_err(|err| format!("its details are not a usage digest ({err})"))
}

/// Appends the digest of the rows recorded since the newest digest's window
/// ended (the beginning of time if there is none) and before `now_us - lag`,
/// as `actor`. None when no row was recorded in that window (nothing is
/// written; the next window starts at the same place).
pub async fn append<S: EventStore + AuditStore + ?Sized>(
    store: &S,
    actor: &str,
    now_us: i64,
    lag: Duration,
) -> Result<Option<(AuditEntry, UsageDigest)>, StoreError> {
    let to_us = now_us.saturating_sub(i64::try_from(lag.as_micros()).unwrap_or(i64::MAX));
    let from_us = match store.last_audit(AuditAction::LedgerDigest.as_str()).await? {
        Some(e) => stated(&e).map_err(|why| StoreError::Corrupt(format!("audit entry {}: {why}", e.seq)))?.to_us,
        None => i64::MIN,
    };
    if to_us <= from_us {
        return Ok(None);
    }
    let digest = compute(store, from_us, to_us).await?;
    if digest.rows == 0 {
        return Ok(None);
    }
    let details = serde_json::to_value(&digest).map_err(|e| StoreError::Backend(e.to_string()))?;
    let entry = store.append_audit(&AuditDraft::new(actor, AuditAction::LedgerDigest, "usage_events", details)).await?;
    Ok(Some((entry, digest)))
}

/// A digest that the rows no longer match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("usage digest (audit entry {seq}) is broken: {reason}")]
pub struct DigestBreak {
    /// The `ledger.digest` entry.
    pub seq: i64,
    pub reason: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestCheck {
    /// Digests recomputed.
    pub digests: u64,
    /// Rows they cover, as recomputed.
    pub rows: u64,
    /// Those the rows no longer match, in chain order.
    pub broken: Vec<DigestBreak>,
}

/// Recomputes every `ledger.digest` in the chain from the rows, in one
/// pass over them.
pub async fn verify<S: EventStore + AuditStore + ?Sized>(store: &S) -> Result<DigestCheck, StoreError> {
    let mut check = DigestCheck::default();
    let mut stated_digests: Vec<(i64, UsageDigest)> = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page.iter().filter(|e| e.action == AuditAction::LedgerDigest.as_str()) {
            match stated(e) {
                Ok(d) => stated_digests.push((e.seq, d)),
                Err(reason) => check.broken.push(DigestBreak { seq: e.seq, reason }),
            }
        }
    }
    let windows: Vec<(i64, i64)> = stated_digests.iter().map(|(_, d)| (d.from_us, d.to_us)).collect();
    let found = store.digest_recorded(&windows).await?;
    for ((seq, want), (rows, sha256)) in stated_digests.into_iter().zip(found) {
        check.digests += 1;
        check.rows += rows;
        let window = format!("rows recorded from {} to {} µs", want.from_us, want.to_us);
        let reason = if rows != want.rows {
            let how = if rows < want.rows { "removed" } else { "added" };
            Some(format!(
                "{window}: it counted {} rows, {rows} are there now ({} {how})",
                want.rows,
                rows.abs_diff(want.rows)
            ))
        } else if sha256 != want.sha256 {
            Some(format!("{window}: {rows} rows as counted, but their content changed (a row was altered or replaced)"))
        } else {
            None
        };
        if let Some(reason) = reason {
            check.broken.push(DigestBreak { seq, reason });
        }
    }
    check.broken.sort_by_key(|b| b.seq);
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::UsageEvent;
    use proptest::prelude::*;

    fn row(i: u32) -> UsageEvent {
        let ts = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let mut e = UsageEvent::builder(
            format!("evt_{i}"),
            ts,
            crate::EventSource::Gateway,
            "alice",
            "payments",
            "gpt-4.1-mini",
            "openai",
        )
        .build();
        e.cost = tokenwise_core::Nanos(1_000 + i64::from(i));
        e
    }

    fn digest(rows: &[(i64, UsageEvent)]) -> String {
        let mut h = Sha256::new();
        for (r, e) in rows {
            hash_row(&mut h, *r, e);
        }
        hex::encode(h.finalize())
    }

    #[test]
    fn a_fold_gives_each_window_its_rows_also_where_windows_overlap() {
        let rows: Vec<(i64, UsageEvent)> = (0..10).map(|i| (i64::from(i) * 10, row(i))).collect();
        let windows = [(20, 50), (i64::MIN, 30), (50, 100), (40, 60), (200, 300)];
        let mut fold = Fold::new(&windows);
        assert_eq!(fold.span(), Some((i64::MIN, 300)));
        for (r, e) in &rows {
            fold.row(*r, e);
        }
        for (w, (n, sha)) in windows.iter().zip(fold.finish()) {
            let inside: Vec<_> = rows.iter().filter(|(r, _)| w.0 <= *r && *r < w.1).cloned().collect();
            assert_eq!((n, sha), (inside.len() as u64, digest(&inside)), "{w:?}");
        }
    }

    proptest! {
        /// Any change to a row — a field edited, a row removed, one added —
        /// changes the digest.
        #[test]
        fn any_change_to_the_rows_changes_the_digest(n in 1u32..6, pick in 0u32..6, what in 0u8..7) {
            let rows: Vec<(i64, UsageEvent)> = (0..n).map(|i| (i64::from(i) * 10, row(i))).collect();
            let before = digest(&rows);
            let mut changed = rows.clone();
            let i = (pick % n) as usize;
            match what {
                0 => changed[i].1.cost.0 += 1,
                1 => changed[i].1.usage.output += 1,
                2 => changed[i].1.user_id.push('x'),
                3 => changed[i].1.project_id = Some(String::new()),
                4 => changed[i].0 += 1,
                5 => { changed.remove(i); }
                _ => changed.push((1_000, row(99))),
            }
            prop_assert_ne!(before, digest(&changed));
        }
    }
}
