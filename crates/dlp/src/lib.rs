//! Data-loss prevention: finds personal data, credentials and organisation
//! terms in text, with byte offsets, fast enough to run on every prompt.
//!
//! The pipeline follows the fastest secret scanners: cheap prefilters over
//! the whole text find *candidates* — an Aho-Corasick pass (SIMD-prefiltered)
//! for credential prefixes (`AKIA`, `ghp_`, `sk-`, `-----BEGIN`, `eyJ`…),
//! one for the policy's terms, memchr for `@`, `/`, `:` and `=` (emails, IPv6,
//! `KEY = value` assignments, webhook URLs), a word-at-a-time scan for digits — and each
//! candidate is then parsed by hand in a small window and
//! validated (Luhn and card brand tables, IBAN mod-97 and country lengths,
//! SSN ranges, JWT headers that must decode, `Basic` values that must
//! decode to `user:password`, entropy for generic secrets). Documented
//! example keys, masks, placeholders and values marked as examples are
//! left alone (see `dummy`).
//! Context words before a weak candidate (a bare 9-digit number near
//! "SSN") decide whether it counts. Clean text allocates nothing.
//!
//! Detectors read a normalised view of the text (compatibility forms
//! folded, invisible and control characters removed: see `normal`), so that
//! fullwidth digits or a zero-width space inside a key do not hide it;
//! findings are still byte offsets into the text as given.

mod assign;
mod auth;
mod check;
mod dummy;
mod net;
mod normal;
mod numbers;
mod secrets;
mod webhook;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
pub use check::{card_brand, iban_mod97, luhn};
pub use tokenwise_core::FindingKind;

/// The farthest before a finding's start the scanner reads to decide it:
/// the start of the curl command a `-u user:password` belongs to, looked
/// for up to 2,048 bytes before the option (`auth::command_start`), which
/// is a few bytes before its value; the other detectors read a few hundred
/// bytes at most (an example marker in a comment on the line above, an
/// XML element's opening tag). A scan of a text's tail given this much of
/// the text before it finds in the tail what a scan of the whole text does
/// (the window that scans streamed replies relies on it).
pub const LOOKBEHIND_BYTES: usize = 2048 + 64;

/// One thing found: its kind and where it is, as byte offsets into the
/// scanned text (always on character boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub kind: FindingKind,
    /// For custom terms and markers: which one (index into the config's terms).
    pub term: Option<u32>,
}

/// An organisation term (project code name) or confidentiality marker,
/// matched case-insensitively on word boundaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub marker: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ScannerConfig {
    pub terms: Vec<Term>,
}

#[derive(Debug)]
pub struct BuildError(String);

impl std::error::Error for BuildError {}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build the scanner: {}", self.0)
    }
}

/// What an anchor found by the literal prefilter leads to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Anchor {
    Aws,
    GithubClassic,
    GithubPat,
    OpenAiOrAnthropic,
    Slack,
    PrivateKey,
    Jwt,
    JwtBase64,
    Tokenwise,
}

pub struct Scanner {
    /// Credential prefixes, matched in their exact case: few literals, so
    /// the automaton runs behind a SIMD prefilter.
    anchors: AhoCorasick,
    kinds: Vec<Anchor>,
    /// The policy's terms and markers, case-insensitive; None without terms.
    terms: Option<AhoCorasick>,
    /// By term index: whether it is a confidentiality marker.
    markers: Vec<bool>,
    /// The longest term's length in bytes.
    longest_term: usize,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner").field("anchors", &self.kinds.len()).finish()
    }
}

/// Keywords that introduce a secret in `KEY = value` or `"key": "value"`.
pub(crate) const SECRET_KEYWORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "credential",
    "auth",
    "bearer",
];

