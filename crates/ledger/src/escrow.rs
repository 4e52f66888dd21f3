//! Escrow: budgets across replicas without a shared row lock per call.
//!
//! A replica *draws* an allowance from a shared envelope in one statement:
//! the shared row's `held` rises by the allowance, so the shared row's
//! invariant (`captured + held <= limit`) already covers everything the
//! replica may hold with it. The replica then holds and captures against
//! the allowance in memory ([`Escrow`]); a capture is recorded durably (a
//! capture row written with the usage event) and later *folded* into the
//! shared row (its cost moves from `held` to `captured`: the sum does not
//! change). What the replica does not need it *returns*. Allowances are
//! leased like holds: a replica that stops renewing loses them, and its
//! unheld allowance and uncaptured holds come back to the envelope, while
//! its recorded captures count.
//!
//! [`Shared`] is the shared side (what the PostgreSQL statements do to the
//! envelope row, the allowance rows and the capture rows), [`Escrow`] the
//! replica's side; the property test below runs both over random
//! interleavings of draws, holds, captures, returns, folds and expiries.

use jiff::Timestamp;
use std::collections::HashMap;
use std::time::Duration;
use tokenwise_core::Nanos;

/// How a store runs escrow; the policy's `[budgets]` section sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowConfig {
    /// Off: every hold takes the shared rows (the exact path, always).
    pub enabled: bool,
    /// An allowance, in basis points (1/100 %) of the envelope's limit.
    pub allowance_bp: u32,
    /// Draws stop, and allowances are returned, once the envelope's
    /// remaining (with this replica's allowance counted as spent) falls
    /// below this many allowances; holds then take the shared row.
    pub fallback_multiple: u32,
    /// How often the replica tops up, folds and returns in the background.
    pub tick: Duration,
    /// The holds' lease: allowances live as long and are renewed with them.
    pub lease: Duration,
}

impl Default for EscrowConfig {
    fn default() -> EscrowConfig {
        EscrowConfig {
            enabled: false,
            allowance_bp: 100,
            fallback_multiple: 8,
            tick: Duration::from_millis(50),
            lease: Duration::from_secs(60),
        }
    }
}

impl EscrowConfig {
    /// The allowance drawn on an envelope of `limit` (at least 1 nano).
    pub fn allowance(&self, limit: Nanos) -> Nanos {
        let a = i128::from(limit.0.max(0)) * i128::from(self.allowance_bp) / 10_000;
        Nanos(i64::try_from(a).unwrap_or(i64::MAX).max(1))
    }

    /// The remaining below which an envelope is left to the shared row.
    pub fn reserve(&self, limit: Nanos) -> Nanos {
        Nanos(self.allowance(limit).0.saturating_mul(i64::from(self.fallback_multiple)))
    }
}

/// A replica's allowance on one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    /// Which draw row this is (a new one after the row was expired).
    pub grant: i64,
    /// Counted in the shared row's `held`, not yet folded or returned.
    pub granted: Nanos,
    /// Captured against it, not yet folded.
    pub captured: Nanos,
    /// Held by this replica's calls in flight.
    pub held: Nanos,
    pub expires_at: Timestamp,
}

impl Allowance {
    /// What local holds may still take.
    pub fn free(&self) -> Nanos {
        Nanos(self.granted.0.saturating_sub(self.captured.0).saturating_sub(self.held.0))
    }
}

/// A hold placed against allowances: (key, grant, amount) per envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHold {
    pub parts: Vec<(String, i64, Nanos)>,
    pub expires_at: Timestamp,
}

/// One replica's allowances and the holds placed against them.
#[derive(Debug, Default)]
pub struct Escrow {
    allowances: HashMap<String, Allowance>,
    holds: HashMap<String, LocalHold>,
}

impl Escrow {
    pub fn allowance(&self, key: &str) -> Option<&Allowance> {
        self.allowances.get(key)
    }

