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
use crate::{Finding, FindingKind, is_word};

use base64::Engine;

/// A space or a tab: what may stand between the pieces code builds a
/// header from.
fn blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Characters of a `b64token` (RFC 6750), the shape of most API tokens.
fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// The end of a token that starts at `ts`, a sentence's full stops off.
fn token_end(t: &[u8], ts: usize) -> usize {
    let mut te = take(t, ts, 4096, token_char);
    while te > ts && t[te - 1] == b'.' {
        te -= 1;
    }
    te
}

/// The credential after the scheme word `t[ws..we]`: right after it, or in
/// the string literal the code puts after it (see `continued`).
fn credential(t: &[u8], ws: usize, we: usize) -> Option<Finding> {
    let basic = t[ws..we].eq_ignore_ascii_case(b"basic");
    let ts = take(t, we, 4, |b| b == b' ');
    if ts == we {
        return None;
    }
    match continued(t, ts) {
        // `"Basic " + btoa("user:password")`: the pair, not yet encoded.
        Some((ls, le, true)) => basic.then(|| plain_pair(t, ls, le)).flatten(),
        Some((ls, le, false)) if basic && t[ls..le].contains(&b':') => plain_pair(t, ls, le),
        Some((ls, _, false)) if basic => self::basic(t, ls, token_end(t, ls)),
        Some((ls, _, false)) => opaque(t, ls, token_end(t, ls)),
        None if basic => self::basic(t, ts, token_end(t, ts)),
        None => opaque(t, ts, token_end(t, ts)),
    }
}

/// Python, C# and C++ string prefixes (`f"`, `rb'`, `@"`, `$"`): where the
/// quote after the prefix at `i` is, or `i` when there is no prefix.
pub(crate) fn string_prefix(t: &[u8], i: usize) -> usize {
    let p = take(t, i, 2, |b| matches!(b, b'f' | b'F' | b'r' | b'R' | b'b' | b'B' | b'u' | b'U' | b'@' | b'$'));
    let word_before = i > 0 && is_word(t[i - 1]);
    if p > i && !word_before && matches!(t.get(p), Some(b'"' | b'\'')) { p } else { i }
}

/// Scheme words of an authorization value.
pub(crate) fn scheme(w: &[u8]) -> bool {
    ["bearer", "basic", "token", "apikey"].iter().any(|s| w.eq_ignore_ascii_case(s.as_bytes()))
}

/// When code builds the value — the scheme in one string literal, the
/// credential in the next (`"Basic " + "…"`, `'Bearer ' . '…'`, Python's
/// adjacent `"Bearer " "…"`, VB's `&`, Lua's `..`) or inline in an
/// interpolation (`f"Bearer {'…'}"`, `` `Bearer ${"…"}` ``) — the span of
/// that literal, `i` being where the scheme's string closes or the
/// interpolation opens; and whether the literal is the argument of a
/// call (`btoa('user:pass')`, `base64.b64encode(b"user:pass")`,
/// `Base64.getEncoder().encodeToString("user:pass".getBytes())`).
/// Variables (`"Bearer " + token`) have no literal: None.
fn continued(t: &[u8], i: usize) -> Option<(usize, usize, bool)> {
    let j = match formatted(t, i) {
        Some(j) => j,
        None => match t.get(i)? {
            b'"' | b'\'' | b'`' => {
                let mut j = take(t, i + 1, 4, blank);
                if t.get(j..j + 2) == Some(b"..") {
                    j += 2;
                } else if matches!(t.get(j), Some(b'+' | b'.' | b'&')) {
                    j += 1;
                }
                j
            }
            b'{' => i + 1,
            b'$' if t.get(i + 1) == Some(&b'{') => i + 2,
            _ => return None,
        },
    };
    let j = take(t, j, 4, blank);
    let q = string_prefix(t, j);
    // A literal must close (on its line, within 512 bytes): a cut one could
    // end inside a character.
    let literal = |open: usize, quote: u8| {
        let end = take(t, open + 1, 512, |b| b != quote && b != b'\n');
        (t.get(end) == Some(&quote)).then_some(end)
    };
    if let Some(&quote @ (b'"' | b'\'' | b'`')) = t.get(q) {
        return Some((q + 1, literal(q, quote)?, false));
    }
    // A call: a callee (dotted, maybe chained), `(`, a string prefix, a quote.
    let e = take(t, j, 96, |b| is_word(b) || matches!(b, b'.' | b'(' | b')'));
    let quote = *t.get(e).filter(|b| matches!(b, b'"' | b'\''))?;
    let prefix = t[j..e].iter().rev().take_while(|b| matches!(b, b'b' | b'B' | b'r' | b'R' | b'u' | b'U')).count();
    let open = e.checked_sub(prefix.min(2) + 1)?;
    if open < j || t[open] != b'(' {
        return None;
    }
    Some((e + 1, literal(e, quote)?, true))
}

