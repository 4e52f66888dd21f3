//! Money is integer nano-dollars (1 USD = 10^9). Floats never enter the
//! ledger: amounts written in a policy file are parsed as exact decimals.

use serde::{Deserialize, Serialize};
use std::fmt;

const NANOS_PER_USD: i128 = 1_000_000_000;
const TOKENS_PER_MTOK: i128 = 1_000_000;

/// An amount of money in nano-dollars. Signed so that credits and
/// adjustments can be expressed; budgets and costs are never negative.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct Nanos(pub i64);

/// A price in nano-dollars per million tokens. `$0.15 / Mtok` is
/// `PricePerMtok(150_000_000)`, i.e. 150 nano-dollars per token. Prices are
/// not kept as integer nano-dollars per token because that unit cannot say
/// `$0.0375 / Mtok` (37.5 n$ per token); per million it is exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PricePerMtok(pub i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a decimal number (write e.g. \"12.50\")")]
    NotANumber(String),
    #[error("`{0}` has more precision than a nano-dollar; use at most 9 decimal places of a dollar")]
    TooPrecise(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
    #[error("`{0}` is negative; amounts and prices must be zero or more")]
    Negative(String),
}

/// An exact decimal: `mantissa * 10^-scale`.
struct Decimal {
    mantissa: i128,
    scale: i32,
}

impl Decimal {
    /// Parses `[-]digits[.digits][e[+-]digits]`, with an optional `$` and `_`
    /// separators. No float is ever involved.
    fn parse(text: &str) -> Result<Decimal, MoneyError> {
        let bad = || MoneyError::NotANumber(text.to_string());
        let mut s = text.trim();
        let negative = s.starts_with('-');
        if negative || s.starts_with('+') {
            s = &s[1..];
        }
        s = s.strip_prefix('$').unwrap_or(s);
        let (num, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (s, 0),
        };
        let (int_part, frac_part) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let mut mantissa: i128 = 0;
        let mut digits = 0usize;
        let mut frac_digits = 0i32;
        for (part, is_frac) in [(int_part, false), (frac_part, true)] {
            for c in part.chars() {
                if c == '_' {
                    continue;
                }
                let d = c.to_digit(10).ok_or_else(bad)?;
                digits += 1;
                if digits > 36 {
                    return Err(MoneyError::TooLarge(text.to_string()));
                }
                mantissa = mantissa * 10 + i128::from(d);
                if is_frac {
                    frac_digits += 1;
                }
            }
        }
        if digits == 0 {
            return Err(bad());
        }
        if negative {
            mantissa = -mantissa;
        }
        Ok(Decimal { mantissa, scale: frac_digits - exp })
    }

    /// The value times `10^shift`, as an exact integer, or an error if it
    /// would need a fraction.
    fn to_integer_scaled(&self, shift: i32, text: &str) -> Result<i64, MoneyError> {
        let net = shift - self.scale;
        let value = if net >= 0 {
            let factor = 10i128
                .checked_pow(u32::try_from(net).map_err(|_| MoneyError::TooLarge(text.to_string()))?)
                .ok_or_else(|| MoneyError::TooLarge(text.to_string()))?;
            self.mantissa.checked_mul(factor).ok_or_else(|| MoneyError::TooLarge(text.to_string()))?
        } else {
            let divisor = 10i128
                .checked_pow(u32::try_from(-net).map_err(|_| MoneyError::TooPrecise(text.to_string()))?)
                .ok_or_else(|| MoneyError::TooPrecise(text.to_string()))?;
            if self.mantissa % divisor != 0 {
                return Err(MoneyError::TooPrecise(text.to_string()));
            }
            self.mantissa / divisor
        };
        if value < 0 {
            return Err(MoneyError::Negative(text.to_string()));
        }
        i64::try_from(value).map_err(|_| MoneyError::TooLarge(text.to_string()))
    }
}

/// Rust prints an `f64` as the shortest decimal that reads back to the same
/// float, so `0.15` prints as "0.15": parsing that text recovers exactly the
/// decimal the author wrote in a TOML or JSON file.
fn float_text(value: f64) -> String {
    format!("{value}")
}