    pub fn allowances(&self) -> impl Iterator<Item = (&String, &Allowance)> {
        self.allowances.iter()
    }

    pub fn hold_parts(&self, id: &str) -> Option<&LocalHold> {
        self.holds.get(id)
    }

    pub fn holds(&self) -> usize {
        self.holds.len()
    }

    /// Holds `amount` on every `(key, amount)` whose allowance has it free
    /// and lives until at least `valid_until`; returns the keys held here.
    /// The others are the caller's to hold on the shared rows (and if that
    /// is refused, to [`release`](Self::release) these). `parts` has one
    /// entry per key, none already held under `id`.
    pub fn hold(
        &mut self,
        id: &str,
        parts: &[(String, Nanos)],
        expires_at: Timestamp,
        valid_until: Timestamp,
    ) -> Vec<String> {
        let mut taken = Vec::new();
        for (key, amount) in parts {
            if let Some(a) = self.allowances.get_mut(key)
                && a.expires_at >= valid_until
                && a.free() >= *amount
                && amount.0 >= 0
            {
                a.held = a.held.saturating_add(*amount);
                taken.push((key.clone(), a.grant, *amount));
            }
        }
        let keys = taken.iter().map(|(k, _, _)| k.clone()).collect();
        if !taken.is_empty() {
            // A second call for the same hold (after a draw) adds its parts.
            let h = self.holds.entry(id.to_string()).or_insert(LocalHold { parts: Vec::new(), expires_at });
            h.parts.extend(taken);
            h.expires_at = h.expires_at.max(expires_at);
        }
        keys
    }

    /// Drops the hold `id` without a capture (refused elsewhere, or its
    /// call never reported): its amount is free again.
    pub fn release(&mut self, id: &str) -> bool {
        let Some(h) = self.holds.remove(id) else { return false };
        for (key, grant, amount) in h.parts {
            if let Some(a) = self.allowances.get_mut(&key).filter(|a| a.grant == grant) {
                a.held = a.held.saturating_sub(amount);
            }
        }
        true
    }

    /// The hold's capture was recorded: `cost` moves from held to captured
    /// on each of its allowances (the rest of the hold is free again).
    pub fn capture(&mut self, id: &str, cost: Nanos) -> bool {
        let Some(h) = self.holds.remove(id) else { return false };
        for (key, grant, amount) in h.parts {
            if let Some(a) = self.allowances.get_mut(&key).filter(|a| a.grant == grant) {
                a.held = a.held.saturating_sub(amount);
                a.captured = a.captured.saturating_add(cost);
            }
        }
        true
    }

    /// A draw of `amount` on `key` succeeded (row `grant`, leased until
    /// `expires_at`). A different grant replaces an allowance that the
    /// shared side no longer has (it expired): holds on the old one can no
    /// longer use it.
    pub fn credit(&mut self, key: &str, grant: i64, amount: Nanos, expires_at: Timestamp) {
        let a = self.allowances.entry(key.to_string()).or_insert(Allowance {
            grant,
            granted: Nanos::ZERO,
            captured: Nanos::ZERO,
            held: Nanos::ZERO,
            expires_at,
        });
        if a.grant != grant {
            *a = Allowance { grant, granted: Nanos::ZERO, captured: Nanos::ZERO, held: Nanos::ZERO, expires_at };
        }
        a.granted = a.granted.saturating_add(amount);
        a.expires_at = a.expires_at.max(expires_at);
    }

    /// `amount` was returned to the shared row.
    pub fn debit(&mut self, key: &str, grant: i64, amount: Nanos) {
        if let Some(a) = self.allowances.get_mut(key).filter(|a| a.grant == grant) {
            a.granted = a.granted.saturating_sub(amount);
        }
    }

    /// `amount` of recorded captures was folded into the shared row.
    pub fn folded(&mut self, key: &str, grant: i64, amount: Nanos) {
        if let Some(a) = self.allowances.get_mut(key).filter(|a| a.grant == grant) {
            a.granted = a.granted.saturating_sub(amount);
            a.captured = a.captured.saturating_sub(amount);
        }
    }

