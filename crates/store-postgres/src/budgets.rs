//! Budgets: envelopes and holds in tables, each hold one statement that
//! locks the envelopes it draws on, so replicas never overspend together.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{envelope_from_row, get};
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_core::Nanos;
use tokenwise_ledger::budget::{EnvelopeSpec, EnvelopeState, HoldRequest, HoldResult, judge};
use tokenwise_ledger::escrow::EscrowConfig;
use tokenwise_ledger::{BudgetStore, StoreError, to_micros};

impl PgStore {
    /// Creates envelopes seen for the first time (once per scope and period).
    pub(crate) async fn create_envelopes<'a>(
        &self,
        specs: impl Iterator<Item = &'a EnvelopeSpec>,
    ) -> Result<(), StoreError> {
        let specs: Vec<&EnvelopeSpec> = specs.collect();
        let col = |f: fn(&EnvelopeSpec) -> String| specs.iter().map(|s| f(s)).collect::<Vec<String>>();
        let num = |f: fn(&EnvelopeSpec) -> i64| specs.iter().map(|s| f(s)).collect::<Vec<i64>>();
        let hards: Vec<bool> = specs.iter().map(|s| s.hard).collect();
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO budget_envelopes (key, budget_id, scope, period_start_us, period_end_us, limit_nanos, hard, alert_at)                  SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bool[],                  $8::text[]) ON CONFLICT (key) DO NOTHING",
                &[
                    &col(|s| s.key.clone()),
                    &col(|s| s.budget_id.clone()),
                    &col(|s| s.scope.clone()),
                    &num(|s| to_micros(s.period_start)),
                    &num(|s| to_micros(s.period_end)),
                    &num(|s| s.limit.0),
                    &hards,
                    &col(|s| serde_json::to_string(&s.alert_at_percent).unwrap_or_else(|_| "[]".into())),
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Holds on the shared rows (today's path, exact on its own).
    pub(crate) async fn shared_hold(&self, req: &HoldRequest, owner: &str) -> Result<HoldResult, StoreError> {
        let keys: Vec<&str> = req.parts.iter().map(|p| p.envelope.key.as_str()).collect();
        let amounts: Vec<i64> = req.parts.iter().map(|p| p.amount.0).collect();
        let limits: Vec<i64> = req.parts.iter().map(|p| p.envelope.limit.0).collect();
        let hards: Vec<bool> = req.parts.iter().map(|p| p.envelope.hard).collect();
        let expires = to_micros(req.expires_at);
        // One statement, one round trip: lock the envelopes in key order,
        // check every hard one, and only if all fit add the hold to each and
        // record it. No read-then-write race: the check and the update see
        // the same locked rows.
        let sql = "WITH req AS (SELECT r.key, SUM(r.amount)::BIGINT AS amount, MAX(r.lim) AS lim, bool_or(r.hard) AS hard \
                   FROM UNNEST($4::text[], $5::bigint[], $6::bigint[], $7::bool[]) AS r(key, amount, lim, hard) GROUP BY r.key), \
             locked AS (SELECT e.key, e.captured_nanos, e.held_nanos FROM budget_envelopes e \
                        WHERE e.key IN (SELECT key FROM req) ORDER BY e.key FOR UPDATE), \
             verdict AS (SELECT (SELECT count(*) FROM locked) = (SELECT count(*) FROM req) AS present, \
                                COALESCE(bool_and(NOT r.hard OR l.captured_nanos + l.held_nanos + r.amount <= r.lim), false) AS fits \
                         FROM req r JOIN locked l USING (key)), \
             upd AS (UPDATE budget_envelopes e SET held_nanos = e.held_nanos + r.amount, limit_nanos = r.lim, hard = r.hard, \
                     escrow_closed = e.escrow_closed AND r.lim <= e.limit_nanos \
                     FROM req r, verdict v WHERE e.key = r.key AND v.present AND v.fits RETURNING e.key), \
             hold AS (INSERT INTO budget_holds (hold_id, owner, expires_us) SELECT $1, $2, $3 FROM verdict v \
                      WHERE v.present AND v.fits RETURNING hold_id), \
             parts AS (INSERT INTO budget_hold_parts (hold_id, key, amount_nanos) SELECT $1, r.key, r.amount FROM req r, verdict v \
                       WHERE v.present AND v.fits RETURNING key) \
             SELECT v.present, v.fits, l.key, l.captured_nanos, l.held_nanos FROM verdict v LEFT JOIN locked l ON true";
        for attempt in 0..2 {
            // The connection goes back to the pool before envelopes are
            // created below (which takes one): no task ever waits for a
            // second connection while holding the first.
            let rows = {
                let client = self.client().await?;
                let stmt = client.prepare_cached(sql).await.map_err(db_err)?;
                client
                    .query(&stmt, &[&req.id, &owner, &expires, &keys, &amounts, &limits, &hards])
                    .await
                    .map_err(db_err)?
            };
            let present = rows.first().map(|r| get::<bool>(r, 0)).transpose()?.unwrap_or(false);
            let fits = rows.first().map(|r| get::<bool>(r, 1)).transpose()?.unwrap_or(false);
            let mut state = std::collections::HashMap::new();
            for r in &rows {
                if let Some(k) = get::<Option<String>>(r, 2)? {
                    state.insert(k, (get::<i64>(r, 3)?, get::<i64>(r, 4)?));
                }
            }
            if present {
                // The locked rows are as they were before this hold; the SQL
                // applied the same rule, so the verdicts agree.
                let before =
                    |key: &str| state.get(key).map_or((Nanos::ZERO, Nanos::ZERO), |&(c, h)| (Nanos(c), Nanos(h)));
                return match judge(req, before) {
                    r if r.is_held() == fits => Ok(r),
                    _ => Err(StoreError::Backend("the hold's SQL and its rule disagree".into())),
                };
            }
            if attempt == 0 {
                self.create_envelopes(req.parts.iter().map(|p| &p.envelope)).await?;
            }
        }
        Err(StoreError::Backend("budget envelopes could not be created".into()))
    }
}

#[async_trait]
impl BudgetStore for PgStore {
    async fn budget_ensure(&self, specs: &[EnvelopeSpec]) -> Result<(), StoreError> {
        if specs.is_empty() {
            return Ok(());
        }
        self.create_envelopes(specs.iter()).await
    }

    async fn budget_hold(&self, req: &HoldRequest, owner: &str) -> Result<HoldResult, StoreError> {
        match self.escrow_hold(req, owner).await {
            Some(result) => result,
            None => self.shared_hold(req, owner).await,
        }
    }

    async fn budget_renew(&self, owner: &str, ids: &[String], until: Timestamp) -> Result<(), StoreError> {
        if ids.is_empty() {
            return self.escrow_renew(owner, ids, until).await;
        }
        let client = self.client().await?;
        client
            .execute(
                "UPDATE budget_holds SET expires_us = GREATEST(expires_us, $2) WHERE owner = $1 AND hold_id = ANY($3)",
                &[&owner, &to_micros(until), &ids],
            )
            .await
            .map_err(db_err)?;
        drop(client);
        self.escrow_renew(owner, ids, until).await
    }

    async fn budget_expire(&self, now: Timestamp) -> Result<u64, StoreError> {
        let holds = self.expire_holds(now).await?;
        Ok(holds + self.escrow_expire(now).await?)
    }

    async fn budget_retire(&self, owner: &str) -> Result<(), StoreError> {
        self.escrow_retire(owner).await
    }

    async fn budget_envelopes(&self, at: Timestamp) -> Result<Vec<EnvelopeState>, StoreError> {
        // Captures recorded against allowances and not yet folded count as
        // captured (and no longer as held) at once.
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT e.key, e.budget_id, e.scope, e.period_start_us, e.period_end_us, e.limit_nanos, e.hard, e.alert_at, \
                 tw_add(e.captured_nanos, COALESCE(u.c, 0)), GREATEST(e.held_nanos - COALESCE(u.c, 0), 0), e.alerted \
                 FROM budget_envelopes e \
                 LEFT JOIN (SELECT key, tw_cap(SUM(cost_nanos)) AS c FROM budget_escrow_captures \
                 GROUP BY key) u ON u.key = e.key WHERE e.period_start_us <= $1 AND $1 < e.period_end_us ORDER BY e.key",
                &[&to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(envelope_from_row).collect()
    }

    async fn budget_claim_alerts(&self, at: Timestamp) -> Result<Vec<(EnvelopeState, u32)>, StoreError> {
        let current = self.budget_envelopes(at).await?;
        let client = self.client().await?;
        let mut out = Vec::new();
        for e in current {
            for (bit, pct) in tokenwise_ledger::budget::crossed(&e) {
                let bit_i = i32::try_from(bit).unwrap_or(i32::MAX);
                let won = client
                    .execute(
                        "UPDATE budget_envelopes SET alerted = alerted | $2 WHERE key = $1 AND (alerted & $2) = 0",
                        &[&e.spec.key, &bit_i],
                    )
                    .await
                    .map_err(db_err)?;
                if won == 1 {
                    out.push((e.clone(), pct));
                }
            }
        }
        Ok(out)
    }

    async fn budget_unlock(
        &self,
        key: &str,
        tranche: u32,
        at: Timestamp,
        facts: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "INSERT INTO budget_unlocks (key, tranche, at_us, facts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&key, &i32::try_from(tranche).unwrap_or(i32::MAX), &to_micros(at), &facts.to_string()],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn budget_unlocks(&self, keys: &[String]) -> Result<Vec<(String, u32)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT key, tranche FROM budget_unlocks WHERE key = ANY($1) ORDER BY key, tranche", &[&keys])
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| Ok((get(r, 0)?, u32::try_from(get::<i32>(r, 1)?).unwrap_or(0)))).collect()
    }

    fn budget_escrow(&self, config: &EscrowConfig) {
        self.escrow_configure(config);
    }
}

