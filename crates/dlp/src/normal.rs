//! The view of a text the detectors read: compatibility forms folded (NFKC:
//! fullwidth `４` is `4`, the ligature `ﬁ` is `fi`, a no-break space is a
//! space), and characters a reader does not see removed — the default
//! ignorable ones (zero-width spaces and joiners, soft hyphens, word
//! joiners, variation selectors, byte-order marks…) and control characters
//! other than tab, line feed and carriage return — so that they cannot hide
//! a secret from the scanner.
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
fn plain(b: u8) -> bool {
    b.wrapping_sub(0x20) < 0x5F || b == b'\t' || b == b'\n' || b == b'\r'
}

/// Whether every byte of `block` is plain; written without early exits so
/// that the compiler checks many bytes per instruction.
fn all_plain(block: &[u8]) -> bool {
    block.iter().fold(true, |ok, &b| ok & ((b.wrapping_sub(0x20) < 0x5F) | (b == b'\t') | (b == b'\n') | (b == b'\r')))
}

/// Characters the view leaves out.
fn removed(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || DefaultIgnorableCodePoint::for_char(c)
}

fn quick_check(c: char) -> IsNormalized {
    is_nfkc_quick(std::iter::once(c))
}

const BLOCK: usize = 32;

/// Whether `text` is its own view: nothing to fold, reorder or remove.
pub(crate) fn is_normal(text: &str) -> bool {
    let t = text.as_bytes();
    let mut i = 0;
    // The combining class of the previous character: marks out of
    // canonical order are reordered by normalisation.
    let mut last_ccc = 0u8;
    while i < t.len() {
        let end = (i + BLOCK).min(t.len());
        if end - i == BLOCK && all_plain(&t[i..end]) {
            i = end;
            last_ccc = 0;
            continue;
        }
        // This block character by character (the last may run past it).
        while i < end {
            if t[i] < 0x80 {
                if !plain(t[i]) {
                    return false;
                }
                last_ccc = 0;
                i += 1;
                continue;
            }
            let Some(c) = text.get(i..).and_then(|s| s.chars().next()) else { return false };
            let ccc = canonical_combining_class(c);
            if removed(c) || (ccc != 0 && last_ccc > ccc) || quick_check(c) != IsNormalized::Yes {
                return false;
            }
            last_ccc = ccc;
            i += c.len_utf8();
        }
    }
    true
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
    pub(crate) fn new(original: &str) -> View {
        let mut v = View { text: String::with_capacity(original.len()), units: Vec::new() };
        // The characters of the piece being gathered: a starter and the
        // marks that may combine with it.
        let mut piece: Vec<char> = Vec::new();
        let (mut start, mut end) = (0, 0);
        for (i, c) in original.char_indices() {
            if removed(c) {
                continue;
            }
            if boundary_before(c) && !piece.is_empty() {
                v.push(original, &piece, start, end);
                piece.clear();
            }
            if piece.is_empty() {
                start = i;
            }
            piece.push(c);
            end = i + c.len_utf8();
        }
        if !piece.is_empty() {
            v.push(original, &piece, start, end);
        }
        v
    }

    fn push(&mut self, original: &str, piece: &[char], start: usize, end: usize) {
        let at = self.text.len();
        match piece {
            [c] if c.is_ascii() => self.text.push(*c),
            _ => self.text.extend(piece.iter().copied().nfkc().filter(|c| !removed(*c))),
        }
        if self.text.len() == at {
            return;
        }
        let same = self.text.get(at..) == original.get(start..end);
        if let Some(last) = self.units.last_mut() {
            // Extends a run of unchanged text that nothing was removed from.
            if same && last.same && last.end == start {
                last.end = end;
                return;
            }
        }
        self.units.push(Unit { at, start, end, same });
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
        assert!(!is_normal("４１１１"));
        assert!(!is_normal("a\u{200B}b"));
        assert!(!is_normal("soft\u{AD}hyphen"));
        assert!(!is_normal("bell\u{7}"));
        assert!(!is_normal("nul\0 in a block of thirty-two plain bytes or more"));
        assert!(!is_normal("e\u{301}")); // decomposed: composes to é
        assert!(!is_normal("ﬁle"));
    }

    #[test]
    fn the_view_folds_and_removes_and_maps_back() {
        let text = "ｋｅｙ: A\u{200B}B\u{AD}C ﬁn e\u{301}!";
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
        assert_eq!(spans, ["ｋｅｙ", "A\u{200B}B\u{AD}C", "ﬁn", "e\u{301}"]);
    }
}