    /// Forgets an allowance the shared side no longer has (returned whole
    /// or expired); holds placed on it stay until they capture or expire.
    pub fn forget(&mut self, key: &str, grant: i64) {
        if self.allowances.get(key).is_some_and(|a| a.grant == grant) {
            self.allowances.remove(key);
        }
    }

    /// Extends every allowance's lease (the shared rows were renewed).
    pub fn renew(&mut self, until: Timestamp) {
        for a in self.allowances.values_mut() {
            a.expires_at = a.expires_at.max(until);
        }
    }

    /// Extends the leases of local holds `ids` (calls still in flight).
    pub fn renew_holds(&mut self, ids: &[String], until: Timestamp) {
        for id in ids {
            if let Some(h) = self.holds.get_mut(id) {
                h.expires_at = h.expires_at.max(until);
            }
        }
    }

    /// Releases local holds past their lease (their calls will never
    /// report); returns their ids.
    pub fn expire_holds(&mut self, now: Timestamp) -> Vec<String> {
        let dead: Vec<String> =
            self.holds.iter().filter(|(_, h)| h.expires_at <= now).map(|(id, _)| id.clone()).collect();
        for id in &dead {
            self.release(id);
        }
        dead
    }
}

/// A capture recorded against an allowance, not yet folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRow {
    pub owner: String,
    pub grant: i64,
    pub cost: Nanos,
}

/// The shared side of one envelope: its row, the allowance rows drawn on
/// it and the recorded captures not yet folded. Every method is what one
/// PostgreSQL statement (or short transaction) does.
#[derive(Debug, Clone, Default)]
pub struct Shared {
    pub limit: Nanos,
    pub hard: bool,
    pub captured: Nanos,
    /// Direct holds plus every allowance's granted part.
    pub held: Nanos,
    /// owner → (grant, granted)
    pub allowances: HashMap<String, (i64, Nanos)>,
    pub captures: Vec<CaptureRow>,
    next_grant: i64,
}

impl Shared {
    pub fn new(limit: Nanos, hard: bool) -> Shared {
        Shared { limit, hard, ..Shared::default() }
    }

    pub fn remaining(&self) -> Nanos {
        Nanos(self.limit.0.saturating_sub(self.captured.0).saturating_sub(self.held.0))
    }

    /// A direct hold (today's path): refused when it would overfill.
    pub fn hold(&mut self, amount: Nanos) -> bool {
        if self.hard && self.captured.0 + self.held.0 + amount.0 > self.limit.0 {
            return false;
        }
        self.held = self.held.saturating_add(amount);
        true
    }

    /// A direct hold's capture: release the hold, add the cost.
    pub fn capture(&mut self, amount: Nanos, cost: Nanos) {
        self.held = self.held.saturating_sub(amount);
        self.captured = self.captured.saturating_add(cost);
    }

    /// A direct hold's expiry.
    pub fn release(&mut self, amount: Nanos) {
        self.held = self.held.saturating_sub(amount);
    }

    /// Draws `amount` for `owner` if the remaining after it keeps at least
    /// `reserve` (a soft envelope always grants); returns the grant id.
    pub fn draw(&mut self, owner: &str, amount: Nanos, reserve: Nanos) -> Option<i64> {
        if self.hard && self.remaining().0 - amount.0 < reserve.0 {
            return None;
        }
        self.held = self.held.saturating_add(amount);
        let next = self.next_grant + 1;
        let row = self.allowances.entry(owner.to_string()).or_insert((next, Nanos::ZERO));
        if row.0 == next {
            self.next_grant = next;
        }
        row.1 = row.1.saturating_add(amount);
        Some(row.0)
    }

