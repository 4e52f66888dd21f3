//! Email addresses and URL credentials (found at each `@`), IPv6
//! addresses (at each `:`) and webhook URLs without a scheme (at each `/`,
//! in the `@` pass).

use crate::check::entropy;
use crate::{Finding, FindingKind, boundary_after, boundary_before};

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// The start of the non-ASCII letter that ends at `end`, if one does.
fn letter_before(t: &[u8], end: usize) -> Option<usize> {
    if t.get(end.checked_sub(1)?)? < &0x80 {
        return None;
    }
    let mut start = end - 1;
    while start > 0 && (0x80..0xC0).contains(&t[start]) && end - start < 4 {
        start -= 1;
    }
    let c = std::str::from_utf8(&t[start..end]).ok()?.chars().next()?;
    c.is_alphabetic().then_some(start)
}

fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// Emails, and the credentials of URLs (`scheme://user:password@host`),
/// whose `@` would otherwise read as an email's; webhook URLs pasted
/// without their scheme, at each `/`.
pub(crate) fn emails(t: &[u8], out: &mut Vec<Finding>) {
    let mut after = 0;
    for at in memchr::memchr2_iter(b'@', b'/', t) {
        if t[at] == b'/' {
            // One pass for both: `/` is as rare as `@` in prose.
            out.extend(crate::webhook::bare(t, at));
            continue;
        }
        if at < after || at == 0 {
            continue;
        }
        if let Some(u) = userinfo_start(t, at) {
            after = url_credential(t, u, at, out);
            continue;
        }
        let mut s = at;
        while s > 0 && at - s < 64 {
            if local_char(t[s - 1]) {
                s -= 1;
            } else if let Some(c) = letter_before(t, s) {
                // Internationalised local parts (zoë@…) keep their letters.
                s = c;
            } else {
                break;
            }
        }
        while s < at && matches!(t[s], b'.' | b'-' | b'+') {
            s += 1;
        }
        if s == at || t[at - 1] == b'.' {
            continue;
        }
        let mut e = at + 1;
        while e < t.len() && domain_char(t[e]) && e - at < 255 {
            e += 1;
        }
        // Sentences end with a full stop after the address.
        while e > at + 1 && matches!(t[e - 1], b'.' | b'-') {
            e -= 1;
        }
        let domain = &t[at + 1..e];
        let Some(dot) = domain.iter().rposition(|&b| b == b'.') else { continue };
        let tld = &domain[dot + 1..];
        let labels_ok = domain.split(|&b| b == b'.').all(|l| !l.is_empty() && l[0] != b'-' && l[l.len() - 1] != b'-');
        if tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) && labels_ok && domain[0] != b'.' {
            out.push(Finding { start: s, end: e, kind: FindingKind::Email, term: None });
            after = e;
        }
    }
}

/// What a URL's user information can hold, as far as text around a URL
/// lets one tell: not spaces, quotes, brackets, nor the `/?#@` that end it.
fn userinfo_char(b: u8) -> bool {
    b > b' '
        && b != 0x7F
        && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'"' | b'\'' | b'<' | b'>' | b'`' | b'[' | b']' | b'{' | b'}')
        && !matches!(b, b'\\' | b'|' | b'^')
}

/// When the `@` at `at` ends the user information of a URL
/// (`scheme://…@`), where that starts.
fn userinfo_start(t: &[u8], at: usize) -> Option<usize> {
    let mut u = at;
    while u > 0 && at - u < 256 && userinfo_char(t[u - 1]) {
        u -= 1;
    }
    let scheme_end = u.checked_sub(3)?;
    let scheme = scheme_end.checked_sub(1).and_then(|i| t.get(i));
    (&t[scheme_end..u] == b"://" && scheme.is_some_and(u8::is_ascii_alphanumeric)).then_some(u)
}

/// The secret in the user information `t[u..]` of a URL whose first `@` is
/// at `at`: the password of `user:password@`, or a token standing alone
/// (`https://TOKEN@host`). Returns where the URL's authority ends.
fn url_credential(t: &[u8], u: usize, at: usize, out: &mut Vec<Finding>) -> usize {
    let mut end = at + 1;
    while end < t.len() && (t[end] == b'@' || userinfo_char(t[end])) && end - u < 512 {
        end += 1;
    }
    // A password may hold an `@`: the user information ends at the last.
    let last_at = t[at..end].iter().rposition(|&b| b == b'@').map_or(at, |i| at + i);
    let host = t.get(last_at + 1).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'[');
    let info = &t[u..last_at];
    let secret = match info.iter().position(|&b| b == b':') {
        Some(c) => Some((u + c + 1, last_at)).filter(|_| password(&info[c + 1..])),
        None => Some((u, last_at)).filter(|_| token_like(info)),
    };
    if let Some((s, e)) = secret.filter(|_| host) {
        out.push(Finding { start: s, end: e, kind: FindingKind::GenericSecret, term: None });
    }
    end
}

/// Any password but an empty one, a template's placeholder
/// (`${DB_PASSWORD}`, `<password>`), a mask (`****`), an example or the
/// word `password` itself.
fn password(v: &[u8]) -> bool {
    !v.is_empty() && !crate::dummy::placeholder(v) && crate::auth::user_password(b"user", v)
}

/// A user name standing alone is a token when it is long and random:
/// letters and digits that alternate, or mixed case (not `jane.doe`, `git`).
pub(crate) fn token_like(v: &[u8]) -> bool {
    if v.len() < 20 || !v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')) {
        return false;
    }
    let switches = v.windows(2).filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit()).count();
    let digits = v.iter().any(u8::is_ascii_digit);
    let mixed_case = v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_lowercase);
    digits && (switches >= 4 || mixed_case) && entropy(v) >= 3.0
}

fn v6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// The IPv6 address around the `:` at `c`, if there is one; returns where
/// the hex-and-colon run around it ends, so the caller skips its other
/// colons.
pub(crate) fn ipv6_at(t: &[u8], c: usize, out: &mut Vec<Finding>) -> usize {
    let mut s = c;
    while s > 0 && v6_char(t[s - 1]) && c - s < 40 {
        s -= 1;
    }
    let mut e = c;
    while e < t.len() && v6_char(t[e]) && e - s < 45 {
        e += 1;
    }
    let after = e;
    while e > c && matches!(t[e - 1], b'.' | b':') && !(e >= 2 && t[e - 2] == b':' && t[e - 1] == b':') {
        e -= 1;
    }
    while s < c && t[s] == b'.' {
        s += 1;
    }
    let cand = &t[s..e];
    let colons = cand.iter().filter(|&&b| b == b':').count();
    let groups = cand.split(|&b| b == b':').filter(|g| !g.is_empty()).count();
    if colons < 2 || groups < 3 || !boundary_before(t, s) || !boundary_after(t, e) {
        return after;
    }
    if let Ok(text) = std::str::from_utf8(cand)
        && text.parse::<std::net::Ipv6Addr>().is_ok()
    {
        out.push(Finding { start: s, end: e, kind: FindingKind::IpAddress, term: None });
    }
    after
}
