//! Outcomes, appeals and badge awards. A decision is one conditional
//! `UPDATE … WHERE status = 'pending'` (or `'open'`): of two replicas
//! deciding at once, the second finds the row decided and gets a conflict.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::{APPEAL_COLUMNS, AWARD_COLUMNS, OUTCOME_COLUMNS, appeal_from_row, award_from_row, outcome_from_row};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokenwise_ledger::{
    Appeal, AppealDecision, AppealQuery, AppealStatus, AppealSubject, Award, Outcome, OutcomeDecision, OutcomeQuery,
    OutcomeStore, StoreError, to_micros,
};
use tokio_postgres::types::ToSql;

async fn get_outcome(c: &impl GenericClient, id: &str) -> Result<Option<Outcome>, StoreError> {
    let row =
        c.query_opt(&format!("SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE id = $1"), &[&id]).await.map_err(db_err)?;
    row.as_ref().map(outcome_from_row).transpose()
}

async fn get_appeal(c: &impl GenericClient, id: &str) -> Result<Option<Appeal>, StoreError> {
    let row =
        c.query_opt(&format!("SELECT {APPEAL_COLUMNS} FROM appeals WHERE id = $1"), &[&id]).await.map_err(db_err)?;
    row.as_ref().map(appeal_from_row).transpose()
}

