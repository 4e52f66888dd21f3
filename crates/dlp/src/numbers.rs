//! Numbers: card numbers, IBANs, US SSNs, phone numbers and IPv4 addresses
//! all start at a digit. A word-at-a-time scan finds the next digit; the run
//! of digit groups around it is parsed once (on the stack) and classified by
//! its shape, then validated.

use crate::check::{card_brand, iban_length, iban_mod97, luhn, ssn_valid};
use crate::{Finding, FindingKind, boundary_after, boundary_before, context_before, is_word};

const MAX_GROUPS: usize = 12;
const MAX_DIGITS: usize = 32;
/// The most digits a number found here has (a 19-digit card).
const MAX_NUMBER_DIGITS: usize = 19;

/// A run of digit groups with single separators between them.
struct Run {
    /// Byte range of the run, including a leading `+` or `(`.
    start: usize,
    end: usize,
    plus: bool,
    parens: bool,
    digits: [u8; MAX_DIGITS],
    nd: usize,
    /// (start, len) of each group within `digits`.
    groups: [(u8, u8); MAX_GROUPS],
    ng: usize,
    /// The separator before each group after the first (`' '`, `'-'`, `'.'`,
    /// `'/'`, or `')'` for a closing parenthesis).
    seps: [u8; MAX_GROUPS],
}

impl Run {
    fn group(&self, i: usize) -> &[u8] {
        let (s, l) = self.groups[i];
        &self.digits[usize::from(s)..usize::from(s) + usize::from(l)]
    }

    fn lens(&self) -> impl Iterator<Item = usize> + '_ {
        self.groups[..self.ng].iter().map(|g| usize::from(g.1))
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.nd]
    }

    fn seps(&self) -> &[u8] {
        if self.ng > 1 { &self.seps[1..self.ng] } else { &[] }
    }

    fn value(&self, i: usize) -> u32 {
        self.group(i).iter().fold(0u32, |a, d| a.saturating_mul(10).saturating_add(u32::from(d - b'0')))
    }
}

/// Next ASCII digit at or after `from`, 64 bytes at a time: a block is
/// tested with a fold that has no early exit, which the compiler turns
/// into vector compares (4× the speed of the eight-bytes-at-a-time test
/// this replaced, on prose with no digits).
fn find_digit(t: &[u8], from: usize) -> Option<usize> {
    let rest = t.get(from..)?;
    let mut off = 0;
    for block in rest.chunks_exact(64) {
        if block.iter().fold(false, |any, &b| any | (b.wrapping_sub(b'0') < 10)) {
            break;
        }
        off += 64;
    }
    rest[off..].iter().position(u8::is_ascii_digit).map(|p| p + from + off)
}

/// Parses the run of digit groups that starts at digit `p`.
fn parse_run(t: &[u8], p: usize) -> Run {
    let mut r = Run {
        start: p,
        end: p,
        plus: false,
        parens: false,
        digits: [0; MAX_DIGITS],
        nd: 0,
        groups: [(0, 0); MAX_GROUPS],
        ng: 0,
        seps: [0; MAX_GROUPS],
    };
    if p > 0 && t[p - 1] == b'+' {
        r.plus = true;
        r.start = p - 1;
    } else if p > 0 && t[p - 1] == b'(' {
        r.parens = true;
        r.start = p - 1;
    }
    let mut i = p;
    loop {
        // One group of digits.
        let gstart = r.nd;
        while i < t.len() && t[i].is_ascii_digit() {
            if r.nd < MAX_DIGITS {
                r.digits[r.nd] = t[i];
                r.nd += 1;
            }
            i += 1;
        }
        if r.ng < MAX_GROUPS {
            r.groups[r.ng] = (gstart as u8, (r.nd - gstart) as u8);
            r.ng += 1;
        }
        r.end = i;
        if r.nd >= MAX_DIGITS || r.ng >= MAX_GROUPS {
            break;
        }
        // A separator of one or two characters, then a digit.
        // "+44(0)20 …": the trunk 0 in parentheses is dropped when dialling
        // from abroad; it separates the country code from the number.
        if r.plus && r.ng == 1 && t.get(i..i + 3) == Some(b"(0)") {
            let skip = if t.get(i + 3) == Some(&b' ') { 4 } else { 3 };
            if t.get(i + skip).is_some_and(u8::is_ascii_digit) {
                r.seps[r.ng] = b' ';
                i += skip;
                continue;
            }
        }
        let sep = match (t.get(i), t.get(i + 1), t.get(i + 2)) {
            (Some(b')'), Some(b' ' | b'-' | b'.'), Some(d)) if d.is_ascii_digit() && r.parens => Some((b')', 2)),
            (Some(b')'), Some(d), _) if d.is_ascii_digit() && r.parens => Some((b')', 1)),
            (Some(b' '), Some(b'('), Some(d)) if d.is_ascii_digit() => {
                r.parens = true;
                Some((b' ', 2))
            }
            (Some(&c @ (b' ' | b'-' | b'.' | b'/')), Some(d), _) if d.is_ascii_digit() => Some((c, 1)),
            _ => None,
        };
        let Some((c, width)) = sep else { break };
        r.seps[r.ng] = c;
        i += width;
    }
    r
}

