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

    /// A JSON text (a tool call's arguments) with what lies above the
    /// ceiling masked inside its string values only, so it stays the JSON
    /// it was; counting the findings. See [`json_view`].
    pub fn json_text(&mut self, text: &str) -> Option<String> {
        let (found, masked) = self.json_masked(text);
        self.count(&found);
        masked
    }

    /// Like [`json_text`](Self::json_text), counting nothing.
    pub fn json_again(&self, text: &str) -> Option<String> {
        self.json_masked(text).1
    }

    fn json_masked(&self, text: &str) -> (Vec<tokenwise_dlp::Finding>, Option<String>) {
        let (view, classes) = json_view(Lex::default(), text);
        let found = self.above(&view);
        if found.is_empty() || !self.rule.mask {
            return (found, None);
        }
        let masked = tokenwise_dlp::redact(text, &inside(text, &found, &classes));
        (found, Some(masked))
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
/// context: as far back as the scanner reads before a finding (a curl
/// command's start, 2 KiB before its `-u`; "for example" on the line), so
/// the window reads a finding as the whole text would.
const CONTEXT_BYTES: usize = tokenwise_dlp::LOOKBEHIND_BYTES;

/// One streamed text (a choice, a content block, a tool call's
/// arguments) being scanned.
#[derive(Debug, Default)]
pub struct Window {
    /// Received, not yet emitted.
    pending: String,
    /// The end of what was emitted, as received: context for the next scan.
    before: String,
    /// For a JSON text (tool-call arguments): the lexer's state where
    /// `before` starts. None: plain text.
    json: Option<Lex>,
}

impl Window {
    /// A window for a JSON text streamed in pieces (a tool call's
    /// arguments): masks only inside string values, as
    /// [`OutputScan::json_text`] does with the whole text.
    pub fn json() -> Window {
        Window { json: Some(Lex::default()), ..Window::default() }
    }

    /// Takes in `delta`; answers what may be emitted now.
    pub fn push(&mut self, scan: &mut OutputScan<'_>, delta: &str) -> String {
        self.pending.push_str(delta);
        if self.pending.len() < WINDOW_BYTES + STEP_BYTES {
            return String::new();
        }
        let (found, classes) = self.scan(scan);
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
        let out = emit(scan, &head, &done, classes.as_deref());
        self.remember(&head);
        out
    }

    /// The end of the text: everything withheld, scanned whole.
    pub fn finish(&mut self, scan: &mut OutputScan<'_>) -> String {
        let (found, classes) = self.scan(scan);
        let text = std::mem::take(&mut self.pending);
        let out = emit(scan, &text, &found, classes.as_deref());
        self.remember(&text);
        out
    }

    /// The findings in the pending text (offsets into it), read with the
    /// emitted text before it as context; for a JSON text, also the class
    /// of each pending byte.
    fn scan(&self, scan: &OutputScan<'_>) -> (Vec<tokenwise_dlp::Finding>, Option<Vec<Class>>) {
        let skip = self.before.len();
        let shift = |found: Vec<tokenwise_dlp::Finding>| -> Vec<tokenwise_dlp::Finding> {
            found
                .into_iter()
                .filter(|f| f.start >= skip)
                .map(|f| tokenwise_dlp::Finding { start: f.start - skip, end: f.end - skip, ..f })
                .collect()
        };
        if let Some(lex) = self.json {
            let text = format!("{}{}", self.before, self.pending);
            let (view, mut classes) = json_view(lex, &text);
            classes.drain(..skip);
            return (shift(scan.above(&view)), Some(classes));
        }
        if self.before.is_empty() {
            return (scan.above(&self.pending), None);
        }
        let text = format!("{}{}", self.before, self.pending);
        (shift(scan.above(&text)), None)
    }

    fn remember(&mut self, emitted: &str) {
        self.before.push_str(emitted);
        if self.before.len() > CONTEXT_BYTES {
            let from = ceil_char(&self.before, self.before.len() - CONTEXT_BYTES);
            if let Some(lex) = &mut self.json {
                for b in self.before[..from].bytes() {
                    lex.step(b);
                }
            }
            self.before.drain(..from);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

fn emit(scan: &mut OutputScan<'_>, text: &str, found: &[tokenwise_dlp::Finding], classes: Option<&[Class]>) -> String {
    scan.count(found);
    if found.is_empty() || !scan.rule.mask {
        return text.to_string();
    }
    match classes {
        Some(classes) => tokenwise_dlp::redact(text, &inside(text, found, classes)),
        None => tokenwise_dlp::redact(text, found),
    }
}

/// Where a byte of a JSON text lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Inside a string value, not part of an escape sequence: may be masked.
    Inside,
    /// Part of an escape sequence (`\"`, `\n`, `\u00e9`).
    Escape,
    /// Outside every string: structure, numbers, literals.
    Outside,
}

/// A byte-at-a-time JSON lexer, just enough to tell string contents from
/// the rest: the state between two bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lex {
    in_string: bool,
    /// Bytes of an escape sequence still to come; `AFTER_BACKSLASH` just
    /// after its backslash.
    escape: u8,
}

const AFTER_BACKSLASH: u8 = u8::MAX;

impl Lex {
    pub fn step(&mut self, b: u8) -> Class {
        if self.escape == AFTER_BACKSLASH {
            self.escape = if b == b'u' { 4 } else { 0 };
            return Class::Escape;
        }
        if self.escape > 0 {
            self.escape -= 1;
            return Class::Escape;
        }
        match (self.in_string, b) {
            (true, b'\\') => {
                self.escape = AFTER_BACKSLASH;
                Class::Escape
            }
            (true, b'"') => {
                self.in_string = false;
                Class::Outside
            }
            (true, _) => Class::Inside,
            (false, b'"') => {
                self.in_string = true;
                Class::Outside
            }
            (false, _) => Class::Outside,
        }
    }
}

/// A JSON text as the scanner reads it — each escape sequence's bytes read
/// as spaces (so `\n` separates words as a newline would; a secret written
/// with escapes inside it is not recognised) — and the class of each byte,
/// lexed from state `lex`. Same length as `text`, so offsets carry over.
pub fn json_view(mut lex: Lex, text: &str) -> (String, Vec<Class>) {
    let mut classes = Vec::with_capacity(text.len());
    let mut view = Vec::with_capacity(text.len());
    for b in text.bytes() {
        let class = lex.step(b);
        classes.push(class);
        // Only ASCII is blanked: the view stays UTF-8.
        view.push(if class == Class::Escape && b.is_ascii() { b' ' } else { b });
    }
    (String::from_utf8(view).unwrap_or_default(), classes)
}

/// Each finding cut down to its runs of maskable bytes (inside a string,
/// outside escapes, on character boundaries): masking those leaves the
/// JSON valid. A finding outside every string (a number) masks nothing.
fn inside(text: &str, found: &[tokenwise_dlp::Finding], classes: &[Class]) -> Vec<tokenwise_dlp::Finding> {
    let mut out = Vec::new();
    for f in found {
        let mut at = f.start;
        while at < f.end.min(classes.len()) {
            if classes[at] != Class::Inside {
                at += 1;
                continue;
            }
            let mut end = at;
            while end < f.end.min(classes.len()) && classes[end] == Class::Inside {
                end += 1;
            }
            let (s, e) = (ceil_char(text, at), floor_char(text, end));
            if s < e {
                out.push(tokenwise_dlp::Finding { start: s, end: e, ..*f });
            }
            at = end;
        }
    }
    out
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
        streamed_in(Window::default(), s, text, cuts)
    }

    fn streamed_in(mut w: Window, s: &mut OutputScan<'_>, text: &str, cuts: &[usize]) -> String {
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
    fn arguments_are_masked_inside_strings_only_and_escapes_survive() {
        let (_, dlp) = tokenwise_policy::default_dlp();
        let guard = Guard::new(&dlp).unwrap();
        let mut s = scan(&guard, &dlp, true);
        let text = format!(r#"{{"note":"line one\n{KEY} \"quoted\"","to":"jane.doe@example.com"}}"#);
        let out = s.json_text(&text).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["note"], "line one\n[AWS_ACCESS_KEY] \"quoted\"", "{out}");
        assert_eq!(v["to"], "[EMAIL]", "{out}");
        assert_eq!(s.found.get(&FindingKind::AwsAccessKey), Some(&1));
        // Flagging counts and changes nothing.
        let mut f = scan(&guard, &dlp, false);
        assert_eq!(f.json_text(&text), None);
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
                // A curl command's user option counts only far enough from its `curl`.
                Just("curl".to_string()), Just("-u deploy:Qx7vR2mLp9".to_string()),
                Just("-H 'Accept: application/json' https://api.acme-corp.io/v1/charges".to_string()),
            ], 0..400),
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

        /// Tool-call arguments (a JSON text) streamed in pieces: the client
        /// reads what masking the whole arguments gives, and that is still
        /// JSON, every string value as it was but for the masked findings.
        #[test]
        fn streamed_arguments_mask_exactly_what_the_whole_arguments_do_and_stay_json(
            words in proptest::collection::vec(prop_oneof![
                Just("refund".to_string()), Just("jane.doe@example.com".to_string()),
                Just(KEY.to_string()), Just("4111 1111 1111 1111".to_string()), Just("café".to_string()),
                Just("say \"hi\"".to_string()), Just("a\\b".to_string()), Just("\n".to_string()),
                Just("\u{1}".to_string()),
            ], 0..80),
            split in 0usize..80,
            cuts in proptest::collection::vec(0usize..4000, 0..60),
        ) {
            let (_, dlp) = tokenwise_policy::default_dlp();
            let guard = Guard::new(&dlp).unwrap();
            let (a, b) = words.split_at(split.min(words.len()));
            let args = serde_json::json!({"query": a.join(" "), "list": b, "n": 4111111111111111u64, "ok": true});
            let text = serde_json::to_string(&args).unwrap();
            let mut whole = scan(&guard, &dlp, true);
            let expected = whole.json_text(&text).unwrap_or_else(|| text.clone());
            let mut s = scan(&guard, &dlp, true);
            let got = streamed_in(Window::json(), &mut s, &text, &cuts);
            prop_assert_eq!(&got, &expected);
            prop_assert_eq!(&s.found, &whole.found);
            let parsed: serde_json::Value = serde_json::from_str(&got).unwrap();
            let strings = parsed.to_string();
            prop_assert!(!strings.contains(KEY), "{}", strings);
            prop_assert_eq!(parsed["list"].as_array().map(Vec::len), Some(b.len()));
            prop_assert_eq!(&parsed["ok"], &serde_json::json!(true));
        }
    }
}