/// When the scheme's string ends in a format placeholder and the value is
/// its argument (`"Bearer %s" % "…"`, `"Bearer %s" % ("…",)`,
/// `"Bearer {}".format("…")`, `Sprintf("Bearer %s", "…")`,
/// `String.format("Bearer %s", "…")`): where that argument starts.
fn formatted(t: &[u8], i: usize) -> Option<usize> {
    let holder = [&b"%s"[..], b"%v", b"{}", b"{0}"].into_iter().find(|h| t.get(i..i + h.len()) == Some(*h))?;
    let close = i + holder.len();
    if !matches!(t.get(close), Some(b'"' | b'\'' | b'`')) {
        return None;
    }
    let j = take(t, close + 1, 4, blank);
    if t.get(j) == Some(&b'%') {
        let j = take(t, j + 1, 4, blank);
        Some(if t.get(j) == Some(&b'(') { j + 1 } else { j })
    } else if t.get(j..j + 8) == Some(b".format(") {
        Some(j + 8)
    } else {
        (t.get(j) == Some(&b',')).then_some(j + 1)
    }
}

/// A `user:password` literal that code encodes into a `Basic` value.
fn plain_pair(t: &[u8], ls: usize, le: usize) -> Option<Finding> {
    let v = &t[ls..le];
    let colon = memchr::memchr(b':', v)?;
    (user_password(&v[..colon], &v[colon + 1..]) && !marked_before(t, ls)).then_some(()).and(found(
        FindingKind::BasicAuth,
        ls,
        le,
    ))
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
    let vs = format_call(t, take(t, i, 8, blank));
    let vs = string_prefix(t, vs);
    let vs = take(t, vs, 8, |b| matches!(b, b'"' | b'\'' | b'`' | b' ' | b'\t'));
    let we = take(t, vs, 24, |b| b.is_ascii_alphanumeric() || b == b'-');
    if t.get(we) == Some(&b' ') && we > vs {
        let word = &t[vs..we];
        let challenge = ["digest", "negotiate", "ntlm", "aws4-hmac-sha256", "hoba", "mutual"];
        if challenge.iter().any(|c| word.eq_ignore_ascii_case(c.as_bytes())) {
            return None;
        }
        return credential(t, vs, we);
    }
    opaque(t, vs, token_end(t, vs))
}

/// Past a formatting call that opens at `i` (`fmt.Sprintf(`,
/// `String.format(`, `sprintf(`): its format string then holds the
/// scheme. Otherwise `i`.
fn format_call(t: &[u8], i: usize) -> usize {
    let e = take(t, i, 32, |b| is_word(b) || b == b'.');
    let name = t[i..e].rsplit(|&b| b == b'.').next().unwrap_or_default();
    let known = ["sprintf", "format"].iter().any(|n| name.eq_ignore_ascii_case(n.as_bytes()));
    if known && t.get(e) == Some(&b'(') { e + 1 } else { i }
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

/// Command-line options that carry a credential, found at each `-` that
/// starts a word (one memchr pass for all of them: `-` after a space is
/// rare in prose): curl's `-u user:password`, `-uuser:password`, `--user
/// user:password`, `--user=…`, `--proxy-user …` (`basic_auth`, in a
/// command that runs curl: `-u` means other things to other programs,
/// `docker run -u 1000:1000`), and the password options of database,
/// registry and SSH clients (`generic_secret`, see `password_option`).
pub(crate) fn options(t: &[u8], out: &mut Vec<Finding>) {
    for d in memchr::memchr_iter(b'-', t) {
        if d == 0 || !t[d - 1].is_ascii_whitespace() {
            continue;
        }
        let rest = &t[d + 1..];
        let f = match rest.first() {
            Some(b'u') => user_option(t, d, d + 2, true),
            Some(b'p' | b'a') => password_option(t, d),
            Some(b'-') if rest.starts_with(b"-user") => user_option(t, d, d + 6, false),
            Some(b'-') if rest.starts_with(b"-proxy-user") => user_option(t, d, d + 12, false),
            Some(b'-') if rest.starts_with(b"-pass") => password_option(t, d),
            _ => None,
        };
        out.extend(f);
    }
}

/// A client whose command line can carry a password.
struct Client {
    programs: &'static [&'static str],
    /// The short option (`-p`, `-a`) and whether its value must be
    /// attached (`mysql -pSECRET`: `mysql -p db` prompts, `db` is the
    /// database).
    short: u8,
    attached_only: bool,
    /// Long options, and whether their value needs an `=` (MySQL's
    /// optional values do).
    long: &'static [&'static str],
    long_eq_only: bool,
    /// A subcommand that must come first (`docker login`, not `docker run
    /// -p 8080:80`).
    subcommand: Option<&'static [u8]>,
}