impl Scanner {
    pub fn new(cfg: &ScannerConfig) -> Result<Scanner, BuildError> {
        let anchors_list: &[(&str, Anchor)] = &[
            ("AKIA", Anchor::Aws),
            ("ASIA", Anchor::Aws),
            ("ABIA", Anchor::Aws),
            ("ACCA", Anchor::Aws),
            ("ghp_", Anchor::GithubClassic),
            ("gho_", Anchor::GithubClassic),
            ("ghu_", Anchor::GithubClassic),
            ("ghs_", Anchor::GithubClassic),
            ("ghr_", Anchor::GithubClassic),
            ("github_pat_", Anchor::GithubPat),
            ("sk-", Anchor::OpenAiOrAnthropic),
            ("xox", Anchor::Slack),
            ("xapp-", Anchor::Slack),
            ("-----BEGIN", Anchor::PrivateKey),
            ("eyJ", Anchor::Jwt),
            ("ZXlK", Anchor::JwtBase64),
            ("tw_", Anchor::Tokenwise),
        ];
        let anchors = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(anchors_list.iter().map(|(p, _)| p))
            .map_err(|e| BuildError(e.to_string()))?;
        let kinds = anchors_list.iter().map(|(_, a)| *a).collect();
        normal::prepare();
        // Terms are matched case-insensitively by searching lower-cased
        // terms in a lower-cased copy of the text: unlike an automaton's own
        // case folding, that keeps the SIMD prefilter.
        let texts: Vec<String> = cfg.terms.iter().map(|t| t.text.trim().to_ascii_lowercase()).collect();
        if texts.iter().any(String::is_empty) {
            return Err(BuildError("a term is empty".into()));
        }
        let terms = if texts.is_empty() {
            None
        } else {
            let build =
                |kind| AhoCorasickBuilder::new().match_kind(MatchKind::LeftmostLongest).kind(kind).build(&texts);
            // Very many terms can make a DFA too large; the NFA still works.
            let ac =
                build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None)).map_err(|e| BuildError(e.to_string()))?;
            Some(ac)
        };
        let longest_term = texts.iter().map(String::len).max().unwrap_or(0);
        Ok(Scanner { anchors, kinds, terms, markers: cfg.terms.iter().map(|t| t.marker).collect(), longest_term })
    }

    /// Everything found in `text`, ordered by position, overlaps resolved.
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        self.scan_into(text, &mut out);
        out
    }

    /// Like `scan`, reusing `out`'s allocation.
    pub fn scan_into(&self, text: &str, out: &mut Vec<Finding>) {
        out.clear();
        if normal::is_normal(text) {
            self.detect(text.as_bytes(), out);
        } else {
            // Disguised text: detect in the normalised view, report where
            // the findings are in the original.
            let view = normal::View::new(text);
            self.detect(view.text.as_bytes(), out);
            view.map_back(out);
        }
        // Spans on character boundaries whatever a detector's byte limits
        // cut (each detector also stops at its own delimiters).
        for f in out.iter_mut() {
            while !text.is_char_boundary(f.start) {
                f.start -= 1;
            }
            while !text.is_char_boundary(f.end) {
                f.end += 1;
            }
        }
        resolve(out);
    }

    /// Every detector over `t`, findings unordered and overlapping.
    fn detect(&self, t: &[u8], out: &mut Vec<Finding>) {
        for m in self.anchors.find_iter(t) {
            let Some(&anchor) = self.kinds.get(m.pattern().as_usize()) else { continue };
            out.extend(secrets::at(t, m.start(), m.end(), anchor));
        }
        if let Some(terms) = &self.terms {
            LOWER.with_borrow_mut(|lower| self.find_terms(terms, t, lower, out));
        }
        punctuation(t, out);
        assign::pairs(t, out);
        auth::options(t, out);
        numbers::scan(t, out);
        net::emails(t, out);
    }

    /// Terms, searched lower-cased in a lower-cased copy of the text made
    /// 64 KiB at a time: the copy stays in the core's cache while the
    /// automaton reads it, instead of going out to memory and back. Each
    /// window reaches a term's length past its chunk so that a term across
    /// the border is found whole; the next chunk starts where the last
    /// match ended, as one search over the whole text would resume.
    fn find_terms(&self, terms: &AhoCorasick, t: &[u8], lower: &mut Vec<u8>, out: &mut Vec<Finding>) {
        const CHUNK: usize = 64 * 1024;
        let overlap = self.longest_term.saturating_sub(1);
        let mut pos = 0;
        while pos < t.len() {
            let end = (pos + CHUNK).min(t.len());
            let window_end = (end + overlap).min(t.len());
            lower.clear();
            lower.extend_from_slice(&t[pos..window_end]);
            lower.make_ascii_lowercase();
            let mut next = end;
            for m in terms.find_iter(lower.as_slice()) {
                let (s, e) = (pos + m.start(), pos + m.end());
                if s >= end {
                    break;
                }
                next = next.max(e);
                if boundary_before(t, s) && boundary_after(t, e) {
                    let i = m.pattern().as_u32();
                    let marker = self.markers.get(m.pattern().as_usize()).copied().unwrap_or(false);
                    let kind = if marker { FindingKind::ConfidentialityMarker } else { FindingKind::CustomTerm };
                    out.push(Finding { start: s, end: e, kind, term: Some(i) });
                }
            }
            pos = next;
        }
    }
}

