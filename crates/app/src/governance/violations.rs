//! The policy's decisions on prompts over a period, counted by what was
//! found (the kind) and the use case: how often each kind of sensitive data
//! reached the gateway, and what the policy did about it.

use crate::App;
use crate::access::may_oversee;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::scores::Period;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokenwise_ledger::{DecisionCount, UsageEvent};

/// The period counted; the current month by default.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ViolationsRequest {
    pub period: Option<String>,
}

/// The calls of one kind of finding and use case, by what the policy did.
/// A call carrying several kinds counts once under each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ViolationRow {
    /// A finding kind (`credit_card`, …), or None for a call refused by a
    /// rule with nothing found (a use case the person may not use, a model
    /// it does not allow).
    pub kind: Option<String>,
    /// None for calls that named no use case.
    pub use_case: Option<String>,
    pub calls: u64,
    /// Sent on with the findings masked.
    pub redacted: u64,
    /// Sent to a model cleared for the data instead.
    pub rerouted: u64,
    /// Refused.
    pub blocked: u64,
    /// Let through (allowlisted, or below the class the use case refuses).
    pub allowed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Violations {
    pub period: String,
    /// Per kind and use case, most calls first.
    pub rows: Vec<ViolationRow>,
    /// Per kind, over every use case, most calls first.
    pub by_kind: Vec<ViolationRow>,
    /// Per use case, over every kind; each call once.
    pub by_use_case: Vec<ViolationRow>,
    /// Calls the policy acted on (each once).
    pub total: ViolationRow,
}

impl ViolationRow {
    fn add(&mut self, decision: &str, status: &str, calls: u64) {
        self.calls += calls;
        match (decision, status) {
            (_, "blocked") | ("block", _) => self.blocked += calls,
            ("redact", _) => self.redacted += calls,
            ("reroute", _) => self.rerouted += calls,
            _ => self.allowed += calls,
        }
    }
}

fn most_first(map: BTreeMap<(Option<String>, Option<String>), ViolationRow>) -> Vec<ViolationRow> {
    let mut rows: Vec<ViolationRow> = map.into_values().collect();
    rows.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| (&a.kind, &a.use_case).cmp(&(&b.kind, &b.use_case))));
    rows
}

/// The counts the ledger returned, by kind and use case.
pub fn tally(period: &str, counts: &[DecisionCount]) -> AppResult<Violations> {
    type Key = (Option<String>, Option<String>);
    let (mut cells, mut kinds, mut cases): (
        BTreeMap<Key, ViolationRow>,
        BTreeMap<Key, ViolationRow>,
        BTreeMap<Key, ViolationRow>,
    ) = Default::default();
    let mut total = ViolationRow::default();
    for c in counts {
        let found = UsageEvent::parse_findings(&c.findings).map_err(AppError::internal)?;
        let mut kinds_of_call: Vec<Option<String>> = found.keys().map(|k| Some(k.as_str().to_string())).collect();
        if kinds_of_call.is_empty() {
            kinds_of_call.push(None);
        }
        for kind in kinds_of_call {
            let cell = cells.entry((kind.clone(), c.use_case.clone())).or_default();
            cell.kind.clone_from(&kind);
            cell.use_case.clone_from(&c.use_case);
            cell.add(&c.decision, &c.status, c.calls);
            let k = kinds.entry((kind.clone(), None)).or_default();
            k.kind = kind;
            k.add(&c.decision, &c.status, c.calls);
        }
        let u = cases.entry((None, c.use_case.clone())).or_default();
        u.use_case.clone_from(&c.use_case);
        u.add(&c.decision, &c.status, c.calls);
        total.add(&c.decision, &c.status, c.calls);
    }
    Ok(Violations {
        period: period.to_string(),
        rows: most_first(cells),
        by_kind: most_first(kinds),
        by_use_case: most_first(cases),
        total,
    })
}

impl App {
    /// The period's calls the policy acted on, by kind and use case: for
    /// governance and admins.
    pub async fn violations(&self, caller: &Caller, r: ViolationsRequest) -> AppResult<Violations> {
        may_oversee(&caller.user)?;
        let period = match r.period.as_deref() {
            Some(l) => Period::parse(&self.policy, l)?,
            None => Period::containing(&self.policy, self.clock.now()),
        };
        let counts = self.store.decision_counts(period.start, period.end).await?;
        tally(&period.label, &counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(use_case: Option<&str>, decision: &str, status: &str, findings: &str, calls: u64) -> DecisionCount {
        DecisionCount {
            use_case: use_case.map(str::to_string),
            decision: decision.into(),
            status: status.into(),
            findings: findings.into(),
            calls,
        }
    }

    #[test]
    fn a_call_counts_once_per_kind_and_once_in_the_totals() {
        let v = tally(
            "2026-11",
            &[
                count(Some("support"), "redact", "ok", r#"{"credit_card":1,"email":2}"#, 3),
                count(Some("support"), "block", "blocked", "{}", 2),
                count(Some("legal"), "reroute", "ok", r#"{"email":1}"#, 1),
            ],
        )
        .unwrap();
        assert_eq!(v.total.calls, 6);
        assert_eq!((v.total.redacted, v.total.blocked, v.total.rerouted), (3, 2, 1));
        let email = v.by_kind.iter().find(|r| r.kind.as_deref() == Some("email")).unwrap();
        assert_eq!((email.calls, email.redacted, email.rerouted), (4, 3, 1));
        assert_eq!(v.by_kind[0].kind.as_deref(), Some("email"), "most calls first");
        let refused = v.by_kind.iter().find(|r| r.kind.is_none()).unwrap();
        assert_eq!(refused.blocked, 2);
        let support = v.by_use_case.iter().find(|r| r.use_case.as_deref() == Some("support")).unwrap();
        assert_eq!(support.calls, 5, "each call once per use case, whatever it carried");
        assert_eq!(v.rows.iter().map(|r| r.calls).sum::<u64>(), 3 + 3 + 2 + 1);
    }

    #[test]
    fn a_findings_text_the_ledger_cannot_read_is_an_error() {
        assert!(tally("2026-11", &[count(None, "redact", "ok", "not json", 1)]).is_err());
    }
}
