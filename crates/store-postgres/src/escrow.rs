//! Escrow on PostgreSQL (see `tokenwise_ledger::escrow` and
//! docs/architecture.md): each replica draws allowances from the shared
//! envelope rows, holds against them in memory, records its captures as
//! insert-only rows with their usage events, and in the background folds
//! those captures into the shared rows, tops allowances up and returns
//! what it does not need. An envelope nearly spent (or closed by a refusal
//! that other replicas' allowances could have prevented) is left to the
//! shared rows: today's exact path.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::get;
use deadpool_postgres::Transaction;
use jiff::{SignedDuration, Timestamp};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use tokenwise_core::{EnvelopeSpec, Nanos};
use tokenwise_ledger::budget::{HoldPart, HoldRequest, HoldResult};
use tokenwise_ledger::escrow::{Escrow, EscrowConfig};
use tokenwise_ledger::{StoreError, UsageEvent, to_micros};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

/// Envelope rows as locked: key → (limit, captured, held, hard, closed).
type SharedRows = HashMap<String, (i64, i64, i64, bool, bool)>;

/// Ticks an envelope may go unused before its allowance is returned.
const IDLE_TICKS: u64 = 20;
/// Ticks a refused draw keeps an envelope on the shared row before the
/// next draw is tried.
const FALLBACK_TICKS: u64 = 40;
/// Ticks a refused hold waits, at most, for other replicas to return
/// allowances that would make it fit.
const REFUSAL_WAIT_TICKS: u32 = 6;

/// What this replica knows of an envelope it escrows on.
#[derive(Debug, Clone)]
struct KeyState {
    spec: EnvelopeSpec,
    /// The shared row's remaining (limit − captured − held) as last seen.
    remaining: Nanos,
    last_used: u64,
    /// Until this tick, holds take the shared row (a draw was refused).
    fallback_until: u64,
    /// A hold is waiting for a draw.
    wanted: bool,
}

#[derive(Debug, Default)]
struct Inner {
    config: Option<EscrowConfig>,
    owner: Option<String>,
    book: Escrow,
    keys: HashMap<String, KeyState>,
    /// The latest lease end seen (a hold's or a renewal's): draws are
    /// leased until then.
    lease_until: Option<Timestamp>,
    tick: u64,
    ticker: bool,
    /// The replica has stopped: every exchange returns what is free and
    /// draws nothing, and holds take the shared rows.
    retiring: bool,
}

/// The store's escrow: off until [`PgStore::escrow_configure`].
#[derive(Debug, Default)]
pub(crate) struct EscrowState {
    inner: Mutex<Inner>,
    /// Serialises this replica's exchanges with the shared rows (ticks and
    /// draws a hold waits for): they lock envelope rows, then allowance rows.
    exchange: tokio::sync::Mutex<()>,
}

impl EscrowState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A capture row to write with its event: (owner, key, grant, event, cost).
#[derive(Debug, Default)]
pub(crate) struct CaptureRows {
    pub owner: Vec<String>,
    pub key: Vec<String>,
    pub grant: Vec<i64>,
    pub event: Vec<String>,
    pub cost: Vec<i64>,
}

fn half(d: std::time::Duration) -> SignedDuration {
    SignedDuration::try_from(d / 2).unwrap_or(SignedDuration::from_secs(30))
}

fn lease(d: std::time::Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::from_secs(60))
}

impl PgStore {
    /// Turns escrow on (or off) and starts the background exchange.
    pub(crate) fn escrow_configure(&self, config: &EscrowConfig) {
        let start = {
            let mut inner = self.escrow.lock();
            // Escrow needs its background exchange: without a runtime to
            // run it on, every hold takes the shared rows.
            let runtime = tokio::runtime::Handle::try_current().is_ok();
            inner.config = (config.enabled && runtime).then(|| config.clone());
            let start = config.enabled && runtime && !inner.ticker;
            inner.ticker |= start;
            start
        };
        if start {
            let weak = Arc::downgrade(&self.escrow);
            let store = self.clone();
            let every = config.tick.max(std::time::Duration::from_millis(1));
            // The task keeps a pool handle, not the escrow: it ends once
            // the store's escrow is dropped.
            let store = PgStore { escrow: Arc::new(EscrowState::default()), ..store };
            tokio::spawn(ticker(weak, store, every));
        }
    }