impl Nanos {
    pub const ZERO: Nanos = Nanos(0);

    /// Parses a non-negative dollar amount such as `"12.50"` or `"$0.000001"`.
    pub fn parse_usd(text: &str) -> Result<Nanos, MoneyError> {
        Decimal::parse(text)?.to_integer_scaled(9, text).map(Nanos)
    }

    /// Converts a dollar amount read as a float from a config or JSON file,
    /// through its shortest decimal text (see [`float_text`]).
    pub fn from_usd_f64(value: f64) -> Result<Nanos, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::NotANumber(float_text(value)));
        }
        Nanos::parse_usd(&float_text(value))
    }

    pub fn from_whole_usd(usd: i64) -> Nanos {
        Nanos(usd.saturating_mul(1_000_000_000))
    }

    pub fn saturating_add(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(other.0))
    }

    pub fn checked_add(self, other: Nanos) -> Option<Nanos> {
        self.0.checked_add(other.0).map(Nanos)
    }

    /// Dollars as a decimal string with at least two and at most nine
    /// fraction digits: `"12.50"`, `"0.000150"`. Exact; no float involved.
    pub fn to_usd_string(self) -> String {
        let n = i128::from(self.0);
        let sign = if n < 0 { "-" } else { "" };
        let abs = n.abs();
        let whole = abs / NANOS_PER_USD;
        let frac = format!("{:09}", abs % NANOS_PER_USD);
        let trimmed = frac.trim_end_matches('0');
        let frac = if trimmed.len() < 2 { &frac[..2] } else { trimmed };
        format!("{sign}{whole}.{frac}")
    }

    /// Dollars rounded (half up) to `decimals` places, for tables people
    /// read: `"190.4430"`. Exact figures stay in the ledger and in JSON.
    pub fn to_usd_rounded(self, decimals: u32) -> String {
        let decimals = decimals.min(9);
        let unit = 10i128.pow(9 - decimals);
        let n = i128::from(self.0);
        let rounded = (n.abs() + unit / 2) / unit;
        let sign = if n < 0 && rounded != 0 { "-" } else { "" };
        let scale = 10i128.pow(decimals);
        if decimals == 0 {
            return format!("{sign}{rounded}");
        }
        format!("{sign}{}.{:0width$}", rounded / scale, rounded % scale, width = decimals as usize)
    }

    /// Dollars for display in charts and tables only. Never feed this back
    /// into arithmetic on money.
    #[allow(clippy::cast_precision_loss)]
    pub fn as_usd_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.to_usd_string())
    }
}

impl std::iter::Sum for Nanos {
    fn sum<I: Iterator<Item = Nanos>>(iter: I) -> Nanos {
        iter.fold(Nanos::ZERO, Nanos::saturating_add)
    }
}

impl PricePerMtok {
    /// Parses a price in dollars per million tokens, e.g. `"0.15"`.
    pub fn parse_usd_per_mtok(text: &str) -> Result<PricePerMtok, MoneyError> {
        Decimal::parse(text)?.to_integer_scaled(9, text).map(PricePerMtok)
    }

    pub fn from_usd_per_mtok_f64(value: f64) -> Result<PricePerMtok, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::NotANumber(float_text(value)));
        }
        PricePerMtok::parse_usd_per_mtok(&float_text(value))
    }

    /// Converts a price in dollars per single token, the unit LiteLLM's
    /// table uses (`1.5e-07`), into dollars per million tokens — exactly,
    /// so the classic per-token / per-million unit slip cannot happen here.
    pub fn from_usd_per_token_f64(value: f64) -> Result<PricePerMtok, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::NotANumber(float_text(value)));
        }
        let text = float_text(value);
        // per token -> per Mtok is * 10^6, then dollars -> nanos is * 10^9.
        Decimal::parse(&text)?.to_integer_scaled(15, &text).map(PricePerMtok)
    }

    /// Dollars per million tokens as exact decimal text.
    pub fn to_usd_string(self) -> String {
        Nanos(self.0).to_usd_string()
    }
}

