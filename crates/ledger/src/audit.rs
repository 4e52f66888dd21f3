//! The audit log: append-only, each entry carrying the SHA-256 of the one
//! before it, so editing, inserting or deleting any entry but the newest
//! breaks the chain at a place `verify_chain` names. The newest entry's hash
//! (printed by `tokenwise audit verify`) can be written down elsewhere to
//! also catch truncation.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

tokenwise_core::named_enum!(
    /// What an audit entry records. The text is stored in each entry and
    /// covered by its hash, so a variant's text never changes; new kinds of
    /// entry (outcomes, appeals, …) are new variants.
    AuditAction, "audit action", {
        /// A policy file was loaded by `serve`; details: its SHA-256.
        #[serde(rename = "policy.load")]
        PolicyLoad => "policy.load",
        /// The policy allowed, redacted, rerouted or blocked a call.
        #[serde(rename = "policy.decision")]
        PolicyDecision => "policy.decision",
        #[serde(rename = "key.create")]
        KeyCreate => "key.create",
        #[serde(rename = "key.revoke")]
        KeyRevoke => "key.revoke",
        #[serde(rename = "exception.request")]
        ExceptionRequest => "exception.request",
        #[serde(rename = "exception.approve")]
        ExceptionApprove => "exception.approve",
        #[serde(rename = "exception.deny")]
        ExceptionDeny => "exception.deny",
        /// A budget crossed one of its alert thresholds.
        #[serde(rename = "budget.alert")]
        BudgetAlert => "budget.alert",
        /// A tranche of a budget unlocked.
        #[serde(rename = "budget.unlock")]
        BudgetUnlock => "budget.unlock",
        /// `tokenwise demo` filled a ledger with synthetic data.
        #[serde(rename = "demo.run")]
        DemoRun => "demo.run",
        /// An outcome was reported (by its user, a manager, governance, or
        /// signed by an integration).
        #[serde(rename = "outcome.report")]
        OutcomeReport => "outcome.report",
        /// An outcome was validated (by a validator, or by an upheld appeal).
        #[serde(rename = "outcome.validate")]
        OutcomeValidate => "outcome.validate",
        #[serde(rename = "outcome.reject")]
        OutcomeReject => "outcome.reject",
        /// The subject of a rejection appealed it.
        #[serde(rename = "appeal.file")]
        AppealFile => "appeal.file",
        /// Governance upheld or dismissed an appeal.
        #[serde(rename = "appeal.decide")]
        AppealDecide => "appeal.decide",
        /// Usage recorded elsewhere was taken in (`tokenwise ingest`,
        /// events:batch, OTLP); details: the format and the counts.
        #[serde(rename = "ingest.batch")]
        IngestBatch => "ingest.batch",
        /// A new anomaly was announced (signed webhook); details: the alert.
        #[serde(rename = "anomaly.alert")]
        AnomalyAlert => "anomaly.alert",
        /// Governance opened an incident review.
        #[serde(rename = "incident.open")]
        IncidentOpen => "incident.open",
        /// An incident's status or actions changed.
        #[serde(rename = "incident.update")]
        IncidentUpdate => "incident.update",
        /// Someone logged in to the dashboard (with an API key, or vouched
        /// for by a trusted sign-on proxy); details: how.
        #[serde(rename = "dashboard.login")]
        DashboardLogin => "dashboard.login",
        /// Someone read a prompt kept under a retention policy; details:
        /// the use case and the mode it was kept in (never the text).
        #[serde(rename = "prompt.read")]
        PromptRead => "prompt.read",
        /// The retention job deleted the prompts past their time; details: how many.
        #[serde(rename = "retention.purge")]
        RetentionPurge => "retention.purge",
        /// Output scanning found data in a model's reply and masked or
        /// flagged it; details: kinds and counts (never the text).
        #[serde(rename = "dlp.output")]
        DlpOutput => "dlp.output",
        /// Governance made a pilot's reward model and rules version the
        /// org's default; details: both.
        #[serde(rename = "pilot.promote")]
        PilotPromote => "pilot.promote",
        /// Governance ended a pilot without promoting it.
        #[serde(rename = "pilot.end")]
        PilotEnd => "pilot.end",
        /// A usage digest: the usage rows recorded in a window, counted and
        /// hashed (`crate::digest`); details: the window, count and SHA-256.
        #[serde(rename = "ledger.digest")]
        LedgerDigest => "ledger.digest",
    }
);

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a caller asks to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    pub ts: Timestamp,
    /// Who did it: a user id, or `system`.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to.
    pub subject: String,
    pub details: serde_json::Value,
}

impl AuditDraft {
    pub fn new(actor: &str, action: AuditAction, subject: &str, details: serde_json::Value) -> AuditDraft {
        AuditDraft { ts: Timestamp::now(), actor: actor.to_string(), action, subject: subject.to_string(), details }
    }
}