    fn escrow_config(&self) -> Option<EscrowConfig> {
        let inner = self.escrow.lock();
        inner.config.clone().filter(|_| !inner.retiring)
    }

    /// Retires this replica's escrow (see
    /// [`BudgetStore::budget_retire`](tokenwise_ledger::BudgetStore::budget_retire)):
    /// one last exchange folds its recorded captures and returns every
    /// allowance's free part; nothing is drawn again.
    pub(crate) async fn escrow_retire(&self, owner: &str) -> Result<(), StoreError> {
        let config = {
            let mut inner = self.escrow.lock();
            if inner.owner.as_deref() != Some(owner) {
                return Ok(());
            }
            inner.retiring = true;
            inner.config.clone()
        };
        let Some(config) = config else { return Ok(()) };
        let _one = self.escrow.exchange.lock().await;
        self.exchange(owner, &config).await
    }

    /// Places `req` against this replica's allowances where they have room,
    /// drawing first where an envelope has none yet; the rest on the
    /// shared rows. None when escrow is off or `owner` is not this
    /// store's replica (the caller takes the shared path).
    pub(crate) async fn escrow_hold(&self, req: &HoldRequest, owner: &str) -> Option<Result<HoldResult, StoreError>> {
        let config = self.escrow_config()?;
        {
            let mut inner = self.escrow.lock();
            match &inner.owner {
                Some(o) if o != owner => return None,
                Some(_) => {}
                None => inner.owner = Some(owner.to_string()),
            }
        }
        Some(self.escrow_place(req, owner, &config).await)
    }

