//! Splitting an exact total into integer parts that add up to it.

/// `total` split in proportion to `weights` by the largest-remainder
/// method: every part is the floor of its share, and what is left goes
/// one unit at a time to the largest remainders (ties: the earlier part).
/// The parts always sum to `total`. With no weight at all, everything
/// goes to the first part.
pub fn largest_remainder(total: i64, weights: &[u128]) -> Vec<i64> {
    let mut parts = vec![0i64; weights.len()];
    // Weights above 2^63 in sum are scaled down first, so that a share's
    // product stays inside u128 (the parts still sum exactly).
    let bits = 128 - weights.iter().sum::<u128>().leading_zeros();
    let shift = bits.saturating_sub(63);
    let weights: Vec<u128> = weights.iter().map(|w| w >> shift).collect();
    let sum: u128 = weights.iter().sum();
    if parts.is_empty() {
        return parts;
    }
    if sum == 0 {
        parts[0] = total;
        return parts;
    }
    let t = u128::from(total.unsigned_abs());
    let mut given: u128 = 0;
    let mut rems: Vec<(u128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let p = t * w;
        parts[i] = i64::try_from(p / sum).unwrap_or(i64::MAX);
        given += p / sum;
        rems.push((p % sum, i));
    }
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems.into_iter().take(usize::try_from(t.saturating_sub(given)).unwrap_or(0)) {
        parts[i] += 1;
    }
    if total < 0 {
        parts.iter_mut().for_each(|p| *p = -*p);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parts_follow_the_weights() {
        assert_eq!(largest_remainder(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(largest_remainder(10, &[0, 0]), vec![10, 0]);
        assert_eq!(largest_remainder(7, &[3, 0, 4]), vec![3, 0, 4]);
        assert_eq!(largest_remainder(-10, &[1, 1, 1]), vec![-4, -3, -3]);
    }

    proptest! {
        #[test]
        fn parts_always_sum_to_the_total(total in 0i64..1_000_000_000_000, weights in proptest::collection::vec(0u128..1_000_000_000_000_000_000_000_000_000, 1..6)) {
            let parts = largest_remainder(total, &weights);
            prop_assert_eq!(parts.iter().sum::<i64>(), total);
            prop_assert!(parts.iter().all(|p| *p >= 0));
        }
    }
}
