//! Credentials, each found from the literal anchor the prefilter matched
//! (case-insensitively; exact case is checked here) and parsed forward.

use crate::check::entropy;
use crate::{Anchor, Finding, FindingKind, boundary_after, boundary_before, is_word};

use base64::Engine;

fn take(t: &[u8], from: usize, max: usize, ok: impl Fn(u8) -> bool) -> usize {
    let mut e = from;
    while e < t.len() && e - from < max && ok(t[e]) {
        e += 1;
    }
    e
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn found(kind: FindingKind, start: usize, end: usize) -> Option<Finding> {
    Some(Finding { start, end, kind, term: None })
}

pub(crate) fn at(t: &[u8], s: usize, e: usize, anchor: Anchor) -> Option<Finding> {
    let exact = |lit: &[u8]| t.get(s..s + lit.len()) == Some(lit);
    match anchor {
        Anchor::Aws => {
            // AKIA…, ASIA… (temporary), ABIA, ACCA: 20 upper-case characters.
            let body_end = take(t, e, 17, |b| b.is_ascii_uppercase() || b.is_ascii_digit());
            let upper = t[s..e].iter().all(u8::is_ascii_uppercase);
            (upper && body_end - e == 16 && boundary_before(t, s) && boundary_after(t, body_end))
                .then_some(())
                .and(found(FindingKind::AwsAccessKey, s, body_end))
        }
        Anchor::GithubClassic => {
            let end = take(t, e, 256, alnum);
            (t[s..e].iter().all(|b| !b.is_ascii_uppercase())
                && (36..=255).contains(&(end - e))
                && boundary_before(t, s)
                && boundary_after(t, end))
            .then_some(())
            .and(found(FindingKind::GithubToken, s, end))
        }
        Anchor::GithubPat => {
            let end = take(t, e, 256, |b| alnum(b) || b == b'_');
            (exact(b"github_pat_") && end - e >= 22 && boundary_before(t, s) && boundary_after(t, end))
                .then_some(())
                .and(found(FindingKind::GithubToken, s, end))
        }
        Anchor::OpenAiOrAnthropic => {
            if !exact(b"sk-") || !boundary_before(t, s) {
                return None;
            }
            let end = take(t, e, 300, url_safe);
            let body = &t[e..end];
            if !boundary_after(t, end) || body.len() < 20 || entropy(body) < 3.0 {
                return None;
            }
            let kind = if body.starts_with(b"ant-") { FindingKind::AnthropicKey } else { FindingKind::OpenaiKey };
            found(kind, s, end)
        }
        Anchor::Slack => {
            // xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-: then ID-ish parts.
            let kind_ok = t.get(e).is_some_and(|b| matches!(b, b'b' | b'p' | b'a' | b'r' | b's' | b'e'))
                && t.get(e + 1) == Some(&b'-');
            if !exact(b"xox") || !kind_ok || !boundary_before(t, s) {
                return None;
            }
            let end = take(t, e + 2, 256, |b| alnum(b) || b == b'-');
            (end - (e + 2) >= 10 && boundary_after(t, end)).then_some(()).and(found(FindingKind::SlackToken, s, end))
        }
        Anchor::SlackWebhook => {
            let end = take(t, e, 128, |b| alnum(b) || b == b'/');
            let parts = t[e..end].split(|&b| b == b'/').filter(|p| !p.is_empty()).count();
            // The whole URL, scheme included, is the secret.
            let start = url_start(t, s);
            (parts >= 3).then_some(()).and(found(FindingKind::SlackToken, start, end))
        }
        Anchor::PrivateKey => private_key(t, s, e),
        Anchor::Jwt => jwt(t, s),
        Anchor::Tokenwise => {
            // Our own API keys: tw_ and 43 letters or digits.
            let end = take(t, e, 64, alnum);
            (exact(b"tw_") && end - e == 43 && boundary_before(t, s) && boundary_after(t, end))
                .then_some(())
                .and(found(FindingKind::GenericSecret, s, end))
        }
    }
}

fn url_start(t: &[u8], s: usize) -> usize {
    let mut i = s;
    while i > 0 && !t[i - 1].is_ascii_whitespace() && !matches!(t[i - 1], b'"' | b'\'' | b'(' | b'<') {
        i -= 1;
    }
    i
}

fn private_key(t: &[u8], s: usize, e: usize) -> Option<Finding> {
    // "-----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED ]PRIVATE KEY-----"
    let header_end = memchr::memmem::find(&t[e..t.len().min(e + 64)], b"-----")? + e;
    let header = &t[e..header_end];
    if !header.ends_with(b"PRIVATE KEY") || !t[s..e].eq(b"-----BEGIN") {
        return None;
    }
    let body_start = header_end + 5;
    match memchr::memmem::find(&t[body_start..], b"-----END") {
        Some(rel) => {
            let end_marker = body_start + rel;
            let close =
                memchr::memmem::find(&t[end_marker + 8..], b"-----").map_or(t.len(), |x| end_marker + 8 + x + 5);
            found(FindingKind::PrivateKey, s, close.min(t.len()))
        }
        // Truncated: the key runs to the end of its base64 body.
        None => {
            let end = take(t, body_start, usize::MAX, |b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r' | b' ')
            });
            let mut end = end;
            while end > body_start && t[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            found(FindingKind::PrivateKey, s, end)
        }
    }
}

fn jwt(t: &[u8], s: usize) -> Option<Finding> {
    if !boundary_before(t, s) || t.get(s..s + 3) != Some(b"eyJ") {
        return None;
    }
    let h_end = take(t, s, 2048, url_safe);
    if t.get(h_end) != Some(&b'.') {
        return None;
    }
    let p_end = take(t, h_end + 1, 16 * 1024, url_safe);
    if p_end - h_end < 11 || t.get(p_end) != Some(&b'.') {
        return None;
    }
    let sig_end = take(t, p_end + 1, 2048, url_safe);
    // The header must decode to a JSON object naming an algorithm.
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&t[s..h_end]).ok()?;
    let looks = header.first() == Some(&b'{')
        && (memchr::memmem::find(&header, b"\"alg\"").is_some() || memchr::memmem::find(&header, b"\"typ\"").is_some());
    (looks && boundary_after(t, sig_end)).then_some(()).and(found(FindingKind::Jwt, s, sig_end))
}

