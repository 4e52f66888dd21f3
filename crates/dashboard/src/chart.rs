//! The charts of the employee and manager pages, drawn by
//! `tokenwise-charts` (pure SVG) from the application's figures. Each
//! comes with its numbers as a table, for readers who cannot see it.

use serde::Serialize;
use tokenwise_app::month::DailySpend;
use tokenwise_charts::{BurnDown, Date, LineChart, Nanos, Series};
use tokenwise_policy::Policy;

/// A chart ready for a template: SVG and its table, both already markup
/// (the chart crate escapes every label).
#[derive(Debug, Clone, Serialize)]
pub struct Drawn {
    pub svg: String,
    pub table: String,
}

fn first_day(policy: &Policy, s: &DailySpend) -> Date {
    s.start.to_zoned_datetime(policy.org.time_zone.clone()).date()
}

fn day(start: Date, i: usize) -> Date {
    let i = i64::try_from(i).unwrap_or(0);
    start.checked_add(jiff::Span::new().days(i)).unwrap_or(start)
}

/// Spend per day over the days gone by, one line.
pub fn daily(policy: &Policy, s: &DailySpend, id: &str, title: &str) -> Drawn {
    let start = first_day(policy, s);
    let shown = usize::from(s.elapsed_days.max(1)).min(s.days.len());
    let points = s.days.iter().take(shown).enumerate().map(|(i, v)| (day(start, i), *v)).collect();
    let end = day(start, s.days.len().saturating_sub(1));
    let chart = LineChart {
        id: id.into(),
        title: title.into(),
        desc: format!("What was spent each day of {}, in US dollars.", s.period),
        value_name: "Spend".into(),
        start: Some(start),
        end: Some(end),
        series: vec![Series { name: "Spend per day".into(), points }],
    }
    .render();
    Drawn { svg: chart.svg, table: chart.table.to_html() }
}

/// A budget's burn: spend so far, day by day, against its limit, with the
/// forecast to the period's end.
pub fn burn_down(policy: &Policy, s: &DailySpend, limit: Nanos, projected: Option<Nanos>, title: &str) -> Drawn {
    let start = first_day(policy, s);
    let shown = usize::from(s.elapsed_days.max(1)).min(s.days.len());
    let mut total = Nanos::ZERO;
    let spent = s
        .days
        .iter()
        .take(shown)
        .enumerate()
        .map(|(i, v)| {
            total = total.saturating_add(*v);
            (day(start, i), total)
        })
        .collect();
    let chart = BurnDown {
        id: "burn".into(),
        title: title.into(),
        desc: format!(
            "Cumulative spend of {} against the budget's limit, with the forecast to the end of the period.",
            s.period
        ),
        start,
        end: day(start, s.days.len().saturating_sub(1)),
        limit,
        spent,
        projected,
    }
    .render();
    Drawn { svg: chart.svg, table: chart.table.to_html() }
}
