//! Labels people read: dollars from exact nano-dollars, days as "Nov 3".

use jiff::civil::Date;
use tokenwise_core::Nanos;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// "Nov 3": the same text on every machine (no locale).
pub fn date_label(day: Date) -> String {
    let month = usize::try_from(day.month() - 1).ok().and_then(|m| MONTHS.get(m)).copied().unwrap_or("");
    format!("{month} {}", day.day())
}

/// "Nov 3, 2026", for tables, where a row stands alone.
pub fn day_label(day: Date) -> String {
    format!("{}, {}", date_label(day), day.year())
}

/// An amount for a table or a bar's end: "$1,234.57" — cents, or as many
/// places as a sub-cent amount needs to show a non-zero digit ("$0.0004").
pub fn usd_label(value: Nanos) -> String {
    let abs = value.0.unsigned_abs();
    let decimals = (2..=9u32).find(|d| abs == 0 || abs >= 10u64.pow(9 - d) / 2).unwrap_or(9);
    dollars(value, decimals)
}

/// A tick on an axis whose ticks are `step` apart: as few places as the step
/// needs, and "$12k" / "$3M" when the step is whole thousands / millions.
pub(crate) fn tick_label(value: Nanos, step: Nanos) -> String {
    const K: i64 = 1_000_000_000_000;
    const M: i64 = 1_000_000_000_000_000;
    let step = step.0.max(1);
    for (unit, suffix) in [(M, "M"), (K, "k")] {
        if step % unit == 0 {
            let sign = if value.0 < 0 { "-" } else { "" };
            return format!("{sign}${}{suffix}", group((value.0 / unit).unsigned_abs().to_string().as_str()));
        }
    }
    let decimals = (0..=9u32).find(|d| step % 10i64.pow(9 - d) == 0).unwrap_or(9);
    // Dimes read as cents: "$0.50", not "$0.5".
    dollars(value, if decimals == 1 { 2 } else { decimals })
}

fn dollars(value: Nanos, decimals: u32) -> String {
    let text = value.to_usd_rounded(decimals);
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    match frac {
        Some(f) => format!("{sign}${}.{f}", group(whole)),
        None => format!("{sign}${}", group(whole)),
    }
}

/// "1234567" → "1,234,567".
fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn usd(text: &str) -> Nanos {
        Nanos::parse_usd(text).unwrap()
    }

    #[test]
    fn amounts_read_as_dollars_and_cents() {
        assert_eq!(usd_label(usd("1234.567")), "$1,234.57");
        assert_eq!(usd_label(usd("0.00041")), "$0.0004");
        assert_eq!(usd_label(Nanos::ZERO), "$0.00");
        assert_eq!(usd_label(Nanos(-1_500_000_000)), "-$1.50");
    }

    #[test]
    fn ticks_show_the_places_their_step_needs() {
        assert_eq!(tick_label(usd("0.5"), usd("0.5")), "$0.50");
        assert_eq!(tick_label(usd("0.002"), usd("0.001")), "$0.002");
        assert_eq!(tick_label(usd("15"), usd("5")), "$15");
        assert_eq!(tick_label(usd("2000"), usd("1000")), "$2k");
        assert_eq!(tick_label(usd("1500"), usd("500")), "$1,500");
        assert_eq!(tick_label(usd("3000000"), usd("1000000")), "$3M");
    }

    #[test]
    fn days_read_the_same_everywhere() {
        assert_eq!(date_label(date(2026, 11, 3)), "Nov 3");
        assert_eq!(day_label(date(2026, 1, 30)), "Jan 30, 2026");
    }
}
