//! Several series over days: spend per outcome over time, one line per team or
//! use case.

use crate::Chart;
use crate::format::{day_label, usd_label};
use crate::frame::{self, Area, n};
use crate::scale::{day_ticks, money_ticks};
use crate::style::{Look, look};
use crate::table::Table;
use jiff::civil::Date;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use tokenwise_core::Nanos;

/// One line: a name for the legend and table, and its (day, amount) points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(Date, Nanos)>,
}

/// Series over days. The day axis runs from `start` to `end` when given, and
/// otherwise over the days the points have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChart {
    /// Unique on the page: the `<title>` and `<desc>` ids derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    /// What the values are, for the table's header: "Spend per outcome".
    pub value_name: String,
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub series: Vec<Series>,
}

const HEIGHT_PLOT: f64 = 220.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 20.0;
/// Beyond this many points a series is drawn without markers.
const MAX_MARKERS: usize = 62;

impl LineChart {
    pub fn render(&self) -> Chart {
        let days: BTreeSet<Date> = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        let first = days.first().copied();
        let last = days.last().copied();
        let start = [self.start, first].into_iter().flatten().min().unwrap_or(Date::ZERO);
        let end = [self.end, last].into_iter().flatten().max().unwrap_or(start);
        let ticks_x = day_ticks(start, end, 7);
        let ticks_y = money_ticks(self.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 5);
        let looks: Vec<Look> = (0..self.series.len()).map(look).collect();
        let names: Vec<String> = self.series.iter().map(|s| s.name.clone()).collect();

        // The legend goes on top; measure it first so the plot sits below it.
        let mut legend = String::new();
        let mut defs = String::new();
        let markers = frame::marker_defs(&mut defs, &self.id, &looks);
        let entries: Vec<(String, Look, String)> =
            names.iter().zip(&looks).zip(&markers).map(|((a, b), c)| (a.clone(), *b, c.clone())).collect();
        let legend_h = frame::legend(&mut legend, LEFT, 6.0, frame::WIDTH - LEFT - RIGHT, &entries);
        let area = Area { x: LEFT, y: 14.0 + legend_h, w: frame::WIDTH - LEFT - RIGHT, h: HEIGHT_PLOT };
        let height = area.bottom() + 30.0;

        let mut s = frame::open(&self.id, &self.title, &self.desc, height, area);
        s.push_str(&defs);
        s.push_str(&legend);
        frame::money_axis_left(&mut s, area, &ticks_y);
        frame::day_axis(&mut s, area, &ticks_x);
        for ((series, look), marker) in self.series.iter().zip(&looks).zip(&markers) {
            let mut points = series.points.clone();
            points.sort_by_key(|p| p.0);
            let xy: Vec<(f64, f64)> = points
                .iter()
                .map(|(d, v)| (area.x + ticks_x.fraction(*d) * area.w, area.bottom() - ticks_y.fraction(*v) * area.h))
                .collect();
            draw_series(&mut s, &xy, *look, marker, points.len() <= MAX_MARKERS);
        }
        frame::close(&mut s);
        Chart { svg: s, table: self.table(&days) }
    }

    /// One row per day, one column per series; a day a series has no point
    /// for is "—".
    fn table(&self, days: &BTreeSet<Date>) -> Table {
        let mut headers = vec!["Day".to_string()];
        headers.extend(self.series.iter().map(|s| format!("{} — {}", s.name, self.value_name)));
        let rows = days
            .iter()
            .map(|d| {
                let mut row = vec![day_label(*d)];
                for s in &self.series {
                    let v: Option<Nanos> =
                        s.points.iter().filter(|p| p.0 == *d).map(|p| p.1).reduce(|a, b| a.saturating_add(b));
                    row.push(v.map_or_else(|| "—".to_string(), usd_label));
                }
                row
            })
            .collect();
        Table { caption: self.title.clone(), headers, rows }
    }
}

/// The line (a `polyline`, whose `points` tests read) and a marker on each
/// point (`use` elements with `x`/`y`).
pub(crate) fn draw_series(s: &mut String, xy: &[(f64, f64)], look: Look, marker: &str, markers: bool) {
    let dash = look.dash.map(|d| format!(" stroke-dasharray=\"{d}\"")).unwrap_or_default();
    s.push_str("<g class=\"series\">");
    if xy.len() > 1 {
        let pts: Vec<String> = xy.iter().map(|(x, y)| format!("{},{}", n(*x), n(*y))).collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\" stroke-linejoin=\"round\"{dash}/>",
            pts.join(" "),
            look.colour
        );
    }
    if markers || xy.len() == 1 {
        for (x, y) in xy {
            let _ = write!(s, "<use href=\"#{marker}\" x=\"{}\" y=\"{}\" fill=\"{}\"/>", n(*x), n(*y), look.colour);
        }
    }
    s.push_str("</g>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn chart() -> LineChart {
        LineChart {
            id: "cpo".into(),
            title: "Spend per outcome".into(),
            desc: "Per week, by team".into(),
            value_name: "spend per outcome".into(),
            start: None,
            end: None,
            series: vec![
                Series {
                    name: "Legal".into(),
                    points: vec![
                        (date(2026, 11, 1), Nanos::from_whole_usd(2)),
                        (date(2026, 11, 8), Nanos::from_whole_usd(3)),
                    ],
                },
                Series { name: "Sales".into(), points: vec![(date(2026, 11, 8), Nanos::from_whole_usd(1))] },
            ],
        }
    }

    #[test]
    fn each_series_has_its_own_dash_and_marker_and_a_legend_entry() {
        let c = chart().render();
        assert!(c.svg.contains("<title id=\"cpo-title\">Spend per outcome</title>"));
        assert!(c.svg.contains("aria-label=\"Spend per outcome\""));
        assert!(c.svg.contains(">Legal</text>") && c.svg.contains(">Sales</text>"));
        assert!(c.svg.contains("href=\"#cpo-m0\"") && c.svg.contains("href=\"#cpo-m1\""));
        assert!(c.svg.contains("stroke-dasharray=\"7 4\""), "the second series is dashed");
    }

    #[test]
    fn the_table_has_a_row_per_day_and_a_dash_where_a_series_has_no_point() {
        let t = chart().render().table;
        assert_eq!(t.headers, ["Day", "Legal — spend per outcome", "Sales — spend per outcome"]);
        assert_eq!(t.rows[0], ["Nov 1, 2026", "$2.00", "—"]);
        assert_eq!(t.rows[1], ["Nov 8, 2026", "$3.00", "$1.00"]);
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(chart().render(), chart().render());
    }

    #[test]
    fn no_data_still_draws_axes() {
        let c = LineChart { series: vec![], ..chart() }.render();
        assert!(c.svg.starts_with("<svg") && c.svg.ends_with("</svg>"));
        assert!(c.table.rows.is_empty());
    }
}