    /// Returns `amount` of `owner`'s allowance (never more than it has).
    pub fn give_back(&mut self, owner: &str, amount: Nanos) -> Nanos {
        let Some(row) = self.allowances.get_mut(owner) else { return Nanos::ZERO };
        let back = Nanos(amount.0.min(row.1.0).max(0));
        row.1 = row.1.saturating_sub(back);
        self.held = self.held.saturating_sub(back);
        back
    }

    /// Records a capture against `owner`'s allowance `grant` (with the
    /// usage event, in its transaction).
    pub fn record(&mut self, owner: &str, grant: i64, cost: Nanos) {
        self.captures.push(CaptureRow { owner: owner.to_string(), grant, cost });
    }

    /// Folds `owner`'s recorded captures into the row: each moves from the
    /// allowance (and so from `held`) to `captured`. A capture whose
    /// allowance is gone (expired first) is added to `captured` alone.
    /// Returns the amount folded per grant.
    pub fn fold(&mut self, owner: &str) -> Vec<(i64, Nanos)> {
        let mut out: Vec<(i64, Nanos)> = Vec::new();
        let (mine, rest): (Vec<CaptureRow>, Vec<CaptureRow>) =
            std::mem::take(&mut self.captures).into_iter().partition(|c| c.owner == owner);
        self.captures = rest;
        for c in mine {
            self.captured = self.captured.saturating_add(c.cost);
            if let Some(row) = self.allowances.get_mut(owner).filter(|r| r.0 == c.grant) {
                row.1 = row.1.saturating_sub(c.cost);
                self.held = self.held.saturating_sub(c.cost);
                match out.iter_mut().find(|(g, _)| *g == c.grant) {
                    Some((_, a)) => *a = a.saturating_add(c.cost),
                    None => out.push((c.grant, c.cost)),
                }
            }
        }
        out
    }

    /// `owner`'s lease ran out: its recorded captures count, the rest of
    /// its allowance comes back.
    pub fn expire(&mut self, owner: &str) {
        self.fold(owner);
        if let Some((_, granted)) = self.allowances.remove(owner) {
            self.held = self.held.saturating_sub(granted);
        }
    }

