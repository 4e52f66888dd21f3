//! What the anomaly detectors read — the model, prompt and sketch rollups
//! (written with the events, see `events`), the events a finding cites —
//! and the findings and incidents they keep.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use crate::rows::uint;
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use tokenwise_core::Nanos;
use tokenwise_ledger::rollup::{ModelKey, ModelTotals, utc_day};
use tokenwise_ledger::store::anomalies::{
    AnomalyRecord, AnomalyStore, EvidenceQuery, EvidenceRow, Incident, ModelDay, RepeatRow, SketchGroup, StoppedDay,
};
use tokenwise_ledger::{StoreError, UsageEvent, from_micros, to_micros};

/// Adds newly stored events (summed by `model_rollup`) to the model rollup,
/// in the writer's transaction.
pub(crate) fn roll_up_models(
    tx: &rusqlite::Transaction<'_>,
    sums: std::collections::BTreeMap<ModelKey<'_>, ModelTotals>,
) -> Result<(), StoreError> {
    if sums.is_empty() {
        return Ok(());
    }
    let mut st = tx
        .prepare_cached(concat!(
            "INSERT INTO model_daily (day, user_id, use_case, model, calls, tokens, cost_nanos) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (day, user_id, use_case, model) DO UPDATE SET ",
            add_excluded!("calls", "tokens", "cost_nanos")
        ))
        .map_err(db_err)?;
    for ((day, user, use_case, model), t) in sums {
        st.execute(params![day, user, use_case, model, t.calls, t.tokens, t.cost_nanos]).map_err(db_err)?;
    }
    Ok(())
}

/// Counts newly stored events in the prompt rollup, and each prompt new to
/// its day and person in the sketch rollup, in the writer's transaction.
pub(crate) fn count_prompts(tx: &rusqlite::Transaction<'_>, fresh: &[&UsageEvent]) -> Result<(), StoreError> {
    let mut prompt = tx
        .prepare_cached(
            "INSERT INTO prompt_daily (day, user_id, prompt_hash, calls, minhash) VALUES (?1, ?2, ?3, 1, ?4) \
             ON CONFLICT (day, user_id, prompt_hash) DO UPDATE SET calls = calls + 1 RETURNING calls",
        )
        .map_err(db_err)?;
    let mut sketch = tx
        .prepare_cached(
            "INSERT INTO sketch_daily (day, user_id, band0, prompts) VALUES (?1, ?2, ?3, 1) \
             ON CONFLICT (day, user_id, band0) DO UPDATE SET prompts = prompts + 1",
        )
        .map_err(db_err)?;
    for e in fresh {
        let Some(hash) = &e.prompt_hash else { continue };
        let day = utc_day(to_micros(e.ts));
        let minhash = e.prompt_minhash.map(|h| i64::from_ne_bytes(h.to_ne_bytes()));
        let calls: i64 = prompt.query_row(params![day, e.user_id, hash, minhash], |r| r.get(0)).map_err(db_err)?;
        if let (1, Some(h)) = (calls, e.prompt_minhash) {
            // The sketch's first band: its low 16 bits.
            sketch.execute(params![day, e.user_id, i64::try_from(h & 0xffff).unwrap_or(0)]).map_err(db_err)?;
        }
    }
    Ok(())
}

const ANOMALY_COLUMNS: &str = "a.id, a.detector, a.subject, a.user_id, a.team_id, a.use_case, a.period, a.time_window, \
    a.severity, a.explanation, a.evidence, a.first_seen_us, a.last_seen_us, a.alerted_us, p.status";

const ANOMALY_FROM: &str = "FROM anomalies a LEFT JOIN appeals p ON p.subject_kind = 'anomaly' AND p.subject_id = a.id";

fn anomaly_from_row(r: &Row<'_>) -> rusqlite::Result<AnomalyRecord> {
    Ok(AnomalyRecord {
        id: r.get(0)?,
        detector: r.get(1)?,
        subject: r.get(2)?,
        user_id: r.get(3)?,
        team_id: r.get(4)?,
        use_case: r.get(5)?,
        period: r.get(6)?,
        window: r.get(7)?,
        severity: r.get(8)?,
        explanation: r.get(9)?,
        evidence: r.get(10)?,
        first_seen: from_micros(r.get(11)?),
        last_seen: from_micros(r.get(12)?),
        alerted_at: r.get::<_, Option<i64>>(13)?.map(from_micros),
        appeal: r.get(14)?,
    })
}

