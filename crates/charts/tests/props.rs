//! Invariants of every chart, over arbitrary data: marks land inside the plot
//! area, ticks increase and cover the data, and no label becomes markup.

#![allow(clippy::expect_used)]

use jiff::ToSpan;
use jiff::civil::{Date, date};
use proptest::prelude::*;
use tokenwise_charts::{Bar, BarChart, BurnDown, LineChart, Nanos, Series, day_ticks, money_ticks};

/// The `plot-area` rectangle: (x, y, right, bottom).
fn plot_area(svg: &str) -> (f64, f64, f64, f64) {
    let rest = svg.split("class=\"plot-area\"").nth(1).expect("a plot area");
    let x = attr(rest, "x");
    let y = attr(rest, "y");
    (x, y, x + attr(rest, "width"), y + attr(rest, "height"))
}

fn attr(element: &str, name: &str) -> f64 {
    let key = format!(" {name}=\"");
    let at = element.find(&key).expect("attribute") + key.len();
    let end = element[at..].find('"').expect("closing quote");
    element[at..at + end].parse().expect("a number")
}

/// Every data mark's coordinates: polyline vertices, markers (`<use …>`),
/// and each bar's corners.
fn marks(svg: &str) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for part in svg.split("<polyline points=\"").skip(1) {
        let pts = &part[..part.find('"').expect("end of points")];
        for p in pts.split(' ') {
            let (x, y) = p.split_once(',').expect("x,y");
            out.push((x.parse().expect("x"), y.parse().expect("y")));
        }
    }
    for part in svg.split("<use ").skip(1) {
        let el = &part[..part.find("/>").expect("end of use")];
        out.push((attr(el, "x"), attr(el, "y")));
    }
    for part in svg.split("<rect class=\"bar\"").skip(1) {
        let el = &part[..part.find("/>").expect("end of rect")];
        let (x, y) = (attr(el, "x"), attr(el, "y"));
        out.push((x, y));
        out.push((x + attr(el, "width"), y + attr(el, "height")));
    }
    out
}

/// Marks in the legend sit above the plot; only data marks are checked.
fn data_part(svg: &str) -> &str {
    match svg.find("</g><g class=\"axis") {
        Some(at) if svg.contains("class=\"chart-legend\"") => &svg[at..],
        _ => svg,
    }
}

fn assert_inside(svg: &str) -> Result<(), TestCaseError> {
    let (x0, y0, x1, y1) = plot_area(svg);
    let found = marks(data_part(svg));
    for (x, y) in found {
        prop_assert!(
            x >= x0 - 0.05 && x <= x1 + 0.05 && y >= y0 - 0.05 && y <= y1 + 0.05,
            "({x}, {y}) outside ({x0}, {y0})–({x1}, {y1})"
        );
    }
    Ok(())
}

const ELEMENTS: [&str; 11] = ["svg", "title", "desc", "rect", "g", "line", "text", "defs", "path", "use", "polyline"];

/// Every `<` in the output opens or closes one of the elements charts write.
fn only_known_markup(svg: &str) -> Result<(), TestCaseError> {
    for part in svg.split('<').skip(1) {
        let name: String = part.trim_start_matches('/').chars().take_while(char::is_ascii_alphanumeric).collect();
        prop_assert!(ELEMENTS.contains(&name.as_str()), "unexpected markup <{}", &part[..part.len().min(30)]);
    }
    Ok(())
}

fn day() -> impl Strategy<Value = Date> {
    (0i32..400).prop_map(|d| date(2026, 1, 1).checked_add(d.days()).expect("a day in range"))
}

fn money() -> impl Strategy<Value = Nanos> {
    prop_oneof![
        (0i64..=2_000_000_000_000).prop_map(Nanos),
        (-1_000_000_000_000i64..=1_000_000_000_000_000).prop_map(Nanos),
        (0i64..=1000).prop_map(Nanos),
    ]
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[<>&\"' a-z]{0,30}", Just("<script>alert(1)</script>".to_string())]
}

