//! Output scanning (`[dlp] scan_output`): a model's reply is scanned like a
//! prompt, and what it carries above its use case's data-class ceiling —
//! a secret or personal data the model echoed — is masked (`[AWS_ACCESS_KEY]`)
//! or, with `output_action = "flag"`, passed on and recorded. Either way
//! the call's findings (kinds and counts, never the text) go to the audit
//! log (`dlp.output`, its subject the usage event).
//!
//! Streams are scanned through a [`Window`]: the newest [`WINDOW_BYTES`]
//! of each text are withheld until more text (or its end) arrives (and
//! text is released [`STEP_BYTES`] or more at a time), so a
//! finding split across chunks is whole when it is scanned; text before
//! that is emitted, masked. A finding up to `WINDOW_BYTES` long is always
//! caught; a longer one (a PEM private key, a long JWT) is caught when the
//! scanner recognises it from a part at most that long, and a finding
//! already seen in the window is never cut.

use crate::App;
use crate::guard::Guard;
use serde_json::json;
use std::collections::BTreeMap;
use tokenwise_core::FindingKind;
use tokenwise_ledger::audit::{AuditAction, AuditDraft};
use tokenwise_policy::{DataClass, Dlp, OutputAction};

/// How much of a streamed text is withheld while it is scanned: longer
/// than any credential, card, IBAN or address the scanner knows (an
/// OpenAI project key is about 170 bytes).
pub const WINDOW_BYTES: usize = 256;

/// Text is released in steps of at least this many bytes, so each byte is
/// scanned about `(WINDOW_BYTES + STEP_BYTES) / STEP_BYTES` times rather
/// than once per chunk (a token is a few bytes).
pub const STEP_BYTES: usize = 64;

/// What output scanning does for one call.
#[derive(Debug, Clone, Copy)]
pub struct OutputRule {
    /// Findings above this class are acted on.
    pub ceiling: DataClass,
    pub mask: bool,
}

/// A call's output scanner: the rule, the scanner, and what it found.
#[derive(Debug)]
pub struct OutputScan<'a> {
    guard: &'a Guard,
    dlp: &'a Dlp,
    rule: OutputRule,
    /// Kind → count of what was found above the ceiling.
    pub found: BTreeMap<FindingKind, u32>,
}

impl App {
    /// The output rule for a call of `use_case`, if the policy scans output.
    pub fn output_rule(&self, use_case: &str) -> Option<OutputRule> {
        let dlp = &self.policy.dlp;
        if !self.policy.scans_output(use_case) {
            return None;
        }
        let ceiling = self.policy.use_cases.get(use_case).map_or(self.policy.classes.lowest(), |u| u.max_class);
        Some(OutputRule { ceiling, mask: dlp.output_action == OutputAction::Mask })
    }

    pub fn output_scan(&self, rule: OutputRule) -> OutputScan<'_> {
        OutputScan::new(&self.guard, &self.policy.dlp, rule)
    }

    /// Audits what output scanning found in a call's reply, if anything.
    pub async fn audit_output(&self, user: &str, event_id: &str, use_case: &str, scan: &OutputScan<'_>) {
        if scan.found.is_empty() {
            return;
        }
        let action = if scan.rule.mask { "masked" } else { "flagged" };
        let details = json!({"use_case": use_case, "action": action, "findings": scan.found});
        self.auditor.submit(AuditDraft::new(user, AuditAction::DlpOutput, event_id, details)).await;
    }
}

impl<'a> OutputScan<'a> {
    pub fn new(guard: &'a Guard, dlp: &'a Dlp, rule: OutputRule) -> OutputScan<'a> {
        OutputScan { guard, dlp, rule, found: BTreeMap::new() }
    }

    /// `text` with what lies above the ceiling masked (or as it is, when
    /// flagging), counting the findings.
    pub fn text(&mut self, text: &str) -> Option<String> {
        let found = self.above(text);
        self.count(&found);
        if found.is_empty() || !self.rule.mask {
            return None;
        }
        Some(tokenwise_dlp::redact(text, &found))
    }

    /// Like [`text`](Self::text), counting nothing: for a text whose
    /// findings were counted already (a stream's summary events).
    pub fn again(&self, text: &str) -> Option<String> {
        let found = self.above(text);
        if found.is_empty() || !self.rule.mask {
            return None;
        }
        Some(tokenwise_dlp::redact(text, &found))
    }

    fn above(&self, text: &str) -> Vec<tokenwise_dlp::Finding> {
        let ceiling = self.rule.ceiling;
        self.guard.scan(self.dlp, text).into_iter().filter(|(_, c)| *c > ceiling).map(|(f, _)| f).collect()
    }

    fn count(&mut self, found: &[tokenwise_dlp::Finding]) {
        for f in found {
            *self.found.entry(f.kind).or_insert(0) += 1;
        }
    }
}

/// Bytes of text already emitted that a scan of the window is given as
/// context (the scanner reads up to 40 bytes before a finding: "for
/// example", a `KEY=` name), so the window reads a finding as the whole
/// text would.
const CONTEXT_BYTES: usize = 64;

/// One streamed text (a choice, a content block) being scanned.
#[derive(Debug, Default)]
pub struct Window {
    /// Received, not yet emitted.
    pending: String,
    /// The end of what was emitted, as received: context for the next scan.
    before: String,
}

impl Window {
    /// Takes in `delta`; answers what may be emitted now.
    pub fn push(&mut self, scan: &mut OutputScan<'_>, delta: &str) -> String {
        self.pending.push_str(delta);
        if self.pending.len() < WINDOW_BYTES + STEP_BYTES {
            return String::new();
        }
        let found = self.scan(scan);
        let mut cut = floor_char(&self.pending, self.pending.len() - WINDOW_BYTES);
        // Never cut a finding: hold it back whole.
        for f in &found {
            if f.start < cut && cut < f.end {
                cut = f.start;
            }
        }
        let done: Vec<_> = found.into_iter().filter(|f| f.end <= cut).collect();
        let rest = self.pending.split_off(cut);
        let head = std::mem::replace(&mut self.pending, rest);
        self.remember(&head);
        emit(scan, &head, &done)
    }