const CLIENTS: &[Client] = &[
    Client {
        programs: &[
            "mysql",
            "mysqldump",
            "mysqladmin",
            "mysqlimport",
            "mysqlcheck",
            "mysqlsh",
            "mariadb",
            "mariadb-dump",
        ],
        short: b'p',
        attached_only: true,
        long: &["--password"],
        long_eq_only: true,
        subcommand: None,
    },
    Client {
        programs: &["docker", "podman", "nerdctl", "buildah", "skopeo"],
        short: b'p',
        attached_only: false,
        long: &["--password"],
        long_eq_only: false,
        subcommand: Some(b"login"),
    },
    Client {
        programs: &["redis-cli", "valkey-cli", "keydb-cli"],
        short: b'a',
        attached_only: false,
        long: &["--pass"],
        long_eq_only: false,
        subcommand: None,
    },
    Client {
        programs: &["sshpass"],
        short: b'p',
        attached_only: false,
        long: &[],
        long_eq_only: false,
        subcommand: None,
    },
    Client {
        programs: &["mongosh", "mongo", "mongodump", "mongorestore", "mongoexport", "mongoimport"],
        short: b'p',
        attached_only: false,
        long: &["--password"],
        long_eq_only: false,
        subcommand: None,
    },
];

/// Where the program `name` last starts as a word in `cmd`: after a
/// space, a path's `/`, a shell operator or a quote; before a space.
fn program_at(cmd: &[u8], name: &[u8]) -> Option<usize> {
    let mut end = cmd.len();
    while let Some(p) = memchr::memmem::rfind(&cmd[..end], name) {
        let before = p == 0
            || matches!(cmd[p - 1], b' ' | b'\t' | b'\n' | b'/' | b';' | b'|' | b'&' | b'(' | b'`' | b'"' | b'\'');
        let after = cmd.get(p + name.len()).is_some_and(|b| b.is_ascii_whitespace());
        if before && after {
            return Some(p);
        }
        end = p;
    }
    None
}

/// A password given on the command line of a client that takes one:
/// `mysql -pSECRET` / `--password=SECRET`, `docker login -p SECRET` /
/// `--password SECRET`, `redis-cli -a SECRET` / `--pass`, `sshpass -p
/// SECRET`, `mongosh -p SECRET` / `--password SECRET`, the option at `d`.
/// A `generic_secret`: a password alone, with no user name bound to it in
/// one value (unlike `basic_auth`'s pair), as a URL's password is.
fn password_option(t: &[u8], d: usize) -> Option<Finding> {
    let (flag_end, attached) = if t.get(d + 1) == Some(&b'-') {
        let e = take(t, d, 32, |b| b.is_ascii_alphanumeric() || b == b'-');
        (e, t.get(e) == Some(&b'='))
    } else {
        (d + 2, t.get(d + 2).is_some_and(|b| !b.is_ascii_whitespace()))
    };
    let flag = &t[d..flag_end];
    let long = flag.starts_with(b"--");
    if !attached && !matches!(t.get(flag_end), Some(b' ' | b'\t')) {
        return None;
    }
    // The client: the nearest program of the list before the option.
    let cmd_start = command_start(t, d);
    let cmd = &t[cmd_start..d];
    let (client, at) = CLIENTS
        .iter()
        .flat_map(|c| c.programs.iter().filter_map(move |p| program_at(cmd, p.as_bytes()).map(|at| (c, at + p.len()))))
        .max_by_key(|&(_, at)| at)?;
    let ok = if long {
        client.long.iter().any(|l| flag == l.as_bytes()) && (attached || !client.long_eq_only)
    } else {
        flag[1] == client.short && (attached || !client.attached_only)
    };
    let sub_ok = client.subcommand.is_none_or(|s| program_at(&cmd[at..], s).is_some() || cmd[at..].ends_with(s));
    if !ok || !sub_ok {
        return None;
    }
    let vs = if attached { flag_end + usize::from(long) } else { take(t, flag_end, 8, blank) };
    let quote = t.get(vs).copied().filter(|b| matches!(b, b'"' | b'\''));
    let vs = vs + usize::from(quote.is_some());
    let ve = match quote {
        Some(q) => take(t, vs, 256, |b| b != q && b != b'\n'),
        None => {
            take(t, vs, 256, |b| !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b';' | b'|' | b'&' | b'`'))
        }
    };
    // Cut at the limit, the value could end inside a character; no password is that long.
    if ve - vs == 256 {
        return None;
    }
    let v = &t[vs..ve];
    // A separate word must look like a password, not the next word of a
    // sentence or a port (`sshpass -p … ssh -p 2222`).
    let word_like = v.iter().all(u8::is_ascii_lowercase) || v.iter().all(u8::is_ascii_digit);
    let shape = if attached { v.len() >= 4 } else { v.len() >= 6 && !word_like };
    let named = crate::contains_any_ignore_case(v, &["password", "passwd"]);
    (shape && !named && v.first() != Some(&b'-') && user_password(b"user", v) && !marked_before(t, vs))
        .then_some(())
        .and(found(FindingKind::GenericSecret, vs, ve))
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
    // Cut at the limit, the value could end inside a character.
    if ve - vs == 512 {
        return None;
    }
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
