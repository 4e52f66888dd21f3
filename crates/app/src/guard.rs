//! Every prompt is scanned before it leaves: the texts of a request (every
//! one the upstream receives, as `tokenwise_wire::walk` finds them, with
//! where it sits in the JSON body) go through the DLP scanner; findings get
//! the policy's classes; masked texts are written back in place. What the
//! policy's allowlist (`dlp.allow`) names is dropped here, so it is not a
//! finding anywhere: the gateway, `/check`, `tokenwise scan --config`.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use tokenwise_core::FindingKind;
use tokenwise_dlp::{Finding, Scanner, ScannerConfig, Term};
use tokenwise_policy::decision::Classified;
use tokenwise_policy::{DataClass, Dlp, Policy};
use tokenwise_wire::Slot;

#[derive(Debug)]
pub struct Guard {
    scanner: Scanner,
}

/// What the scanner found in a request.
#[derive(Debug, Default)]
pub struct Inspection {
    /// Per slot: findings with their class.
    pub per_slot: Vec<Vec<(Finding, DataClass)>>,
    pub classified: Vec<Classified>,
    /// Kind → count of what the scanner found and the allowlist dropped
    /// (audited, never the text).
    pub allowed: BTreeMap<FindingKind, u32>,
}

/// A finding as `/check` reports it: what, where in which text (byte
/// offsets), and its data class. Never the matched text.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Located {
    pub kind: FindingKind,
    pub start: usize,
    pub end: usize,
    pub class: String,
    /// A JSON pointer to the text in the request body.
    pub location: String,
}

impl Guard {
    pub fn new(dlp: &Dlp) -> anyhow::Result<Guard> {
        let terms = dlp.scanner_terms().map(|(t, marker)| Term { text: t.to_string(), marker }).collect();
        Ok(Guard { scanner: Scanner::new(&ScannerConfig { terms })? })
    }

    /// The findings in `text` with their classes, less what the allowlist names.
    pub fn scan(&self, dlp: &Dlp, text: &str) -> Vec<(Finding, DataClass)> {
        self.sift(dlp, text, &mut BTreeMap::new())
    }

    /// Like `scan`, counting what the allowlist dropped into `allowed`.
    fn sift(&self, dlp: &Dlp, text: &str, allowed: &mut BTreeMap<FindingKind, u32>) -> Vec<(Finding, DataClass)> {
        let mut found = self.scanner.scan(text);
        if !dlp.allow.is_empty() {
            found.retain(|f| {
                let allow = text.get(f.start..f.end).is_some_and(|t| dlp.allows(f.kind, t));
                if allow {
                    *allowed.entry(f.kind).or_insert(0) += 1;
                }
                !allow
            });
        }
        found.into_iter().map(|f| (f, dlp.class_of(f.kind, f.term))).collect()
    }

    pub fn inspect(&self, policy: &Policy, slots: &[Slot]) -> Inspection {
        let mut ins = Inspection::default();
        for s in slots {
            let found = self.sift(&policy.dlp, &s.text, &mut ins.allowed);
            ins.classified.extend(found.iter().map(|(f, c)| Classified { kind: f.kind, class: *c }));
            ins.per_slot.push(found);
        }
        ins
    }
}

impl Inspection {
    /// Finding kind → count, as the ledger keeps them.
    pub fn counts(&self) -> BTreeMap<FindingKind, u32> {
        let mut m = BTreeMap::new();
        for c in &self.classified {
            *m.entry(c.kind).or_insert(0) += 1;
        }
        m
    }

    /// Each finding with its kind, byte offsets in its text, class, and
    /// where the text is in the body (a JSON pointer), as `/check` shows it.
    pub fn located(&self, policy: &Policy, slots: &[Slot]) -> Vec<Located> {
        slots
            .iter()
            .zip(&self.per_slot)
            .flat_map(|(slot, found)| {
                found.iter().map(move |(f, class)| Located {
                    kind: f.kind,
                    start: f.start,
                    end: f.end,
                    class: policy.class_name(*class).to_string(),
                    location: slot.pointer.clone(),
                })
            })
            .collect()
    }

    /// Masks every finding above `keep_up_to` in `req` and `slots`.
    pub fn redact(&self, req: &mut Value, slots: &mut [Slot], keep_up_to: DataClass) {
        for (slot, found) in slots.iter_mut().zip(&self.per_slot) {
            let masked: Vec<&Finding> = found.iter().filter(|(_, c)| *c > keep_up_to).map(|(f, _)| f).collect();
            if masked.is_empty() {
                continue;
            }
            let new = tokenwise_dlp::redact(&slot.text, masked);
            if !slot.replace(req, new) {
                // Cannot happen: the slots were read from this body.
                tracing::error!(pointer = %slot.pointer, "a masked text could not be written back");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slots_point_into_the_body_and_redaction_writes_back() {
        let mut req = json!({"messages": [
            {"role": "system", "content": "You help with refunds."},
            {"role": "user", "content": [{"type": "text", "text": "mail jane@example.com"}, {"type": "image_url", "image_url": {"url": "x"}}]}
        ]});
        let mut slots = tokenwise_wire::walk(tokenwise_wire::Api::OpenAiChat, &req).unwrap().slots;
        assert_eq!(slots.len(), 2);
        assert_eq!(slots[1].pointer, "/messages/1/content/0/text");
        let dlp = tokenwise_policy::default_dlp().1;
        let guard = Guard::new(&dlp).unwrap();
        let policy_free = Inspection {
            per_slot: slots.iter().map(|s| guard.scan(&dlp, &s.text)).collect(),
            classified: Vec::new(),
            allowed: BTreeMap::new(),
        };
        policy_free.redact(&mut req, &mut slots, DataClass(0));
        assert_eq!(req["messages"][1]["content"][0]["text"], "mail [EMAIL]");
        assert_eq!(req["messages"][0]["content"], "You help with refunds.");
    }

    #[test]
    fn the_allowlist_drops_what_it_names_and_counts_it() {
        let mut dlp = tokenwise_policy::default_dlp().1;
        let text = "Co-Authored-By: Claude <NoReply@Anthropic.com>; write to jane.doe@gmail.com";
        let guard = Guard::new(&dlp).unwrap();
        assert_eq!(guard.scan(&dlp, text).len(), 2);
        dlp.allow.push(tokenwise_policy::Allow::value("noreply@anthropic.com", vec![FindingKind::Email]));
        let found = guard.scan(&dlp, text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].0.start..found[0].0.end], "jane.doe@gmail.com");
        let mut allowed = BTreeMap::new();
        guard.sift(&dlp, text, &mut allowed);
        guard.sift(&dlp, text, &mut allowed);
        assert_eq!(allowed, BTreeMap::from([(FindingKind::Email, 2)]));
    }
}
