//! A sketch of a prompt computed at the gateway, so near-identical prompts
//! can be found later without keeping their text: four 16-bit minhashes of
//! its word shingles in one 64-bit value.
//!
//! Why minhash rather than a bitwise simhash: prompts are short (tens to
//! hundreds of words), and a simhash of a few dozen shingles flips a
//! dozen or more of its 64 bits when one word changes, so no small
//! Hamming distance separates "reworded" from "unrelated". A minhash
//! band of two texts is equal with probability equal to the Jaccard
//! similarity of their shingle sets (plus 1 in 65,536 by chance), so
//! near-identical prompts share most bands and unrelated ones none; and
//! equal bands are what a database finds with `GROUP BY`.
//!
//! Version 1 (stored values depend on it: never change it in place):
//! words are maximal runs of ASCII letters and digits or non-ASCII bytes,
//! ASCII letters folded to lower case, each hashed with FNV-1a 64;
//! shingles are three consecutive words (a text of one or two words is one
//! shingle) mixed into 64 bits; band `i` is the low 16 bits of the least
//! value of `mix(shingle ^ SEED[i])` over the shingles. Texts of one
//! prompt are read as one stream of words.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const SEEDS: [u64; 4] = [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344, 0xa409_3822_299f_31d0, 0x082e_fa98_ec4e_6c89];
pub const BANDS: u8 = 4;

/// splitmix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

struct Acc {
    mins: [u64; 4],
    /// The last two words' hashes, newest last.
    prev: [u64; 2],
    words: u32,
}

impl Acc {
    fn new() -> Acc {
        Acc { mins: [u64::MAX; 4], prev: [0; 2], words: 0 }
    }

    fn shingle(&mut self, h: u64) {
        for (m, seed) in self.mins.iter_mut().zip(SEEDS) {
            *m = (*m).min(mix(h ^ seed));
        }
    }

    fn word(&mut self, w: u64) {
        self.words += 1;
        if self.words >= 3 {
            self.shingle(mix(self.prev[0].wrapping_mul(FNV_PRIME) ^ self.prev[1].rotate_left(21) ^ w.rotate_left(42)));
        }
        self.prev = [self.prev[1], w];
    }

    fn text(&mut self, text: &str) {
        let mut h = FNV_OFFSET;
        let mut in_word = false;
        for &b in text.as_bytes() {
            if is_word(b) {
                h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
                in_word = true;
            } else if in_word {
                self.word(h);
                h = FNV_OFFSET;
                in_word = false;
            }
        }
        if in_word {
            self.word(h);
        }
    }

    fn finish(mut self) -> Option<u64> {
        match self.words {
            0 => return None,
            1 => self.shingle(mix(self.prev[1])),
            2 => self.shingle(mix(self.prev[0].wrapping_mul(FNV_PRIME) ^ self.prev[1].rotate_left(21))),
            _ => {}
        }
        Some(self.mins.iter().enumerate().fold(0u64, |acc, (i, m)| acc | ((m & 0xffff) << (16 * i))))
    }
}

/// The sketch of a prompt's texts, or None when they hold no word.
pub fn of_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<u64> {
    let mut acc = Acc::new();
    for t in texts {
        acc.text(t);
    }
    acc.finish()
}

pub fn of_text(text: &str) -> Option<u64> {
    of_texts([text])
}

/// Band `band` (0..4) of a sketch.
pub fn band(h: u64, band: u8) -> u16 {
    ((h >> (16 * u32::from(band % BANDS))) & 0xffff) as u16
}

/// How many of the four bands two sketches share: about four times the
/// Jaccard similarity of the two prompts' shingles.
pub fn shared_bands(a: u64, b: u64) -> u32 {
    (0..BANDS).map(|i| u32::from(band(a, i) == band(b, i))).sum()
}

/// The stored form: the same 64 bits as a signed integer (both databases'
/// `BIGINT`).
pub fn to_stored(h: u64) -> i64 {
    i64::from_ne_bytes(h.to_ne_bytes())
}

pub fn from_stored(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKET: &str = "Summarise the customer's complaint about the late delivery of order 1234 and draft a \
        polite reply offering a refund of the shipping fee, in at most five sentences, in the customer's language.";

    #[test]
    fn reworded_prompts_share_bands_and_unrelated_ones_do_not() {
        let a = of_text(TICKET).unwrap();
        let b = of_text(&TICKET.replace("1234", "1299")).unwrap();
        let c = of_text(&TICKET.replace("polite", "courteous")).unwrap();
        let other = of_text(
            "Review this pull request for SQL injection and missing tests; list each problem with the file \
             and line, then suggest a fix for the worst one.",
        )
        .unwrap();
        assert!(shared_bands(a, b) >= 2, "{a:016x} {b:016x}");
        assert!(shared_bands(a, c) >= 2, "{a:016x} {c:016x}");
        assert_eq!(shared_bands(a, other), 0);
        assert_eq!(shared_bands(a, a), 4);
    }

    #[test]
    fn case_and_punctuation_do_not_matter_and_texts_stream_as_one() {
        let a = of_text("Hello, World! how are you today").unwrap();
        assert_eq!(of_text("hello world how are you today"), Some(a));
        assert_eq!(of_texts(["hello world how", "are you today"]), Some(a));
        assert_eq!(of_text("  ,,, "), None);
        assert_eq!(of_texts(Vec::<&str>::new()), None);
        assert!(of_text("one").is_some() && of_text("one two").is_some());
    }

    #[test]
    fn stored_form_round_trips_and_bands_cover_the_bits() {
        for h in [0u64, 1, u64::MAX, 0x8000_0000_0000_0001, 0x1234_5678_9abc_def0] {
            assert_eq!(from_stored(to_stored(h)), h);
            let back = (0..BANDS).fold(0u64, |acc, b| acc | (u64::from(band(h, b)) << (16 * u32::from(b))));
            assert_eq!(back, h);
        }
    }

    #[test]
    fn version_one_is_stable() {
        // Stored values depend on this exact function: a change here is a
        // new version, not an edit.
        assert_eq!(of_text("the quick brown fox jumps over the lazy dog"), Some(0x4332_712b_e81d_f57d));
    }
}
