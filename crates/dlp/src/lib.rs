//! Data-loss prevention: finds personal data, credentials and organisation
//! terms in text, with byte offsets, fast enough to run on every prompt.
//!
//! The pipeline follows the fastest secret scanners: cheap prefilters over
//! the whole text find *candidates* — one Aho-Corasick pass for literal
//! anchors (`AKIA`, `ghp_`, `sk-`, `-----BEGIN`, `eyJ`, secret keywords,
//! the policy's terms), memchr for `@` and `:`, a word-at-a-time scan for
//! digits — and each candidate is then parsed by hand in a small window and
//! validated (Luhn and card brand tables, IBAN mod-97 and country lengths,
//! SSN ranges, JWT headers that must decode, entropy for generic secrets).
//! Context words before a weak candidate (a bare 9-digit number near
//! "SSN") decide whether it counts. Clean text allocates nothing.

mod check;
mod net;
mod numbers;
mod secrets;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
pub use check::{card_brand, iban_mod97, luhn};
pub use tokenwise_core::FindingKind;

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
    SlackWebhook,
    PrivateKey,
    Jwt,
    Tokenwise,
    Keyword,
    Term(u32),
}

pub struct Scanner {
    anchors: AhoCorasick,
    kinds: Vec<Anchor>,
    /// By term index: whether it is a confidentiality marker.
    markers: Vec<bool>,
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
        let mut patterns: Vec<String> = Vec::new();
        let mut kinds: Vec<Anchor> = Vec::new();
        let mut add = |p: &str, a: Anchor| {
            patterns.push(p.to_string());
            kinds.push(a);
        };
        for p in ["akia", "asia", "abia", "acca"] {
            add(p, Anchor::Aws);
        }
        for p in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            add(p, Anchor::GithubClassic);
        }
        add("github_pat_", Anchor::GithubPat);
        add("sk-", Anchor::OpenAiOrAnthropic);
        add("xox", Anchor::Slack);
        add("hooks.slack.com/services/", Anchor::SlackWebhook);
        add("-----begin", Anchor::PrivateKey);
        add("eyj", Anchor::Jwt);
        add("tw_", Anchor::Tokenwise);
        for k in SECRET_KEYWORDS {
            add(k, Anchor::Keyword);
        }
        for (i, t) in cfg.terms.iter().enumerate() {
            let text = t.text.trim();
            if text.is_empty() {
                continue;
            }
            let idx = u32::try_from(i).map_err(|_| BuildError("too many terms".into()))?;
            add(text, Anchor::Term(idx));
        }
        let anchors = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .or_else(|_| {
                // Very many terms: a DFA can be too large; the NFA still works.
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
            })
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(Scanner { anchors, kinds, markers: cfg.terms.iter().map(|t| t.marker).collect() })
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
        let t = text.as_bytes();
        for m in self.anchors.find_iter(t) {
            let (s, e) = (m.start(), m.end());
            let Some(anchor) = self.kinds.get(m.pattern().as_usize()) else { continue };
            match *anchor {
                Anchor::Term(i) => {
                    if boundary_before(t, s) && boundary_after(t, e) {
                        let marker = self.markers.get(i as usize).copied().unwrap_or(false);
                        let kind = if marker { FindingKind::ConfidentialityMarker } else { FindingKind::CustomTerm };
                        out.push(Finding { start: s, end: e, kind, term: Some(i) });
                    }
                }
                a => {
                    if let Some(f) = secrets::at(t, s, e, a) {
                        out.push(f);
                    }
                }
            }
        }
        numbers::scan(t, out);
        net::emails(t, out);
        net::ipv6(t, out);
        resolve(out);
    }
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
    let from = at.saturating_sub(48);
    let window = &t[from..at];
    words.iter().any(|w| {
        let w = w.as_bytes();
        window.len() >= w.len() && window.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w))
    })
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