    async fn escrow_place(
        &self,
        req: &HoldRequest,
        owner: &str,
        config: &EscrowConfig,
    ) -> Result<HoldResult, StoreError> {
        let now = req.expires_at - lease(config.lease);
        let valid_until = now + half(config.lease);
        // One part per envelope (the parts on one envelope count together).
        let mut parts: Vec<(EnvelopeSpec, Nanos)> = Vec::new();
        for p in &req.parts {
            match parts.iter_mut().find(|(s, _)| s.key == p.envelope.key) {
                Some((_, a)) => *a = a.saturating_add(p.amount),
                None => parts.push((p.envelope.clone(), p.amount)),
            }
        }
        let mut local = self.try_local(req, &parts, config, valid_until);
        let cold: Vec<EnvelopeSpec> = {
            let inner = self.escrow.lock();
            parts
                .iter()
                .filter(|(s, a)| !local.contains(&s.key) && eligible(&inner, config, s, *a))
                .map(|(s, _)| s.clone())
                .collect()
        };
        if !cold.is_empty() {
            // Draw for envelopes with too little (or no) allowance, then
            // try again: one exchange at a time per replica, so concurrent
            // holds wait for the same draw rather than each making one.
            {
                let _one = self.escrow.exchange.lock().await;
                let still: Vec<EnvelopeSpec> = {
                    let mut inner = self.escrow.lock();
                    let tick = inner.tick;
                    let mut out = Vec::new();
                    for s in &cold {
                        let need = parts.iter().find(|(p, _)| p.key == s.key).map_or(Nanos::ZERO, |p| p.1);
                        let free = inner.book.allowance(&s.key).map_or(Nanos::ZERO, |a| a.free());
                        if free < need {
                            let k = inner.keys.entry(s.key.clone()).or_insert_with(|| fresh(s, tick));
                            k.wanted = true;
                            out.push(s.clone());
                        }
                    }
                    out
                };
                if !still.is_empty() {
                    self.create_envelopes(still.iter()).await?;
                    if let Err(e) = self.exchange(owner, config).await {
                        tracing::warn!(error = %e, "escrow: cannot draw an allowance");
                    }
                }
            }
            let rest: Vec<(EnvelopeSpec, Nanos)> =
                parts.iter().filter(|(s, _)| !local.contains(&s.key)).cloned().collect();
            local.extend(self.try_local(req, &rest, config, valid_until));
        }
        let shared: Vec<HoldPart> = req.parts.iter().filter(|p| !local.contains(&p.envelope.key)).cloned().collect();
        let local_room = self.local_room(&local);
        if shared.is_empty() {
            return Ok(HoldResult::Held { room: local_room });
        }
        let sub = HoldRequest { id: req.id.clone(), parts: shared, expires_at: req.expires_at };
        let mut waited = 0;
        loop {
            match self.shared_hold(&sub, owner).await {
                Ok(HoldResult::Held { room }) => {
                    let room = match (room, local_room) {
                        (Some(a), Some(b)) => Some(if a.1 <= b.1 { a } else { b }),
                        (a, b) => a.or(b),
                    };
                    return Ok(HoldResult::Held { room });
                }
                Ok(HoldResult::Refused(r)) => {
                    // Other replicas' allowances may hold what this call
                    // needs: close the envelope to escrow (they return what
                    // they do not hold, within a tick) and try again.
                    if waited < REFUSAL_WAIT_TICKS && self.close_if_parked(&r.key, owner, r.requested).await? {
                        waited += 1;
                        tokio::time::sleep(config.tick).await;
                        continue;
                    }
                    self.escrow.lock().book.release(&req.id);
                    return Ok(HoldResult::Refused(r));
                }
                Err(e) => {
                    self.escrow.lock().book.release(&req.id);
                    return Err(e);
                }
            }
        }
    }

    /// Holds locally what the allowances have room for; returns the keys.
    fn try_local(
        &self,
        req: &HoldRequest,
        parts: &[(EnvelopeSpec, Nanos)],
        config: &EscrowConfig,
        valid_until: Timestamp,
    ) -> Vec<String> {
        let mut inner = self.escrow.lock();
        let until = inner.lease_until.map_or(req.expires_at, |u| u.max(req.expires_at));
        inner.lease_until = Some(until);
        let tick = inner.tick;
        let ok: Vec<(String, Nanos)> =
            parts.iter().filter(|(s, a)| eligible(&inner, config, s, *a)).map(|(s, a)| (s.key.clone(), *a)).collect();
        for (s, _) in parts {
            if let Some(k) = inner.keys.get_mut(&s.key) {
                k.spec = s.clone();
                k.last_used = tick;
            }
        }
        inner.book.hold(&req.id, &ok, req.expires_at, valid_until)
    }

    /// The tightest hard envelope held locally and its room: the shared
    /// row's remaining as last seen plus this replica's free allowance.
    fn local_room(&self, keys: &[String]) -> Option<(String, Nanos)> {
        let inner = self.escrow.lock();
        keys.iter()
            .filter_map(|k| {
                let s = inner.keys.get(k).filter(|s| s.spec.hard)?;
                let free = inner.book.allowance(k).map_or(Nanos::ZERO, |a| a.free());
                Some((k.clone(), s.remaining.saturating_add(free)))
            })
            .min_by_key(|(_, r)| *r)
    }

