//! Robust centre and spread (median and median absolute deviation), so one
//! extreme value cannot hide itself by moving the yardstick it is measured
//! against, as it would a mean and standard deviation.

/// The MAD of normally distributed data times this is its standard
/// deviation: robust z-scores read like ordinary ones.
pub const MAD_SCALE: f64 = 1.4826;

/// Median and MAD of a set of values, and their upper quartile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub mad: f64,
    /// The median of the upper half (Tukey's upper hinge; the median
    /// itself is in both halves of an odd count): where the busier values
    /// begin. The MAD measures only the middle half, so for a few values
    /// that fall in two groups (light days and busy ones) it sees the
    /// tighter group alone; the upper quartile still sees the busy one.
    pub upper_quartile: f64,
    pub n: usize,
}

fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

impl Spread {
    /// None for no values.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v: Vec<f64> = values.to_vec();
        v.sort_by(f64::total_cmp);
        let median = median_of_sorted(&v);
        let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let upper_quartile = median_of_sorted(&v[v.len() / 2..]);
        Some(Spread { median, mad: median_of_sorted(&dev), upper_quartile, n: v.len() })
    }

    /// How many robust standard deviations `x` lies above the median. The
    /// spread is floored at a twentieth of the median, so a perfectly
    /// steady history does not make any small rise infinitely unusual.
    pub fn z(&self, x: f64) -> f64 {
        let sigma = (MAD_SCALE * self.mad).max(0.05 * self.median.abs());
        if sigma > 0.0 {
            (x - self.median) / sigma
        } else if x > self.median {
            f64::INFINITY
        } else {
            0.0
        }
    }

    /// `x` over the median (infinite over a zero median).
    pub fn ratio(&self, x: f64) -> f64 {
        if self.median > 0.0 {
            x / self.median
        } else if x > 0.0 {
            f64::INFINITY
        } else {
            1.0
        }
    }

    /// Whether `x` is far above the centre: at least `z` robust deviations
    /// and `factor` times the median.
    pub fn far_above(&self, x: f64, z: f64, factor: f64) -> bool {
        self.z(x) >= z && self.ratio(x) >= factor
    }
}

/// Rounded for people to read.
pub fn round(x: f64, places: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let p = 10f64.powi(places);
    (x * p).round() / p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_ignore_one_outlier() {
        let s = Spread::of(&[10.0, 11.0, 9.0, 10.0, 1000.0]).unwrap();
        assert_eq!((s.median, s.mad, s.n, s.upper_quartile), (10.0, 1.0, 5, 11.0));
        assert!(s.z(1000.0) > 100.0);
        assert!(s.far_above(1000.0, 5.0, 3.0));
        assert!(!s.far_above(12.0, 5.0, 3.0));
        let even = Spread::of(&[1.0, 3.0]).unwrap();
        assert_eq!((even.median, even.mad, even.upper_quartile), (2.0, 1.0, 3.0));
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn a_steady_history_is_floored_not_infinitely_strict() {
        let s = Spread::of(&[100.0; 10]).unwrap();
        assert_eq!(s.mad, 0.0);
        assert!((s.z(110.0) - 2.0).abs() < 1e-9);
        let zero = Spread::of(&[0.0, 0.0]).unwrap();
        assert_eq!(zero.z(0.0), 0.0);
        assert!(zero.z(1.0).is_infinite());
    }
}