/// `$VAR`, `${VAR}`, `<your key>`, `{{ var }}`, `%(name)s`, `%VAR%`.
pub(crate) fn placeholder(v: &[u8]) -> bool {
    let ident = |x: &[u8]| !x.is_empty() && x.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
    match (v.first(), v.last()) {
        (Some(b'$'), Some(b'}')) => v.get(1) == Some(&b'{'),
        (Some(b'$'), _) => ident(&v[1..]),
        (Some(b'<'), Some(b'>')) | (Some(b'{'), Some(b'}')) => true,
        (Some(b'%'), Some(b'%' | b's')) => true,
        _ => false,
    }
}

/// Code, not a credential: a dotted path (`r.usage.input`, `os.environ`)
/// or a call (`Duration::from_millis(ms)`, `get_secret("db")`).
fn code_expression(v: &[u8]) -> bool {
    let ident_start = |b: u8| b.is_ascii_alphabetic() || b == b'_';
    let path = |x: &[u8]| {
        !x.is_empty()
            && x.split(|&b| b == b'.').all(|seg| {
                seg.first().is_some_and(|&b| ident_start(b))
                    && seg.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
            })
    };
    if v.contains(&b'.') && path(v) {
        return true;
    }
    // Rust and C++ paths (Duration::ZERO), and a call cut at its quote.
    if v.windows(2).any(|w| w == b"::") && v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':')) {
        return true;
    }
    if v.last() == Some(&b'(') {
        return true;
    }
    // snake_case names and plain words are identifiers and types, not
    // credentials; numbers are numbers.
    if v.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_') && v.contains(&b'_') {
        return true;
    }
    if v.iter().all(u8::is_ascii_alphabetic) {
        return true;
    }
    if v.iter().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return true;
    }
    match v.iter().position(|&b| b == b'(') {
        Some(open) if v.last() == Some(&b')') => {
            let callee = &v[..open];
            !callee.is_empty()
                && ident_start(callee[0])
                && callee.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'!'))
        }
        _ => false,
    }
}

/// Values that are placeholders, not secrets.
const STOP_WORDS: &[&str] = &[
    "password",
    "changeme",
    "example",
    "redacted",
    "xxxxxxxx",
    "********",
    "placeholder",
    "your_password",
    "yourpassword",
    "your-api-key",
    "your_api_key",
    "undefined",
    "required",
    "optional",
    "string",
    "boolean",
    "integer",
    "environment",
    "process.env",
    "os.environ",
    "getenv",
    "secretsmanager",
    "keyvault",
    "vault:",
    "none",
    "null",
    "true",
    "false",
];

/// Whether `ident` holds a secret keyword as one of its parts: DB_PASSWORD,
/// clientSecret, smtp_pass, x-api-key — not tokens, bypass, authority,
/// tokenwise_ledger.
fn names_a_secret(ident: &[u8]) -> bool {
    crate::SECRET_KEYWORDS.iter().any(|k| {
        let k = k.as_bytes();
        ident.windows(k.len()).enumerate().any(|(s, w)| {
            if !w.eq_ignore_ascii_case(k) {
                return false;
            }
            let e = s + k.len();
            let part_start = s == 0
                || !ident[s - 1].is_ascii_alphabetic()
                || (ident[s - 1].is_ascii_lowercase() && ident[s].is_ascii_uppercase());
            let part_end = ident.get(e).is_none_or(|&b| {
                !b.is_ascii_alphabetic() || (b.is_ascii_uppercase() && ident[e - 1].is_ascii_lowercase())
            });
            part_start && part_end
        })
    })
}

