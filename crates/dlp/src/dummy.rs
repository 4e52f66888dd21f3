//! Values that look like credentials and are not: documented example keys
//! (`AKIAIOSFODNN7EXAMPLE`), masks and fillers (`xxxxxxxx`, `********`,
//! `00000000`), template placeholders (`<your-token>`, `${VAR}`,
//! `{{ secret }}`), and values marked as examples, samples, dummies or
//! tests by their own text, their name or the words just before them.
//! Also the names of values that are public by design (`publicToken`,
//! `csrf-token`, `token_url`).

/// `$VAR`, `${VAR}`, `<your key>`, `{{ var }}`, `%(name)s`, `%VAR%`.
pub(crate) fn placeholder(v: &[u8]) -> bool {
    let ident = |x: &[u8]| !x.is_empty() && x.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.');
    match (v.first(), v.last()) {
        (Some(b'$'), Some(b'}' | b')')) => matches!(v.get(1), Some(b'{' | b'(')),
        (Some(b'$'), _) => ident(&v[1..]),
        (Some(b'<'), Some(b'>')) | (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']')) => true,
        (Some(b'%'), Some(b'%' | b's')) => true,
        _ => v.windows(2).any(|w| w == b"${" || w == b"{{" || w == b"$("),
    }
}

/// Marker words that make a value a stand-in wherever they appear in it.
const IN_VALUE: &[&str] = &["example", "sample", "dummy", "placeholder", "changeme", "redacted", "insert", "replace"];

/// Marker words that count only as a part of a word (`test-token`,
/// `myTestKey`, `FAKE_KEY`), not inside a random string.
const WORD_PARTS: &[&str] = &["test", "fake", "your", "mock", "demo", "todo"];

/// Whether `hay[s..s+len]` is a part of a word: the bytes around it are not
/// letters continuing it (a case change from lower to upper starts a part).
fn part_at(hay: &[u8], s: usize, len: usize) -> bool {
    let e = s + len;
    let start =
        s == 0 || !hay[s - 1].is_ascii_alphabetic() || (hay[s - 1].is_ascii_lowercase() && hay[s].is_ascii_uppercase());
    let end = hay
        .get(e)
        .is_none_or(|&b| !b.is_ascii_alphabetic() || (b.is_ascii_uppercase() && hay[e - 1].is_ascii_lowercase()));
    start && end
}

/// Whether one of `words` is a part of a word in `hay`, ignoring case.
pub(crate) fn has_part(hay: &[u8], words: &[&str]) -> bool {
    words.iter().any(|w| crate::find_ignore_case(hay, w.as_bytes()).any(|s| part_at(hay, s, w.len())))
}

/// A run of six or more of the same filler character: `xxxxxx`, `000000`,
/// `******`, `######`, `......`, `••••••`-like masks.
fn filler_run(v: &[u8]) -> bool {
    let mut run = 0;
    let mut last = 0u8;
    for &b in v {
        run = if b == last { run + 1 } else { 1 };
        last = b;
        if run >= 6 && matches!(b, b'x' | b'X' | b'0' | b'*' | b'#' | b'.' | b'-' | b'_') {
            return true;
        }
    }
    false
}

/// Whether a credential's own text says it is no real one.
pub(crate) fn stand_in(v: &[u8]) -> bool {
    placeholder(v)
        || filler_run(v)
        || crate::contains_any_ignore_case(v, IN_VALUE)
        || has_part(v, WORD_PARTS)
        || v.windows(3).any(|w| w == b"..." || w == "…".as_bytes())
}

/// Words before a value on its line that mark it as an example.
const NEAR: &[&str] = &["example", "sample", "dummy", "placeholder", "fake", "test"];

/// Whether one of `words` stands in `hay` as a word of prose or a part of
/// a name (`for example:`, `TEST_KEY`), not inside a domain, an email or
/// a path (`jane@example.com`, `/test/`).
fn has_word(hay: &[u8], words: &[&str]) -> bool {
    let sep = |b: Option<&u8>| b.is_some_and(|b| matches!(b, b'.' | b'@' | b'/'));
    words.iter().any(|w| {
        crate::find_ignore_case(hay, w.as_bytes()).any(|s| {
            part_at(hay, s, w.len()) && !sep(s.checked_sub(1).and_then(|i| hay.get(i))) && !sep(hay.get(s + w.len()))
        })
    })
}