/// One pass over each `=`, `:` and `<` (memchr3) for the detectors that
/// start there: assignments (`KEY = value`, `"key": "value"`, `:=`…),
/// IPv6 addresses, webhook URLs (at their `://`, or a port's `:` without
/// one), R's `<-` and XML
/// closing tags. One pass instead of one each: on prose, where none of
/// these bytes occur, each pass is a full read of the text.
fn punctuation(t: &[u8], out: &mut Vec<Finding>) {
    let (mut after_assign, mut after_v6) = (0, 0);
    for i in memchr::memchr3_iter(b'=', b':', b'<', t) {
        if t[i] == b'<' {
            out.extend(assign::angle(t, i));
            continue;
        }
        if t[i] == b':' {
            if i >= after_v6 {
                after_v6 = net::ipv6_at(t, i, out);
            }
            if t.get(i + 1..i + 3) == Some(b"//") {
                out.extend(webhook::at(t, i));
            } else if t.get(i + 1).is_some_and(u8::is_ascii_digit) {
                // A port after a host with no scheme (`….logic.azure.com:443/…`).
                out.extend(webhook::bare(t, i));
            }
        }
        if i >= after_assign
            && let Some(f) = assign::assignment(t, i)
        {
            after_assign = f.end;
            out.push(f);
        }
    }
}

thread_local! {
    /// The lower-cased copy of the text for term search, reused so that
    /// scanning allocates nothing once warm.
    static LOWER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Sorts by position and keeps one of each group of overlapping findings:
/// a specific kind over a generic secret (`API_KEY=sk-…` is an OpenAI key),
/// else the longer (a card number inside a secret's value is the secret).
fn resolve(out: &mut Vec<Finding>) {
    if out.len() < 2 {
        return;
    }
    out.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    let rank = |f: &Finding| (f.kind != FindingKind::GenericSecret, f.end - f.start);
    let mut kept: usize = 0;
    for i in 0..out.len() {
        if kept > 0 && out[i].start < out[kept - 1].end {
            if rank(&out[i]) > rank(&out[kept - 1]) {
                out[kept - 1] = out[i];
            }
            continue;
        }
        out[kept] = out[i];
        kept += 1;
    }
    out.truncate(kept);
}

pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub(crate) fn boundary_before(t: &[u8], i: usize) -> bool {
    i == 0 || t.get(i - 1).is_none_or(|b| !is_word(*b))
}

pub(crate) fn boundary_after(t: &[u8], j: usize) -> bool {
    t.get(j).is_none_or(|b| !is_word(*b))
}

/// Whether one of `words` appears (case-insensitively) in the ~6 words
/// before `at`: context that turns a weak candidate into a finding.
pub(crate) fn context_before(t: &[u8], at: usize, words: &[&str]) -> bool {
    contains_any_ignore_case(&t[at.saturating_sub(48)..at], words)
}

/// Whether one of `words` appears in `hay`, ignoring ASCII case.
pub(crate) fn contains_any_ignore_case(hay: &[u8], words: &[&str]) -> bool {
    words.iter().any(|w| find_ignore_case(hay, w.as_bytes()).next().is_some())
}

/// Where `word` (non-empty) starts in `hay`, ignoring ASCII case: memchr
/// finds its first letter in either case, so a miss costs a vector pass,
/// not a comparison at every byte.
pub(crate) fn find_ignore_case<'a>(hay: &'a [u8], word: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let first = word.first().copied().unwrap_or(0);
    let last_start = hay.len().checked_sub(word.len());
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), hay)
        .take_while(move |&i| last_start.is_some_and(|l| i <= l))
        .filter(move |&i| hay[i..i + word.len()].eq_ignore_ascii_case(word))
}

/// The label a redacted span is replaced with: `[EMAIL]`, `[CREDIT_CARD]`…
pub fn label(kind: FindingKind) -> String {
    format!("[{}]", kind.as_str().to_ascii_uppercase())
}

/// Masks the given findings (which must be ordered and not overlap, as
/// `scan` returns them).
pub fn redact<'a>(text: &str, findings: impl IntoIterator<Item = &'a Finding>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        if f.start < at || f.end > text.len() {
            continue;
        }
        out.push_str(text.get(at..f.start).unwrap_or(""));
        out.push_str(&label(f.kind));
        at = f.end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_pasted;
