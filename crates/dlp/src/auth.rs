//! Credentials in the shapes of HTTP authentication: `Authorization:` and
//! `Proxy-Authorization:` values in headers, `curl -H`, HTTP dumps and
//! code (`Bearer`, `Basic`, `Token`, `ApiKey`, or no scheme), found by the
//! assignment pass when the name before `:`, `=` or `", "` is such a
//! header; and curl's `-u user:password`, `--user`, `--proxy-user`, found
//! in each command that runs curl. A `Basic` value must decode (base64) to
//! `user:password`; the pair is the `basic_auth` finding, the others are
//! opaque credentials (`generic_secret`, or the specific kind found at the
//! same place: a JWT, an OpenAI key).

use crate::check::entropy;
use crate::dummy::{marked_before, placeholder, stand_in};
use crate::secrets::{found, take};
use crate::{Finding, FindingKind};

use base64::Engine;

/// Characters of a `b64token` (RFC 6750), the shape of most API tokens.
fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// The credential after the scheme word `t[ws..we]`.
fn credential(t: &[u8], ws: usize, we: usize) -> Option<Finding> {
    let word = &t[ws..we];
    let ts = take(t, we, 4, |b| b == b' ');
    if ts == we {
        return None;
    }
    let mut te = take(t, ts, 4096, token_char);
    while te > ts && t[te - 1] == b'.' {
        te -= 1;
    }
    if word.eq_ignore_ascii_case(b"basic") {
        return basic(t, ts, te);
    }
    opaque(t, ts, te)
}

/// A bearer token, API key or other opaque credential at `t[ts..te]`.
fn opaque(t: &[u8], ts: usize, te: usize) -> Option<Finding> {
    let v = &t[ts..te];
    // What follows decides too: `Bearer {token}`, `Bearer ${T}`, `Bearer <t>`
    // leave an empty token; `Bearer abc{x}` is a template.
    let next_ok = t.get(te).is_none_or(|b| !matches!(b, b'{' | b'$' | b'<' | b'%' | b'(' | b'[' | b'@'));
    let env_name = v.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
    let ident_path =
        v.split(|&b| b == b'.').all(|p| !p.is_empty() && p.iter().all(|b| b.is_ascii_alphabetic() || *b == b'_'));
    let ok = v.len() >= 12
        && next_ok
        && !env_name
        && !ident_path
        && !v.iter().all(u8::is_ascii_alphabetic)
        && v.iter().any(u8::is_ascii_alphabetic)
        && entropy(v) >= 3.0
        && !stand_in(v)
        && !placeholder(v)
        && !marked_before(t, ts);
    ok.then_some(()).and(found(FindingKind::GenericSecret, ts, te))
}

/// An HTTP Basic value: base64 of `user:password`, decoded and checked.
fn basic(t: &[u8], ts: usize, te: usize) -> Option<Finding> {
    let v = &t[ts..te];
    if v.len() < 8 || !v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return None;
    }
    let trimmed = v.strip_suffix(b"==").or_else(|| v.strip_suffix(b"=")).unwrap_or(v);
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed).ok()?;
    let text = std::str::from_utf8(&decoded).ok()?;
    if text.chars().any(char::is_control) {
        return None;
    }
    let (user, pass) = text.split_once(':')?;
    (user_password(user.as_bytes(), pass.as_bytes()) && !marked_before(t, ts)).then_some(()).and(found(
        FindingKind::BasicAuth,
        ts,
        te,
    ))
}

/// Passwords that only name what would go there.
const NAMES: &[&str] = &["password", "passwd", "pass", "pwd", "pw", "secret", "token", "apikey", "api_key", "key"];

/// Whether `user:password` is a real pair: a password that is not a
/// placeholder, a mask, an example or the word "password"; or, with no
/// password, a user name that is itself a token (`curl -u sk_live_…:`).
pub(crate) fn user_password(user: &[u8], pass: &[u8]) -> bool {
    // Shell and template variables: `$USER`, `${PASS}`, `%PASS%`, `<user>`.
    let var = |x: &[u8]| placeholder(x) || x.windows(2).any(|w| w == b"${" || w == b"$(" || w == b"{{");
    // `USERNAME:API_TOKEN`: names of what goes there.
    let upper_name = |x: &[u8]| !x.is_empty() && x.iter().all(|b| b.is_ascii_uppercase() || *b == b'_');
    if var(user) || var(pass) || stand_in(user) || (upper_name(user) && upper_name(pass)) {
        return false;
    }
    if pass.is_empty() {
        let mixed = user.iter().any(u8::is_ascii_uppercase) && user.iter().any(u8::is_ascii_lowercase);
        return user.len() >= 16 && entropy(user) >= 3.5 && (mixed || user.iter().any(u8::is_ascii_digit));
    }
    let named = NAMES.iter().any(|n| pass.eq_ignore_ascii_case(n.as_bytes()));
    !named && !stand_in(pass) && !pass.iter().all(|&b| b == pass[0])
}

