//! Writes an HTML page with one chart of each kind, to look at in a browser:
//! `cargo run -p tokenwise-charts --example gallery -- /tmp/gallery.html`.

use jiff::ToSpan;
use jiff::civil::date;
use tokenwise_charts::{Bar, BarChart, BurnDown, Chart, LineChart, Nanos, Series};

fn usd(text: &str) -> Nanos {
    Nanos::parse_usd(text).unwrap_or_default()
}

fn charts() -> Vec<Chart> {
    let start = date(2026, 11, 1);
    let day = |d: i32| start.checked_add(d.days()).unwrap_or(start);
    let teams = ["Legal", "Sales", "Engineering platform & tools", "<script>Ops</script>", "Finance"];
    let bars = BarChart {
        id: "chargeback".into(),
        title: "Chargeback by team, November 2026".into(),
        desc: "Spend per team this month, largest first".into(),
        label_name: "Team".into(),
        value_name: "Spend".into(),
        bars: teams
            .iter()
            .zip(["412.37", "238.10", "1204.50", "12.04", "0.42"])
            .map(|(t, v)| Bar { label: (*t).into(), value: usd(v) })
            .collect(),
    };
    let series = teams[..4]
        .iter()
        .enumerate()
        .map(|(i, t)| Series {
            name: (*t).into(),
            points: (0..5)
                .map(|w| {
                    (
                        day(w * 7),
                        Nanos(300_000_000 * (i64::from(w) % 3 + 1) + 150_000_000 * i64::try_from(i).unwrap_or(0)),
                    )
                })
                .collect(),
        })
        .collect();
    let lines = LineChart {
        id: "cpo".into(),
        title: "Spend per outcome, by team".into(),
        desc: "Weekly spend divided by outcomes not rejected".into(),
        value_name: "spend per outcome".into(),
        start: Some(start),
        end: Some(day(29)),
        series,
    };
    let burn = BurnDown {
        id: "burn".into(),
        title: "Legal's monthly budget".into(),
        desc: "Spent so far against the $500 limit, with the forecast to the month's end".into(),
        start,
        end: day(29),
        limit: usd("500"),
        spent: (0..18).map(|d| (day(d), Nanos(i64::from(d + 1) * 19_500_000_000))).collect(),
        projected: Some(usd("585")),
    };
    vec![bars.render(), lines.render(), burn.render()]
}

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "gallery.html".into());
    let mut html = String::from(
        "<!doctype html><meta charset=utf-8><title>charts</title><body style=\"max-width:720px;font-family:system-ui\">",
    );
    for c in charts() {
        html.push_str(&c.svg);
        html.push_str(&c.table.to_html());
    }
    std::fs::write(path, html)
}
