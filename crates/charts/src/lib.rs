//! Server-rendered SVG charts for the dashboard: pure, no I/O, deterministic.
//!
//! Each chart renders to a [`Chart`]: the SVG (`role="img"`, an `aria-label`, a
//! `<title>` and a `<desc>`) and a [`Table`] with the same numbers as text, for
//! readers who cannot see the picture and for the page's "show the numbers".
//! Money arrives as integer nano-dollars ([`Nanos`]) and is formatted only when a
//! label is written; series differ by colour *and* by dash and marker, so the
//! charts read without colour; every colour meets 3:1 contrast on white.
//!
//! - [`BarChart`]: one value per label (chargeback by team), horizontal bars.
//! - [`LineChart`]: several series over days (spend per outcome over time).
//! - [`BurnDown`]: a budget's spend so far, its forecast to the period's end and
//!   the limit.

mod bar;
mod burndown;
mod escape;
mod format;
mod frame;
mod line;
mod scale;
mod style;
mod table;

pub use bar::{Bar, BarChart};
pub use burndown::BurnDown;
pub use escape::escape;
pub use format::{date_label, day_label, usd_label};
pub use line::{LineChart, Series};
pub use scale::{DayTicks, MoneyTicks, day_ticks, money_ticks};
pub use style::{PALETTE, contrast_on_white};
pub use table::Table;

pub use jiff::civil::Date;
pub use tokenwise_core::Nanos;

/// A rendered chart: the SVG markup (safe to embed as is) and its numbers as a
/// table (plain strings; [`Table::to_html`] escapes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub svg: String,
    pub table: Table,
}
