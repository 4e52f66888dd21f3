//! Colours, dashes and markers. Series differ by all three, so a reader who
//! does not tell the colours apart still tells the lines apart; every colour
//! keeps 3:1 contrast against the white plot (WCAG 1.4.11, graphics).

/// A series' look: stroke colour, dash pattern (`None` for solid) and marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    pub colour: &'static str,
    pub dash: Option<&'static str>,
    pub marker: Marker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
    Bar,
}

impl Marker {
    /// The marker's outline around (0, 0), about 7 px across.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Marker::Circle => "M-3.5,0a3.5,3.5 0 1,0 7,0a3.5,3.5 0 1,0 -7,0z",
            Marker::Square => "M-3,-3h6v6h-6z",
            Marker::Triangle => "M0,-4l4,7h-8z",
            Marker::Diamond => "M0,-4.5l4.5,4.5l-4.5,4.5l-4.5,-4.5z",
            Marker::Cross => "M-4,-1.2h2.8v-2.8h2.4v2.8h2.8v2.4h-2.8v2.8h-2.4v-2.8h-2.8z",
            Marker::Bar => "M-4.5,-1.5h9v3h-9z",
        }
    }
}

/// Blue, vermilion, green, purple, magenta, slate: Okabe–Ito hues darkened
/// until each has 3:1 against white.
pub const PALETTE: [&str; 6] = ["#0a5a9c", "#b34700", "#00745a", "#6b3fa0", "#a3286e", "#3f4a56"];
const DASHES: [Option<&str>; 6] = [None, Some("7 4"), Some("2 3"), Some("10 3 2 3"), Some("4 2"), Some("1 5")];
const MARKERS: [Marker; 6] =
    [Marker::Circle, Marker::Square, Marker::Triangle, Marker::Diamond, Marker::Cross, Marker::Bar];

/// The look of the `i`th series; after six they repeat with a wider line.
pub(crate) fn look(i: usize) -> Look {
    let k = i % PALETTE.len();
    Look { colour: PALETTE[k], dash: DASHES[k], marker: MARKERS[k] }
}

/// Text and axis colours (on white): 12:1 and 7:1.
pub(crate) const INK: &str = "#1f2933";
pub(crate) const MUTED: &str = "#4a5561";
pub(crate) const GRID: &str = "#d9dee3";
/// The limit on a burn-down: red, dash-dot.
pub(crate) const LIMIT: &str = "#b3261e";

/// WCAG contrast ratio of `#rrggbb` against white (1.0 to 21.0); `None` if the
/// text is not such a colour.
pub fn contrast_on_white(hex: &str) -> Option<f64> {
    let hex = hex.strip_prefix('#')?;
    if hex.len() != 6 {
        return None;
    }
    let channel = |i: usize| -> Option<f64> {
        let v = f64::from(u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?) / 255.0;
        Some(if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) })
    };
    let l = 0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?;
    Some(1.05 / (l + 0.05))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_colour_has_three_to_one_on_white() {
        for c in PALETTE.iter().chain([LIMIT, MUTED].iter()) {
            let ratio = contrast_on_white(c).unwrap();
            assert!(ratio >= 3.0, "{c} has {ratio:.2}:1");
        }
        assert!(contrast_on_white(INK).unwrap() >= 7.0);
        assert!(contrast_on_white(MUTED).unwrap() >= 4.5, "axis labels are text: 4.5:1");
    }

    #[test]
    fn series_differ_by_dash_and_marker_not_only_colour() {
        for a in 0..PALETTE.len() {
            for b in (a + 1)..PALETTE.len() {
                assert_ne!(look(a).dash, look(b).dash);
                assert_ne!(look(a).marker, look(b).marker);
            }
        }
    }

    #[test]
    fn contrast_matches_known_values() {
        assert!((contrast_on_white("#000000").unwrap() - 21.0).abs() < 0.01);
        assert!((contrast_on_white("#ffffff").unwrap() - 1.0).abs() < 0.01);
        assert_eq!(contrast_on_white("red"), None);
    }
}