    /// After a refusal on `key`: if other replicas' allowances (less their
    /// recorded captures) could cover what is missing, marks the envelope
    /// closed to escrow and says so.
    async fn close_if_parked(&self, key: &str, owner: &str, requested: Nanos) -> Result<bool, StoreError> {
        let mine = self.escrow.lock().book.allowance(key).map_or(Nanos::ZERO, |a| a.free());
        let client = self.client().await?;
        let row = client
            .query_one(
                "WITH p AS (SELECT COALESCE(SUM(granted_nanos), 0)::BIGINT AS g FROM budget_allowances \
                 WHERE key = $1 AND owner <> $2), \
                 c AS (SELECT COALESCE(SUM(cost_nanos), 0)::BIGINT AS c FROM budget_escrow_captures \
                 WHERE key = $1 AND owner <> $2), \
                 e AS (SELECT limit_nanos - captured_nanos - held_nanos AS rem FROM budget_envelopes WHERE key = $1), \
                 parked AS (SELECT GREATEST(p.g - c.c, 0) + $3 AS parked, COALESCE((SELECT rem FROM e), 0) AS rem FROM p, c), \
                 upd AS (UPDATE budget_envelopes SET escrow_closed = true FROM parked \
                         WHERE key = $1 AND parked.parked > 0 AND parked.rem + parked.parked >= $4 RETURNING key) \
                 SELECT (SELECT count(*) FROM upd) > 0",
                &[&key, &owner, &mine.0, &requested.0],
            )
            .await
            .map_err(db_err)?;
        get::<bool>(&row, 0)
    }

    /// The capture rows for the events among `events` held locally.
    pub(crate) fn escrow_rows(&self, events: &[UsageEvent]) -> (CaptureRows, HashMap<String, HashSet<String>>) {
        let mut rows = CaptureRows::default();
        let mut local: HashMap<String, HashSet<String>> = HashMap::new();
        let inner = self.escrow.lock();
        let Some(owner) = inner.owner.clone() else { return (rows, local) };
        for e in events.iter().filter(|e| !e.budget_keys.is_empty()) {
            let Some(h) = inner.book.hold_parts(&e.id) else { continue };
            for (key, grant, _) in h.parts.iter().filter(|(k, _, _)| e.budget_keys.contains(k)) {
                rows.owner.push(owner.clone());
                rows.key.push(key.clone());
                rows.grant.push(*grant);
                rows.event.push(e.id.clone());
                rows.cost.push(e.cost.0);
                local.entry(e.id.clone()).or_default().insert(key.clone());
            }
        }
        (rows, local)
    }

    /// The events' capture rows are committed: their costs move from held
    /// to captured in memory (an event stored before only releases).
    pub(crate) fn escrow_captured(&self, events: &[UsageEvent], new: &HashSet<String>) {
        let mut inner = self.escrow.lock();
        for e in events.iter().filter(|e| !e.budget_keys.is_empty()) {
            if new.contains(&e.id) {
                inner.book.capture(&e.id, e.cost);
            } else {
                inner.book.release(&e.id);
            }
        }
    }

    /// Renews the allowances' lease and the local holds `ids`.
    pub(crate) async fn escrow_renew(&self, owner: &str, ids: &[String], until: Timestamp) -> Result<(), StoreError> {
        {
            let mut inner = self.escrow.lock();
            if inner.owner.as_deref() != Some(owner) {
                return Ok(());
            }
            inner.book.renew_holds(ids, until);
            inner.lease_until = Some(inner.lease_until.map_or(until, |u| u.max(until)));
        }
        let client = self.client().await?;
        client
            .execute(
                "UPDATE budget_allowances SET expires_us = GREATEST(expires_us, $2) WHERE owner = $1",
                &[&owner, &to_micros(until)],
            )
            .await
            .map_err(db_err)?;
        self.escrow.lock().book.renew(until);
        Ok(())
    }

