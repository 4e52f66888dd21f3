//! Budgets: envelopes and open holds live in memory under one lock (one
//! process owns the file); captured totals, alerts and unlocks are
//! persisted.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err, lock};
use crate::rows::envelope_from_row;
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::params;
use tokenwise_core::Nanos;
use tokenwise_ledger::budget::{EnvelopeSpec, EnvelopeState, HoldRequest, HoldResult};
use tokenwise_ledger::{BudgetStore, StoreError, to_micros};

impl SqliteStore {
    /// Envelopes not yet in memory are loaded, or created, first.
    async fn load_envelopes(&self, specs: &[EnvelopeSpec]) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        let missing: Vec<EnvelopeSpec> = {
            let book = lock(&inner.book);
            specs.iter().filter(|e| !book.contains(&e.key)).cloned().collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let loaded = self
            .write(move |c| {
                let mut out = Vec::new();
                for spec in &missing {
                    c.execute(
                        "INSERT OR IGNORE INTO budget_envelopes (key, budget_id, scope, period_start_us, period_end_us, \
                         limit_nanos, hard, alert_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            spec.key,
                            spec.budget_id,
                            spec.scope,
                            to_micros(spec.period_start),
                            to_micros(spec.period_end),
                            spec.limit.0,
                            spec.hard,
                            serde_json::to_string(&spec.alert_at_percent).unwrap_or_else(|_| "[]".into())
                        ],
                    )
                    .map_err(db_err)?;
                    let (captured, alerted): (i64, i64) = c
                        .query_row("SELECT captured_nanos, alerted FROM budget_envelopes WHERE key = ?1", [&spec.key], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .map_err(db_err)?;
                    out.push((spec.clone(), captured, alerted));
                }
                Ok(out)
            })
            .await?;
        let mut book = lock(&inner.book);
        for (spec, captured, alerted) in loaded {
            book.ensure(&spec, Nanos(captured), u32::try_from(alerted).unwrap_or(0));
        }
        Ok(())
    }
}

#[async_trait]
impl BudgetStore for SqliteStore {
    async fn budget_hold(&self, req: &HoldRequest, owner: &str) -> Result<HoldResult, StoreError> {
        let specs: Vec<EnvelopeSpec> = req.parts.iter().map(|p| p.envelope.clone()).collect();
        self.load_envelopes(&specs).await?;
        let mut book = lock(&self.inner.book);
        Ok(book.hold(req, owner))
    }

    async fn budget_ensure(&self, specs: &[EnvelopeSpec]) -> Result<(), StoreError> {
        self.load_envelopes(specs).await
    }

    async fn budget_renew(&self, owner: &str, ids: &[String], until: Timestamp) -> Result<(), StoreError> {
        lock(&self.inner.book).renew(owner, ids, until);
        Ok(())
    }

    async fn budget_expire(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(lock(&self.inner.book).expire(now).len() as u64)
    }

    async fn budget_envelopes(&self, at: Timestamp) -> Result<Vec<EnvelopeState>, StoreError> {
        let at_us = to_micros(at);
        let mut rows = self
            .read(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT key, budget_id, scope, period_start_us, period_end_us, limit_nanos, hard, alert_at, \
                         captured_nanos, alerted FROM budget_envelopes WHERE period_start_us <= ?1 AND ?1 < period_end_us \
                         ORDER BY key",
                    )
                    .map_err(db_err)?;
                let rows = stmt.query_map([at_us], envelope_from_row).map_err(db_err)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
            })
            .await?;
        // What is held, and captured but not yet persisted, lives in memory.
        let book = lock(&self.inner.book);
        for r in &mut rows {
            if let Some(live) = book.envelope(&r.spec.key) {
                r.held = live.held;
                r.captured = r.captured.max(live.captured);
                r.spec.limit = live.spec.limit;
            }
        }
        Ok(rows)
    }

    async fn budget_claim_alerts(&self, at: Timestamp) -> Result<Vec<(EnvelopeState, u32)>, StoreError> {
        let current = self.budget_envelopes(at).await?;
        let due: Vec<(EnvelopeState, u32, u32)> = current
            .into_iter()
            .flat_map(|e| {
                tokenwise_ledger::budget::crossed(&e).into_iter().map(move |(bit, pct)| (e.clone(), bit, pct))
            })
            .collect();
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let claims: Vec<(String, u32)> = due.iter().map(|(e, bit, _)| (e.spec.key.clone(), *bit)).collect();
        let won = self
            .write(move |c| {
                let mut won = Vec::new();
                for (key, bit) in &claims {
                    let n = c
                        .execute(
                            "UPDATE budget_envelopes SET alerted = alerted | ?2 WHERE key = ?1 AND (alerted & ?2) = 0",
                            params![key, bit],
                        )
                        .map_err(db_err)?;
                    won.push(n == 1);
                }
                Ok(won)
            })
            .await?;
        let mut book = lock(&self.inner.book);
        Ok(due
            .into_iter()
            .zip(won)
            .filter(|(_, w)| *w)
            .map(|((e, bit, pct), _)| {
                book.mark_alerted(&e.spec.key, bit);
                (e, pct)
            })
            .collect())
    }

    async fn budget_unlock(
        &self,
        key: &str,
        tranche: u32,
        at: Timestamp,
        facts: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let (key, facts) = (key.to_string(), facts.to_string());
        self.write(move |c| {
            let n = c
                .execute(
                    "INSERT OR IGNORE INTO budget_unlocks (key, tranche, at_us, facts) VALUES (?1, ?2, ?3, ?4)",
                    params![key, tranche, to_micros(at), facts],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn budget_unlocks(&self, keys: &[String]) -> Result<Vec<(String, u32)>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached("SELECT tranche FROM budget_unlocks WHERE key = ?1 ORDER BY tranche")
                .map_err(db_err)?;
            let mut out = Vec::new();
            for k in &keys {
                let rows = stmt.query_map([k], |r| r.get::<_, u32>(0)).map_err(db_err)?;
                for t in rows {
                    out.push((k.clone(), t.map_err(corrupt)?));
                }
            }
            Ok(out)
        })
        .await
    }
}
