//! Generic secrets: a value given to a name that says it is secret, in the
//! syntaxes of real config and code — `KEY = value`, `KEY: value`,
//! `"key" : "value"`, `key => value`, Go's `:=`, `::=`, PHP's `.=`, R's
//! `<-`, `-Dkey=value`, `.env`, YAML and TOML lines, a call's
//! `("db.password", "value")` pair (`System.setProperty`, `put`, `setenv`),
//! XML attributes and elements (`<password>…</password>`, `<add
//! key="ApiKey" value="…"/>`). Found at each `=`, `:` and `<` (one memchr3
//! pass, in lib.rs) by looking at the name before it, and at each `",` and
//! `',` for a call's pair: far cheaper than searching every keyword through
//! the text.

use crate::check::entropy;
use crate::dummy::{marked_after, marked_before, placeholder, public_name, stand_in};
use crate::secrets::{found, take};
use crate::{Finding, FindingKind, is_word};

/// Code, not a credential: a dotted path (`r.usage.input`, `os.environ`)
/// or a call (`Duration::from_millis(ms)`, `get_secret("db")`).
fn code_expression(v: &[u8], quoted: bool) -> bool {
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
    if v.last() == Some(&b'(') && !quoted {
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
        Some(open) if v.last() == Some(&b')') && !quoted => {
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

/// The length of the assignment operator at `op`, if it is one.
fn operator(t: &[u8], op: usize) -> Option<usize> {
    let prev = op.checked_sub(1).map(|i| t[i]);
    let next = t.get(op + 1).copied();
    match t[op] {
        b':' => match next {
            // `::=`; other `::` are paths.
            Some(b':') => (t.get(op + 2) == Some(&b'=') && prev != Some(b':')).then_some(3),
            // `://` URLs.
            Some(b'/') => None,
            Some(b'=') => Some(2),
            _ => (prev != Some(b':')).then_some(1),
        },
        b'=' => {
            // Comparisons; the `=` of `:=` and `::=` was handled at its `:`.
            if next == Some(b'=') || matches!(prev, Some(b'=' | b'!' | b'<' | b'>' | b':')) {
                None
            } else if next == Some(b'>') {
                Some(2)
            } else {
                Some(1)
            }
        }
        _ => Some(1),
    }
}

/// The name before the operator at `op` (spaces and one closing quote
/// skipped): its span and whether it was quoted.
fn name_before(t: &[u8], op: usize) -> Option<(usize, usize, bool)> {
    let mut j = op;
    // PHP's `.=` and friends.
    if j > 0 && t[j - 1] == b'.' && t[op] == b'=' {
        j -= 1;
    }
    while j > 0 && matches!(t[j - 1], b' ' | b'\t') {
        j -= 1;
    }
    // `headers["Authorization"] = …`
    if t[op] == b'=' && j > 1 && t[j - 1] == b']' && matches!(t[j - 2], b'"' | b'\'') {
        j -= 1;
    }
    let quoted = j > 0 && matches!(t[j - 1], b'"' | b'\'');
    if quoted {
        j -= 1;
    }
    let ie = j;
    let mut is = j;
    while is > 0 && (is_word(t[is - 1]) || t[is - 1] == b'-' || t[is - 1] == b'.') && ie - is < 64 {
        is -= 1;
    }
    if is == ie {
        return None;
    }
    // `scheme://token:…@`: a URL's user name, its password is found with
    // the URL (net.rs).
    if is >= 3 && &t[is - 3..is] == b"://" {
        return None;
    }
    Some((is, ie, quoted))
}

/// Whether a name says its value is a secret, and not a public one.
fn secret_name(name: &[u8]) -> bool {
    names_a_secret(name) && !public_name(name)
}

/// A call's pair names its secret in quotes: `("password", "…")`; found
/// at each `",` and `',` — rare in prose, unlike commas.
pub(crate) fn pairs(t: &[u8], out: &mut Vec<Finding>) {
    for pair in [b"\",".as_slice(), b"',"] {
        let mut after = 0;
        for q in memchr::memmem::find_iter(t, pair) {
            if q >= after
                && let Some(f) = assignment(t, q + 1)
            {
                after = f.end;
                out.push(f);
            }
        }
    }
}

/// The secret assigned by the operator at `op`, if the name before it
/// says it is one.
pub(crate) fn assignment(t: &[u8], op: usize) -> Option<Finding> {
    let comma = t[op] == b',';
    let len = operator(t, op)?;
    let (is, ie, quoted) = name_before(t, op)?;
    let name = &t[is..ie];
    if crate::auth::header_name(name) {
        return crate::auth::header_value(t, op + len);
    }
    let named = if name.eq_ignore_ascii_case(b"value") { keyed_tag(t, is) } else { secret_name(name) };
    if !named || (comma && !(quoted && is > 0 && matches!(t[is - 1], b'"' | b'\''))) {
        return None;
    }
    value_at(t, op + len, comma)
}

/// R's `<-` and XML elements, found at each `<`.
pub(crate) fn angle(t: &[u8], lt: usize) -> Option<Finding> {
    match t.get(lt + 1) {
        Some(b'-') if matches!(t.get(lt + 2), Some(b' ' | b'"' | b'\'')) => {
            let (is, ie, _) = name_before(t, lt)?;
            if !secret_name(&t[is..ie]) {
                return None;
            }
            value_at(t, lt + 2, false)
        }
        Some(b'/') => element(t, lt),
        _ => None,
    }
}

/// The text of `<password>text</password>` or `<entry key="token">text</entry>`,
/// found at the closing tag's `<`.
fn element(t: &[u8], lt: usize) -> Option<Finding> {
    let name_end = take(t, lt + 2, 64, |b| is_word(b) || matches!(b, b'-' | b'.' | b':'));
    let name = &t[lt + 2..name_end];
    if name.is_empty() || t.get(name_end) != Some(&b'>') {
        return None;
    }
    let from = lt.saturating_sub(256);
    let gt = from + memchr::memrchr2(b'>', b'<', &t[from..lt])?;
    let open = from + memchr::memrchr(b'<', &t[from..gt])?;
    if t[gt] != b'>' || !t[open + 1..gt].starts_with(name) {
        return None;
    }
    let attrs = &t[open + 1 + name.len()..gt];
    if !attrs.first().is_none_or(|b| b.is_ascii_whitespace()) {
        return None;
    }
    if !secret_name(name) && !keyed(attrs) {
        return None;
    }
    let (mut vs, mut ve) = (gt + 1, lt);
    while vs < ve && t[vs].is_ascii_whitespace() {
        vs += 1;
    }
    while ve > vs && t[ve - 1].is_ascii_whitespace() {
        ve -= 1;
    }
    (secret(&t[vs..ve], true) && !marked_before(t, vs)).then_some(()).and(found(FindingKind::GenericSecret, vs, ve))
}

/// Whether a tag's attributes name a secret with `key="…"` or `name="…"`
/// (`<add key="ApiKey" value="…"/>`, `<entry key="password">`).
fn keyed(attrs: &[u8]) -> bool {
    [b"key=".as_slice(), b"name="].iter().any(|k| {
        attrs.windows(k.len()).enumerate().any(|(i, w)| {
            let at = i + k.len();
            if !w.eq_ignore_ascii_case(k) || !matches!(attrs.get(at), Some(b'"' | b'\'')) {
                return false;
            }
            let q = attrs[at];
            let rest = &attrs[at + 1..];
            let end = memchr::memchr(q, rest).unwrap_or(rest.len());
            secret_name(&rest[..end])
        })
    })
}

/// For `value=` in a tag: whether the tag's `key` or `name` names a secret.
fn keyed_tag(t: &[u8], is: usize) -> bool {
    let from = is.saturating_sub(200);
    match memchr::memrchr2(b'<', b'>', &t[from..is]) {
        Some(i) if t[from + i] == b'<' => keyed(&t[from + i..is]),
        _ => false,
    }
}

/// The value that starts after an operator, at `i`; `quoted_only` for a
/// call's second argument.
fn value_at(t: &[u8], mut i: usize, quoted_only: bool) -> Option<Finding> {
    while matches!(t.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    // A string's prefix: Python's `b"…"`, `r'…'`, `f"…"`, C#'s `@"…"`, `$"…"`.
    i = crate::auth::string_prefix(t, i);
    let quote = match t.get(i) {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            i += 1;
            Some(q)
        }
        _ if quoted_only => return None,
        _ => None,
    };
    let vstart = i;
    // `auth = "Bearer " + "…"`, `token: Bearer …`: an authorization
    // value under a secret's name.
    let we = take(t, vstart, 8, |b| b.is_ascii_alphanumeric());
    if t.get(we) == Some(&b' ') && crate::auth::scheme(&t[vstart..we]) {
        return crate::auth::header_value(t, vstart);
    }
    let mut vend = match quote {
        Some(q) => take(t, vstart, 256, |b| b != q && b != b'\n'),
        None => take(t, vstart, 256, |b| !b.is_ascii_whitespace() && !matches!(b, b',' | b';' | b'"' | b'\'' | b'<')),
    };
    if quote.is_none() {
        vend = trim_unquoted(t, vstart, vend);
    }
    let v = &t[vstart..vend];
    (secret(v, quote.is_some()) && !marked_before(t, vstart) && !marked_after(t, vend)).then_some(()).and(found(
        FindingKind::GenericSecret,
        vstart,
        vend,
    ))
}

/// Trailing characters that belong to the text around an unquoted value:
/// a sentence's full stop, a code span's backtick, and closing brackets
/// that open nowhere in the value (f(password=abc), {token: x}).
fn trim_unquoted(t: &[u8], vstart: usize, mut vend: usize) -> usize {
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
    vend
}

/// Whether `v` can be a secret's value: long enough, not code, not a
/// placeholder, an example or a URL, and random enough.
pub(crate) fn secret(v: &[u8], quoted: bool) -> bool {
    if v.len() < 8 || v.len() > 200 {
        return false;
    }
    if placeholder(v) || code_expression(v, quoted) || v.iter().all(|&b| b == v[0]) || stand_in(v) {
        return false;
    }
    // A quoted phrase of several words is prose; a URL is where a secret
    // would be, not one (a password inside it is found with the URL).
    if (quoted && v.iter().filter(|b| **b == b' ').count() > 1) || memchr::memmem::find(v, b"://").is_some() {
        return false;
    }
    if crate::contains_any_ignore_case(v, STOP_WORDS) {
        return false;
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
    entropy(v) >= 3.0 && classes >= 2
}
