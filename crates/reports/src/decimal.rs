//! Money and quantities as exact decimal text, and provider amounts read
//! back into nano-dollars. Integer arithmetic only: a report total is the
//! ledger total to the nano-dollar.

use crate::ReportError;
use tokenwise_core::Nanos;

const NANOS_PER_USD: i128 = 1_000_000_000;

/// Dollars with all nine decimals (`"0.000123450"`), exact: FOCUS tools
/// read it as a decimal and sum it back to the ledger's total.
pub fn usd(n: Nanos) -> String {
    let v = i128::from(n.0);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.abs();
    format!("{sign}{}.{:09}", a / NANOS_PER_USD, a % NANOS_PER_USD)
}

/// Tokens in millions (`1234` → `"0.001234"`), exact.
pub fn millions(tokens: u64) -> String {
    format!("{}.{:06}", tokens / 1_000_000, tokens % 1_000_000)
}

/// `total / count` rounded half up to the nano-dollar; None for no count.
pub fn per(total: Nanos, count: u64) -> Option<Nanos> {
    if count == 0 {
        return None;
    }
    let c = i128::from(count);
    let t = i128::from(total.0);
    let q = (t.abs() * 2 + c) / (2 * c);
    i64::try_from(if t < 0 { -q } else { q }).ok().map(Nanos)
}

/// A decimal amount (`"12.5"`, `"1.2e-5"`, `"-3"`) in units of
/// `10^-shift` dollars (0 for dollars, 2 for cents) into nano-dollars,
/// rounded half away from zero: providers report more decimals than a
/// nano-dollar (OpenAI's float costs) or in cents (Anthropic's strings).
pub fn parse_amount(text: &str, shift: i32) -> Result<Nanos, ReportError> {
    let bad = || ReportError::new(format!("`{text}` is not a decimal amount"));
    let s = text.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (num, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (s, 0),
    };
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    let mut mantissa: i128 = 0;
    let mut digits = 0;
    for c in int_part.chars().chain(frac_part.chars()) {
        let d = c.to_digit(10).ok_or_else(bad)?;
        digits += 1;
        if digits > 30 {
            return Err(ReportError::new(format!("`{text}` has too many digits")));
        }
        mantissa = mantissa * 10 + i128::from(d);
    }
    let frac_digits = i32::try_from(frac_part.len()).map_err(|_| bad())?;
    // value = mantissa * 10^(exp - frac_digits - shift) dollars; in nanos * 10^9.
    let power = exp - frac_digits - shift + 9;
    let value = if power >= 0 {
        let f = 10i128.checked_pow(power.unsigned_abs()).ok_or_else(bad)?;
        mantissa.checked_mul(f).ok_or_else(bad)?
    } else if power < -38 {
        0
    } else {
        let d = 10i128.pow(power.unsigned_abs());
        (mantissa * 2 + d) / (2 * d)
    };
    let value = i64::try_from(value).map_err(|_| ReportError::new(format!("`{text}` is too large")))?;
    Ok(Nanos(if negative { -value } else { value }))
}

/// FOCUS's Date/Time format: `YYYY-MM-DDTHH:mm:ssZ`, UTC.
pub fn datetime(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_text_is_exact() {
        assert_eq!(usd(Nanos(123_450)), "0.000123450");
        assert_eq!(usd(Nanos(12_500_000_001)), "12.500000001");
        assert_eq!(usd(Nanos(-5)), "-0.000000005");
        assert_eq!(millions(1_234), "0.001234");
        assert_eq!(millions(3_000_001), "3.000001");
        assert_eq!(per(Nanos(10), 3), Some(Nanos(3)));
        assert_eq!(per(Nanos(11), 2), Some(Nanos(6)));
        assert_eq!(per(Nanos(1), 0), None);
    }

    #[test]
    fn provider_amounts_round_to_the_nano_dollar() {
        assert_eq!(parse_amount("0.06", 0).unwrap(), Nanos(60_000_000));
        assert_eq!(parse_amount("1.2e-5", 0).unwrap(), Nanos(12_000));
        assert_eq!(parse_amount("0.0000000014", 0).unwrap(), Nanos(1));
        assert_eq!(parse_amount("0.0000000015", 0).unwrap(), Nanos(2));
        // Anthropic: cents as a decimal string; "123.45" is $1.2345.
        assert_eq!(parse_amount("123.45", 2).unwrap(), Nanos(1_234_500_000));
        assert_eq!(parse_amount("-2", 0).unwrap(), Nanos(-2_000_000_000));
        assert!(parse_amount("12 USD", 0).is_err());
        assert!(parse_amount("", 0).is_err());
    }

    #[test]
    fn datetimes_are_utc_with_z() {
        let t: jiff::Timestamp = "2026-10-31T23:00:00Z".parse().unwrap();
        assert_eq!(datetime(t), "2026-10-31T23:00:00Z");
    }
}