/// Text just before the run that makes it an identifier or an amount,
/// never personal data: `ORD-123456`, `#4411…`, `$1 234`, `v2.1`.
fn identifier_or_amount(t: &[u8], start: usize) -> bool {
    let Some(&b) = start.checked_sub(1).and_then(|i| t.get(i)) else { return false };
    if is_word(b) || b == b'$' || b == b'#' {
        return true;
    }
    if matches!(b, b'-' | b'/' | b'\\' | b'.') {
        return start.checked_sub(2).and_then(|i| t.get(i)).is_some_and(|c| is_word(*c));
    }
    // €, £ and ¥ in UTF-8 end in these bytes.
    let prev2 = start.checked_sub(2).and_then(|i| t.get(i..start));
    matches!(prev2, Some([0xC2, 0xA3 | 0xA5])) || (b == 0xAC && start >= 3 && t[start - 3] == 0xE2)
}

fn looks_like_date(r: &Run) -> bool {
    if r.ng != 3 || r.plus || r.parens {
        return false;
    }
    let lens: [usize; 3] = [usize::from(r.groups[0].1), usize::from(r.groups[1].1), usize::from(r.groups[2].1)];
    let seps = r.seps();
    if seps[0] != seps[1] || !matches!(seps[0], b'-' | b'.' | b'/') {
        return false;
    }
    match lens {
        [4, 1..=2, 1..=2] => (1..=12).contains(&r.value(1)) && (1..=31).contains(&r.value(2)),
        [1..=2, 1..=2, 2 | 4] => {
            let (a, b) = (r.value(0), r.value(1));
            (1..=31).contains(&a) && (1..=31).contains(&b) && (a <= 12 || b <= 12)
        }
        _ => false,
    }
}

const CARD_WORDS: &[&str] =
    &["card", "visa", "mastercard", "amex", "credit", "debit", "cc ", "pay", "paid", "charge", "refund", "pan"];
const SSN_WORDS: &[&str] = &["ssn", "social security", "social-security", "taxpayer", "tin "];
const PHONE_WORDS: &[&str] = &[
    "phone",
    "tel",
    "call",
    "mobile",
    "cell",
    "fax",
    "whatsapp",
    "sms",
    "contact",
    "dial",
    "voicemail",
    "reach",
    "text me",
];

pub(crate) fn scan(t: &[u8], out: &mut Vec<Finding>) {
    let mut i = 0;
    while let Some(p) = find_digit(t, i) {
        // IBANs start with two capital letters right before the digits.
        let country =
            p >= 2 && t[p - 2].is_ascii_uppercase() && t[p - 1].is_ascii_uppercase() && boundary_before(t, p - 2);
        if let Some(end) = country.then(|| iban(t, p - 2)).flatten() {
            out.push(Finding { start: p - 2, end, kind: FindingKind::Iban, term: None });
            i = end;
            continue;
        }
        let r = parse_run(t, p);
        i = r.end.max(p + 1);
        if r.nd < 4 {
            continue;
        }
        if r.nd > MAX_NUMBER_DIGITS || r.nd >= MAX_DIGITS || r.ng >= MAX_GROUPS {
            i = long_run(t, p, out);
            continue;
        }
        if identifier_or_amount(t, r.start) {
            continue;
        }
        let ext_end = extension(t, r.end);
        if !boundary_after(t, r.end) && ext_end.is_none() {
            continue;
        }
        if let Some(f) = classify(t, &r, ext_end) {
            i = i.max(f.end);
            out.push(f);
        }
    }
}

/// A phone extension right after the number: `x123`, ` ext. 45`.
fn extension(t: &[u8], end: usize) -> Option<usize> {
    let rest = t.get(end..)?;
    let skip = if rest.first() == Some(&b'x') {
        1
    } else if rest.len() > 5 && rest[..5].eq_ignore_ascii_case(b" ext.") {
        if rest.get(5) == Some(&b' ') { 6 } else { 5 }
    } else if rest.len() > 4 && rest[..4].eq_ignore_ascii_case(b" ext") {
        4
    } else {
        return None;
    };
    let digits = rest[skip..].iter().take_while(|b| b.is_ascii_digit()).count();
    let e = end + skip + digits;
    (digits > 0 && boundary_after(t, e)).then_some(e)
}

