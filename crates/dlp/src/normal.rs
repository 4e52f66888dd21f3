//! The view of a text the detectors read: compatibility forms folded (NFKC:
//! the fullwidth digit U+FF14 is `4`, the ligature U+FB01 is `fi`, a
//! no-break space is a space), and characters a reader does not see
//! removed — the default ignorable ones (zero-width spaces and joiners,
//! soft hyphens, word joiners, variation selectors, byte-order marks, tags)
//! and control characters other than tab, line feed and carriage return —
//! so that they cannot hide a secret from the scanner.
//!
//! Text that is already its own view (plain ASCII nearly always is) is
//! scanned as it is, without a copy. Otherwise the view is built with a map
//! from its byte offsets back to the original's, so that findings point at
//! the original text and redaction masks what the user actually sent.

use crate::Finding;
use icu_properties::props::{BinaryProperty, DefaultIgnorableCodePoint};
use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Printable ASCII, tab, line feed and carriage return: kept as they are.
/// (0x20..=0x7E are the bytes that, plus one, are above 0x20 as signed
/// bytes: one addition and one comparison per byte, in vector registers.)
fn plain(b: u8) -> bool {
    (b.wrapping_add(1) as i8 > 0x20) | (b == b'\t') | (b == b'\n') | (b == b'\r')
}

/// Whether every byte of `block` is plain; written without early exits so
/// that the compiler checks sixteen bytes per instruction.
fn all_plain(block: &[u8]) -> bool {
    block.iter().fold(true, |ok, &b| ok & plain(b))
}

/// Lead bytes of UTF-8 characters that are all `stable`: U+00C0..U+00FF
/// (accented Latin letters), U+0400..U+047F (Cyrillic letters) and
/// U+4000..U+9FFF (CJK ideographs). The test
/// `the_table_of_stable_characters` checks this against the crates' tables.
fn stable_lead(b: u8) -> bool {
    b == 0xC3 || b == 0xD0 || b == 0xD1 || b.wrapping_sub(0xE4) < 6
}

/// Whether every character that starts in `block` is plain or `stable_lead`
/// (bytes 0x80..0xBF continue a character): Russian or Chinese text skips
/// the character-by-character check.
fn all_plain_or_stable(block: &[u8]) -> bool {
    block.iter().fold(true, |ok, &b| ok & (plain(b) | (b & 0xC0 == 0x80) | stable_lead(b)))
}

/// Characters the view leaves out.
fn removed(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || DefaultIgnorableCodePoint::for_char(c)
}

fn quick_check(c: char) -> IsNormalized {
    is_nfkc_quick(std::iter::once(c))
}

/// A character the view keeps as it is whatever surrounds it, that marks
/// after it are not reordered across: a starter already in NFKC, not removed.
fn stable(c: char) -> bool {
    canonical_combining_class(c) == 0 && !removed(c) && quick_check(c) == IsNormalized::Yes
}

/// `stable` for the Basic Multilingual Plane, one bit per code point (8 KiB),
/// computed once from the crates' tables: those lookups cost tens of
/// nanoseconds a character, too much for text in Cyrillic or Chinese.
static STABLE_BMP: std::sync::OnceLock<Box<[u64]>> = std::sync::OnceLock::new();

fn stable_bmp() -> &'static [u64] {
    STABLE_BMP.get_or_init(|| {
        let mut bits = vec![0u64; 0x10000 / 64];
        for (cp, c) in (0..0x10000u32).filter_map(|cp| Some((cp, char::from_u32(cp)?))) {
            if stable(c) {
                bits[(cp / 64) as usize] |= 1 << (cp % 64);
            }
        }
        bits.into_boxed_slice()
    })
}

/// Builds the table ahead of the first scan, off the latency of a request.
pub(crate) fn prepare() {
    stable_bmp();
}

const BLOCK: usize = 64;

/// Whether `text` is its own view: nothing to fold, reorder or remove.
pub(crate) fn is_normal(text: &str) -> bool {
    next_change(text, 0).is_none()
}

/// The code point and length of the two- or three-byte character at `t[i]`
/// (the Basic Multilingual Plane past ASCII), decoded inline: cheaper
/// than `chars()` when most characters are such.
fn bmp_at(t: &[u8], i: usize) -> Option<(usize, usize)> {
    let b0 = usize::from(*t.get(i)?);
    let c1 = usize::from(*t.get(i + 1)? & 0x3F);
    match b0 {
        0xC0..0xE0 => Some((((b0 & 0x1F) << 6) | c1, 2)),
        0xE0..0xF0 => Some((((b0 & 0x0F) << 12) | (c1 << 6) | usize::from(*t.get(i + 2)? & 0x3F), 3)),
        _ => None,
    }
}

