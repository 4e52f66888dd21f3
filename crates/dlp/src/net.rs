//! Email addresses (found at each `@`) and IPv6 addresses (at each `:`).

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

pub(crate) fn emails(t: &[u8], out: &mut Vec<Finding>) {
    let mut after = 0;
    for at in memchr::memchr_iter(b'@', t) {
        if at < after || at == 0 {
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

fn v6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

pub(crate) fn ipv6(t: &[u8], out: &mut Vec<Finding>) {
    let mut after = 0;
    for c in memchr::memchr_iter(b':', t) {
        if c < after {
            continue;
        }
        let mut s = c;
        while s > 0 && v6_char(t[s - 1]) && c - s < 40 {
            s -= 1;
        }
        let mut e = c;
        while e < t.len() && v6_char(t[e]) && e - s < 45 {
            e += 1;
        }
        after = e;
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
            continue;
        }
        let Ok(text) = std::str::from_utf8(cand) else { continue };
        if text.parse::<std::net::Ipv6Addr>().is_ok() {
            out.push(Finding { start: s, end: e, kind: FindingKind::IpAddress, term: None });
        }
    }
}
