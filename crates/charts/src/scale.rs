//! Axis ticks: money on "nice" steps (1, 2 or 5 × a power of ten nano-dollars,
//! in integers, so a tick is an exact amount) and days on steps people count in.

use jiff::ToSpan;
use jiff::civil::Date;
use tokenwise_core::Nanos;

/// The largest amount a chart places exactly, a billion dollars; larger values
/// are drawn at this bound (the table still shows them exactly).
pub const MAX_ABS: i64 = 1_000_000_000_000_000_000;

const DOLLAR: i128 = 1_000_000_000;

/// Ticks of a money axis, increasing, the first at or below every value and the
/// last at or above every value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyTicks {
    pub step: Nanos,
    pub ticks: Vec<Nanos>,
}

impl MoneyTicks {
    pub fn low(&self) -> Nanos {
        self.ticks.first().copied().unwrap_or(Nanos::ZERO)
    }

    pub fn high(&self) -> Nanos {
        self.ticks.last().copied().unwrap_or(Nanos::ZERO)
    }

    /// Where `value` falls between the first and last tick, 0.0 to 1.0.
    pub fn fraction(&self, value: Nanos) -> f64 {
        let (lo, hi) = (i128::from(self.low().0), i128::from(self.high().0));
        let v = i128::from(clamp(value).0).clamp(lo, hi);
        ratio(v - lo, hi - lo)
    }
}

/// Values beyond [`MAX_ABS`] are drawn at the bound.
pub(crate) fn clamp(value: Nanos) -> Nanos {
    Nanos(value.0.clamp(-MAX_ABS, MAX_ABS))
}

#[allow(clippy::cast_precision_loss)]
fn ratio(part: i128, whole: i128) -> f64 {
    if whole <= 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// About `target` ticks covering zero and every value. An axis with nothing on
/// it runs from $0 to $1.
pub fn money_ticks(values: impl IntoIterator<Item = Nanos>, target: usize) -> MoneyTicks {
    let mut lo: i128 = 0;
    let mut hi: i128 = 0;
    for v in values {
        let v = i128::from(clamp(v).0);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo == hi {
        hi = lo + DOLLAR;
    }
    let target = i128::try_from(target.max(1)).unwrap_or(1);
    let raw = (hi - lo + target - 1) / target;
    let step = nice_step(raw);
    let first = lo.div_euclid(step) * step;
    let last = -((-hi).div_euclid(step)) * step;
    let mut ticks = Vec::new();
    let mut t = first;
    while t <= last {
        ticks.push(Nanos(i64::try_from(t).unwrap_or(i64::MAX)));
        t += step;
    }
    MoneyTicks { step: Nanos(i64::try_from(step).unwrap_or(i64::MAX)), ticks }
}

/// The smallest of 1, 2, 5 × 10^k that is at least `raw` (and at least 1).
fn nice_step(raw: i128) -> i128 {
    let mut power: i128 = 1;
    loop {
        for m in [1, 2, 5] {
            if m * power >= raw {
                return m * power;
            }
        }
        power *= 10;
    }
}

/// Ticks of a day axis: from `start` every `step_days` days, never past `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTicks {
    pub start: Date,
    pub end: Date,
    pub step_days: i32,
    pub ticks: Vec<Date>,
}

impl DayTicks {
    /// Days from the axis's start to its end (0 for a single day).
    pub fn span_days(&self) -> i32 {
        days_between(self.start, self.end)
    }

    /// Where `day` falls on the axis, 0.0 to 1.0; a one-day axis puts it in
    /// the middle.
    pub fn fraction(&self, day: Date) -> f64 {
        let span = self.span_days();
        if span <= 0 {
            return 0.5;
        }
        let at = days_between(self.start, day).clamp(0, span);
        f64::from(at) / f64::from(span)
    }
}

pub(crate) fn days_between(a: Date, b: Date) -> i32 {
    a.until(b).map(|s| s.get_days()).unwrap_or(0)
}

/// At most about `target` day ticks from `start` to `end` (swapped if given
/// backwards), on steps of 1, 2, 7, 14, 28… days so weekly ticks fall on the
/// same weekday.
pub fn day_ticks(start: Date, end: Date, target: usize) -> DayTicks {
    let (start, end) = if end < start { (end, start) } else { (start, end) };
    let span = days_between(start, end);
    let target = i32::try_from(target.max(1)).unwrap_or(1);
    let step = [1, 2, 7, 14, 28, 56, 91, 182, 364]
        .into_iter()
        .find(|s| span / s < target)
        .unwrap_or_else(|| (span / target).max(1) + 1);
    let mut ticks = Vec::new();
    let mut at = 0;
    while at <= span {
        match start.checked_add(at.days()) {
            Ok(day) => ticks.push(day),
            Err(_) => break,
        }
        at += step;
    }
    DayTicks { start, end, step_days: step, ticks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn money_ticks_are_nice_and_cover_the_values() {
        let t = money_ticks([Nanos::parse_usd("12.30").unwrap_or_default()], 5);
        let dollars: Vec<String> = t.ticks.iter().map(|n| n.to_usd_string()).collect();
        assert_eq!(dollars, ["0.00", "5.00", "10.00", "15.00"]);
    }

    #[test]
    fn an_empty_axis_runs_to_one_dollar() {
        let t = money_ticks([], 5);
        assert_eq!(t.low(), Nanos::ZERO);
        assert_eq!(t.high(), Nanos::from_whole_usd(1));
    }

    #[test]
    fn negative_values_get_ticks_below_zero() {
        let t = money_ticks([Nanos::from_whole_usd(-3), Nanos::from_whole_usd(7)], 5);
        assert_eq!(t.low(), Nanos::from_whole_usd(-4));
        assert_eq!(t.high(), Nanos::from_whole_usd(8));
    }

    #[test]
    fn a_month_ticks_weekly() {
        let t = day_ticks(date(2026, 11, 1), date(2026, 11, 30), 7);
        assert_eq!(t.step_days, 7);
        assert_eq!(t.ticks.first(), Some(&date(2026, 11, 1)));
        assert_eq!(t.ticks.last(), Some(&date(2026, 11, 29)));
        assert!((t.fraction(date(2026, 11, 30)) - 1.0).abs() < 1e-9);
    }
}
