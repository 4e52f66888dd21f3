//! What the anomaly detectors read — the model, prompt and sketch rollups
//! (written by the events' one statement, see `events`), the events a
//! finding cites — and the findings and incidents they keep.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{get, uint};
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_core::Nanos;
use tokenwise_ledger::store::anomalies::{
    AnomalyRecord, AnomalyStore, EvidenceQuery, EvidenceRow, Incident, ModelDay, RepeatRow, SketchGroup, StoppedDay,
};
use tokenwise_ledger::{StoreError, from_micros, to_micros};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

const ANOMALY_COLUMNS: &str = "a.id, a.detector, a.subject, a.user_id, a.team_id, a.use_case, a.period, a.time_window, \
    a.severity, a.explanation, a.evidence, a.first_seen_us, a.last_seen_us, a.alerted_us, p.status";

const ANOMALY_FROM: &str = "FROM anomalies a LEFT JOIN appeals p ON p.subject_kind = 'anomaly' AND p.subject_id = a.id";

fn anomaly_from_row(r: &Row) -> Result<AnomalyRecord, StoreError> {
    Ok(AnomalyRecord {
        id: get(r, 0)?,
        detector: get(r, 1)?,
        subject: get(r, 2)?,
        user_id: get(r, 3)?,
        team_id: get(r, 4)?,
        use_case: get(r, 5)?,
        period: get(r, 6)?,
        window: get(r, 7)?,
        severity: get(r, 8)?,
        explanation: get(r, 9)?,
        evidence: get(r, 10)?,
        first_seen: from_micros(get(r, 11)?),
        last_seen: from_micros(get(r, 12)?),
        alerted_at: get::<Option<i64>>(r, 13)?.map(from_micros),
        appeal: get(r, 14)?,
    })
}

const INCIDENT_COLUMNS: &str = "id, title, category, status, occurred_us, created_by, created_us, updated_us, body";

fn incident_from_row(r: &Row) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: get(r, 0)?,
        title: get(r, 1)?,
        category: get(r, 2)?,
        status: get(r, 3)?,
        occurred_at: from_micros(get(r, 4)?),
        created_by: get(r, 5)?,
        created_at: from_micros(get(r, 6)?),
        updated_at: from_micros(get(r, 7)?),
        body: get(r, 8)?,
    })
}

fn stored(h: i64) -> u64 {
    u64::from_ne_bytes(h.to_ne_bytes())
}

