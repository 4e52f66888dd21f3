//! Requests per API key, as a token bucket per key kept in this replica's
//! memory (`[rate_limits]`): a key refills `per_minute` requests a minute up
//! to `burst`, and a request finding the bucket empty is refused with 429
//! `rate_limited` and a `retry-after` of the seconds until one is back.
//! Per replica: behind N replicas a key may make up to N times its limit,
//! which bounds a runaway script without a shared store on the hot path.
//! Time is the monotonic clock, never `App::clock` (a manual clock stands
//! still in tests and the demo).

use crate::error::{AppError, Code};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokenwise_policy::rate_limits::Rate;

/// Units of one request: a minute in milliseconds, so a bucket refilling
/// `per_minute` requests a minute gains `per_minute` units a millisecond
/// and the arithmetic stays in integers.
const REQUEST: u64 = 60_000;

/// One key's bucket: `units` of `REQUEST` each, as of `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    units: u64,
    at_ms: u64,
}

impl Bucket {
    /// A full bucket at `now_ms`.
    pub fn full(rate: Rate, now_ms: u64) -> Bucket {
        Bucket { units: u64::from(rate.burst) * REQUEST, at_ms: now_ms }
    }

    /// Takes one request at `now_ms` (never earlier than the last), or says
    /// how long until one is back.
    pub fn take(&mut self, rate: Rate, now_ms: u64) -> Result<(), Duration> {
        let capacity = u64::from(rate.burst) * REQUEST;
        let elapsed = now_ms.saturating_sub(self.at_ms);
        self.units = self.units.saturating_add(elapsed.saturating_mul(u64::from(rate.per_minute))).min(capacity);
        self.at_ms = self.at_ms.max(now_ms);
        if self.units >= REQUEST {
            self.units -= REQUEST;
            return Ok(());
        }
        let per_ms = u64::from(rate.per_minute).max(1);
        Err(Duration::from_millis((REQUEST - self.units).div_ceil(per_ms)))
    }
}

/// Every key's bucket on this replica.
#[derive(Debug)]
pub struct RateLimiter {
    origin: Instant,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter { origin: Instant::now(), buckets: Mutex::new(HashMap::new()) }
    }
}

impl RateLimiter {
    /// Admits one request of `key_id` at `rate`, or refuses it with 429.
    pub fn admit(&self, key_id: &str, rate: Rate) -> Result<(), AppError> {
        if !rate.is_limited() {
            return Ok(());
        }
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        let taken = {
            let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match buckets.get_mut(key_id) {
                Some(b) => b.take(rate, now),
                None => {
                    let mut b = Bucket::full(rate, now);
                    let first = b.take(rate, now);
                    buckets.insert(key_id.to_string(), b);
                    first
                }
            }
        };
        taken.map_err(|wait| {
            let secs = wait.as_millis().div_ceil(1000).max(1);
            let mut e = AppError::new(
                Code::RateLimited,
                format!(
                    "API key {key_id} is over its rate limit of {} requests a minute (bursts of {}); retry in {secs} s",
                    rate.per_minute, rate.burst
                ),
            )
            .with_field("retry_after_secs", u64::try_from(secs).unwrap_or(u64::MAX));
            e.retry_after = Some(secs.to_string());
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_burst_passes_then_one_request_per_interval() {
        let rate = Rate { per_minute: 60, burst: 3 };
        let mut b = Bucket::full(rate, 0);
        for _ in 0..3 {
            assert_eq!(b.take(rate, 0), Ok(()));
        }
        assert_eq!(b.take(rate, 0), Err(Duration::from_secs(1)));
        assert_eq!(b.take(rate, 400), Err(Duration::from_millis(600)));
        assert_eq!(b.take(rate, 1_000), Ok(()));
        // Idle for an hour: back to the burst, no more.
        let mut n = 0;
        while b.take(rate, 3_600_000).is_ok() {
            n += 1;
        }
        assert_eq!(n, 3);
    }

    proptest! {
        /// Over any run of requests, those admitted in [0, t] are at most
        /// the burst plus what refilled by t; requests spaced at the rate
        /// are all admitted; a refusal's wait, honoured, admits.
        #[test]
        fn the_bucket_never_admits_more_than_burst_plus_refill(
            per_minute in 1u32..100_000,
            burst in 1u32..500,
            gaps in proptest::collection::vec(0u64..5_000, 1..400),
        ) {
            let rate = Rate { per_minute, burst };
            let mut b = Bucket::full(rate, 0);
            let (mut now, mut admitted) = (0u64, 0u64);
            for gap in gaps {
                now += gap;
                match b.take(rate, now) {
                    Ok(()) => admitted += 1,
                    Err(wait) => {
                        prop_assert!(wait > Duration::ZERO);
                        let mut later = b;
                        let at = now + u64::try_from(wait.as_millis()).unwrap();
                        prop_assert_eq!(later.take(rate, at), Ok(()), "waiting as told admits");
                    }
                }
                let allowed = u64::from(burst) + now * u64::from(per_minute) / 60_000;
                prop_assert!(admitted <= allowed, "{} admitted by {} ms, at most {}", admitted, now, allowed);
            }
        }

        #[test]
        fn requests_at_the_rate_are_never_refused(per_minute in 1u32..10_000, burst in 1u32..50, n in 1usize..300) {
            let rate = Rate { per_minute, burst };
            let mut b = Bucket::full(rate, 0);
            let interval = 60_000u64.div_ceil(u64::from(per_minute));
            for i in 0..n as u64 {
                prop_assert_eq!(b.take(rate, i * interval), Ok(()));
            }
        }
    }
}
