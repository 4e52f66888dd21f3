//! Validators: the checksums and number ranges that tell a real card,
//! IBAN or SSN from a number that merely looks like one.

/// Luhn (mod 10) over ASCII digits.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Card brands by prefix and length (ISO/IEC 7812 ranges as the networks
/// publish them). Mastercard includes the 2221–2720 series.
pub fn card_brand(digits: &[u8]) -> Option<&'static str> {
    let n = digits.len();
    let prefix = |k: usize| -> u32 { digits.iter().take(k).fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')) };
    if !(12..=19).contains(&n) {
        return None;
    }
    let p1 = prefix(1);
    let p2 = prefix(2);
    let p3 = prefix(3);
    let p4 = prefix(4);
    let p6 = prefix(6);
    if p1 == 4 && matches!(n, 13 | 16 | 19) {
        return Some("visa");
    }
    if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16 {
        return Some("mastercard");
    }
    if (p2 == 34 || p2 == 37) && n == 15 {
        return Some("amex");
    }
    if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622_126..=622_925).contains(&p6))
        && (16..=19).contains(&n)
    {
        return Some("discover");
    }
    // JCB's published range is 3528–3589; generators and some issuers use
    // the whole 35 prefix, and Luhn still has to hold.
    if p2 == 35 && (16..=19).contains(&n) {
        return Some("jcb");
    }
    if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&n) {
        return Some("diners");
    }
    if p2 == 62 && (16..=19).contains(&n) {
        return Some("unionpay");
    }
    if (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&n) {
        return Some("maestro");
    }
    None
}

/// US SSN rules: area not 000, 666 or 900–999; group not 00; serial not 0000.
pub fn ssn_valid(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// IBAN lengths by country (SWIFT IBAN registry), as data rather than
/// code so the registry can be compared and updated line by line.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// IBAN length for a two-letter country code, if the country uses IBANs.
pub fn iban_length(country: &[u8]) -> Option<usize> {
    IBAN_LENGTHS.iter().find(|(code, _)| code.as_slice() == country).map(|&(_, len)| len)
}

/// ISO 13616 mod-97 over a compact IBAN (letters and digits, no spaces).
pub fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// Shannon entropy in bits per byte.
pub fn entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_brands() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert_eq!(card_brand(b"4111111111111111"), Some("visa"));
        // Mastercard 2-series, which Presidio's pattern misses.
        assert!(luhn(b"2221000000000009"));
        assert_eq!(card_brand(b"2221000000000009"), Some("mastercard"));
        assert_eq!(card_brand(b"2720990000000007"), Some("mastercard"));
        assert_eq!(card_brand(b"378282246310005"), Some("amex"));
        assert_eq!(card_brand(b"1234567812345670"), None);
        assert_eq!(card_brand(b"3530111333300000"), Some("jcb"));
    }

    #[test]
    fn iban_checks() {
        assert!(iban_mod97(b"DE89370400440532013000"));
        assert!(iban_mod97(b"GB82WEST12345698765432"));
        assert!(!iban_mod97(b"DE89370400440532013001"));
        assert_eq!(iban_length(b"DE"), Some(22));
        assert_eq!(iban_length(b"ZZ"), None);
    }

    #[test]
    fn ssn_rules() {
        assert!(ssn_valid(123, 45, 6789));
        assert!(!ssn_valid(0, 45, 6789));
        assert!(!ssn_valid(666, 45, 6789));
        assert!(!ssn_valid(912, 45, 6789));
        assert!(!ssn_valid(123, 0, 6789));
        assert!(!ssn_valid(123, 45, 0));
    }

    #[test]
    fn entropy_separates_words_from_keys() {
        assert!(entropy(b"aaaaaaaa") < 0.1);
        assert!(entropy(b"Zx8!kQ2#vL9$mP4&") > 3.5);
    }
}