    /// Everything captured, folded or not: what the envelope has spent.
    pub fn spent(&self) -> Nanos {
        self.captures.iter().fold(self.captured, |s, c| s.saturating_add(c.cost))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMIT: i64 = 10_000;
    const OWNERS: [&str; 3] = ["r0", "r1", "r2"];

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Draw { r: usize, amount: i64 },
        Hold { r: usize, amount: i64 },
        Capture { r: usize, pick: usize, frac: u8 },
        Void { r: usize, pick: usize },
        Return { r: usize, frac: u8 },
        Fold { r: usize },
        Die { r: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3usize, 1i64..2_000).prop_map(|(r, amount)| Op::Draw { r, amount }),
            (0..3usize, 0i64..800).prop_map(|(r, amount)| Op::Hold { r, amount }),
            (0..3usize, 0..8usize, 0u8..=100).prop_map(|(r, pick, frac)| Op::Capture { r, pick, frac }),
            (0..3usize, 0..8usize).prop_map(|(r, pick)| Op::Void { r, pick }),
            (0..3usize, 0u8..=100).prop_map(|(r, frac)| Op::Return { r, frac }),
            (0..3usize).prop_map(|r| Op::Fold { r }),
            (0..3usize).prop_map(|r| Op::Die { r }),
        ]
    }

    /// A simulated replica: its escrow and its calls in flight, each held
    /// locally or on the shared row: (id, amount, local).
    #[derive(Default)]
    struct Replica {
        escrow: Escrow,
        calls: Vec<(String, i64, bool)>,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        /// Over any interleaving of draws, holds (local when the allowance
        /// has room, else on the shared row), captures of at most the hold,
        /// voids, returns, folds and replica deaths (lease expiry):
        /// - `captured + held <= limit` on the shared row at every step;
        /// - no money is created or lost: the shared row's `held` is
        ///   exactly the direct holds plus every live allowance (whose
        ///   recorded, unfolded captures are still in it); what was spent
        ///   (captured plus recorded captures) is exactly the costs of the
        ///   captured calls;
        /// - a replica's allowance in memory agrees with its row:
        ///   granted alike, free = granted − captured − held;
        /// - a death returns exactly the replica's unheld allowance and its
        ///   uncaptured holds, and keeps its recorded captures.
        #[test]
        fn escrow_never_overspends_and_conserves_money(ops in prop::collection::vec(op(), 1..250)) {
            let cfg = EscrowConfig { enabled: true, allowance_bp: 500, fallback_multiple: 2, ..EscrowConfig::default() };
            let mut shared = Shared::new(Nanos(LIMIT), true);
            let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::default()).collect();
            let mut spent = 0i64;
            let mut seq = 0u32;
            for o in ops {
                match o {
                    Op::Draw { r, amount } => {
                        if let Some(grant) = shared.draw(OWNERS[r], Nanos(amount), cfg.reserve(Nanos(LIMIT))) {
                            replicas[r].escrow.credit("e", grant, Nanos(amount), at(100));
                        }
                    }
                    Op::Hold { r, amount } => {
                        seq += 1;
                        let id = format!("c{seq}");
                        let local = replicas[r].escrow.hold(&id, &[("e".into(), Nanos(amount))], at(100), at(50));
                        if !local.is_empty() {
                            replicas[r].calls.push((id, amount, true));
                        } else if shared.hold(Nanos(amount)) {
                            replicas[r].calls.push((id, amount, false));
                        }
                    }
                    Op::Capture { r, pick, frac } => {
                        let rep = &mut replicas[r];
                        if !rep.calls.is_empty() {
                            let (id, amount, local) = rep.calls.remove(pick % rep.calls.len());
                            let cost = amount * i64::from(frac) / 100;
                            if local {
                                let grant = rep.escrow.hold_parts(&id).map(|h| h.parts[0].1).unwrap();
                                shared.record(OWNERS[r], grant, Nanos(cost));
                                prop_assert!(rep.escrow.capture(&id, Nanos(cost)));
                            } else {
                                shared.capture(Nanos(amount), Nanos(cost));
                            }
                            spent += cost;
                        }
                    }
                    Op::Void { r, pick } => {
                        let rep = &mut replicas[r];
                        if !rep.calls.is_empty() {
                            let (id, amount, local) = rep.calls.remove(pick % rep.calls.len());
                            if local {
                                prop_assert!(rep.escrow.release(&id));
                            } else {
                                shared.release(Nanos(amount));
                            }
                        }
                    }
                    Op::Return { r, frac } => {
                        let rep = &mut replicas[r];
                        if let Some(a) = rep.escrow.allowance("e").cloned() {
                            let want = Nanos(a.free().0.max(0) * i64::from(frac) / 100);
                            let back = shared.give_back(OWNERS[r], want);
                            prop_assert_eq!(back, want, "a replica returns only what it has");
                            rep.escrow.debit("e", a.grant, back);
                        }
                    }
                    Op::Fold { r } => {
                        for (grant, amount) in shared.fold(OWNERS[r]) {
                            replicas[r].escrow.folded("e", grant, amount);
                        }
                    }
                    Op::Die { r } => {
                        let rep = std::mem::take(&mut replicas[r]);
                        let direct: i64 = rep.calls.iter().filter(|c| !c.2).map(|c| c.1).sum();
                        let unfolded: i64 = shared.captures.iter().filter(|c| c.owner == OWNERS[r]).map(|c| c.cost.0).sum();
                        let granted = shared.allowances.get(OWNERS[r]).map_or(0, |a| a.1.0);
                        let (remaining_before, spent_before) = (shared.remaining().0, shared.spent());
                        // Its direct holds expire, and so does its allowance.
                        shared.release(Nanos(direct));
                        shared.expire(OWNERS[r]);
                        // Back: the allowance less what it captured, and the direct holds.
                        prop_assert_eq!(shared.remaining().0 - remaining_before, direct + granted - unfolded);
                        prop_assert_eq!(shared.spent(), spent_before, "recorded captures survive");
                        if let Some(a) = rep.escrow.allowance("e") {
                            // Memory agreed: its unheld allowance and its local holds came back.
                            prop_assert_eq!(granted - unfolded, a.free().0 + a.held.0);
                        }
                    }
                }
                prop_assert!(shared.captured.0 + shared.held.0 <= LIMIT, "overspent: {shared:?}");
                prop_assert!(shared.held.0 >= 0);
                prop_assert_eq!(shared.spent().0, spent, "money created or lost");
                let direct: i64 = replicas.iter().flat_map(|r| r.calls.iter()).filter(|c| !c.2).map(|c| c.1).sum();
                let parked: i64 = shared.allowances.values().map(|a| a.1.0).sum();
                prop_assert_eq!(shared.held.0, direct + parked, "held is the direct holds and the allowances");
                for (i, rep) in replicas.iter().enumerate() {
                    let row = shared.allowances.get(OWNERS[i]);
                    match rep.escrow.allowance("e") {
                        Some(a) => {
                            let (grant, granted) = row.copied().unwrap_or((0, Nanos::ZERO));
                            prop_assert_eq!(a.grant, grant);
                            prop_assert_eq!(a.granted, granted);
                            let local: i64 = rep.calls.iter().filter(|c| c.2).map(|c| c.1).sum();
                            prop_assert_eq!(a.held.0, local);
                            let unfolded: i64 = shared.captures.iter().filter(|c| c.owner == OWNERS[i]).map(|c| c.cost.0).sum();
                            prop_assert_eq!(a.captured.0, unfolded);
                            prop_assert!(a.free().0 >= 0, "held beyond the allowance: {a:?}");
                        }
                        None => prop_assert!(row.is_none_or(|r| r.1.0 == 0)),
                    }
                }
            }
        }
    }

    #[test]
    fn a_hold_falls_back_when_the_allowance_is_short_or_expiring() {
        let mut e = Escrow::default();
        e.credit("a", 1, Nanos(100), at(60));
        e.credit("b", 1, Nanos(10), at(60));
        let held = e.hold("x", &[("a".into(), Nanos(50)), ("b".into(), Nanos(50))], at(60), at(30));
        assert_eq!(held, ["a"], "b has 10 free: left to the shared row");
        assert_eq!(e.allowance("a").unwrap().free(), Nanos(50));
        assert!(e.hold("y", &[("a".into(), Nanos(1))], at(90), at(61)).is_empty(), "the allowance ends too soon");
        assert!(e.capture("x", Nanos(20)));
        let a = e.allowance("a").unwrap();
        assert_eq!((a.captured, a.held, a.free()), (Nanos(20), Nanos(0), Nanos(80)));
        e.folded("a", 1, Nanos(20));
        assert_eq!(e.allowance("a").unwrap().free(), Nanos(80), "a fold moves money, frees none");
    }

    #[test]
    fn draws_stop_above_the_reserve_and_soft_envelopes_always_draw() {
        let cfg = EscrowConfig { allowance_bp: 100, fallback_multiple: 8, ..EscrowConfig::default() };
        assert_eq!((cfg.allowance(Nanos(10_000)), cfg.reserve(Nanos(10_000))), (Nanos(100), Nanos(800)));
        let mut s = Shared::new(Nanos(1_000), true);
        assert!(s.draw("r", Nanos(100), Nanos(800)).is_some());
        assert!(s.draw("r", Nanos(150), Nanos(800)).is_none(), "750 would be left, below the reserve");
        let mut soft = Shared::new(Nanos(10), false);
        assert!(soft.draw("r", Nanos(100), Nanos(800)).is_some());
    }
}