/// Where, from `from` (a character boundary), the first character is that
/// the view changes: removes, folds, or reorders (a mark out of canonical
/// order). Plain ASCII is skipped a block at a time.
fn next_change(text: &str, from: usize) -> Option<usize> {
    let t = text.as_bytes();
    let mut i = from;
    let mut last_ccc = 0u8;
    let bmp = stable_bmp();
    while i < t.len() {
        let end = (i + BLOCK).min(t.len());
        if end - i == BLOCK && (all_plain(&t[i..end]) || all_plain_or_stable(&t[i..end])) {
            // The last character may run past the block.
            i = end;
            while t.get(i).is_some_and(|b| b & 0xC0 == 0x80) {
                i += 1;
            }
            last_ccc = 0;
            continue;
        }
        // This block character by character (the last may run past it).
        while i < end {
            if t[i] < 0x80 {
                if !plain(t[i]) {
                    return Some(i);
                }
                last_ccc = 0;
                i += 1;
                continue;
            }
            if let Some((cp, len)) = bmp_at(t, i)
                && bmp.get(cp / 64).is_some_and(|w| w & (1 << (cp % 64)) != 0)
            {
                last_ccc = 0;
                i += len;
                continue;
            }
            let c = text.get(i..).and_then(|s| s.chars().next())?;
            let ccc = canonical_combining_class(c);
            if removed(c) || (ccc != 0 && last_ccc > ccc) || quick_check(c) != IsNormalized::Yes {
                return Some(i);
            }
            last_ccc = ccc;
            i += c.len_utf8();
        }
    }
    None
}

/// Whether normalisation never combines `c` with what comes before it: its
/// decomposition starts with a starter that does not compose backwards.
/// The text can be normalised piece by piece, split before such characters.
fn boundary_before(c: char) -> bool {
    if c.is_ascii() {
        return true;
    }
    let mut first = None;
    decompose_compatible(c, |d| {
        first.get_or_insert(d);
    });
    let f = first.unwrap_or(c);
    canonical_combining_class(f) == 0 && quick_check(f) != IsNormalized::Maybe
}

/// Where a piece may start or end: before a kept character that nothing
/// before it combines with.
fn splits_before(c: char) -> bool {
    !removed(c) && boundary_before(c)
}

/// A piece of the view and the piece of the original it came from.
#[derive(Debug, Clone, Copy)]
struct Unit {
    /// Where the piece starts in the view.
    at: usize,
    /// The original's bytes it came from.
    start: usize,
    end: usize,
    /// Whether the piece is the original's bytes unchanged, so that offsets
    /// inside it map one to one (merged into runs, the map stays small).
    same: bool,
}

/// The normalised text and the map back to the original.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) text: String,
    units: Vec<Unit>,
}

impl View {
    /// The view of `original`: stretches the view does not change are
    /// copied whole; around each change, the piece from the split before it
    /// to the split after it is normalised.
    pub(crate) fn new(original: &str) -> View {
        let mut v = View { text: String::with_capacity(original.len()), units: Vec::new() };
        let mut done = 0;
        while let Some(at) = next_change(original, done) {
            // Back to the start of the character that the change may
            // combine with (the changed one itself, usually).
            let mut start = at;
            while start > done {
                match original.get(start..).and_then(|s| s.chars().next()) {
                    Some(c) if splits_before(c) => break,
                    _ => {
                        start -= 1;
                        while !original.is_char_boundary(start) {
                            start -= 1;
                        }
                    }
                }
            }
            let mut end = at + original.get(at..).and_then(|s| s.chars().next()).map_or(1, char::len_utf8);
            for c in original.get(end..).unwrap_or("").chars() {
                if splits_before(c) {
                    break;
                }
                end += c.len_utf8();
            }
            v.push_same(original, done, start);
            v.push_changed(original, start, end);
            done = end;
        }
        v.push_same(original, done, original.len());
        v
    }

    /// Copies `original[start..end]`, which the view leaves as it is.
    fn push_same(&mut self, original: &str, start: usize, end: usize) {
        let Some(s) = original.get(start..end).filter(|s| !s.is_empty()) else { return };
        let at = self.text.len();
        self.text.push_str(s);
        if let Some(last) = self.units.last_mut().filter(|u| u.same && u.end == start) {
            last.end = end;
            return;
        }
        self.units.push(Unit { at, start, end, same: true });
    }

    /// Normalises `original[start..end]`, which starts at a split, piece by
    /// piece: a starter and the marks that may combine with it.
    fn push_changed(&mut self, original: &str, start: usize, end: usize) {
        let Some(part) = original.get(start..end) else { return };
        let mut piece: Vec<char> = Vec::new();
        let (mut from, mut to) = (start, start);
        for (i, c) in part.char_indices() {
            if removed(c) {
                continue;
            }
            if boundary_before(c) && !piece.is_empty() {
                self.push_piece(original, &piece, from, to);
                piece.clear();
            }
            if piece.is_empty() {
                from = start + i;
            }
            piece.push(c);
            to = start + i + c.len_utf8();
        }
        if !piece.is_empty() {
            self.push_piece(original, &piece, from, to);
        }
    }

    fn push_piece(&mut self, original: &str, piece: &[char], start: usize, end: usize) {
        let at = self.text.len();
        self.text.extend(piece.iter().copied().nfkc().filter(|c| !removed(*c)));
        if self.text.len() == at {
            return;
        }
        if self.text.get(at..) == original.get(start..end) {
            self.text.truncate(at);
            self.push_same(original, start, end);
        } else {
            self.units.push(Unit { at, start, end, same: false });
        }
    }

