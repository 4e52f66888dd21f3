//! What every chart shares: the `<svg>` element with its accessible name and
//! description, the plot area, money and day axes, the legend, numbers in
//! coordinates.

use crate::escape::{escape, id_safe};
use crate::format::{date_label, tick_label};
use crate::scale::{DayTicks, MoneyTicks};
use crate::style::{GRID, INK, Look, MUTED};
use std::fmt::Write as _;

pub(crate) const WIDTH: f64 = 640.0;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
/// Rough width of a character of 12 px text, for laying out legends and labels.
pub(crate) const CHAR_W: f64 = 6.6;

/// The rectangle data is drawn in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Area {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Area {
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
}

/// A coordinate with one decimal: enough for a screen, and the same text on
/// every run.
pub(crate) fn n(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let text = format!("{v:.1}");
    if text == "-0.0" { "0.0".to_string() } else { text }
}

/// `<svg …>` with `<title>`, `<desc>` and the marker shapes, then the plot
/// area's background (class `plot-area`, which tests read).
pub(crate) fn open(id: &str, title: &str, desc: &str, height: f64, area: Area) -> String {
    let id = id_safe(id);
    let mut s = String::with_capacity(8192);
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"100%\" \
         preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"{t}\" aria-describedby=\"{id}-desc\" \
         font-family=\"{FONT}\" font-size=\"12\" fill=\"{INK}\">\
         <title id=\"{id}-title\">{t}</title><desc id=\"{id}-desc\">{d}</desc>",
        w = n(WIDTH),
        h = n(height),
        t = escape(title),
        d = escape(desc),
    );
    let _ = write!(
        s,
        "<rect class=\"plot-area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
        n(area.x),
        n(area.y),
        n(area.w),
        n(area.h)
    );
    s
}

pub(crate) fn close(s: &mut String) {
    s.push_str("</svg>");
}

/// Horizontal grid lines and labels of a vertical money axis.
pub(crate) fn money_axis_left(s: &mut String, area: Area, ticks: &MoneyTicks) {
    s.push_str("<g class=\"axis y\" aria-hidden=\"true\">");
    for t in &ticks.ticks {
        let y = area.bottom() - ticks.fraction(*t) * area.h;
        let _ = write!(
            s,
            "<line x1=\"{x1}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{GRID}\"/>\
             <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" fill=\"{MUTED}\">{label}</text>",
            x1 = n(area.x),
            x2 = n(area.right()),
            y = n(y),
            lx = n(area.x - 6.0),
            ty = n(y + 4.0),
            label = escape(&tick_label(*t, ticks.step)),
        );
    }
    s.push_str("</g>");
}

/// Vertical grid lines and labels of a horizontal money axis (bar charts).
pub(crate) fn money_axis_bottom(s: &mut String, area: Area, ticks: &MoneyTicks) {
    s.push_str("<g class=\"axis x\" aria-hidden=\"true\">");
    for t in &ticks.ticks {
        let x = area.x + ticks.fraction(*t) * area.w;
        let _ = write!(
            s,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{y1}\" y2=\"{y2}\" stroke=\"{GRID}\"/>\
             <text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\" fill=\"{MUTED}\">{label}</text>",
            x = n(x),
            y1 = n(area.y),
            y2 = n(area.bottom()),
            ty = n(area.bottom() + 16.0),
            label = escape(&tick_label(*t, ticks.step)),
        );
    }
    s.push_str("</g>");
}

/// Tick marks and "Nov 3" labels of a day axis, and its base line.
pub(crate) fn day_axis(s: &mut String, area: Area, days: &DayTicks) {
    s.push_str("<g class=\"axis x\" aria-hidden=\"true\">");
    let _ = write!(
        s,
        "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{MUTED}\"/>",
        n(area.x),
        n(area.right()),
        y = n(area.bottom())
    );
    for d in &days.ticks {
        let x = area.x + days.fraction(*d) * area.w;
        let _ = write!(
            s,
            "<line x1=\"{x}\" x2=\"{x}\" y1=\"{y1}\" y2=\"{y2}\" stroke=\"{MUTED}\"/>\
             <text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\" fill=\"{MUTED}\">{label}</text>",
            x = n(x),
            y1 = n(area.bottom()),
            y2 = n(area.bottom() + 5.0),
            ty = n(area.bottom() + 18.0),
            label = escape(&date_label(*d)),
        );
    }
    s.push_str("</g>");
}

/// A legend entry's sample: a short stroke in the series' colour and dash,
/// with its marker in the middle.
fn sample(s: &mut String, x: f64, y: f64, look: Look, marker_href: &str) {
    let dash = look.dash.map(|d| format!(" stroke-dasharray=\"{d}\"")).unwrap_or_default();
    let _ = write!(
        s,
        "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"{c}\" stroke-width=\"2.5\"{dash}/>\
         <use href=\"#{marker_href}\" x=\"{}\" y=\"{y}\" fill=\"{c}\"/>",
        n(x),
        n(x + 28.0),
        n(x + 14.0),
        y = n(y),
        c = look.colour,
    );
}

/// A legend laid out in rows from (x, y) within `width`; returns the height it
/// took. Entries are (name, look, id of its marker).
pub(crate) fn legend(s: &mut String, x: f64, y: f64, width: f64, entries: &[(String, Look, String)]) -> f64 {
    if entries.is_empty() {
        return 0.0;
    }
    s.push_str("<g class=\"chart-legend\" aria-hidden=\"true\">");
    let (mut cx, mut cy) = (x, y + 8.0);
    for (name, look, marker) in entries {
        let label = truncate(name, 40);
        let item_w = 36.0 + CHAR_W * char_count(&label) + 18.0;
        if cx > x && cx + item_w > x + width {
            cx = x;
            cy += 20.0;
        }
        sample(s, cx, cy, *look, marker);
        let _ = write!(s, "<text x=\"{}\" y=\"{}\">{}</text>", n(cx + 34.0), n(cy + 4.0), escape(&label));
        cx += item_w;
    }
    s.push_str("</g>");
    cy - y + 12.0
}

/// The `<defs>` holding each marker shape once, with ids `{id}-m{i}`.
pub(crate) fn marker_defs(s: &mut String, id: &str, looks: &[Look]) -> Vec<String> {
    let id = id_safe(id);
    s.push_str("<defs>");
    let mut ids = Vec::with_capacity(looks.len());
    for (i, look) in looks.iter().enumerate() {
        let mid = format!("{id}-m{i}");
        let _ = write!(s, "<path id=\"{mid}\" d=\"{}\" stroke=\"#ffffff\" stroke-width=\"0.8\"/>", look.marker.path());
        ids.push(mid);
    }
    s.push_str("</defs>");
    ids
}

pub(crate) fn char_count(text: &str) -> f64 {
    f64::from(u32::try_from(text.chars().count()).unwrap_or(u32::MAX))
}

/// At most `max` characters, the last an ellipsis when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