proptest! {
    #[test]
    fn money_ticks_increase_and_cover_the_data(values in prop::collection::vec(money(), 0..40), target in 1usize..10) {
        let t = money_ticks(values.clone(), target);
        prop_assert!(t.ticks.len() >= 2);
        prop_assert!(t.ticks.len() <= target * 2 + 3, "{} ticks for {target}", t.ticks.len());
        prop_assert!(t.ticks.windows(2).all(|w| w[1].0 - w[0].0 == t.step.0 && t.step.0 > 0));
        for v in values {
            prop_assert!(t.low() <= v && v <= t.high());
        }
        prop_assert!(t.low() <= Nanos::ZERO && Nanos::ZERO <= t.high(), "money axes include zero");
    }

    #[test]
    fn day_ticks_increase_within_the_range(a in day(), b in day(), target in 1usize..10) {
        let t = day_ticks(a, b, target);
        prop_assert_eq!(t.ticks.first().copied(), Some(a.min(b)));
        prop_assert!(t.ticks.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(t.ticks.iter().all(|d| *d <= a.max(b)));
        prop_assert!(t.ticks.len() <= target + 1, "{} ticks for {target}", t.ticks.len());
    }

    #[test]
    fn line_points_land_inside_the_plot(
        series in prop::collection::vec((label(), prop::collection::vec((day(), money()), 0..40)), 0..8),
        title in label(),
    ) {
        let chart = LineChart {
            id: "p".into(), title, desc: "d".into(), value_name: "v".into(), start: None, end: None,
            series: series.into_iter().map(|(name, points)| Series { name, points }).collect(),
        };
        let c = chart.render();
        assert_inside(&c.svg)?;
        only_known_markup(&c.svg)?;
        prop_assert_eq!(&c, &chart.render());
    }

    #[test]
    fn bars_land_inside_the_plot(bars in prop::collection::vec((label(), money()), 0..30)) {
        let chart = BarChart {
            id: "b".into(), title: "t".into(), desc: "d".into(), label_name: "Team".into(), value_name: "Spend".into(),
            bars: bars.into_iter().map(|(label, value)| Bar { label, value }).collect(),
        };
        let c = chart.render();
        assert_inside(&c.svg)?;
        only_known_markup(&c.svg)?;
        prop_assert_eq!(c.table.rows.len(), chart.bars.len());
    }

    #[test]
    fn burn_down_lands_inside_the_plot(
        start in day(), len in 0i32..62, limit in money(), projected in proptest::option::of(money()),
        spent in prop::collection::vec((day(), money()), 0..40),
    ) {
        let end = start.checked_add(len.days()).expect("a day");
        let chart = BurnDown {
            id: "bd".into(), title: "<b>".into(), desc: "&".into(), start, end, limit, spent, projected,
        };
        let c = chart.render();
        assert_inside(&c.svg)?;
        only_known_markup(&c.svg)?;
    }
}

#[test]
fn the_checks_see_every_mark() {
    let chart = LineChart {
        id: "p".into(),
        title: "t".into(),
        desc: "d".into(),
        value_name: "v".into(),
        start: None,
        end: None,
        series: vec![Series {
            name: "a".into(),
            points: vec![(date(2026, 1, 1), Nanos(5)), (date(2026, 1, 3), Nanos(9))],
        }],
    };
    let svg = chart.render().svg;
    // Two polyline vertices and two markers.
    assert_eq!(marks(data_part(&svg)).len(), 4);
    let bars = BarChart {
        id: "b".into(),
        title: "t".into(),
        desc: "d".into(),
        label_name: "l".into(),
        value_name: "v".into(),
        bars: vec![Bar { label: "x".into(), value: Nanos(3) }],
    };
    assert_eq!(marks(&bars.render().svg).len(), 2);
}