const INCIDENT_COLUMNS: &str = "id, title, category, status, occurred_us, created_by, created_us, updated_us, body";

fn incident_from_row(r: &Row<'_>) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: r.get(0)?,
        title: r.get(1)?,
        category: r.get(2)?,
        status: r.get(3)?,
        occurred_at: from_micros(r.get(4)?),
        created_by: r.get(5)?,
        created_at: from_micros(r.get(6)?),
        updated_at: from_micros(r.get(7)?),
        body: r.get(8)?,
    })
}

fn stored(h: i64) -> u64 {
    u64::from_ne_bytes(h.to_ne_bytes())
}

fn evidence_sql(q: &EvidenceQuery) -> (String, Vec<Value>) {
    let mut sql = String::from(
        "SELECT id, prompt_hash, prompt_minhash FROM usage_events WHERE user_id = ?1 AND ts_us >= ?2 AND ts_us < ?3",
    );
    let mut args: Vec<Value> = vec![q.user_id.clone().into(), q.from_us.into(), q.to_us.into()];
    let mut add = |clause: &str, v: Value, sql: &mut String| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(v) = &q.use_case {
        add("use_case =", v.clone().into(), &mut sql);
    }
    if let Some(v) = &q.model {
        add("model =", v.clone().into(), &mut sql);
    }
    if let Some(v) = &q.prompt_hash {
        add("prompt_hash =", v.clone().into(), &mut sql);
    }
    if let Some((band, value)) = q.band {
        let shift = 16 * i64::from(band % 4);
        add(&format!("(prompt_minhash >> {shift}) & 65535 ="), value.into(), &mut sql);
    }
    if q.dlp {
        sql.push_str(" AND (status = 'blocked' OR decision IN ('redact', 'reroute'))");
    }
    sql.push_str(&format!(" ORDER BY cost_nanos DESC, ts_us DESC, id LIMIT {}", q.limit.max(1)));
    (sql, args)
}