    /// Releases this replica's local holds past their lease (calls that
    /// will never report), and expires every replica's allowances whose
    /// lease ran out: their recorded captures count, the rest comes back.
    /// Returns the local holds released plus the replicas expired.
    pub(crate) async fn escrow_expire(&self, now: Timestamp) -> Result<u64, StoreError> {
        let local = self.escrow.lock().book.expire_holds(now).len() as u64;
        let mut client = self.client().await?;
        let keys: Vec<String> = client
            .query("SELECT DISTINCT key FROM budget_allowances WHERE expires_us <= $1", &[&to_micros(now)])
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| get::<String>(r, 0))
            .collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Ok(local);
        }
        let tx = client.transaction().await.map_err(db_err)?;
        tx.query("SELECT key FROM budget_envelopes WHERE key = ANY($1) ORDER BY key FOR UPDATE", &[&keys])
            .await
            .map_err(db_err)?;
        let gone: Vec<(String, String)> = tx
            .query(
                "WITH x AS (SELECT owner, key, granted_nanos FROM budget_allowances WHERE expires_us <= $1 \
                 AND key = ANY($2) FOR UPDATE SKIP LOCKED), \
                 del AS (DELETE FROM budget_allowances a USING x WHERE a.owner = x.owner AND a.key = x.key \
                         RETURNING a.owner, a.key, a.granted_nanos), \
                 caps AS (DELETE FROM budget_escrow_captures c USING x WHERE c.owner = x.owner AND c.key = x.key \
                          RETURNING c.key, c.cost_nanos), \
                 t AS (SELECT key, SUM(g)::BIGINT AS g, tw_cap(SUM(c)) AS c FROM \
                       (SELECT key, granted_nanos AS g, 0::BIGINT AS c FROM del \
                        UNION ALL SELECT key, 0::BIGINT, cost_nanos FROM caps) u GROUP BY key), \
                 upd AS (UPDATE budget_envelopes e SET held_nanos = e.held_nanos - t.g, \
                         captured_nanos = tw_add(e.captured_nanos, t.c) FROM t WHERE e.key = t.key RETURNING e.key) \
                 SELECT owner, key FROM del",
                &[&to_micros(now), &keys],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| Ok((get::<String>(r, 0)?, get::<String>(r, 1)?)))
            .collect::<Result<_, StoreError>>()?;
        tx.commit().await.map_err(db_err)?;
        let mut inner = self.escrow.lock();
        let me = inner.owner.clone();
        for (owner, key) in &gone {
            // This replica's own allowance ran out (it could not renew):
            // forget it; holds on it stay until captured or expired.
            if me.as_ref() == Some(owner) {
                let grant = inner.book.allowance(key).map(|a| a.grant);
                if let Some(g) = grant {
                    inner.book.forget(key, g);
                }
            }
        }
        let owners: HashSet<&String> = gone.iter().map(|(o, _)| o).collect();
        Ok(local + owners.len() as u64)
    }

    /// One exchange with the shared rows, for every envelope this replica
    /// escrows on: fold recorded captures, return what is not needed (the
    /// envelope nearly spent or closed, or unused lately), top up the rest.
    pub(crate) async fn exchange(&self, owner: &str, config: &EscrowConfig) -> Result<(), StoreError> {
        let specs: Vec<EnvelopeSpec> = {
            let inner = self.escrow.lock();
            let mut keys: Vec<EnvelopeSpec> = inner.keys.values().map(|k| k.spec.clone()).collect();
            keys.sort_by(|a, b| a.key.cmp(&b.key));
            keys
        };
        if specs.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = specs.iter().map(|s| s.key.clone()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let (shared, folds) = self.lock_and_fold(&tx, owner, &specs, &keys).await?;
        let (dk, dd) = self.decide(&specs, &shared, &folds, config);
        let until = self.escrow.lock().lease_until.map_or(0, to_micros);
        let mut credits: Vec<(String, i64, i64)> = Vec::new();
        if !dk.is_empty() {
            execute(
                &tx,
                "WITH r AS (SELECT * FROM UNNEST($1::text[], $2::bigint[]) AS r(key, delta)) \
                 UPDATE budget_envelopes e SET held_nanos = e.held_nanos + r.delta FROM r WHERE e.key = r.key",
                &[&dk, &dd],
            )
            .await?;
            execute(
                &tx,
                "UPDATE budget_allowances a SET granted_nanos = a.granted_nanos + r.delta \
                 FROM UNNEST($2::text[], $3::bigint[]) AS r(key, delta) \
                 WHERE a.owner = $1 AND a.key = r.key AND r.delta < 0",
                &[&owner, &dk, &dd],
            )
            .await?;
            let drawn = query(
                &tx,
                "INSERT INTO budget_allowances AS a (owner, key, grant_id, granted_nanos, expires_us) \
                 SELECT $1, r.key, nextval('budget_allowance_grants'), r.delta, $4 \
                 FROM UNNEST($2::text[], $3::bigint[]) AS r(key, delta) WHERE r.delta > 0 \
                 ON CONFLICT (owner, key) DO UPDATE SET granted_nanos = a.granted_nanos + EXCLUDED.granted_nanos, \
                 expires_us = GREATEST(a.expires_us, EXCLUDED.expires_us) \
                 RETURNING key, grant_id, expires_us",
                &[&owner, &dk, &dd, &until],
            )
            .await?;
            for r in &drawn {
                let key: String = get(r, 0)?;
                credits.push((key, get(r, 1)?, get::<i64>(r, 2)?.max(until)));
            }
        }
        let gone = query(
            &tx,
            "DELETE FROM budget_allowances WHERE owner = $1 AND key = ANY($2) AND granted_nanos = 0 \
             RETURNING key, grant_id",
            &[&owner, &keys],
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        let mut inner = self.escrow.lock();
        for (key, grant, expires) in credits {
            let amount = dk.iter().zip(&dd).find(|(k, _)| **k == key).map_or(0, |(_, d)| *d);
            inner.book.credit(&key, grant, Nanos(amount), tokenwise_ledger::from_micros(expires));
        }
        for r in &gone {
            let (key, grant): (String, i64) = (get(r, 0)?, get(r, 1)?);
            inner.book.forget(&key, grant);
        }
        // Envelopes with no allowance left and unused lately are forgotten.
        let tick = inner.tick;
        let stale: Vec<String> = inner
            .keys
            .iter()
            .filter(|(k, s)| inner.book.allowance(k).is_none() && tick.saturating_sub(s.last_used) > IDLE_TICKS)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            inner.keys.remove(&k);
        }
        Ok(())
    }

    /// Locks the envelope rows (key order), sets the policy's limits on
    /// them, and folds this replica's recorded captures: (the rows as
    /// locked, after the fold; the folds that matched an allowance).
    async fn lock_and_fold(
        &self,
        tx: &Transaction<'_>,
        owner: &str,
        specs: &[EnvelopeSpec],
        keys: &[String],
    ) -> Result<(SharedRows, Vec<(String, i64, i64)>), StoreError> {
        let rows = query(
            tx,
            "SELECT key, limit_nanos, captured_nanos, held_nanos, hard, escrow_closed FROM budget_envelopes \
             WHERE key = ANY($1) ORDER BY key FOR UPDATE",
            &[&keys],
        )
        .await?;
        // key → (limit, captured, held, hard, closed), as locked.
        let mut shared: HashMap<String, (i64, i64, i64, bool, bool)> = HashMap::new();
        for r in &rows {
            shared.insert(get(r, 0)?, (get(r, 1)?, get(r, 2)?, get(r, 3)?, get(r, 4)?, get(r, 5)?));
        }
        // The policy's limit (with unlocks) is the envelope's, as a hold
        // would set it.
        let (mut lk, mut ll, mut lh) = (Vec::new(), Vec::new(), Vec::new());
        for s in specs {
            if let Some(row) = shared.get_mut(&s.key)
                && (row.0 != s.limit.0 || row.3 != s.hard)
            {
                row.0 = s.limit.0;
                row.3 = s.hard;
                lk.push(s.key.clone());
                ll.push(s.limit.0);
                lh.push(s.hard);
            }
        }
        if !lk.is_empty() {
            execute(
                tx,
                "UPDATE budget_envelopes e SET limit_nanos = r.lim, hard = r.hard, \
                 escrow_closed = e.escrow_closed AND r.lim <= e.limit_nanos \
                 FROM UNNEST($1::text[], $2::bigint[], $3::bool[]) AS r(key, lim, hard) WHERE e.key = r.key",
                &[&lk, &ll, &lh],
            )
            .await?;
        }
        // Fold: recorded captures move from the allowance (in held) to
        // captured; a capture whose allowance is gone joins captured alone.
        // Read by a plain index scan: the rows folded before are dead until
        // a vacuum, and a bitmap scan visits every one of them again on
        // each tick (15-20 ms after 15 s at 1,000 calls/s, growing), where
        // an index scan marks them dead in the index once and skips them.
        tx.batch_execute("SET LOCAL enable_bitmapscan = off").await.map_err(db_err)?;
        let folded = query(tx, "WITH d AS (DELETE FROM budget_escrow_captures WHERE owner = $1 AND key = ANY($2) \
                            RETURNING key, grant_id, cost_nanos), \
                 s AS (SELECT d.key, d.grant_id, tw_cap(SUM(d.cost_nanos)) AS cost, \
                       bool_or(a.owner IS NOT NULL) AS matched FROM d LEFT JOIN budget_allowances a \
                       ON a.owner = $1 AND a.key = d.key AND a.grant_id = d.grant_id GROUP BY d.key, d.grant_id), \
                 a AS (UPDATE budget_allowances x SET granted_nanos = x.granted_nanos - s.cost FROM s \
                       WHERE s.matched AND x.owner = $1 AND x.key = s.key AND x.grant_id = s.grant_id RETURNING x.key), \
                 e AS (UPDATE budget_envelopes e SET captured_nanos = tw_add(e.captured_nanos, t.cost), \
                       held_nanos = e.held_nanos - t.matched_cost FROM \
                       (SELECT key, tw_cap(SUM(cost)) AS cost, \
                        SUM(CASE WHEN matched THEN cost ELSE 0 END)::BIGINT AS matched_cost FROM s GROUP BY key) t \
                       WHERE e.key = t.key RETURNING e.key) \
                 SELECT key, grant_id, cost, matched FROM s", &[&owner, &keys]).await?;
        let mut folds: Vec<(String, i64, i64)> = Vec::new();
        for r in &folded {
            let (key, grant, cost, matched): (String, i64, i64, bool) =
                (get(r, 0)?, get(r, 1)?, get(r, 2)?, get(r, 3)?);
            if let Some(row) = shared.get_mut(&key) {
                row.1 = row.1.saturating_add(cost);
                if matched {
                    row.2 = row.2.saturating_sub(cost);
                }
            }
            if matched {
                folds.push((key, grant, cost));
            }
        }
        Ok((shared, folds))
    }

    /// Decides returns and draws (key, delta: + drawn, − returned) from
    /// the locked rows and what memory has free; returns leave memory here.
    fn decide(
        &self,
        specs: &[EnvelopeSpec],
        shared: &SharedRows,
        folds: &[(String, i64, i64)],
        config: &EscrowConfig,
    ) -> (Vec<String>, Vec<i64>) {
        // Decide returns and draws against what memory has free; a return
        // leaves memory before the statement (never spent twice), a draw
        // joins it after the commit (never spent before it exists).
        let (mut dk, mut dd) = (Vec::new(), Vec::new());
        let mut returns: Vec<(String, i64, Nanos)> = Vec::new();
        {
            let mut inner = self.escrow.lock();
            let (tick, retiring) = (inner.tick, inner.retiring);
            for (key, grant, cost) in folds {
                inner.book.folded(key, *grant, Nanos(*cost));
            }
            for s in specs {
                let Some(&(limit, captured, held, hard, closed)) = shared.get(&s.key) else { continue };
                let remaining = Nanos(limit.saturating_sub(captured).saturating_sub(held));
                let allowance = config.allowance(Nanos(limit));
                let reserve = config.reserve(Nanos(limit));
                let (free, grant) =
                    inner.book.allowance(&s.key).map_or((Nanos::ZERO, 0), |a| (a.free().max(Nanos::ZERO), a.grant));
                let Some(k) = inner.keys.get(&s.key).cloned() else { continue };
                let spent = hard && (closed || remaining < reserve);
                let idle = tick.saturating_sub(k.last_used) > IDLE_TICKS && !k.wanted;
                let mut delta = 0i64;
                if spent || idle || retiring {
                    if free > Nanos::ZERO {
                        delta = -free.0;
                        returns.push((s.key.clone(), grant, free));
                    }
                } else if k.wanted || free.0 < allowance.0 / 2 {
                    let want = allowance.0.saturating_sub(free.0).max(0);
                    if want > 0 && (!hard || remaining.0.saturating_sub(want) >= reserve.0) {
                        delta = want;
                    }
                }
                let falls_back = spent || (k.wanted && delta <= 0 && free.0 < allowance.0 / 2);
                if let Some(st) = inner.keys.get_mut(&s.key) {
                    st.remaining = Nanos(remaining.0.saturating_sub(delta));
                    st.wanted = false;
                    if falls_back {
                        st.fallback_until = tick + FALLBACK_TICKS;
                    }
                }
                if delta != 0 {
                    dk.push(s.key.clone());
                    dd.push(delta);
                }
            }
            for (key, grant, amount) in &returns {
                inner.book.debit(key, *grant, *amount);
            }
        }
        (dk, dd)
    }
}