/// Whether a name is an authorization header's: `Authorization`,
/// `Proxy-Authorization`, `HTTP_AUTHORIZATION`.
pub(crate) fn header_name(name: &[u8]) -> bool {
    const H: &[u8] = b"authorization";
    name.len() >= H.len() && name[name.len() - H.len()..].eq_ignore_ascii_case(H) && {
        let before = name.len() - H.len();
        before == 0 || !name[before - 1].is_ascii_alphabetic()
    }
}

/// The credential in an authorization header's value, which starts at
/// `i` (after the `:`, `=` or `,`): an optional scheme, then the token.
pub(crate) fn header_value(t: &[u8], i: usize) -> Option<Finding> {
    let vs = take(t, i, 8, |b| matches!(b, b'"' | b'\'' | b'`' | b' ' | b'\t'));
    let we = take(t, vs, 24, |b| b.is_ascii_alphanumeric() || b == b'-');
    if t.get(we) == Some(&b' ') && we > vs {
        let word = &t[vs..we];
        let challenge = ["digest", "negotiate", "ntlm", "aws4-hmac-sha256", "hoba", "mutual"];
        if challenge.iter().any(|c| word.eq_ignore_ascii_case(c.as_bytes())) {
            return None;
        }
        return credential(t, vs, we);
    }
    let mut te = take(t, vs, 4096, token_char);
    while te > vs && t[te - 1] == b'.' {
        te -= 1;
    }
    opaque(t, vs, te)
}

/// Where the shell command holding `s` starts: its line, and the lines
/// before it that end with a backslash.
fn command_start(t: &[u8], s: usize) -> usize {
    let floor = s.saturating_sub(2048);
    let mut ls = memchr::memrchr(b'\n', &t[floor..s]).map_or(floor, |i| floor + i + 1);
    while ls > floor + 1 {
        let mut k = ls - 1; // the line feed
        if k > 0 && t[k - 1] == b'\r' {
            k -= 1;
        }
        if k == 0 || t[k - 1] != b'\\' {
            break;
        }
        ls = memchr::memrchr(b'\n', &t[floor..k]).map_or(floor, |i| floor + i + 1);
    }
    ls
}

/// curl's `-u user:password`, `-uuser:password`, `--user user:password`,
/// `--user=…`, `--proxy-user …`: found at each ` -u` and `-user` (memmem:
/// `-` is rare in prose), in a command that runs curl (`-u` means other
/// things to other programs: `docker run -u 1000:1000`).
pub(crate) fn curl(t: &[u8], out: &mut Vec<Finding>) {
    for at in memchr::memmem::find_iter(t, b" -u") {
        out.extend(user_option(t, at, at + 3, true));
    }
    for at in memchr::memmem::find_iter(t, b"-user") {
        let long = at >= 1 && t[at - 1] == b'-' && (at < 2 || t[at - 2].is_ascii_whitespace());
        let proxy = at >= 7 && &t[at - 7..at] == b"--proxy";
        if long || proxy {
            out.extend(user_option(t, at, at + 5, false));
        }
    }
}

/// The `user:password` argument of curl's user option `t[s..e]`.
fn user_option(t: &[u8], s: usize, e: usize, short: bool) -> Option<Finding> {
    let mut i = e;
    if short {
        // ` -u` must be the option itself, not `-update`.
        i = take(t, i, 8, |b| b == b' ');
        if i == e && !matches!(t.get(i), Some(b'"' | b'\'')) && t.get(i).is_none_or(|b| !b.is_ascii_alphanumeric()) {
            return None;
        }
    } else {
        if !matches!(t.get(i), Some(b' ' | b'=')) {
            return None;
        }
        i += 1;
        i = take(t, i, 8, |b| b == b' ');
    }
    let quote = t.get(i).copied().filter(|b| matches!(b, b'"' | b'\''));
    let vs = i + usize::from(quote.is_some());
    let ve = match quote {
        Some(q) => take(t, vs, 512, |b| b != q && b != b'\n'),
        None => take(t, vs, 512, |b| !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b';' | b'|' | b'&')),
    };
    let v = &t[vs..ve];
    let colon = memchr::memchr(b':', v)?;
    // Only in a curl command.
    memchr::memmem::find(&t[command_start(t, s)..s], b"curl")?;
    (user_password(&v[..colon], &v[colon + 1..]) && !marked_before(t, vs)).then_some(()).and(found(
        FindingKind::BasicAuth,
        vs,
        ve,
    ))
}
