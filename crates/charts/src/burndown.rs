//! A budget over its period: spend so far (cumulative, by day), the forecast
//! from today to the period's end, and the limit.

use crate::Chart;
use crate::escape::escape;
use crate::format::{day_label, usd_label};
use crate::frame::{self, Area, n};
use crate::line::draw_series;
use crate::scale::{day_ticks, money_ticks};
use crate::style::{LIMIT, Look, Marker, look};
use crate::table::Table;
use jiff::civil::Date;
use std::fmt::Write as _;
use tokenwise_core::Nanos;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurnDown {
    /// Unique on the page: the `<title>` and `<desc>` ids derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    /// The period's first and last day.
    pub start: Date,
    pub end: Date,
    pub limit: Nanos,
    /// Spend so far at the end of each day (cumulative), in day order.
    pub spent: Vec<(Date, Nanos)>,
    /// What the spend is forecast to be at `end` (the application's forecast);
    /// drawn dashed from the last day of `spent`.
    pub projected: Option<Nanos>,
}

const LEFT: f64 = 76.0;
const RIGHT: f64 = 20.0;
const PLOT_H: f64 = 220.0;

impl BurnDown {
    pub fn render(&self) -> Chart {
        let mut spent = self.spent.clone();
        spent.sort_by_key(|p| p.0);
        let start = spent.first().map_or(self.start, |p| p.0.min(self.start));
        let end = spent.last().map_or(self.end, |p| p.0.max(self.end));
        let days = day_ticks(start, end, 7);
        let values = spent.iter().map(|p| p.1).chain([self.limit]).chain(self.projected);
        let money = money_ticks(values, 5);
        let actual = look(0);
        let forecast = Look { marker: Marker::Square, ..look(1) };
        let limit = Look { colour: LIMIT, dash: Some("10 3 2 3"), marker: Marker::Bar };
        let looks = [actual, forecast, limit];

        let mut defs = String::new();
        let markers = frame::marker_defs(&mut defs, &self.id, &looks);
        let names = ["Spent so far", "Forecast", "Limit"];
        let entries: Vec<(String, Look, String)> =
            names.iter().zip(&looks).zip(&markers).map(|((a, b), c)| ((*a).to_string(), *b, c.clone())).collect();
        let mut legend = String::new();
        let legend_h = frame::legend(&mut legend, LEFT, 6.0, frame::WIDTH - LEFT - RIGHT, &entries);
        let area = Area { x: LEFT, y: 14.0 + legend_h, w: frame::WIDTH - LEFT - RIGHT, h: PLOT_H };

        let mut s = frame::open(&self.id, &self.title, &self.desc, area.bottom() + 30.0, area);
        s.push_str(&defs);
        s.push_str(&legend);
        frame::money_axis_left(&mut s, area, &money);
        frame::day_axis(&mut s, area, &days);
        let at = |d: Date, v: Nanos| (area.x + days.fraction(d) * area.w, area.bottom() - money.fraction(v) * area.h);

        let y_limit = at(start, self.limit).1;
        let dash = limit.dash.map(|d| format!(" stroke-dasharray=\"{d}\"")).unwrap_or_default();
        let _ = write!(
            s,
            "<g class=\"limit\"><line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{LIMIT}\" stroke-width=\"2\"{dash}/>\
             <text x=\"{}\" y=\"{}\" fill=\"{LIMIT}\">{}</text></g>",
            n(area.x),
            n(area.right()),
            n(area.x + 6.0),
            n(y_limit - 6.0),
            escape(&format!("Limit {}", usd_label(self.limit))),
            y = n(y_limit),
        );
        let xy: Vec<(f64, f64)> = spent.iter().map(|(d, v)| at(*d, *v)).collect();
        draw_series(&mut s, &xy, actual, &markers[0], xy.len() <= 62);
        if let (Some(projected), Some(last)) = (self.projected, spent.last()) {
            let line = [at(last.0, last.1), at(end, projected)];
            // The forecast's marker only at its end: its start is today's point.
            draw_series(&mut s, &line, forecast, &markers[1], false);
            let _ = write!(
                s,
                "<use href=\"#{}\" x=\"{}\" y=\"{}\" fill=\"{}\"/>",
                markers[1],
                n(line[1].0),
                n(line[1].1),
                forecast.colour
            );
        }
        frame::close(&mut s);
        Chart { svg: s, table: self.table(&spent) }
    }

    fn table(&self, spent: &[(Date, Nanos)]) -> Table {
        let mut rows: Vec<Vec<String>> = spent.iter().map(|(d, v)| vec![day_label(*d), usd_label(*v)]).collect();
        if let Some(p) = self.projected {
            rows.push(vec![format!("Forecast at {}", day_label(self.end)), usd_label(p)]);
        }
        Table {
            caption: format!("{} — limit {}", self.title, usd_label(self.limit)),
            headers: vec!["Day".to_string(), "Spent so far".to_string()],
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn burn(projected: i64) -> BurnDown {
        BurnDown {
            id: "team-budget".into(),
            title: "Legal's monthly budget".into(),
            desc: "Spent so far against the limit".into(),
            start: date(2026, 11, 1),
            end: date(2026, 11, 30),
            limit: Nanos::from_whole_usd(100),
            spent: (1..=10).map(|d| (date(2026, 11, d), Nanos::from_whole_usd(i64::from(d) * 5))).collect(),
            projected: Some(Nanos::from_whole_usd(projected)),
        }
    }

    #[test]
    fn the_axis_reaches_the_forecast_when_it_passes_the_limit() {
        let c = burn(150).render();
        assert!(c.svg.contains(">$150</text>"), "{}", c.svg);
        assert!(c.svg.contains("Limit $100.00"));
        assert_eq!(c.table.rows.last().unwrap(), &["Forecast at Nov 30, 2026", "$150.00"]);
        assert_eq!(c.table.caption, "Legal's monthly budget — limit $100.00");
    }

    #[test]
    fn the_forecast_runs_from_the_last_day_to_the_period_end() {
        let c = burn(80).render();
        let forecast = c.svg.split("<g class=\"series\">").nth(2).unwrap();
        assert!(forecast.contains("stroke-dasharray=\"7 4\""));
        let pts = forecast.split("points=\"").nth(1).unwrap();
        let pts: Vec<&str> = pts[..pts.find('"').unwrap()].split(' ').collect();
        assert_eq!(pts.len(), 2);
        let x_end: f64 = pts[1].split(',').next().unwrap().parse().unwrap();
        assert!((x_end - (frame::WIDTH - RIGHT)).abs() < 0.1);
    }
}