/// An envelope a hold of `amount` may take locally: escrow applies (the
/// amount fits in an allowance) and no recent draw was refused.
fn eligible(inner: &Inner, config: &EscrowConfig, spec: &EnvelopeSpec, amount: Nanos) -> bool {
    amount <= config.allowance(spec.limit) && inner.keys.get(&spec.key).is_none_or(|k| k.fallback_until <= inner.tick)
}

fn fresh(spec: &EnvelopeSpec, tick: u64) -> KeyState {
    KeyState { spec: spec.clone(), remaining: Nanos::ZERO, last_used: tick, fallback_until: 0, wanted: false }
}

/// Every `every`: one exchange, until the store's escrow is dropped.
async fn ticker(escrow: Weak<EscrowState>, store: PgStore, every: std::time::Duration) {
    let mut timer = tokio::time::interval(every);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        timer.tick().await;
        let Some(escrow) = escrow.upgrade() else { return };
        let (owner, config) = {
            let mut inner = escrow.lock();
            inner.tick += 1;
            (inner.owner.clone(), inner.config.clone())
        };
        let (Some(owner), Some(config)) = (owner, config) else { continue };
        let store = PgStore { escrow: escrow.clone(), ..store.clone() };
        let _one = escrow.exchange.lock().await;
        if let Err(e) = store.exchange(&owner, &config).await {
            tracing::warn!(error = %e, "escrow: exchange with the shared envelopes failed");
        }
    }
}

/// `sql` on `tx`, prepared once per connection: the exchange runs the same
/// few statements every tick, and an unprepared one costs the server a
/// parse and a plan and the replica one round trip more each time.
async fn query(tx: &Transaction<'_>, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
    let stmt = tx.prepare_cached(sql).await.map_err(db_err)?;
    tx.query(&stmt, params).await.map_err(db_err)
}

/// [`query`] for a statement that returns no rows: how many it changed.
async fn execute(tx: &Transaction<'_>, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
    let stmt = tx.prepare_cached(sql).await.map_err(db_err)?;
    tx.execute(&stmt, params).await.map_err(db_err)
}