fn classify(t: &[u8], r: &Run, ext_end: Option<usize>) -> Option<Finding> {
    let seps = r.seps();
    let at = |kind, start, end| Some(Finding { start, end, kind, term: None });
    if looks_like_date(r) {
        return None;
    }
    // IPv4: four dotted groups, each 0–255 without leading zeros.
    if !r.plus && !r.parens && r.ng > 1 && seps.iter().all(|&s| s == b'.') {
        if r.ng == 4
            && (0..4)
                .all(|g| r.group(g).len() <= 3 && r.value(g) <= 255 && (r.group(g).len() == 1 || r.group(g)[0] != b'0'))
        {
            // Not the first four parts of a longer dotted version.
            let longer = t.get(r.end) == Some(&b'.') && t.get(r.end + 1).is_some_and(u8::is_ascii_digit);
            return if longer { None } else { at(FindingKind::IpAddress, r.start, r.end) };
        }
        // Dotted numbers are versions and decimals, unless phone-shaped (555.123.4567).
        if !(r.ng == 3 && r.lens().eq([3, 3, 4])) {
            return None;
        }
    }
    let uniform = seps.windows(2).all(|w| w[0] == w[1]);
    if let Some(card) = card(t, r, true) {
        return Some(card);
    }
    // SSN: 3-2-4 with dashes or spaces, or nine digits next to "SSN".
    if !r.plus && !r.parens {
        let shaped = r.ng == 3 && r.lens().eq([3, 2, 4]) && uniform && matches!(seps[0], b'-' | b' ');
        let bare = r.ng == 1 && r.nd == 9 && context_before(t, r.start, SSN_WORDS);
        if (shaped || bare) && ext_end.is_none() {
            let d = r.digits();
            let num = |a: usize, b: usize| d[a..b].iter().fold(0u32, |x, c| x * 10 + u32::from(c - b'0'));
            if ssn_valid(num(0, 3), num(3, 5), num(5, 9)) {
                return at(FindingKind::UsSsn, r.start, r.end);
            }
            if shaped {
                return None;
            }
        }
    }
    phone(t, r, ext_end)
}

/// A card at the start of run `r`: 12–19 digits, Luhn, a known brand, in
/// its first groups joined by one kind of separator (space or dash) — all
/// of them (`whole`), or the most of them that make a card. Groups after a
/// change of separator (`4111 1111 1111 1111 12/27`) are not part of it.
fn card(t: &[u8], r: &Run, whole: bool) -> Option<Finding> {
    let seps = r.seps();
    if r.plus || r.parens || !seps.first().is_none_or(|&s| s == b' ' || s == b'-') {
        return None;
    }
    let groups = seps.iter().take_while(|&&s| Some(&s) == seps.first()).count() + 1;
    // In a list, a card is read in 15–19 digits: a 12-digit card's groups
    // are three of a table's (`5678 9012 3456` passes for a Maestro).
    let (fewest, shortest) = if whole { (groups, 12) } else { (1, 15) };
    for k in (fewest..=groups).rev() {
        let n: usize = r.lens().take(k).sum();
        if !(shortest..=MAX_NUMBER_DIGITS).contains(&n) {
            continue;
        }
        let d = &r.digits()[..n.min(r.nd)];
        // A bare run of digits needs a word around it that says "card".
        let shaped = k > 1 || context_before(t, r.start, CARD_WORDS) || n >= 15;
        if !(shaped && luhn(d) && card_brand(d).is_some()) {
            continue;
        }
        let end = end_of_digit(t, r.start, n);
        if boundary_after(t, end) {
            return Some(Finding { start: r.start, end, kind: FindingKind::CreditCard, term: None });
        }
    }
    None
}

