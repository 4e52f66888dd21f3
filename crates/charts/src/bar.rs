//! One amount per label, as horizontal bars (long team names stay readable):
//! chargeback by team.

use crate::Chart;
use crate::escape::escape;
use crate::format::usd_label;
use crate::frame::{self, Area, CHAR_W, n};
use crate::scale::money_ticks;
use crate::style::{MUTED, PALETTE};
use crate::table::Table;
use std::fmt::Write as _;
use tokenwise_core::Nanos;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    pub value: Nanos,
}

/// Bars in the order given (sort them as the page wants them read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarChart {
    /// Unique on the page: the `<title>` and `<desc>` ids derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    /// The labels' column header: "Team".
    pub label_name: String,
    /// The values' column header: "Spend".
    pub value_name: String,
    pub bars: Vec<Bar>,
}

const ROW: f64 = 28.0;
const BAR: f64 = 18.0;
const LABEL_CHARS: usize = 22;
const RIGHT: f64 = 84.0;

impl BarChart {
    pub fn render(&self) -> Chart {
        let ticks = money_ticks(self.bars.iter().map(|b| b.value), 5);
        let longest = self.bars.iter().map(|b| b.label.chars().count().min(LABEL_CHARS)).max().unwrap_or(4);
        let left = (CHAR_W * f64::from(u32::try_from(longest).unwrap_or(22)) + 16.0).clamp(60.0, 170.0);
        let rows = f64::from(u32::try_from(self.bars.len().max(1)).unwrap_or(u32::MAX));
        let area = Area { x: left, y: 8.0, w: frame::WIDTH - left - RIGHT, h: ROW * rows };
        let height = area.bottom() + 28.0;
        let mut s = frame::open(&self.id, &self.title, &self.desc, height, area);
        frame::money_axis_bottom(&mut s, area, &ticks);
        let zero = area.x + ticks.fraction(Nanos::ZERO) * area.w;
        s.push_str("<g class=\"bars\">");
        for (i, bar) in self.bars.iter().enumerate() {
            let top = area.y + ROW * f64::from(u32::try_from(i).unwrap_or(u32::MAX)) + (ROW - BAR) / 2.0;
            let end = area.x + ticks.fraction(bar.value) * area.w;
            let (x, w) = if end >= zero { (zero, end - zero) } else { (end, zero - end) };
            let value = usd_label(bar.value);
            let _ = write!(
                s,
                "<g><title>{full}: {value}</title>\
                 <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
                 <rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{c}\"/>\
                 <text x=\"{vx}\" y=\"{ty}\" fill=\"{MUTED}\">{value}</text></g>",
                full = escape(&bar.label),
                label = escape(&frame::truncate(&bar.label, LABEL_CHARS)),
                value = escape(&value),
                lx = n(area.x - 8.0),
                ty = n(top + BAR / 2.0 + 4.0),
                x = n(x),
                y = n(top),
                w = n(w),
                h = n(BAR),
                c = PALETTE[0],
                vx = n(x + w + 6.0),
            );
        }
        s.push_str("</g>");
        let _ = write!(
            s,
            "<line x1=\"{z}\" x2=\"{z}\" y1=\"{}\" y2=\"{}\" stroke=\"{MUTED}\"/>",
            n(area.y),
            n(area.bottom()),
            z = n(zero)
        );
        frame::close(&mut s);
        Chart { svg: s, table: self.table() }
    }

    fn table(&self) -> Table {
        Table {
            caption: self.title.clone(),
            headers: vec![self.label_name.clone(), self.value_name.clone()],
            rows: self.bars.iter().map(|b| vec![b.label.clone(), usd_label(b.value)]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(labels: &[(&str, i64)]) -> BarChart {
        BarChart {
            id: "chargeback".into(),
            title: "Chargeback by team".into(),
            desc: "Spend per team this month".into(),
            label_name: "Team".into(),
            value_name: "Spend".into(),
            bars: labels.iter().map(|(l, v)| Bar { label: (*l).into(), value: Nanos::from_whole_usd(*v) }).collect(),
        }
    }

    #[test]
    fn a_team_named_like_markup_is_shown_as_text() {
        let c = chart(&[("<script>alert(1)</script>", 5)]).render();
        assert!(!c.svg.contains("<script>"));
        assert!(c.svg.contains("&lt;script&gt;"));
        assert_eq!(c.table.rows[0][0], "<script>alert(1)</script>", "the table keeps the text; its renderer escapes");
        assert!(!c.table.to_html().contains("<script>"));
    }

    #[test]
    fn the_longest_bar_is_the_largest_value() {
        let c = chart(&[("Legal", 10), ("Sales", 40), ("Ops", 20)]).render();
        let widths: Vec<f64> = c
            .svg
            .split("class=\"bar\"")
            .skip(1)
            .map(|rest| {
                let w = rest.split("width=\"").nth(1).unwrap();
                w[..w.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(widths.len(), 3);
        assert!(widths[1] > widths[2] && widths[2] > widths[0]);
        assert_eq!(c.table.rows[1], ["Sales", "$40.00"]);
    }

    #[test]
    fn the_chart_has_an_accessible_name_and_description() {
        let c = chart(&[("Legal", 1)]).render();
        assert!(c.svg.contains("role=\"img\""));
        assert!(c.svg.contains("aria-label=\"Chargeback by team\""));
        assert!(c.svg.contains("<desc id=\"chargeback-desc\">Spend per team this month</desc>"));
        assert!(c.svg.contains("aria-describedby=\"chargeback-desc\""));
    }
}
