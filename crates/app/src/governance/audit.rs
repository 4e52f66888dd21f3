//! The audit log as governance reads it: the newest entries, and whether
//! the whole hash chain verifies from the first entry to the newest — read
//! a page at a time, so memory stays flat at any length.

use crate::App;
use crate::access::may_oversee;
use crate::auth::Caller;
use crate::error::AppResult;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use tokenwise_ledger::{AuditEntry, ChainBreak, from_micros, verify_chain};

const PAGE: u32 = 2_000;
const DEFAULT_SHOWN: usize = 50;
const MAX_SHOWN: usize = 500;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditLogRequest {
    /// How many of the newest entries to list (default 50, at most 500).
    pub limit: Option<usize>,
    /// Only entries of this action (`policy.decision`, …).
    pub action: Option<String>,
}

/// What verifying the chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verification {
    /// Every entry links to the one before it and matches its hash.
    Intact { entries: i64, head_hash: Option<String> },
    /// Entries before `seq` verify; `seq` and everything after it cannot be trusted.
    Broken { seq: i64, reason: String, verified_entries: i64 },
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// The details as hashed (JSON text).
    pub details: String,
    /// False from a broken entry on.
    pub verified: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditLog {
    pub verification: Verification,
    /// Entries in the log.
    pub total: i64,
    /// The newest entries (of the action asked for), newest first.
    pub entries: Vec<AuditEntryView>,
    /// The newest `policy.load`: which policy file is in force, and its SHA-256.
    pub policy_load: Option<AuditEntryView>,
}

fn view(e: &AuditEntry, broken_at: Option<i64>) -> AuditEntryView {
    AuditEntryView {
        seq: e.seq,
        at: from_micros(e.ts_us),
        actor: e.actor.clone(),
        action: e.action.clone(),
        subject: e.subject.clone(),
        details: e.details.clone(),
        verified: broken_at.is_none_or(|b| e.seq < b),
    }
}

impl App {
    /// Walks the whole chain, verifying it, and keeps the newest entries:
    /// for governance and admins.
    pub async fn audit_log(&self, caller: &Caller, r: AuditLogRequest) -> AppResult<AuditLog> {
        may_oversee(&caller.user)?;
        let shown = r.limit.unwrap_or(DEFAULT_SHOWN).clamp(1, MAX_SHOWN);
        let mut last: Option<(i64, String)> = None;
        let mut broken: Option<ChainBreak> = None;
        let mut newest: VecDeque<AuditEntryView> = VecDeque::with_capacity(shown);
        let mut policy_load = None;
        let mut after = 0;
        loop {
            let page = self.store.audit_page(after, PAGE).await?;
            let Some(end) = page.last() else { break };
            after = end.seq;
            if broken.is_none() {
                match verify_chain(last.take(), &page) {
                    Ok(l) => last = l,
                    Err(b) => broken = Some(b),
                }
            }
            let broken_at = broken.as_ref().map(|b| b.seq);
            for e in &page {
                if e.action == "policy.load" {
                    policy_load = Some(view(e, broken_at));
                }
                if r.action.as_deref().is_none_or(|a| a == e.action) {
                    if newest.len() == shown {
                        newest.pop_front();
                    }
                    newest.push_back(view(e, broken_at));
                }
            }
        }
        let verification = match broken {
            Some(b) => Verification::Broken { verified_entries: b.seq - 1, seq: b.seq, reason: b.reason },
            None => Verification::Intact { entries: last.as_ref().map_or(0, |l| l.0), head_hash: last.map(|l| l.1) },
        };
        Ok(AuditLog { verification, total: after, entries: newest.into_iter().rev().collect(), policy_load })
    }
}