    /// The unit holding view byte `x`.
    fn unit(&self, x: usize) -> Option<&Unit> {
        let i = self.units.partition_point(|u| u.at <= x);
        self.units.get(i.checked_sub(1)?)
    }

    /// Moves findings from view offsets to the original's: a finding that
    /// touches a changed piece covers all of it.
    pub(crate) fn map_back(&self, out: &mut [Finding]) {
        for f in out {
            let (s, e) = (f.start, f.end);
            if let Some(u) = self.unit(s) {
                f.start = if u.same { u.start + (s - u.at) } else { u.start };
            }
            if let Some(u) = self.unit(e.saturating_sub(1)) {
                f.end = if u.same { u.start + (e - u.at) } else { u.end };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_its_own_view() {
        assert!(is_normal(""));
        assert!(is_normal("Plain text\twith tabs,\r\nnew lines and 0123456789 digits; long enough to fill blocks."));
        assert!(is_normal("Zoë’s café, naïve, 東京, Привет: precomposed and stable"));
        assert!(!is_normal("\u{FF14}\u{FF11}\u{FF11}\u{FF11}"));
        assert!(!is_normal("a\u{200B}b"));
        assert!(!is_normal("soft\u{AD}hyphen"));
        assert!(!is_normal("bell\u{7}"));
        assert!(!is_normal("nul\0 in a block of thirty-two plain bytes or more"));
        assert!(!is_normal("e\u{301}")); // decomposed: composes to é
        assert!(!is_normal("\u{FB01}le"));
    }

    #[test]
    fn the_table_of_stable_characters() {
        let bit = |c: char| stable_bmp()[c as usize / 64] & (1 << (c as usize % 64)) != 0;
        for c in ['a', '~', '\u{E9}', '\u{416}', '\u{6771}', '\u{30AB}', '\u{AC00}', '\u{2019}'] {
            assert!(bit(c), "{c:?} is stable");
        }
        for c in ['\0', '\u{AD}', '\u{200B}', '\u{FEFF}', '\u{301}', '\u{FF14}', '\u{FB01}', '\u{2026}', '\u{3099}'] {
            assert!(!bit(c), "{c:?} is not");
        }
        // What `stable_lead` assumes.
        for c in ('\u{C0}'..='\u{FF}').chain('\u{400}'..='\u{47F}').chain('\u{4000}'..='\u{9FFF}') {
            assert!(stable(c), "{c:?}");
            assert!(stable_lead(c.to_string().as_bytes()[0]), "{c:?}");
        }
        for b in (0xC0..=0xFF).filter(|b| stable_lead(*b)) {
            assert!(matches!(b, 0xC3 | 0xD0 | 0xD1 | 0xE4..=0xE9));
        }
        assert_eq!(bmp_at("\u{416}\u{6771}".as_bytes(), 0), Some((0x416, 2)));
        assert_eq!(bmp_at("\u{416}\u{6771}".as_bytes(), 2), Some((0x6771, 3)));
        assert_eq!(bmp_at("\u{1F600}".as_bytes(), 0), None);
    }

    #[test]
    fn unchanged_stretches_are_copied_whole_and_marks_join_their_letter() {
        let long = "plain text that the view leaves alone; ".repeat(20);
        let text = format!("{long}x\u{2026}y {long}e\u{200B}\u{301} {long}");
        let v = View::new(&text);
        assert_eq!(v.text, format!("{long}x...y {long}\u{E9} {long}"));
        // Three unchanged stretches and two changed pieces.
        assert_eq!(v.units.len(), 5, "{:?}", v.units);
        let at = v.text.find('\u{E9}').unwrap();
        let mut f = [Finding { start: at, end: at + 2, kind: crate::FindingKind::CustomTerm, term: None }];
        v.map_back(&mut f);
        assert_eq!(&text[f[0].start..f[0].end], "e\u{200B}\u{301}");
    }

    #[test]
    fn the_view_folds_and_removes_and_maps_back() {
        let text = "\u{FF4B}\u{FF45}\u{FF59}: A\u{200B}B\u{AD}C \u{FB01}n e\u{301}!";
        let v = View::new(text);
        assert_eq!(v.text, "key: ABC fin é!");
        let at = |s: &str| v.text.find(s).unwrap();
        let mut f = [
            Finding { start: at("key"), end: at("key") + 3, kind: crate::FindingKind::CustomTerm, term: None },
            Finding { start: at("ABC"), end: at("ABC") + 3, kind: crate::FindingKind::CustomTerm, term: None },
            // Half of the ligature: the finding covers the whole of it.
            Finding { start: at("in"), end: at("in") + 2, kind: crate::FindingKind::CustomTerm, term: None },
            Finding { start: at("é"), end: at("é") + "é".len(), kind: crate::FindingKind::CustomTerm, term: None },
        ];
        v.map_back(&mut f);
        let spans: Vec<&str> = f.iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(spans, ["\u{FF4B}\u{FF45}\u{FF59}", "A\u{200B}B\u{AD}C", "\u{FB01}n", "e\u{301}"]);
    }
}