    /// The end of the text: everything withheld, scanned whole.
    pub fn finish(&mut self, scan: &mut OutputScan<'_>) -> String {
        let found = self.scan(scan);
        let text = std::mem::take(&mut self.pending);
        self.remember(&text);
        emit(scan, &text, &found)
    }

    /// The findings in the pending text (offsets into it), read with the
    /// emitted text before it as context.
    fn scan(&self, scan: &OutputScan<'_>) -> Vec<tokenwise_dlp::Finding> {
        if self.before.is_empty() {
            return scan.above(&self.pending);
        }
        let skip = self.before.len();
        let text = format!("{}{}", self.before, self.pending);
        scan.above(&text)
            .into_iter()
            .filter(|f| f.start >= skip)
            .map(|f| tokenwise_dlp::Finding { start: f.start - skip, end: f.end - skip, ..f })
            .collect()
    }

    fn remember(&mut self, emitted: &str) {
        self.before.push_str(emitted);
        if self.before.len() > CONTEXT_BYTES {
            let from = ceil_char(&self.before, self.before.len() - CONTEXT_BYTES);
            self.before.drain(..from);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

fn emit(scan: &mut OutputScan<'_>, text: &str, found: &[tokenwise_dlp::Finding]) -> String {
    scan.count(found);
    if found.is_empty() || !scan.rule.mask {
        return text.to_string();
    }
    tokenwise_dlp::redact(text, found)
}

fn ceil_char(s: &str, mut at: usize) -> usize {
    while at < s.len() && !s.is_char_boundary(at) {
        at += 1;
    }
    at
}

fn floor_char(s: &str, mut at: usize) -> usize {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "AKIAZ3MQ7RTXK4PLW2QD";

    fn scan<'a>(guard: &'a Guard, dlp: &'a Dlp, mask: bool) -> OutputScan<'a> {
        // Everything above `internal` is acted on.
        OutputScan { guard, dlp, rule: OutputRule { ceiling: DataClass(1), mask }, found: BTreeMap::new() }
    }

    /// `text` sent through a window in pieces cut at `cuts`, as a client reads it.
    fn streamed(s: &mut OutputScan<'_>, text: &str, cuts: &[usize]) -> String {
        let mut w = Window::default();
        let (mut out, mut at) = (String::new(), 0);
        let mut cuts: Vec<usize> =
            cuts.iter().map(|c| c % (text.len() + 1)).filter(|c| text.is_char_boundary(*c)).collect();
        cuts.sort_unstable();
        for c in cuts.into_iter().chain([text.len()]) {
            if c >= at {
                out.push_str(&w.push(s, &text[at..c]));
                at = c;
            }
        }
        out + &w.finish(s)
    }

    #[test]
    fn a_key_split_into_three_byte_chunks_is_masked_and_counted() {
        let (_, dlp) = tokenwise_policy::default_dlp();
        let guard = Guard::new(&dlp).unwrap();
        let mut s = scan(&guard, &dlp, true);
        let filler = "the plan is to ship a small fix then check it ".repeat(12);
        let text = format!("{filler}your key is {KEY}, keep it safe. {filler}");
        let cuts: Vec<usize> = (0..text.len()).step_by(3).collect();
        let out = streamed(&mut s, &text, &cuts);
        assert!(!out.contains("AKIA"), "{out}");
        assert!(out.contains("your key is [AWS_ACCESS_KEY], keep it safe."), "{out}");
        assert_eq!(s.found.get(&FindingKind::AwsAccessKey), Some(&1));
        // Flagging passes the text on as it came, and counts it.
        let mut f = scan(&guard, &dlp, false);
        assert_eq!(streamed(&mut f, &text, &cuts), text);
        assert_eq!(f.found.get(&FindingKind::AwsAccessKey), Some(&1));
    }

    #[test]
    fn text_at_or_below_the_ceiling_passes() {
        let (_, dlp) = tokenwise_policy::default_dlp();
        let guard = Guard::new(&dlp).unwrap();
        let mut s = scan(&guard, &dlp, true);
        s.rule.ceiling = DataClass(3);
        assert_eq!(s.text(&format!("key {KEY}")), None);
        assert!(s.found.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// However a reply is cut into chunks, the client reads what
        /// scanning it whole would give: every finding no longer than the
        /// window is masked, the rest of the text unchanged.
        #[test]
        fn streaming_masks_exactly_what_scanning_whole_does(
            words in proptest::collection::vec(prop_oneof![
                Just("refund".to_string()), Just("the".to_string()), Just("jane.doe@example.com".to_string()),
                Just(KEY.to_string()), Just("4111 1111 1111 1111".to_string()), Just("café".to_string()),
                Just("ghp_abcdefghijklmnopqrstuvwxyz0123456789".to_string()), Just("\n".to_string()),
            ], 0..120),
            cuts in proptest::collection::vec(0usize..4000, 0..60),
        ) {
            let (_, dlp) = tokenwise_policy::default_dlp();
            let guard = Guard::new(&dlp).unwrap();
            let text = words.join(" ");
            let mut whole = scan(&guard, &dlp, true);
            let expected = whole.text(&text).unwrap_or_else(|| text.clone());
            let mut s = scan(&guard, &dlp, true);
            prop_assert_eq!(streamed(&mut s, &text, &cuts), expected);
            prop_assert_eq!(s.found, whole.found);
        }
    }
}