#[async_trait]
impl AnomalyStore for SqliteStore {
    async fn model_days(&self, from_day: i64, to_day: i64) -> Result<Vec<ModelDay>, StoreError> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT day, user_id, use_case, model, calls, tokens, cost_nanos FROM model_daily \
                     WHERE day >= ?1 AND day < ?2 ORDER BY day, user_id, use_case, model",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![from_day, to_day], |r| {
                    Ok(ModelDay {
                        day: r.get(0)?,
                        user_id: r.get(1)?,
                        use_case: r.get(2)?,
                        model: r.get(3)?,
                        calls: uint(r.get(4)?),
                        tokens: uint(r.get(5)?),
                        cost: Nanos(r.get(6)?),
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn stopped_days(&self, from_day: i64, to_day: i64) -> Result<Vec<StoppedDay>, StoreError> {
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT day, user_id, use_case, blocked, flagged FROM activity_daily \
                     WHERE day >= ?1 AND day < ?2 AND (blocked > 0 OR flagged > 0) \
                     ORDER BY day, user_id, use_case, template",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![from_day, to_day], |r| {
                    Ok(StoppedDay {
                        day: r.get(0)?,
                        user_id: r.get(1)?,
                        use_case: r.get(2)?,
                        blocked: uint(r.get(3)?),
                        flagged: uint(r.get(4)?),
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn repeated_prompts(
        &self,
        from_day: i64,
        to_day: i64,
        min_calls: u64,
        limit: u32,
    ) -> Result<Vec<RepeatRow>, StoreError> {
        let min = i64::try_from(min_calls).unwrap_or(i64::MAX);
        self.read(move |c| {
            // `calls >= 2` as written lets SQLite read the partial index.
            let mut st = c
                .prepare_cached(
                    "SELECT user_id, day, prompt_hash, calls FROM prompt_daily \
                     WHERE calls >= 2 AND day >= ?1 AND day < ?2 AND calls >= ?3 \
                     ORDER BY calls DESC, user_id, day, prompt_hash LIMIT ?4",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![from_day, to_day, min, i64::from(limit)], |r| {
                    Ok(RepeatRow { user_id: r.get(0)?, day: r.get(1)?, prompt_hash: r.get(2)?, calls: uint(r.get(3)?) })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn sketch_groups(
        &self,
        from_day: i64,
        to_day: i64,
        min_prompts: u64,
        limit: u32,
    ) -> Result<Vec<SketchGroup>, StoreError> {
        let min = i64::try_from(min_prompts).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT user_id, day, band0, prompts FROM sketch_daily \
                     WHERE prompts >= 2 AND day >= ?1 AND day < ?2 AND prompts >= ?3 \
                     ORDER BY prompts DESC, user_id, day, band0 LIMIT ?4",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![from_day, to_day, min, i64::from(limit)], |r| {
                    Ok(SketchGroup { user_id: r.get(0)?, day: r.get(1)?, band0: r.get(2)?, prompts: uint(r.get(3)?) })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn evidence(&self, q: &EvidenceQuery) -> Result<Vec<EvidenceRow>, StoreError> {
        let (sql, args) = evidence_sql(q);
        self.read(move |c| {
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = st
                .query_map(params_from_iter(args), |r| {
                    Ok(EvidenceRow {
                        id: r.get(0)?,
                        prompt_hash: r.get(1)?,
                        prompt_minhash: r.get::<_, Option<i64>>(2)?.map(stored),
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn keep_anomalies(&self, rows: &[AnomalyRecord]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.to_vec();
        self.write(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT INTO anomalies (id, detector, subject, user_id, team_id, use_case, period, time_window, \
                         severity, explanation, evidence, first_seen_us, last_seen_us, alerted_us) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, NULL) \
                         ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, \
                         explanation = excluded.explanation, evidence = excluded.evidence, \
                         last_seen_us = MAX(last_seen_us, excluded.last_seen_us)",
                    )
                    .map_err(db_err)?;
                for a in &rows {
                    st.execute(params![
                        a.id,
                        a.detector,
                        a.subject,
                        a.user_id,
                        a.team_id,
                        a.use_case,
                        a.period,
                        a.window,
                        a.severity,
                        a.explanation,
                        a.evidence,
                        to_micros(a.first_seen),
                        to_micros(a.last_seen)
                    ])
                    .map_err(db_err)?;
                }
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn anomalies(&self, period: &str) -> Result<Vec<AnomalyRecord>, StoreError> {
        let period = period.to_string();
        self.read(move |c| {
            let sql =
                format!("SELECT {ANOMALY_COLUMNS} {ANOMALY_FROM} WHERE a.period = ?1 ORDER BY a.first_seen_us, a.id");
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = st.query_map([period], anomaly_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn get_anomaly(&self, id: &str) -> Result<Option<AnomalyRecord>, StoreError> {
        let id = id.to_string();
        self.read(move |c| {
            let sql = format!("SELECT {ANOMALY_COLUMNS} {ANOMALY_FROM} WHERE a.id = ?1");
            c.query_row(&sql, [id], anomaly_from_row).optional().map_err(corrupt)
        })
        .await
    }

    async fn claim_anomaly_alert(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE anomalies SET alerted_us = ?2 WHERE id = ?1 AND alerted_us IS NULL",
                    params![id, to_micros(at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn insert_incident(&self, i: &Incident) -> Result<(), StoreError> {
        let i = i.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    i.id,
                    i.title,
                    i.category,
                    i.status,
                    to_micros(i.occurred_at),
                    i.created_by,
                    to_micros(i.created_at),
                    to_micros(i.updated_at),
                    i.body
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn update_incident(&self, i: &Incident) -> Result<bool, StoreError> {
        let i = i.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE incidents SET status = ?2, body = ?3, updated_us = ?4 WHERE id = ?1",
                    params![i.id, i.status, i.body, to_micros(i.updated_at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"), [id], incident_from_row)
                .optional()
                .map_err(corrupt)
        })
        .await
    }

    async fn incidents(&self, limit: u32) -> Result<Vec<Incident>, StoreError> {
        self.read(move |c| {
            let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY occurred_us DESC, id DESC LIMIT ?1");
            let mut st = c.prepare_cached(&sql).map_err(db_err)?;
            let rows = st.query_map([i64::from(limit.max(1))], incident_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }
}
