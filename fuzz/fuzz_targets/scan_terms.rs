//! Arbitrary terms (including non-ASCII ones) and arbitrary text: the same
//! guarantees as `scan`, with the term automaton in play.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenwise_dlp::{Scanner, ScannerConfig, Term};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line holds the terms, separated by '|'.
    let (head, body) = text.split_once('\n').unwrap_or(("", text));
    let terms: Vec<Term> = head
        .split('|')
        .filter(|t| !t.trim().is_empty())
        .take(16)
        .enumerate()
        .map(|(i, t)| Term { text: t.to_string(), marker: i % 2 == 1 })
        .collect();
    let Ok(s) = Scanner::new(&ScannerConfig { terms }) else { return };
    let mut last = 0;
    for f in s.scan(body) {
        assert!(f.start < f.end && f.end <= body.len() && f.start >= last, "{f:?}");
        assert!(body.is_char_boundary(f.start) && body.is_char_boundary(f.end), "{f:?}");
        last = f.end;
    }
});
