//! Money as people read it. The ledger keeps integer nano-dollars; only
//! here, at the edge, do they become text.

use tokenwise_core::Nanos;

/// `$1,234.56`; amounts under a dollar keep two significant digits
/// (`$0.041`), so a cheap task does not read as `$0.00`.
pub fn usd(n: Nanos) -> String {
    if n.0 < 0 {
        return format!("−{}", usd(Nanos(n.0.saturating_neg())));
    }
    if n.0 < 1_000_000_000 {
        return tokenwise_app::tasks::plain_usd(n);
    }
    // From a dollar up, cents with thousands grouped: the charts' label.
    tokenwise_charts::usd_label(n)
}

/// A share as a whole percent, for bars and captions (0 when `of` is 0).
pub fn percent(part: Nanos, of: Nanos) -> i64 {
    if of.0 <= 0 {
        return 0;
    }
    i64::try_from(i128::from(part.0) * 100 / i128::from(of.0)).unwrap_or(i64::MAX)
}

/// How many times `usual` `cost` is, as people say it: `9×`, `3.4×`,
/// `0.6×` (the app's rounding, with a times sign for the page).
pub fn times(cost: Nanos, usual: Nanos) -> String {
    tokenwise_app::tasks::times(cost, usual).replace('x', "×")
}

/// A difference with its sign: `+$0.36`, `−$0.02`.
pub fn delta(n: Nanos) -> String {
    if n.0 >= 0 { format!("+{}", usd(n)) } else { usd(n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_read_as_people_write_them() {
        assert_eq!(usd(Nanos(1_234_560_000_000)), "$1,234.56");
        assert_eq!(usd(Nanos(410_000_000)), "$0.41");
        assert_eq!(usd(Nanos(41_230_000)), "$0.041");
        assert_eq!(usd(Nanos(0)), "$0");
        assert_eq!(usd(Nanos(-2_500_000_000)), "−$2.50");
        assert_eq!(usd(Nanos(999_999_999_994_000_000)), "$999,999,999.99");
        assert_eq!(usd(Nanos(999_999_999_995_000_000)), "$1,000,000,000.00", "rounded half up");
        assert_eq!(percent(Nanos(1), Nanos(3)), 33);
        assert_eq!(percent(Nanos(5), Nanos(0)), 0);
        assert_eq!(times(Nanos(9_400), Nanos(1_000)), "9.4×");
        assert_eq!(times(Nanos(11_484_000), Nanos(1_000)), "11484×");
        assert_eq!(times(Nanos(600), Nanos(1_000)), "0.6×");
        assert_eq!(delta(Nanos(360_000_000)), "+$0.36");
        assert_eq!(delta(Nanos(-20_000_000)), "−$0.02");
    }
}