/// Whether the line before `at` (up to 40 bytes back) marks what follows
/// as an example, a sample, a dummy or a test value; or a comment on the
/// line just above does (see `comment_above`).
pub(crate) fn marked_before(t: &[u8], at: usize) -> bool {
    let mut s = at.saturating_sub(40);
    let nl = memchr::memrchr(b'\n', &t[s..at]);
    if let Some(nl) = nl {
        s += nl + 1;
    }
    let before = &t[s..at];
    if has_word(before, NEAR) || memchr::memmem::find(before, b"e.g.").is_some() {
        return true;
    }
    // The line above, when this line starts within the window (a value
    // deep in a long line has no line above near it).
    let line_start = match nl {
        Some(_) => s,
        None if s == 0 => return false,
        None => match memchr::memrchr(b'\n', &t[at.saturating_sub(200)..s]) {
            Some(i) => at.saturating_sub(200) + i + 1,
            None => return false,
        },
    };
    at - line_start <= 80 && comment_above(t, line_start)
}

/// Markers that count in a comment on the line above a value. Not "test":
/// `# test environment` above a staging key labels a real credential.
const ABOVE: &[&str] = &["example", "sample", "dummy", "placeholder", "fake"];

/// Whether the line ending just before `line_start` is a comment (`#`,
/// `//`, `/*`, `*`, `<!--`, `--`, `;`, `rem`) that marks what follows as an
/// example: `# example key, not a real one` over `AWS_SECRET=…`. Only that
/// one line, and only a comment: a marker in prose, or several lines up,
/// says nothing about this value.
fn comment_above(t: &[u8], line_start: usize) -> bool {
    let Some(end) = line_start.checked_sub(1) else { return false };
    let end = if end > 0 && t[end - 1] == b'\r' { end - 1 } else { end };
    let from = end.saturating_sub(160);
    let start = memchr::memrchr(b'\n', &t[from..end]).map_or(from, |i| from + i + 1);
    if start == from && from > 0 {
        return false; // a longer line: prose, not a comment
    }
    let line = &t[start..end];
    let body = &line[line.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    let comment = [b"#".as_slice(), b"//", b"/*", b"*", b"<!--", b"--", b";"].iter().any(|c| body.starts_with(c))
        || body.get(..4).is_some_and(|w| w.eq_ignore_ascii_case(b"rem "));
    comment && has_word(body, ABOVE)
}

/// Whether the rest of the line after `at` (up to 40 bytes: a trailing
/// comment) says the value before it is an example, a sample or a dummy.
pub(crate) fn marked_after(t: &[u8], at: usize) -> bool {
    let mut e = (at + 40).min(t.len());
    if let Some(nl) = memchr::memchr(b'\n', &t[at..e]) {
        e = at + nl;
    }
    has_word(&t[at..e], &["example", "sample", "dummy", "placeholder", "fake"])
}

/// Parts of a name that make its value public or not a credential at
/// all: `publicToken`, `csrf-token`, `token_url`, `password_file`,
/// `max_tokens`, `secret_name`.
const PUBLIC_PARTS: &[&str] = &[
    "public",
    "publishable",
    "pub",
    "csrf",
    "authenticity",
    "xsrf",
    "url",
    "uri",
    "endpoint",
    "path",
    "file",
    "dir",
    "name",
    "type",
    "count",
    "length",
    "len",
    "limit",
    "max",
    "min",
    "ttl",
    "expiry",
    "expires",
    "field",
    "header",
    "hint",
    "policy",
    "prompt",
    "label",
    "regex",
    "pattern",
    "example",
    "sample",
    "dummy",
    "fake",
    "test",
    "mock",
];

/// Whether the name `ident` says its value is public, not a secret.
pub(crate) fn public_name(ident: &[u8]) -> bool {
    has_part(ident, PUBLIC_PARTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_ins() {
        for v in [
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "xxxxxxxxxxxxxxxx",
            "sk-XXXXXXXXXXXXXXXXXXXX",
            "ghp_000000000000000000000000000000000000",
            "********",
            "<your-token>",
            "${API_TOKEN}",
            "{{ secret }}",
            "$(cat token)",
            "changeme123",
            "my-test-token-123",
            "dummyPassw0rd",
            "sk-proj-Ab3d...wXy4",
        ] {
            assert!(stand_in(v.as_bytes()), "{v}");
        }
        for v in ["Tr0ub4dor&3x", "ghp_Zk3TestqB9", "AKIAZ7GH2KQW4TNB5XEM", "9f8e7d6c5b4a3210fedc"] {
            assert!(!stand_in(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn public_names() {
        for n in ["publicToken", "csrf-token", "CSRF_TOKEN", "token_url", "password_file", "max_tokens", "SECRET_NAME"]
        {
            assert!(public_name(n.as_bytes()), "{n}");
        }
        for n in ["DB_PASSWORD", "clientSecret", "x-api-key", "auth_token", "apiKey"] {
            assert!(!public_name(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn markers_before_a_value() {
        let t = b"for example: token abc";
        assert!(marked_before(t, t.len() - 3));
        let t = b"example line\nthe token abc";
        assert!(!marked_before(t, t.len() - 3));
        assert!(marked_before(b"TEST_KEY=abc", 9));
        assert!(!marked_before(b"latest key abc", 11));
    }
}
