//! Webhook URLs that are secrets themselves: whoever has one can post to
//! the channel behind it. Slack (`hooks.slack.com/services/…`,
//! `/workflows/…`, `/triggers/…`), Discord (`/api/webhooks/ID/TOKEN`),
//! Microsoft Teams and Office 365 connectors (`…webhook.office.com/…/
//! IncomingWebhook/…`), Power Automate and Logic Apps (`…logic.azure.com…
//! sig=…`), Zapier catch hooks, and any `…/webhook/<long random>` or
//! `…/hooks/<long random>`. Found at the URL's `://` (the pass over `:` in
//! lib.rs; anchoring `/webhook`, `/hooks/`, `.slack.com/` in the
//! Aho-Corasick automaton cost a third of its speed on prose); the finding
//! is the whole URL. A URL pasted without its scheme
//! (`hooks.slack.com/services/…`) is found at the `/` or `:` that ends its
//! host, when the host ends in `.com` as every named service's does (`/`
//! shares the `@` pass in net.rs, `:` the pass in lib.rs). The generic
//! `…/webhook/<random>` needs its scheme: without one and without a known
//! host it reads like a file path in code (`src/webhooks/2024_03_add_…`).

use crate::check::entropy;
use crate::dummy::{marked_before, stand_in};
use crate::secrets::found;
use crate::{Finding, FindingKind};

/// Whether `s` ends with `suffix`, ASCII case ignored: host names are
/// case-insensitive (`HOOKS.SLACK.COM` reaches Slack); paths are not.
fn ends_with_ci(s: &[u8], suffix: &[u8]) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn url_char(b: u8) -> bool {
    b > b' ' && b < 0x7F && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'`' | b'(' | b')' | b'[' | b']' | b'{' | b'}')
}

/// The URL around the anchor at `s`: its bounds, trailing punctuation off.
fn bounds(t: &[u8], s: usize) -> (usize, usize) {
    let mut start = s;
    while start > 0 && s - start < 512 && url_char(t[start - 1]) {
        start -= 1;
    }
    let mut end = s;
    while end < t.len() && end - s < 2048 && url_char(t[end]) {
        end += 1;
    }
    while end > s && matches!(t[end - 1], b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*') {
        end -= 1;
    }
    (start, end)
}

/// Whether a path segment is a long random string: a key, not a word or
/// an id (`pre-commit`, `12345`).
fn random(seg: &[u8], min: usize) -> bool {
    seg.len() >= min
        && seg.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        && seg.iter().any(u8::is_ascii_digit)
        && seg.iter().any(u8::is_ascii_alphabetic)
        && entropy(seg) >= 3.0
}

/// The webhook URL whose `://` is at `s`, if it is one. A URL that holds
/// none of the hosts' or paths' marks is left at once: every URL in the
/// text comes here.
pub(crate) fn at(t: &[u8], s: usize) -> Option<Finding> {
    let (start, end) = bounds(t, s);
    judge(t, start, end, true)
}

/// The services' hosts that `judge` knows, as a URL without a scheme's
/// host must end (`github.com/acme/app` in an import is left at once).
const HOSTS: [&[u8]; 7] = [
    b"hooks.slack.com",
    b"discord.com",
    b"discordapp.com",
    b"office.com",
    b"logic.azure.com",
    b"api.powerplatform.com",
    b"hooks.zapier.com",
];

/// The webhook URL without a scheme whose host ends at `s` (a `/` or the
/// `:` of a port), if it is one. Only hosts ending in `.com` are looked at
/// (one comparison for every other `/`), and of those only the known
/// services'; a URL with a scheme is left to `at`.
pub(crate) fn bare(t: &[u8], s: usize) -> Option<Finding> {
    if !t.get(..s).is_some_and(|before| ends_with_ci(before, b".com")) {
        return None;
    }
    let mut start = s;
    while start > 0 && s - start < 256 && (t[start - 1].is_ascii_alphanumeric() || matches!(t[start - 1], b'.' | b'-'))
    {
        start -= 1;
    }
    let host = &t[start..s];
    let known = HOSTS.iter().any(|h| ends_with_ci(host, h));
    if t[..start].ends_with(b"://") || !known {
        return None;
    }
    let (_, end) = bounds(t, s);
    judge(t, start, end, false)
}

/// Whether `t[start..end]` is a webhook URL; `generic_ok` allows the
/// `…/webhook/<random>` form on any host.
fn judge(t: &[u8], start: usize, end: usize, generic_ok: bool) -> Option<Finding> {
    let url = &t[start..end];
    let after_scheme = memchr::memmem::find(url, b"://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let host_end = rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let host = &rest[..host_end];
    let host = host.iter().rposition(|&b| b == b'@').map_or(host, |i| &host[i + 1..]);
    let host = host.iter().position(|&b| b == b':').map_or(host, |i| &host[..i]);
    let ends = |d: &[u8]| ends_with_ci(host, d);
    let paths: [&[u8]; 2] = [b"/webhook", b"/hooks/"];
    let marked = (ends(b".slack.com") && rest.get(host_end) == Some(&b'/'))
        || ends(b".logic.azure.com")
        || paths.iter().any(|m| memchr::memmem::find(url, m).is_some());
    if !marked {
        return None;
    }
    let (path, query) = match rest[host_end..].iter().position(|&b| b == b'?') {
        Some(q) => (&rest[host_end..host_end + q], &rest[host_end + q + 1..]),
        None => (&rest[host_end..], &[][..]),
    };
    let segs: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
    let secret = if ends(b"hooks.slack.com") {
        segs.len() >= 4 && segs.last().is_some_and(|l| l.len() >= 16 && l.iter().all(u8::is_ascii_alphanumeric))
    } else if ends(b"discord.com") || ends(b"discordapp.com") {
        segs.windows(3)
            .any(|w| w[0] == b"webhooks" && w[1].len() >= 15 && w[1].iter().all(u8::is_ascii_digit) && random(w[2], 40))
    } else if ends(b"office.com") {
        segs.windows(2).any(|w| w[0] == b"IncomingWebhook" && random(w[1], 20))
    } else if ends(b"logic.azure.com") || ends(b"api.powerplatform.com") {
        query.split(|&b| b == b'&').any(|kv| kv.strip_prefix(b"sig=").is_some_and(|v| v.len() >= 20))
    } else if ends(b"hooks.zapier.com") {
        segs.len() >= 4 && segs[0] == b"hooks" && segs[1] == b"catch" && segs[3].len() >= 5
    } else {
        generic_ok && generic(&segs)
    };
    let dummy = stand_in(url) || marked_before(t, start);
    (secret && !dummy).then_some(()).and(found(FindingKind::WebhookUrl, start, end))
}

/// `…/webhook/<random>`, `…/webhooks/<id>/<random>`, `…/hooks/<random>`:
/// a segment naming a webhook with a long random one after it.
fn generic(segs: &[&[u8]]) -> bool {
    let names = [b"webhook".as_slice(), b"webhooks", b"hooks", b"hook", b"webhookb2"];
    segs.iter().enumerate().any(|(i, seg)| {
        names.iter().any(|n| seg.eq_ignore_ascii_case(n)) && segs[i + 1..].iter().any(|s| random(s, 20))
    })
}
