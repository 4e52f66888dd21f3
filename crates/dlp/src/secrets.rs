//! Credentials, each found from the literal anchor the prefilter matched
//! (case-insensitively; exact case is checked here) and parsed forward.

use crate::check::entropy;
use crate::dummy::{marked_before, stand_in};
use crate::{Anchor, Finding, FindingKind, boundary_after, boundary_before};

use base64::Engine;

pub(crate) fn take(t: &[u8], from: usize, max: usize, ok: impl Fn(u8) -> bool) -> usize {
    let mut e = from;
    while e < t.len() && e - from < max && ok(t[e]) {
        e += 1;
    }
    e
}

pub(crate) fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

pub(crate) fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

pub(crate) fn found(kind: FindingKind, start: usize, end: usize) -> Option<Finding> {
    Some(Finding { start, end, kind, term: None })
}

/// The credential the anchor at `t[s..e]` starts, unless it is a documented
/// example, a mask or a placeholder, or the words before it mark it so.
pub(crate) fn at(t: &[u8], s: usize, e: usize, anchor: Anchor) -> Option<Finding> {
    let f = match anchor {
        Anchor::PrivateKey => return private_key(t, s, e),
        _ => token(t, s, e, anchor)?,
    };
    let dummy = stand_in(&t[f.start..f.end]) || marked_before(t, f.start);
    (!dummy).then_some(f)
}

fn token(t: &[u8], s: usize, e: usize, anchor: Anchor) -> Option<Finding> {
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
        Anchor::Slack => slack(t, s, e),
        Anchor::Jwt => jwt(t, s),
        Anchor::JwtBase64 => jwt_base64(t, s),
        Anchor::Tokenwise => {
            // Our own API keys: tw_ and 43 letters or digits.
            let end = take(t, e, 64, alnum);
            (exact(b"tw_") && end - e == 43 && boundary_before(t, s) && boundary_after(t, end))
                .then_some(())
                .and(found(FindingKind::GenericSecret, s, end))
        }
        Anchor::PrivateKey => None,
    }
}

/// Slack tokens: bot `xoxb-`, user `xoxp-`, workspace and legacy `xoxa-`,
/// `xoxr-`, `xoxs-`, `xoxo-`, client `xoxc-`, refresh `xoxe-`, configuration
/// `xoxe.xoxp-`, and app-level `xapp-`; then ID-ish parts.
fn slack(t: &[u8], s: usize, e: usize) -> Option<Finding> {
    if !boundary_before(t, s) {
        return None;
    }
    let body = if t.get(s..s + 5) == Some(b"xapp-") {
        s + 5
    } else {
        if t.get(s..s + 3) != Some(b"xox") {
            return None;
        }
        // A configuration token: `xoxe.` before the token proper.
        let e = if t.get(e..e + 5) == Some(b"e.xox") { e + 5 } else { e };
        let kind_ok = t.get(e).is_some_and(|b| matches!(b, b'b' | b'p' | b'a' | b'r' | b's' | b'e' | b'o' | b'c'))
            && t.get(e + 1) == Some(&b'-');
        if !kind_ok {
            return None;
        }
        e + 2
    };
    let end = take(t, body, 512, |b| alnum(b) || b == b'-');
    (end - body >= 10 && boundary_after(t, end) && t[body..end].iter().any(u8::is_ascii_digit))
        .then_some(())
        .and(found(FindingKind::SlackToken, s, end))
}

/// Private key blocks: PEM (`-----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED
/// ]PRIVATE KEY-----`) and OpenPGP armour (`-----BEGIN PGP PRIVATE KEY
/// BLOCK-----`), to the END line or, cut short, to the end of the body.
/// A block with too little body to hold a key (empty, or elided with `...`
/// or `<key here>`) is an example, not a key.
fn private_key(t: &[u8], s: usize, e: usize) -> Option<Finding> {
    let header_end = memchr::memmem::find(&t[e..t.len().min(e + 64)], b"-----")? + e;
    let header = &t[e..header_end];
    let kind = if header.ends_with(b"PRIVATE KEY") {
        FindingKind::PrivateKey
    } else if header == b" PGP PRIVATE KEY BLOCK" {
        FindingKind::PgpPrivateKey
    } else {
        return None;
    };
    if !t[s..e].eq(b"-----BEGIN") {
        return None;
    }
    let body_start = header_end + 5;
    let (body_end, end) = match memchr::memmem::find(&t[body_start..], b"-----END") {
        Some(rel) => {
            let end_marker = body_start + rel;
            let close =
                memchr::memmem::find(&t[end_marker + 8..], b"-----").map_or(t.len(), |x| end_marker + 8 + x + 5);
            (end_marker, close.min(t.len()))
        }
        // Cut short: the key runs to the end of its base64 body.
        None => {
            let mut end = take(t, body_start, usize::MAX, |b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r' | b' ' | b':' | b'-')
            });
            while end > body_start && t[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            (end, end)
        }
    };
    key_body(&t[body_start..body_end]).then_some(()).and(found(kind, s, end))
}

/// Whether a key block's body can hold a key: at least 64 base64
/// characters (the shortest, an Ed25519 PKCS#8 key, has 64) and nothing
/// that elides or stands in for them.
fn key_body(body: &[u8]) -> bool {
    let b64 = body.iter().filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/')).count();
    let elided = body.windows(3).any(|w| w == b"..." || w == "…".as_bytes())
        || body.iter().any(|b| matches!(b, b'<' | b'>' | b'*'))
        || body.windows(6).any(|w| w.iter().all(|&b| b == b'x' || b == b'X'));
    b64 >= 64 && !elided
}

/// A JWT encoded once more in base64 (`ZXlK` is base64 of `eyJ`), as
/// cookies and config files carry them: found when it decodes to one.
fn jwt_base64(t: &[u8], s: usize) -> Option<Finding> {
    if !boundary_before(t, s) {
        return None;
    }
    let end = take(t, s, 16 * 1024, |b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'));
    let end = take(t, end, 2, |b| b == b'=');
    if end - s < 40 || !boundary_after(t, end) {
        return None;
    }
    let v = &t[s..end];
    let trimmed = v.strip_suffix(b"==").or_else(|| v.strip_suffix(b"=")).unwrap_or(v);
    let engines = [base64::engine::general_purpose::STANDARD_NO_PAD, base64::engine::general_purpose::URL_SAFE_NO_PAD];
    let decoded = engines.iter().find_map(|en| en.decode(trimmed).ok())?;
    let inner = jwt(&decoded, 0)?;
    let rest = &decoded[inner.end..];
    (rest.iter().all(u8::is_ascii_whitespace)).then_some(()).and(found(FindingKind::Jwt, s, end))
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
