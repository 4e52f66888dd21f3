//! Any text: the scanner must not panic, and every finding must be an
//! ordered, non-overlapping span on character boundaries; redaction of
//! those spans must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokenwise_dlp::{Scanner, ScannerConfig};

static SCANNER: OnceLock<Scanner> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let s = SCANNER.get_or_init(|| Scanner::new(&ScannerConfig::default()).expect("scanner"));
    let found = s.scan(text);
    let mut last = 0;
    for f in &found {
        assert!(f.start < f.end && f.end <= text.len() && f.start >= last, "{f:?}");
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end), "{f:?}");
        last = f.end;
    }
    let _ = tokenwise_dlp::redact(text, &found);
});