/// Cost of several token counts at several prices, rounded once (half up)
/// to the nano-dollar, so a call's cost is not the sum of rounded parts.
pub(crate) fn cost_of(parts: &[(u64, PricePerMtok)]) -> Nanos {
    let total: i128 = parts.iter().map(|(tokens, price)| i128::from(*tokens) * i128::from(price.0)).sum();
    let rounded = (total + TOKENS_PER_MTOK / 2) / TOKENS_PER_MTOK;
    Nanos(i64::try_from(rounded).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exact_dollars() {
        assert_eq!(Nanos::parse_usd("12.50"), Ok(Nanos(12_500_000_000)));
        assert_eq!(Nanos::parse_usd("$0.000000001"), Ok(Nanos(1)));
        assert_eq!(Nanos::parse_usd("25_000"), Ok(Nanos(25_000_000_000_000)));
        assert_eq!(Nanos::parse_usd("1e3"), Ok(Nanos(1_000_000_000_000)));
        assert!(matches!(Nanos::parse_usd("0.0000000001"), Err(MoneyError::TooPrecise(_))));
        assert!(matches!(Nanos::parse_usd("-1"), Err(MoneyError::Negative(_))));
        assert!(matches!(Nanos::parse_usd("12,50"), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Nanos::parse_usd("."), Err(MoneyError::NotANumber(_))));
    }

    #[test]
    fn floats_from_files_become_the_decimal_written() {
        assert_eq!(Nanos::from_usd_f64(0.15), Ok(Nanos(150_000_000)));
        assert_eq!(PricePerMtok::from_usd_per_mtok_f64(2.5), Ok(PricePerMtok(2_500_000_000)));
        // LiteLLM writes per-token prices; 1.5e-07 $/token is $0.15 / Mtok.
        assert_eq!(PricePerMtok::from_usd_per_token_f64(1.5e-07), Ok(PricePerMtok(150_000_000)));
        assert_eq!(PricePerMtok::from_usd_per_token_f64(3e-06), Ok(PricePerMtok(3_000_000_000)));
    }

    #[test]
    fn formats_dollars() {
        assert_eq!(Nanos(12_500_000_000).to_usd_string(), "12.50");
        assert_eq!(Nanos(150_000).to_usd_string(), "0.00015");
        assert_eq!(Nanos(0).to_usd_string(), "0.00");
        assert_eq!(Nanos(-1).to_usd_string(), "-0.000000001");
        assert_eq!(Nanos(7).to_string(), "$0.000000007");
        assert_eq!(Nanos(190_443_034_835).to_usd_rounded(4), "190.4430");
        assert_eq!(Nanos(2_236_320).to_usd_rounded(4), "0.0022");
        assert_eq!(Nanos(5_000_000).to_usd_rounded(2), "0.01");
        assert_eq!(Nanos(-5_000_000).to_usd_rounded(2), "-0.01");
        assert_eq!(Nanos(-4_000_000).to_usd_rounded(2), "0.00");
        assert_eq!(Nanos(1_500_000_000).to_usd_rounded(0), "2");
    }

    #[test]
    fn cost_rounds_once() {
        // 1 token at $0.0004/Mtok is 0.4 nano-dollars; three such parts
        // cost 1.2 -> 1, where rounding each part would give 0.
        let p = PricePerMtok(400_000);
        assert_eq!(cost_of(&[(1, p), (1, p), (1, p)]), Nanos(1));
        let p = PricePerMtok(150_000_000);
        assert_eq!(cost_of(&[(1, p)]), Nanos(150));
        assert_eq!(cost_of(&[(1_000_000, p)]), Nanos(150_000_000));
        assert_eq!(cost_of(&[(10, PricePerMtok(50_000))]), Nanos(1));
    }

    proptest! {
        #[test]
        fn usd_text_round_trips(n in 0i64..i64::MAX) {
            prop_assert_eq!(Nanos::parse_usd(&Nanos(n).to_usd_string()), Ok(Nanos(n)));
        }

        #[test]
        fn cost_is_monotonic_in_tokens(a in 0u64..10_000_000, b in 0u64..10_000_000, price in 0i64..100_000_000_000) {
            let p = PricePerMtok(price);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(cost_of(&[(lo, p)]) <= cost_of(&[(hi, p)]));
        }
    }
}
