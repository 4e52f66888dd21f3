//! Budgets as a two-phase ledger. Before a call, a *hold* is placed on every
//! envelope that applies, all or nothing: the call's worst-case cost. When
//! the call's usage event is recorded, the hold is *captured*: released, and
//! the actual cost (never more than the hold) added to each envelope. A hold
//! whose call never reports (a replica died) *expires* and is released: a
//! live replica renews its holds' leases, so only the holds of a replica
//! that stopped renewing — whose calls can no longer report — expire.
//!
//! The invariant, for hard envelopes, at every instant:
//! `captured + held <= limit`. `Book` is the pure, in-memory form: the
//! SQLite store keeps one (one process), the PostgreSQL store enforces the
//! same rules in single SQL statements (many replicas).

use jiff::Timestamp;
use serde::Serialize;
use std::collections::HashMap;
pub use tokenwise_core::EnvelopeSpec;
use tokenwise_core::Nanos;

/// An envelope's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvelopeState {
    pub spec: EnvelopeSpec,
    pub captured: Nanos,
    pub held: Nanos,
    /// Bit i set: the i-th alert threshold has been announced this period.
    pub alerted: u32,
}

impl EnvelopeState {
    pub fn remaining(&self) -> Nanos {
        self.spec.limit.saturating_sub(self.captured).saturating_sub(self.held)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldPart {
    pub envelope: EnvelopeSpec,
    pub amount: Nanos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRequest {
    /// The request id: the usage event that captures the hold has it too.
    pub id: String,
    pub parts: Vec<HoldPart>,
    pub expires_at: Timestamp,
}

/// Why a hold was refused: the first hard envelope it did not fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub key: String,
    pub budget_id: String,
    pub scope: String,
    pub limit: Nanos,
    pub captured: Nanos,
    pub held: Nanos,
    pub requested: Nanos,
}

impl Refusal {
    pub fn remaining(&self) -> Nanos {
        self.limit.saturating_sub(self.captured).saturating_sub(self.held)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldResult {
    /// Placed. `room`: the tightest hard envelope and what it had left
    /// once this hold was placed (None when only soft envelopes apply).
    Held {
        room: Option<(String, Nanos)>,
    },
    Refused(Refusal),
}

impl HoldResult {
    pub fn is_held(&self) -> bool {
        matches!(self, HoldResult::Held { .. })
    }
}

/// A usage event's effect on budgets: release its hold (if still held) and
/// add its cost to the envelopes it was held on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub hold_id: String,
    pub keys: Vec<String>,
    pub cost: Nanos,
}

#[derive(Debug, Clone)]
struct Hold {
    parts: Vec<(String, Nanos)>,
    owner: String,
    expires_at: Timestamp,
}

/// The in-memory ledger of envelopes and holds.
#[derive(Debug, Default)]
pub struct Book {
    envelopes: HashMap<String, EnvelopeState>,
    holds: HashMap<String, Hold>,
}

impl Book {
    /// Adds an envelope not seen before, with what was already captured
    /// (from storage); a known envelope takes the spec's current limit.
    pub fn ensure(&mut self, spec: &EnvelopeSpec, captured: Nanos, alerted: u32) {
        match self.envelopes.get_mut(&spec.key) {
            Some(e) => {
                e.spec.limit = spec.limit;
                e.spec.hard = spec.hard;
            }
            None => {
                self.envelopes.insert(
                    spec.key.clone(),
                    EnvelopeState { spec: spec.clone(), captured, held: Nanos::ZERO, alerted },
                );
            }
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.envelopes.contains_key(key)
    }

    /// Places the hold on every part's envelope, or on none, for `owner`.
    pub fn hold(&mut self, req: &HoldRequest, owner: &str) -> HoldResult {
        for p in &req.parts {
            self.ensure(&p.envelope, Nanos::ZERO, 0);
        }
        let result =
            judge(req, |key| self.envelopes.get(key).map_or((Nanos::ZERO, Nanos::ZERO), |e| (e.captured, e.held)));
        if result.is_held() {
            for p in &req.parts {
                if let Some(e) = self.envelopes.get_mut(&p.envelope.key) {
                    e.held = e.held.saturating_add(p.amount);
                }
            }
            let parts = req.parts.iter().map(|p| (p.envelope.key.clone(), p.amount)).collect();
            self.holds.insert(req.id.clone(), Hold { parts, owner: owner.to_string(), expires_at: req.expires_at });
        }
        result
    }

    /// Releases the hold (if still there) and adds the cost to each key.
    pub fn capture(&mut self, c: &Capture) {
        self.release(&c.hold_id);
        for key in &c.keys {
            self.add_captured(key, c.cost);
        }
    }

    /// Releases the hold `hold_id`, if still there: the first half of
    /// [`capture`](Self::capture), for a store that sums a batch's captures
    /// per envelope before adding them.
    pub fn release(&mut self, hold_id: &str) {
        if let Some(h) = self.holds.remove(hold_id) {
            for (key, amount) in h.parts {
                if let Some(e) = self.envelopes.get_mut(&key) {
                    e.held = e.held.saturating_sub(amount);
                }
            }
        }
    }

    /// Adds captured cost to an envelope: the second half of
    /// [`capture`](Self::capture).
    pub fn add_captured(&mut self, key: &str, cost: Nanos) {
        if let Some(e) = self.envelopes.get_mut(key) {
            e.captured = e.captured.saturating_add(cost);
        }
    }

    /// Releases holds past their expiry; returns their ids.
    pub fn expire(&mut self, now: Timestamp) -> Vec<String> {
        let dead: Vec<String> =
            self.holds.iter().filter(|(_, h)| h.expires_at <= now).map(|(id, _)| id.clone()).collect();
        for id in &dead {
            self.capture(&Capture { hold_id: id.clone(), keys: Vec::new(), cost: Nanos::ZERO });
        }
        dead
    }

    /// Extends the leases of `owner`'s holds `ids` (its calls in flight).
    pub fn renew(&mut self, owner: &str, ids: &[String], until: Timestamp) {
        for id in ids {
            if let Some(h) = self.holds.get_mut(id).filter(|h| h.owner == owner) {
                h.expires_at = h.expires_at.max(until);
            }
        }
    }

    pub fn envelope(&self, key: &str) -> Option<&EnvelopeState> {
        self.envelopes.get(key)
    }

    pub fn envelopes(&self) -> impl Iterator<Item = &EnvelopeState> {
        self.envelopes.values()
    }

    pub fn mark_alerted(&mut self, key: &str, bits: u32) {
        if let Some(e) = self.envelopes.get_mut(key) {
            e.alerted |= bits;
        }
    }
}

/// Thresholds newly crossed: (bit, percent) of thresholds at or below the
/// envelope's captured share and not yet announced.
pub fn crossed(e: &EnvelopeState) -> Vec<(u32, u32)> {
    e.spec
        .alert_at_percent
        .iter()
        .enumerate()
        .filter_map(|(i, pct)| {
            let bit = 1u32 << i.min(31);
            let threshold = i128::from(e.spec.limit.0) * i128::from(*pct) / 100;
            (e.alerted & bit == 0 && e.spec.limit.0 > 0 && i128::from(e.captured.0) >= threshold).then_some((bit, *pct))
        })
        .collect()
}

/// Decides a hold from each envelope's `(captured, held)` before it: the
/// parts on one envelope count together; refused on the first hard
/// envelope they would overfill, else held with the tightest room left.
/// `Book::hold` and the PostgreSQL store (whose SQL applies the same
/// rule) both decide with it.
pub fn judge(req: &HoldRequest, before: impl Fn(&str) -> (Nanos, Nanos)) -> HoldResult {
    let mut wanted: Vec<(&EnvelopeSpec, Nanos)> = Vec::new();
    for p in &req.parts {
        match wanted.iter_mut().find(|(s, _)| s.key == p.envelope.key) {
            Some((_, a)) => *a = a.saturating_add(p.amount),
            None => wanted.push((&p.envelope, p.amount)),
        }
    }
    let mut room: Option<(String, Nanos)> = None;
    for (spec, amount) in wanted.into_iter().filter(|(s, _)| s.hard) {
        let (captured, held) = before(&spec.key);
        let after = captured.saturating_add(held).saturating_add(amount);
        if after > spec.limit {
            return HoldResult::Refused(Refusal {
                key: spec.key.clone(),
                budget_id: spec.budget_id.clone(),
                scope: spec.scope.clone(),
                limit: spec.limit,
                captured,
                held,
                requested: amount,
            });
        }
        let left = spec.limit.saturating_sub(after);
        if room.as_ref().is_none_or(|(_, r)| left < *r) {
            room = Some((spec.key.clone(), left));
        }
    }
    HoldResult::Held { room }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(key: &str, limit: i64, hard: bool) -> EnvelopeSpec {
        EnvelopeSpec {
            key: key.into(),
            budget_id: key.into(),
            scope: "org".into(),
            period_start: Timestamp::UNIX_EPOCH,
            period_end: Timestamp::MAX,
            limit: Nanos(limit),
            hard,
            alert_at_percent: vec![80, 100],
        }
    }

    impl Book {
        fn hold_by(&mut self, req: &HoldRequest) -> HoldResult {
            self.hold(req, "me")
        }
    }

    fn hold(id: &str, parts: &[(&EnvelopeSpec, i64)], expires: i64) -> HoldRequest {
        HoldRequest {
            id: id.into(),
            parts: parts.iter().map(|(s, a)| HoldPart { envelope: (*s).clone(), amount: Nanos(*a) }).collect(),
            expires_at: Timestamp::from_second(expires).unwrap(),
        }
    }

    #[test]
    fn all_or_nothing_and_capture_releases_the_rest() {
        let mut b = Book::default();
        let team = spec("team", 100, true);
        let user = spec("user", 30, true);
        assert_eq!(
            b.hold_by(&hold("a", &[(&team, 20), (&user, 20)], 100)),
            HoldResult::Held { room: Some(("user".into(), Nanos(10))) }
        );
        let HoldResult::Refused(r) = b.hold_by(&hold("b", &[(&team, 20), (&user, 20)], 100)) else { panic!() };
        assert_eq!((r.key.as_str(), r.remaining()), ("user", Nanos(10)));
        // Nothing of the refused hold stuck to the team envelope.
        assert_eq!(b.envelope("team").unwrap().held, Nanos(20));
        b.capture(&Capture { hold_id: "a".into(), keys: vec!["team".into(), "user".into()], cost: Nanos(7) });
        let u = b.envelope("user").unwrap();
        assert_eq!((u.captured, u.held, u.remaining()), (Nanos(7), Nanos(0), Nanos(23)));
    }

    #[test]
    fn soft_envelopes_never_refuse_and_expired_holds_come_back() {
        let mut b = Book::default();
        let soft = spec("soft", 10, false);
        assert_eq!(b.hold_by(&hold("a", &[(&soft, 50)], 5)), HoldResult::Held { room: None });
        assert!(b.expire(Timestamp::from_second(4).unwrap()).is_empty());
        assert_eq!(b.expire(Timestamp::from_second(5).unwrap()), ["a"]);
        assert_eq!(b.envelope("soft").unwrap().held, Nanos(0));
    }

    #[test]
    fn alerts_cross_once() {
        let mut b = Book::default();
        let s = spec("s", 100, false);
        b.ensure(&s, Nanos(85), 0);
        assert_eq!(crossed(b.envelope("s").unwrap()), vec![(1, 80)]);
        b.mark_alerted("s", 1);
        assert!(crossed(b.envelope("s").unwrap()).is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Hold { id: u8, amounts: Vec<(u8, i64)> },
        Capture { id: u8, frac: u8 },
        Expire { at: i64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..20, prop::collection::vec((0u8..3, 0i64..60), 1..3))
                .prop_map(|(id, amounts)| Op::Hold { id, amounts }),
            (0u8..20, 0u8..=100).prop_map(|(id, frac)| Op::Capture { id, frac }),
            (0i64..50).prop_map(|at| Op::Expire { at }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Whatever the interleaving of holds, captures (of at most the
        /// hold), voids (captures of zero) and expiries, no hard envelope
        /// ever has captured + held above its limit, and every figure stays
        /// non-negative. An expired hold belongs to a dead owner: its call
        /// never captures.
        #[test]
        fn hard_envelopes_never_overspend(ops in prop::collection::vec(op(), 1..200)) {
            let specs = [spec("e0", 100, true), spec("e1", 50, true), spec("e2", 30, false)];
            let mut b = Book::default();
            let mut holds: HashMap<u8, Vec<(String, i64)>> = HashMap::new();
            let mut seq = 0;
            for o in ops {
                match o {
                    Op::Hold { id, amounts } => {
                        seq += 1;
                        let hold_id = format!("{id}-{seq}");
                        let parts: Vec<(&EnvelopeSpec, i64)> = amounts.iter().map(|(e, a)| (&specs[*e as usize], *a)).collect();
                        if b.hold_by(&hold(&hold_id, &parts, i64::from(id))).is_held() {
                            holds.insert(id, parts.iter().map(|(s, a)| (s.key.clone(), *a)).collect());
                            holds.insert(id.wrapping_add(100), vec![(hold_id, 0)]);
                        }
                    }
                    Op::Capture { id, frac } => {
                        if let (Some(parts), Some(name)) = (holds.remove(&id), holds.remove(&id.wrapping_add(100))) {
                            // The actual cost is at most the smallest part held.
                            let max = parts.iter().map(|(_, a)| *a).min().unwrap_or(0);
                            let cost = max * i64::from(frac) / 100;
                            let keys = parts.iter().map(|(k, _)| k.clone()).collect();
                            b.capture(&Capture { hold_id: name[0].0.clone(), keys, cost: Nanos(cost) });
                        }
                    }
                    Op::Expire { at } => {
                        for dead in b.expire(Timestamp::from_second(at).unwrap()) {
                            let id: u8 = dead.split('-').next().and_then(|x| x.parse().ok()).unwrap();
                            holds.remove(&id);
                            holds.remove(&id.wrapping_add(100));
                        }
                    }
                }
                for e in b.envelopes() {
                    prop_assert!(e.held.0 >= 0 && e.captured.0 >= 0);
                    if e.spec.hard {
                        prop_assert!(e.captured.0 + e.held.0 <= e.spec.limit.0, "{e:?}");
                    }
                }
            }
        }
    }
}