#[async_trait]
impl AnomalyStore for PgStore {
    async fn model_days(&self, from_day: i64, to_day: i64) -> Result<Vec<ModelDay>, StoreError> {
        let rows = self
            .rollup_client()
            .await?
            .query(
                "SELECT day, user_id, use_case, model, calls, tokens, cost_nanos FROM model_daily \
                 WHERE day >= $1 AND day < $2 ORDER BY day, user_id, use_case, model",
                &[&from_day, &to_day],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(ModelDay {
                    day: get(r, 0)?,
                    user_id: get(r, 1)?,
                    use_case: get(r, 2)?,
                    model: get(r, 3)?,
                    calls: uint(get(r, 4)?),
                    tokens: uint(get(r, 5)?),
                    cost: Nanos(get(r, 6)?),
                })
            })
            .collect()
    }

    async fn stopped_days(&self, from_day: i64, to_day: i64) -> Result<Vec<StoppedDay>, StoreError> {
        let rows = self
            .rollup_client()
            .await?
            .query(
                "SELECT day, user_id, use_case, blocked, flagged FROM activity_daily \
                 WHERE day >= $1 AND day < $2 AND (blocked > 0 OR flagged > 0) \
                 ORDER BY day, user_id, use_case, template",
                &[&from_day, &to_day],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoppedDay {
                    day: get(r, 0)?,
                    user_id: get(r, 1)?,
                    use_case: get(r, 2)?,
                    blocked: uint(get(r, 3)?),
                    flagged: uint(get(r, 4)?),
                })
            })
            .collect()
    }

    async fn repeated_prompts(
        &self,
        from_day: i64,
        to_day: i64,
        min_calls: u64,
        limit: u32,
    ) -> Result<Vec<RepeatRow>, StoreError> {
        let (min, limit) = (i64::try_from(min_calls).unwrap_or(i64::MAX), i64::from(limit));
        // `calls >= 2` as written lets the planner read the partial index.
        let rows = self
            .rollup_client()
            .await?
            .query(
                "SELECT user_id, day, prompt_hash, calls FROM prompt_daily \
                 WHERE calls >= 2 AND day >= $1 AND day < $2 AND calls >= $3 \
                 ORDER BY calls DESC, user_id, day, prompt_hash LIMIT $4",
                &[&from_day, &to_day, &min, &limit],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(RepeatRow { user_id: get(r, 0)?, day: get(r, 1)?, prompt_hash: get(r, 2)?, calls: uint(get(r, 3)?) })
            })
            .collect()
    }

    async fn sketch_groups(
        &self,
        from_day: i64,
        to_day: i64,
        min_prompts: u64,
        limit: u32,
    ) -> Result<Vec<SketchGroup>, StoreError> {
        let (min, limit) = (i64::try_from(min_prompts).unwrap_or(i64::MAX), i64::from(limit));
        let rows = self
            .rollup_client()
            .await?
            .query(
                "SELECT user_id, day, band0, prompts FROM sketch_daily \
                 WHERE prompts >= 2 AND day >= $1 AND day < $2 AND prompts >= $3 \
                 ORDER BY prompts DESC, user_id, day, band0 LIMIT $4",
                &[&from_day, &to_day, &min, &limit],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(SketchGroup { user_id: get(r, 0)?, day: get(r, 1)?, band0: get(r, 2)?, prompts: uint(get(r, 3)?) })
            })
            .collect()
    }

    async fn evidence(&self, q: &EvidenceQuery) -> Result<Vec<EvidenceRow>, StoreError> {
        let mut sql = String::from(
            "SELECT id, prompt_hash, prompt_minhash FROM usage_events WHERE user_id = $1 AND ts_us >= $2 AND ts_us < $3",
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&q.user_id, &q.from_us, &q.to_us];
        let band = q.band.map(|(b, v)| (16 * i32::from(b % 4), v));
        for (clause, v) in [("use_case =", &q.use_case), ("model =", &q.model), ("prompt_hash =", &q.prompt_hash)] {
            if let Some(v) = v {
                params.push(v);
                sql.push_str(&format!(" AND {clause} ${}", params.len()));
            }
        }
        if let Some((shift, value)) = &band {
            params.push(value);
            sql.push_str(&format!(" AND (prompt_minhash >> {shift}) & 65535 = ${}", params.len()));
        }
        if q.dlp {
            sql.push_str(" AND (status = 'blocked' OR decision IN ('redact', 'reroute'))");
        }
        sql.push_str(&format!(" ORDER BY cost_nanos DESC, ts_us DESC, id LIMIT {}", q.limit.max(1)));
        let rows = self.client().await?.query(&sql, &params).await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(EvidenceRow {
                    id: get(r, 0)?,
                    prompt_hash: get(r, 1)?,
                    prompt_minhash: get::<Option<i64>>(r, 2)?.map(stored),
                })
            })
            .collect()
    }

    async fn keep_anomalies(&self, rows: &[AnomalyRecord]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let st = tx
            .prepare_cached(
                "INSERT INTO anomalies (id, detector, subject, user_id, team_id, use_case, period, time_window, \
                 severity, explanation, evidence, first_seen_us, last_seen_us, alerted_us) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL) \
                 ON CONFLICT (id) DO UPDATE SET severity = EXCLUDED.severity, explanation = EXCLUDED.explanation, \
                 evidence = EXCLUDED.evidence, last_seen_us = GREATEST(anomalies.last_seen_us, EXCLUDED.last_seen_us)",
            )
            .await
            .map_err(db_err)?;
        // In id order, so concurrent passes on several replicas lock rows alike.
        let mut sorted: Vec<&AnomalyRecord> = rows.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        for a in sorted {
            let (first, last) = (to_micros(a.first_seen), to_micros(a.last_seen));
            tx.execute(
                &st,
                &[
                    &a.id,
                    &a.detector,
                    &a.subject,
                    &a.user_id,
                    &a.team_id,
                    &a.use_case,
                    &a.period,
                    &a.window,
                    &a.severity,
                    &a.explanation,
                    &a.evidence,
                    &first,
                    &last,
                ],
            )
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn anomalies(&self, period: &str) -> Result<Vec<AnomalyRecord>, StoreError> {
        let sql = format!("SELECT {ANOMALY_COLUMNS} {ANOMALY_FROM} WHERE a.period = $1 ORDER BY a.first_seen_us, a.id");
        let rows = self.client().await?.query(&sql, &[&period]).await.map_err(db_err)?;
        rows.iter().map(anomaly_from_row).collect()
    }

    async fn get_anomaly(&self, id: &str) -> Result<Option<AnomalyRecord>, StoreError> {
        let sql = format!("SELECT {ANOMALY_COLUMNS} {ANOMALY_FROM} WHERE a.id = $1");
        let row = self.client().await?.query_opt(&sql, &[&id]).await.map_err(db_err)?;
        row.as_ref().map(anomaly_from_row).transpose()
    }

    async fn claim_anomaly_alert(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE anomalies SET alerted_us = $2 WHERE id = $1 AND alerted_us IS NULL",
                &[&id, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn insert_incident(&self, i: &Incident) -> Result<(), StoreError> {
        let (occurred, created, updated) = (to_micros(i.occurred_at), to_micros(i.created_at), to_micros(i.updated_at));
        self.client()
            .await?
            .execute(
                &format!("INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                &[&i.id, &i.title, &i.category, &i.status, &occurred, &i.created_by, &created, &updated, &i.body],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn update_incident(&self, i: &Incident) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE incidents SET status = $2, body = $3, updated_us = $4 WHERE id = $1",
                &[&i.id, &i.status, &i.body, &to_micros(i.updated_at)],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        let row = self.client().await?.query_opt(&sql, &[&id]).await.map_err(db_err)?;
        row.as_ref().map(incident_from_row).transpose()
    }

    async fn incidents(&self, limit: u32) -> Result<Vec<Incident>, StoreError> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY occurred_us DESC, id DESC LIMIT $1");
        let rows = self.client().await?.query(&sql, &[&i64::from(limit.max(1))]).await.map_err(db_err)?;
        rows.iter().map(incident_from_row).collect()
    }
}