/// A stored entry, as text: `action` and `details` are kept exactly as they
/// were hashed, so entries written by a later version (with actions this
/// one does not know) still verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub ts_us: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Builds the entry that follows `prev` (None: the first entry).
    pub fn next(prev: Option<(i64, &str)>, draft: &AuditDraft) -> AuditEntry {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash.to_string()),
            None => (1, GENESIS_HASH.to_string()),
        };
        let details = serde_json::to_string(&draft.details).unwrap_or_else(|_| "null".into());
        let mut entry = AuditEntry {
            seq,
            ts_us: crate::to_micros(draft.ts),
            actor: draft.actor.clone(),
            action: draft.action.as_str().to_string(),
            subject: draft.subject.clone(),
            details,
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }

    /// The entries that follow `head` (the last stored entry's seq and
    /// hash; None: the chain is empty), one per draft, each linked to the
    /// one before.
    pub fn chain(head: Option<(i64, String)>, drafts: &[AuditDraft]) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let prev = match out.last() {
                Some(e) => Some((e.seq, e.hash.as_str())),
                None => head.as_ref().map(|(s, h)| (*s, h.as_str())),
            };
            let entry = AuditEntry::next(prev, draft);
            out.push(entry);
        }
        out
    }

    /// SHA-256 over every field but `hash`, each length-prefixed so no two
    /// different entries can serialise to the same bytes.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        let seq = self.seq.to_string();
        let ts = self.ts_us.to_string();
        for field in
            [seq.as_str(), ts.as_str(), &self.actor, &self.action, &self.subject, &self.details, &self.prev_hash]
        {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The action, if this version knows it.
    pub fn known_action(&self) -> Option<AuditAction> {
        self.action.parse().ok()
    }
}

/// Where and why the chain broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq} is broken: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Walks entries in order, continuing from `prev` (the last verified
/// entry's seq and hash, or None at the start of the log). Returns the new
/// last (seq, hash), or the first broken entry.
pub fn verify_chain<'a>(
    prev: Option<(i64, String)>,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<Option<(i64, String)>, ChainBreak> {
    let mut last = prev;
    for e in entries {
        let (want_seq, want_prev) = match &last {
            Some((s, h)) => (s + 1, h.as_str()),
            None => (1, GENESIS_HASH),
        };
        if e.seq != want_seq {
            return Err(ChainBreak {
                seq: e.seq,
                reason: format!("expected entry {want_seq} here; entries are missing or out of order"),
            });
        }
        if e.prev_hash != want_prev {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "its prev_hash does not match the entry before it (an entry was replaced)".into(),
            });
        }
        if e.compute_hash() != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "its content does not match its hash (it was edited)".into(),
            });
        }
        last = Some((e.seq, e.hash.clone()));
    }
    Ok(last)
}

/// Verifies the whole chain held by `store`, a page at a time so memory
/// stays flat at any length. Ok(Err(break)) when the chain is broken.
pub async fn verify_store(
    store: &dyn crate::AuditStore,
    page_size: u32,
) -> Result<Result<Option<(i64, String)>, ChainBreak>, crate::StoreError> {
    let mut last: Option<(i64, String)> = None;
    loop {
        let after = last.as_ref().map_or(0, |l| l.0);
        let page = store.audit_page(after, page_size.max(1)).await?;
        if page.is_empty() {
            return Ok(Ok(last));
        }
        match verify_chain(last, &page) {
            Ok(l) => last = l,
            Err(b) => return Ok(Err(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<AuditEntry> {
        let drafts: Vec<AuditDraft> = (0..n)
            .map(|i| AuditDraft::new("alice", AuditAction::KeyCreate, &format!("key_{i}"), serde_json::json!({"i": i})))
            .collect();
        AuditEntry::chain(None, &drafts)
    }

    #[test]
    fn actions_keep_their_stored_text() {
        // The hash chain covers this text: it must never change.
        let texts: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            texts,
            [
                "policy.load",
                "policy.decision",
                "key.create",
                "key.revoke",
                "exception.request",
                "exception.approve",
                "exception.deny",
                "budget.alert",
                "budget.unlock",
                "demo.run",
                "outcome.report",
                "outcome.validate",
                "outcome.reject",
                "appeal.file",
                "appeal.decide",
                "ingest.batch",
                "anomaly.alert",
                "incident.open",
                "incident.update",
                "dashboard.login",
                "prompt.read",
                "retention.purge",
                "dlp.output",
                "pilot.promote",
                "pilot.end",
                "ledger.digest",
            ]
        );
        for a in AuditAction::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), serde_json::json!(a.as_str()));
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), *a);
        }
        let e = &chain(1)[0];
        assert_eq!((e.action.as_str(), e.known_action()), ("key.create", Some(AuditAction::KeyCreate)));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let last = verify_chain(None, &c).unwrap().unwrap();
        assert_eq!(last.0, 5);
        // Verification can resume from a checkpoint.
        let mid = Some((c[1].seq, c[1].hash.clone()));
        assert_eq!(verify_chain(mid, &c[2..]).unwrap().unwrap().0, 5);
    }

    #[test]
    fn deleting_an_entry_is_caught() {
        let mut c = chain(4);
        c.remove(1);
        assert_eq!(verify_chain(None, &c).unwrap_err().seq, 3);
    }

    proptest! {
        /// Any edit to any field of any entry is caught at that entry.
        #[test]
        fn any_edit_is_caught_at_its_entry(n in 1usize..8, pick in 0usize..8, field in 0usize..6, extra in "[a-z0-9]{1,4}") {
            let mut c = chain(n);
            let i = pick % n;
            let e = &mut c[i];
            match field {
                0 => e.actor.push_str(&extra),
                1 => e.action.push_str(&extra),
                2 => e.subject.push_str(&extra),
                3 => e.details.push_str(&extra),
                4 => e.ts_us += 1,
                _ => {
                    // Replace the first hex digit with a different one.
                    let first = if e.hash.starts_with('0') { "1" } else { "0" };
                    e.hash = format!("{first}{}", &e.hash[1..]);
                }
            }
            let err = verify_chain(None, &c).unwrap_err();
            prop_assert_eq!(err.seq, c[i].seq);
        }
    }
}