/// `KEY = value`, `KEY: value`, `"key": "value"`, `key => value`, found at
/// each `=` and `:` (memchr), where KEY names a secret; the finding is the
/// value. Checking the identifier before an operator is far cheaper than
/// searching every keyword through the whole text.
pub(crate) fn assignments(t: &[u8], out: &mut Vec<Finding>) {
    let mut after = 0;
    for op in memchr::memchr2_iter(b'=', b':', t) {
        if op < after {
            continue;
        }
        let prev = op.checked_sub(1).map(|i| t[i]);
        let next = t.get(op + 1).copied();
        let skip = match t[op] {
            // `::` paths and `://` URLs.
            b':' => next == Some(b':') || prev == Some(b':') || next == Some(b'/'),
            // Comparisons; the `=` of `:=` was handled at its `:`.
            _ => next == Some(b'=') || matches!(prev, Some(b'=' | b'!' | b'<' | b'>' | b':')),
        };
        if skip {
            continue;
        }
        let mut j = op;
        while j > 0 && matches!(t[j - 1], b' ' | b'\t') {
            j -= 1;
        }
        if j > 0 && matches!(t[j - 1], b'"' | b'\'') {
            j -= 1;
        }
        let ie = j;
        let mut is = j;
        while is > 0 && (is_word(t[is - 1]) || t[is - 1] == b'-' || t[is - 1] == b'.') && ie - is < 64 {
            is -= 1;
        }
        // `scheme://token:…@`: a URL's user name, its password is found
        // with the URL (net.rs).
        let url_user = is >= 3 && &t[is - 3..is] == b"://";
        if is == ie || url_user || !names_a_secret(&t[is..ie]) {
            continue;
        }
        if let Some(f) = value_after(t, op) {
            after = f.end;
            out.push(f);
        }
    }
}

/// The value after the assignment operator at `op`.
fn value_after(t: &[u8], op: usize) -> Option<Finding> {
    let mut i = op;
    match (t.get(i), t.get(i + 1)) {
        (Some(b':'), Some(b'=')) | (Some(b'='), Some(b'>')) => i += 2,
        _ => i += 1,
    }
    while matches!(t.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let quote = match t.get(i) {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            i += 1;
            Some(q)
        }
        _ => None,
    };
    let vstart = i;
    let mut vend = match quote {
        Some(q) => take(t, vstart, 256, |b| b != q && b != b'\n'),
        None => take(t, vstart, 256, |b| !b.is_ascii_whitespace() && !matches!(b, b',' | b';' | b'"' | b'\'')),
    };
    if quote.is_none() {
        // Trailing characters that belong to the text around the value: a
        // sentence's full stop, a code span's backtick, and closing brackets
        // that open nowhere in the value (f(password=abc), {token: x}).
        while vend > vstart {
            let last = t[vend - 1];
            let unbalanced = |open: u8| {
                let v = &t[vstart..vend];
                v.iter().filter(|&&b| b == open).count() < v.iter().filter(|&&b| b == last).count()
            };
            let trim = match last {
                b'.' | b'!' | b'?' | b'`' => true,
                b')' => unbalanced(b'('),
                b']' => unbalanced(b'['),
                b'}' => unbalanced(b'{'),
                _ => false,
            };
            if !trim {
                break;
            }
            vend -= 1;
        }
    }
    let v = &t[vstart..vend];
    if v.len() < 8 || v.len() > 200 {
        return None;
    }
    if placeholder(v) || code_expression(v) || v.iter().all(|&b| b == v[0]) {
        return None;
    }
    if quote.is_some() && v.iter().filter(|b| **b == b' ').count() > 1 {
        // A quoted phrase of several words is prose, not a credential.
        return None;
    }
    if crate::contains_any_ignore_case(v, STOP_WORDS) {
        return None;
    }
    // Passwords mix character classes; plain lower-case words do not count.
    let classes = [
        v.iter().any(u8::is_ascii_lowercase),
        v.iter().any(u8::is_ascii_uppercase),
        v.iter().any(u8::is_ascii_digit),
        v.iter().any(|b| b.is_ascii_punctuation()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if entropy(v) < 3.0 || classes < 2 {
        return None;
    }
    found(FindingKind::GenericSecret, vstart, vend)
}
