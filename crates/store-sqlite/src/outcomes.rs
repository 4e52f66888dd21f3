//! Outcomes, appeals and badge awards. Decisions are conditional updates on
//! the one writer connection, so a decided outcome or appeal never moves
//! again.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use crate::rows::{APPEAL_COLUMNS, AWARD_COLUMNS, OUTCOME_COLUMNS, appeal_from_row, award_from_row, outcome_from_row};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use tokenwise_ledger::{
    Appeal, AppealDecision, AppealQuery, AppealStatus, AppealSubject, Award, Outcome, OutcomeDecision, OutcomeQuery,
    OutcomeStore, StoreError, to_micros,
};

fn get_outcome(c: &Connection, id: &str) -> Result<Option<Outcome>, StoreError> {
    c.query_row(&format!("SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE id = ?1"), [id], outcome_from_row)
        .optional()
        .map_err(corrupt)
}

fn get_appeal(c: &Connection, id: &str) -> Result<Option<Appeal>, StoreError> {
    c.query_row(&format!("SELECT {APPEAL_COLUMNS} FROM appeals WHERE id = ?1"), [id], appeal_from_row)
        .optional()
        .map_err(corrupt)
}

/// The SQL and arguments of an outcome listing.
fn outcome_listing(q: &OutcomeQuery) -> (String, Vec<Value>) {
    let mut sql = format!("SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let mut filter = |clause: &str, v: Value| {
        args.push(v);
        sql.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(v) = &q.user_id {
        filter("user_id =", v.clone().into());
    }
    if let Some(v) = &q.team_id {
        filter("team_id =", v.clone().into());
    }
    if let Some(v) = q.status {
        filter("status =", v.as_str().to_string().into());
    }
    if let Some(v) = &q.task {
        filter("task =", v.clone().into());
    }
    if let Some(v) = q.from {
        filter("reported_us >=", to_micros(v).into());
    }
    if let Some(v) = q.to {
        filter("reported_us <", to_micros(v).into());
    }
    sql.push_str(&format!(" ORDER BY reported_us DESC, id DESC LIMIT {}", q.effective_limit()));
    (sql, args)
}

/// Decides an open appeal and, when it upholds an outcome's rejection,
/// validates that outcome, in one transaction.
fn decide_appeal(
    c: &mut Connection,
    id: &str,
    decision: AppealDecision,
    by: &str,
    comment: &str,
    at: i64,
) -> Result<Option<Appeal>, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
    let n = tx
        .execute(
            "UPDATE appeals SET status = ?2, decided_by = ?3, decided_us = ?4, decision_comment = ?5 \
             WHERE id = ?1 AND status = 'open'",
            params![id, decision.status().as_str(), by, at, comment],
        )
        .map_err(db_err)?;
    let found = get_appeal(&tx, id)?;
    let Some(appeal) = found else { return Ok(None) };
    if n == 0 {
        return Err(StoreError::Conflict(format!("appeal {id} is already {}", appeal.status)));
    }
    if decision == AppealDecision::Upheld && appeal.subject_kind == AppealSubject::Outcome {
        tx.execute(
            "UPDATE outcomes SET status = 'validated', decided_by = ?2, decided_us = ?3, decided_quality = NULL \
             WHERE id = ?1 AND status = 'rejected'",
            params![appeal.subject_id, by, at],
        )
        .map_err(db_err)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(Some(appeal))
}

#[async_trait]
impl OutcomeStore for SqliteStore {
    async fn insert_outcome(&self, o: &Outcome) -> Result<(), StoreError> {
        let o = o.clone();
        self.write(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO outcomes ({OUTCOME_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
                ),
                params![
                    o.id,
                    o.task,
                    o.user_id,
                    o.team_id,
                    o.use_case,
                    o.kind,
                    o.value.0,
                    o.value_hours_milli,
                    o.evidence,
                    o.quality,
                    o.escalated,
                    o.error,
                    o.status.as_str(),
                    o.reported_by,
                    o.signed,
                    to_micros(o.reported_at),
                    o.decided_by,
                    o.decided_at.map(to_micros),
                    o.decided_quality,
                    o.metered
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn get_outcome(&self, id: &str) -> Result<Option<Outcome>, StoreError> {
        let id = id.to_string();
        self.read(move |c| get_outcome(c, &id)).await
    }

    async fn decide_outcome(
        &self,
        id: &str,
        decision: OutcomeDecision,
        by: &str,
        quality: Option<u8>,
        at: Timestamp,
    ) -> Result<Option<Outcome>, StoreError> {
        let (id, by) = (id.to_string(), by.to_string());
        self.write(move |c| {
            let n = c
                .execute(
                    "UPDATE outcomes SET status = ?2, decided_by = ?3, decided_us = ?4, decided_quality = ?5 \
                     WHERE id = ?1 AND status = 'pending'",
                    params![id, decision.status().as_str(), by, to_micros(at), quality],
                )
                .map_err(db_err)?;
            let found = get_outcome(c, &id)?;
            match found {
                Some(o) if n == 0 => Err(StoreError::Conflict(format!("outcome {id} is already {}", o.status))),
                other => Ok(other),
            }
        })
        .await
    }

    async fn list_outcomes(&self, q: &OutcomeQuery) -> Result<Vec<Outcome>, StoreError> {
        let (sql, args) = outcome_listing(q);
        self.read(move |c| {
            let mut stmt = c.prepare(&sql).map_err(db_err)?;
            let rows = stmt.query_map(params_from_iter(args), outcome_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn outcomes_between(&self, from: Timestamp, to: Timestamp) -> Result<Vec<Outcome>, StoreError> {
        let (from, to) = (to_micros(from), to_micros(to));
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {OUTCOME_COLUMNS} FROM outcomes WHERE reported_us >= ?1 AND reported_us < ?2 \
                     ORDER BY reported_us, id"
                ))
                .map_err(db_err)?;
            let rows = stmt.query_map(params![from, to], outcome_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn task_is_metered(&self, task: &str, user: &str) -> Result<bool, StoreError> {
        let (task, user) = (task.to_string(), user.to_string());
        self.read(move |c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM usage_events WHERE task = ?1 AND user_id = ?2)",
                params![task, user],
                |r| r.get(0),
            )
            .map_err(corrupt)
        })
        .await
    }

    async fn insert_appeal(&self, a: &Appeal) -> Result<(), StoreError> {
        let a = a.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO appeals ({APPEAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    a.id,
                    a.subject_kind.as_str(),
                    a.subject_id,
                    a.appellant,
                    a.comment,
                    a.status.as_str(),
                    to_micros(a.filed_at),
                    a.decided_by,
                    a.decided_at.map(to_micros),
                    a.decision_comment
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn get_appeal(&self, id: &str) -> Result<Option<Appeal>, StoreError> {
        let id = id.to_string();
        self.read(move |c| get_appeal(c, &id)).await
    }

    async fn decide_appeal(
        &self,
        id: &str,
        decision: AppealDecision,
        by: &str,
        comment: &str,
        at: Timestamp,
    ) -> Result<Option<Appeal>, StoreError> {
        let (id, by, comment) = (id.to_string(), by.to_string(), comment.to_string());
        self.write(move |c| decide_appeal(c, &id, decision, &by, &comment, to_micros(at))).await
    }

    async fn list_appeals(&self, q: &AppealQuery) -> Result<Vec<Appeal>, StoreError> {
        let status = q.status.map(AppealStatus::as_str);
        let (appellant, limit) = (q.appellant.clone(), i64::from(q.effective_limit()));
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {APPEAL_COLUMNS} FROM appeals WHERE (?1 IS NULL OR status = ?1) \
                     AND (?2 IS NULL OR appellant = ?2) ORDER BY filed_us DESC, id DESC LIMIT ?3"
                ))
                .map_err(db_err)?;
            let rows = stmt.query_map(params![status, appellant, limit], appeal_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn award_badge(&self, a: &Award) -> Result<bool, StoreError> {
        let a = a.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    &format!(
                        "INSERT INTO badge_awards ({AWARD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (subject, badge, key) DO NOTHING"
                    ),
                    params![a.subject, a.badge, a.key, a.period, to_micros(a.awarded_at), a.explanation],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn award_badges(&self, awards: &[Award]) -> Result<u64, StoreError> {
        let awards = awards.to_vec();
        self.write(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            let mut new = 0u64;
            {
                let mut st = tx
                    .prepare_cached(&format!(
                        "INSERT INTO badge_awards ({AWARD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (subject, badge, key) DO NOTHING"
                    ))
                    .map_err(db_err)?;
                for a in &awards {
                    new += st
                        .execute(params![a.subject, a.badge, a.key, a.period, to_micros(a.awarded_at), a.explanation])
                        .map_err(db_err)? as u64;
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(new)
        })
        .await
    }

    async fn awards(&self, subject: Option<&str>, period: Option<&str>) -> Result<Vec<Award>, StoreError> {
        let (subject, period) = (subject.map(str::to_string), period.map(str::to_string));
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {AWARD_COLUMNS} FROM badge_awards WHERE (?1 IS NULL OR subject = ?1) \
                     AND (?2 IS NULL OR period = ?2) ORDER BY awarded_us, subject, badge, key"
                ))
                .map_err(db_err)?;
            let rows = stmt.query_map(params![subject, period], award_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }
}
