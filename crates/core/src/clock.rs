//! The time every rule reads. Real by default; a manual clock lets tests
//! and the simulator move time on (a period rolls over, a lease or an
//! exception runs out) without waiting for the wall clock.

use jiff::{SignedDuration, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// None: the system clock. Some: microseconds since the epoch, moved
    /// only by `set` and `advance`.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands still at `at` until it is moved.
    pub fn manual(at: Timestamp) -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(micros(at)))) }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    pub fn now(&self) -> Timestamp {
        match &self.manual {
            None => Timestamp::now(),
            Some(us) => Timestamp::from_microsecond(us.load(Ordering::Acquire)).unwrap_or(Timestamp::MAX),
        }
    }

    /// Moves a manual clock to `at`; false (and nothing moves) for the
    /// system clock.
    pub fn set(&self, at: Timestamp) -> bool {
        match &self.manual {
            None => false,
            Some(us) => {
                us.store(micros(at), Ordering::Release);
                true
            }
        }
    }

    /// Moves a manual clock on by `by` (never backwards past the epoch's
    /// range); false for the system clock.
    pub fn advance(&self, by: SignedDuration) -> bool {
        let Some(us) = &self.manual else { return false };
        let delta = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        // Saturating, so no number of moves wraps time around.
        let _ = us.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(t.saturating_add(delta)));
        true
    }
}

fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_copies_follow() {
        let start: Timestamp = "2026-11-30T23:59:59Z".parse().unwrap();
        let clock = Clock::manual(start);
        let copy = clock.clone();
        assert_eq!(clock.now(), start);
        assert!(clock.advance(SignedDuration::from_secs(2)));
        assert_eq!(copy.now().to_string(), "2026-12-01T00:00:01Z");
        assert!(copy.set(start));
        assert_eq!(clock.now(), start);
        assert!(!Clock::system().advance(SignedDuration::from_secs(1)));
    }
}