impl PgStore {
    /// Releases the holds whose lease ran out; returns how many.
    async fn expire_holds(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let dead: Vec<String> = tx
            .query("SELECT hold_id FROM budget_holds WHERE expires_us <= $1 FOR UPDATE SKIP LOCKED", &[&to_micros(now)])
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| get::<String>(r, 0))
            .collect::<Result<_, _>>()?;
        if dead.is_empty() {
            return Ok(0);
        }
        tx.query(
            "SELECT key FROM budget_envelopes WHERE key IN (SELECT key FROM budget_hold_parts WHERE hold_id = ANY($1)) \
             ORDER BY key FOR UPDATE",
            &[&dead],
        )
        .await
        .map_err(db_err)?;
        tx.execute(
            "WITH rel AS (DELETE FROM budget_hold_parts WHERE hold_id = ANY($1) RETURNING key, amount_nanos), \
             x AS (SELECT key, SUM(amount_nanos)::BIGINT AS amount FROM rel GROUP BY key) \
             UPDATE budget_envelopes e SET held_nanos = e.held_nanos - x.amount FROM x WHERE e.key = x.key",
            &[&dead],
        )
        .await
        .map_err(db_err)?;
        tx.execute("DELETE FROM budget_holds WHERE hold_id = ANY($1)", &[&dead]).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(dead.len() as u64)
    }
}