#[async_trait]
impl OutcomeStore for PgStore {
    async fn insert_outcome(&self, o: &Outcome) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO outcomes ({OUTCOME_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
                ),
                &[
                    &o.id,
                    &o.task,
                    &o.user_id,
                    &o.team_id,
                    &o.use_case,
                    &o.kind,
                    &o.value.0,
                    &o.value_hours_milli,
                    &o.evidence,
                    &o.quality.map(i32::from),
                    &o.escalated,
                    &o.error,
                    &o.status.as_str(),
                    &o.reported_by,
                    &o.signed,
                    &to_micros(o.reported_at),
                    &o.decided_by,
                    &o.decided_at.map(to_micros),
                    &o.decided_quality.map(i32::from),
                    &o.metered,
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn get_outcome(&self, id: &str) -> Result<Option<Outcome>, StoreError> {
        get_outcome(&self.client().await?, id).await
    }

    async fn decide_outcome(
        &self,
        id: &str,
        decision: OutcomeDecision,
        by: &str,
        quality: Option<u8>,
        at: Timestamp,
    ) -> Result<Option<Outcome>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE outcomes SET status = $2, decided_by = $3, decided_us = $4, decided_quality = $5 \
                     WHERE id = $1 AND status = 'pending' RETURNING {OUTCOME_COLUMNS}"
                ),
                &[&id, &decision.status().as_str(), &by, &to_micros(at), &quality.map(i32::from)],
            )
            .await
            .map_err(db_err)?;
        if let Some(r) = row {
            return outcome_from_row(&r).map(Some);
        }
        match get_outcome(&client, id).await? {
            Some(o) => Err(StoreError::Conflict(format!("outcome {id} is already {}", o.status))),
            None => Ok(None),
        }
    }

    async fn list_outcomes(&self, q: &OutcomeQuery) -> Result<Vec<Outcome>, StoreError> {
        let mut sql = format!("SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE TRUE");
        let status = q.status.map(|s| s.as_str().to_string());
        let (from, to) = (q.from.map(to_micros), q.to.map(to_micros));
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let text_filters = [("user_id", &q.user_id), ("team_id", &q.team_id), ("status", &status), ("task", &q.task)];
        for (col, v) in text_filters {
            if let Some(v) = v {
                params.push(v);
                sql.push_str(&format!(" AND {col} = ${}", params.len()));
            }
        }
        for (clause, v) in [("reported_us >=", &from), ("reported_us <", &to)] {
            if let Some(v) = v {
                params.push(v);
                sql.push_str(&format!(" AND {clause} ${}", params.len()));
            }
        }
        sql.push_str(&format!(" ORDER BY reported_us DESC, id DESC LIMIT {}", q.effective_limit()));
        let client = self.client().await?;
        let rows = client.query(&sql, &params).await.map_err(db_err)?;
        rows.iter().map(outcome_from_row).collect()
    }

    async fn outcomes_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE reported_us >= $1 AND reported_us < $2 \
                     ORDER BY reported_us, id"
                ),
                &[&to_micros(from), &to_micros(to)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(outcome_from_row).collect()
    }

    async fn task_is_metered(&self, task: &str, user: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT EXISTS(SELECT 1 FROM usage_events WHERE task = $1 AND user_id = $2)", &[&task, &user])
            .await
            .map_err(db_err)?;
        row.try_get(0).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    async fn insert_appeal(&self, a: &Appeal) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!("INSERT INTO appeals ({APPEAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                &[
                    &a.id,
                    &a.subject_kind.as_str(),
                    &a.subject_id,
                    &a.appellant,
                    &a.comment,
                    &a.status.as_str(),
                    &to_micros(a.filed_at),
                    &a.decided_by,
                    &a.decided_at.map(to_micros),
                    &a.decision_comment,
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn get_appeal(&self, id: &str) -> Result<Option<Appeal>, StoreError> {
        get_appeal(&self.client().await?, id).await
    }

    async fn decide_appeal(
        &self,
        id: &str,
        decision: AppealDecision,
        by: &str,
        comment: &str,
        at: Timestamp,
    ) -> Result<Option<Appeal>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        let at = to_micros(at);
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE appeals SET status = $2, decided_by = $3, decided_us = $4, decision_comment = $5 \
                     WHERE id = $1 AND status = 'open' RETURNING {APPEAL_COLUMNS}"
                ),
                &[&id, &decision.status().as_str(), &by, &at, &comment],
            )
            .await
            .map_err(db_err)?;
        let Some(row) = row else {
            return match get_appeal(&tx, id).await? {
                Some(a) => Err(StoreError::Conflict(format!("appeal {id} is already {}", a.status))),
                None => Ok(None),
            };
        };
        let appeal = appeal_from_row(&row)?;
        if decision == AppealDecision::Upheld && appeal.subject_kind == AppealSubject::Outcome {
            tx.execute(
                "UPDATE outcomes SET status = 'validated', decided_by = $2, decided_us = $3, decided_quality = NULL \
                 WHERE id = $1 AND status = 'rejected'",
                &[&appeal.subject_id, &by, &at],
            )
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(Some(appeal))
    }

    async fn list_appeals(&self, q: &AppealQuery) -> Result<Vec<Appeal>, StoreError> {
        let client = self.client().await?;
        let status = q.status.map(AppealStatus::as_str);
        let rows = client
            .query(
                &format!(
                    "SELECT {APPEAL_COLUMNS} FROM appeals WHERE ($1::TEXT IS NULL OR status = $1) \
                     AND ($2::TEXT IS NULL OR appellant = $2) ORDER BY filed_us DESC, id DESC LIMIT $3"
                ),
                &[&status, &q.appellant, &i64::from(q.effective_limit())],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(appeal_from_row).collect()
    }

    async fn award_badge(&self, a: &Award) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "INSERT INTO badge_awards ({AWARD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (subject, badge, key) DO NOTHING"
                ),
                &[&a.subject, &a.badge, &a.key, &a.period, &to_micros(a.awarded_at), &a.explanation],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn award_badges(&self, awards: &[Award]) -> Result<u64, StoreError> {
        if awards.is_empty() {
            return Ok(0);
        }
        let col = |f: fn(&Award) -> String| awards.iter().map(f).collect::<Vec<String>>();
        let (subjects, badges, keys) = (col(|a| a.subject.clone()), col(|a| a.badge.clone()), col(|a| a.key.clone()));
        let (periods, explanations) = (col(|a| a.period.clone()), col(|a| a.explanation.clone()));
        let at: Vec<i64> = awards.iter().map(|a| to_micros(a.awarded_at)).collect();
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "INSERT INTO badge_awards ({AWARD_COLUMNS}) SELECT * FROM UNNEST($1::text[], $2::text[], \
                     $3::text[], $4::text[], $5::bigint[], $6::text[]) ON CONFLICT (subject, badge, key) DO NOTHING"
                ),
                &[&subjects, &badges, &keys, &periods, &at, &explanations],
            )
            .await
            .map_err(db_err)?;
        Ok(n)
    }

    async fn awards(&self, subject: Option<&str>, period: Option<&str>) -> Result<Vec<Award>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {AWARD_COLUMNS} FROM badge_awards WHERE ($1::TEXT IS NULL OR subject = $1) \
                     AND ($2::TEXT IS NULL OR period = $2) ORDER BY awarded_us, subject, badge, key"
                ),
                &[&subject, &period],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(award_from_row).collect()
    }
}
