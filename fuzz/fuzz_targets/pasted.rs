//! The parsers behind pasted credentials, fed arbitrary bytes in the shape
//! each expects: a `Basic` value that decodes to anything (the base64
//! decode and the `user:password` check), base64 of `eyJ…` (the wrapped
//! JWT decode), curl's `-u`, a webhook URL's path (with a scheme and without), an XML element, a key
//! block's body, an assignment in each syntax, an authorization value
//! built by concatenation or interpolation, a client's password option, a
//! comment above a value. The first byte picks the
//! shape; the scan must not panic and its spans must be valid.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokenwise_dlp::{Scanner, ScannerConfig};

static SCANNER: OnceLock<Scanner> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let lossy = String::from_utf8_lossy(rest);
    let text = match pick % 15 {
        0 => format!("Authorization: Basic {}", b64(rest)),
        1 => format!("Cookie: s={}", b64(&[b"eyJ".as_slice(), rest].concat())),
        2 => format!("curl -u {lossy} https://x.io"),
        3 => format!("https://hooks.slack.com/{lossy}"),
        4 => format!("POST https://a.io/webhook/{lossy}"),
        5 => format!("<password>{lossy}</password>"),
        6 => format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n{lossy}"),
        7 => format!("Authorization: {lossy}"),
        8 => format!("key ::= {lossy}\napi_key <- {lossy}\n(\"token\", {lossy})"),
        9 => format!("h = {{'Authorization': 'Basic ' + {lossy}}}\nauth = \"Bearer \" + {lossy}"),
        10 => format!("fetch(u, {{headers: {{Authorization: `Bearer ${{{lossy}`}}}})"),
        11 => format!("mysql -u app -p{lossy}\ndocker login -p {lossy}\nredis-cli -a {lossy}"),
        12 => format!("# example {lossy}\ntoken: {lossy}"),
        13 => format!("hooks.slack.com/{lossy} x.logic.azure.com:{lossy}"),
        _ => lossy.into_owned(),
    };
    let s = SCANNER.get_or_init(|| Scanner::new(&ScannerConfig::default()).expect("scanner"));
    let found = s.scan(&text);
    let mut last = 0;
    for f in &found {
        assert!(f.start < f.end && f.end <= text.len() && f.start >= last, "{f:?}");
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end), "{f:?}");
        last = f.end;
    }
    let _ = tokenwise_dlp::redact(&text, &found);
});