/// A run longer than any one number (more than 19 digits, or more groups
/// than `parse_run` keeps): a list or a table of numbers. Only cards are
/// looked for in it, at each group in turn (the longest that starts there;
/// the search goes on after it). Reading group by group to the run's real
/// end, rather than in fixed chunks from its start, makes what is found at
/// a group depend only on the text from there on, so a scan that starts
/// reading mid-run (a stream's window, given what came before as context)
/// finds what a scan of the whole text does. Answers the run's end.
fn long_run(t: &[u8], p: usize, out: &mut Vec<Finding>) -> usize {
    let mut g = p;
    loop {
        // Every card brand starts with a digit from 2 to 6: the others are
        // passed without parsing the groups after them.
        let found = if (b'2'..=b'6').contains(&t[g]) {
            let r = parse_run(t, g);
            // `ORD-4111…`: the run's first group belongs to what is before it.
            if g == p && identifier_or_amount(t, r.start) { None } else { card(t, &r, false) }
        } else {
            None
        };
        let end = match found {
            Some(f) => {
                let end = f.end;
                out.push(f);
                end
            }
            None => g + t[g..].iter().take_while(|b| b.is_ascii_digit()).count(),
        };
        match next_group(t, end) {
            Some(next) => g = next,
            None => return end,
        }
    }
}

/// Where the next group of a run starts after a group that ends at `end`:
/// past any separator `parse_run` reads, whatever came before it, at a digit.
fn next_group(t: &[u8], end: usize) -> Option<usize> {
    let width = match (t.get(end), t.get(end + 1)) {
        (Some(b')'), Some(b' ' | b'-' | b'.')) | (Some(b' '), Some(b'(')) => 2,
        (Some(b' ' | b'-' | b'.' | b'/' | b')'), _) => 1,
        _ => return None,
    };
    t.get(end + width).filter(|d| d.is_ascii_digit()).map(|_| end + width)
}

/// Byte offset just after the `n`-th digit of the run starting at `start`.
fn end_of_digit(t: &[u8], start: usize, n: usize) -> usize {
    let mut seen = 0;
    for (i, b) in t.iter().enumerate().skip(start) {
        if b.is_ascii_digit() {
            seen += 1;
            if seen == n {
                return i + 1;
            }
        }
    }
    t.len()
}

fn phone(t: &[u8], r: &Run, ext_end: Option<usize>) -> Option<Finding> {
    let seps = r.seps();
    let phone_seps = seps.iter().all(|&s| matches!(s, b' ' | b'-' | b'.' | b')'));
    let end = ext_end.unwrap_or(r.end);
    let found = |start| Some(Finding { start, end, kind: FindingKind::Phone, term: None });
    if r.plus {
        // International: +CC and 8–15 digits in all (E.164).
        return ((8..=15).contains(&r.nd) && phone_seps).then_some(()).and(found(r.start));
    }
    if !phone_seps {
        return None;
    }
    let mut l = [0usize; MAX_GROUPS];
    for (i, x) in r.lens().enumerate() {
        l[i] = x;
    }
    let l = &l[..r.ng];
    // North American: (555) 123-4567, 555-123-4567, 1-555-123-4567, 001-555-123-4567.
    let nanp = matches!(l, [3, 3, 4])
        || (matches!(l, [1, 3, 3, 4]) && r.group(0) == b"1")
        || (matches!(l, [3, 3, 3, 4]) && r.group(0) == b"001");
    if nanp {
        let area = if l.len() == 3 { r.group(0) } else { r.group(1) };
        // Area codes and exchanges never start with 0 or 1.
        let exchange = if l.len() == 3 { r.group(1) } else { r.group(2) };
        if area[0] >= b'2' && exchange[0] >= b'2' {
            return found(r.start);
        }
        return None;
    }
    // National numbers with a trunk 0: 020 7946 0958, (0141) 4960852.
    if r.ng >= 2
        && r.group(0)[0] == b'0'
        && (9..=12).contains(&r.nd)
        && seps.iter().all(|&s| matches!(s, b' ' | b'-' | b')'))
    {
        return found(r.start);
    }
    // A bare 10–11 digit number only counts near a word like "phone".
    if r.ng == 1 && (10..=11).contains(&r.nd) && context_before(t, r.start, PHONE_WORDS) {
        return found(r.start);
    }
    None
}

/// An IBAN starting at `s` (its country code): compact or in groups of four.
fn iban(t: &[u8], s: usize) -> Option<usize> {
    let len = iban_length(&t[s..s + 2])?;
    let mut compact = [0u8; 34];
    let mut n = 0;
    let mut i = s;
    let mut last = s;
    while i < t.len() && n < len {
        let c = t[i];
        if c.is_ascii_digit() || c.is_ascii_uppercase() {
            compact[n] = c;
            n += 1;
            last = i + 1;
        } else if c == b' ' && n % 4 == 0 && t.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) {
            // Printed IBANs group by four.
        } else {
            break;
        }
        i += 1;
    }
    (n == len
        && boundary_after(t, last)
        && compact[2].is_ascii_digit()
        && compact[3].is_ascii_digit()
        && iban_mod97(&compact[..n]))
    .then_some(last)
}
