//! The dashboard's sessions and the scorecard's feedback.

use crate::PgStore;
use crate::connection::db_err;
use crate::rows::get;
use async_trait::async_trait;
use jiff::Timestamp;
use tokenwise_ledger::{
    Feedback, FeedbackStore, PilotDecision, Session, SessionStore, StoreError, from_micros, to_micros,
};
use tokio_postgres::Row;

const SESSION_COLUMNS: &str = "id_hash, user_id, key_hash, via, csrf, created_us, expires_us";
const FEEDBACK_COLUMNS: &str = "id, user_id, period, answer, comment, model, rules_version, at_us, pilot, about, week";
const DECISION_COLUMNS: &str = "pilot_id, decision, reward_model, rules_version, decided_by, at_us";

fn session_from_row(r: &Row) -> Result<Session, StoreError> {
    Ok(Session {
        id_hash: get(r, 0)?,
        user_id: get(r, 1)?,
        key_hash: get(r, 2)?,
        via: get(r, 3)?,
        csrf: get(r, 4)?,
        created_at: from_micros(get(r, 5)?),
        expires_at: from_micros(get(r, 6)?),
    })
}

fn feedback_from_row(r: &Row) -> Result<Feedback, StoreError> {
    Ok(Feedback {
        id: get(r, 0)?,
        user_id: get(r, 1)?,
        period: get(r, 2)?,
        answer: get(r, 3)?,
        comment: get(r, 4)?,
        model: get(r, 5)?,
        rules_version: get(r, 6)?,
        at: from_micros(get(r, 7)?),
        pilot: get(r, 8)?,
        about: get(r, 9)?,
        week: get(r, 10)?,
    })
}

fn decision_from_row(r: &Row) -> Result<PilotDecision, StoreError> {
    Ok(PilotDecision {
        pilot: get(r, 0)?,
        decision: get(r, 1)?,
        reward_model: get(r, 2)?,
        rules_version: get(r, 3)?,
        decided_by: get(r, 4)?,
        at: from_micros(get(r, 5)?),
    })
}

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_err)?;
        tx.execute("DELETE FROM dashboard_sessions WHERE expires_us <= $1", &[&to_micros(s.created_at)])
            .await
            .map_err(db_err)?;
        tx.execute(
            &format!("INSERT INTO dashboard_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
            &[&s.id_hash, &s.user_id, &s.key_hash, &s.via, &s.csrf, &to_micros(s.created_at), &to_micros(s.expires_at)],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn session(&self, id_hash: &str, at: Timestamp) -> Result<Option<Session>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {SESSION_COLUMNS} FROM dashboard_sessions WHERE id_hash = $1 AND expires_us > $2"),
                &[&id_hash, &to_micros(at)],
            )
            .await
            .map_err(db_err)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n =
            client.execute("DELETE FROM dashboard_sessions WHERE id_hash = $1", &[&id_hash]).await.map_err(db_err)?;
        Ok(n > 0)
    }
}

#[async_trait]
impl FeedbackStore for PgStore {
    async fn insert_feedback(&self, f: &Feedback) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "INSERT INTO score_feedback ({FEEDBACK_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING"
                ),
                &[
                    &f.id,
                    &f.user_id,
                    &f.period,
                    &f.answer,
                    &f.comment,
                    &f.model,
                    &f.rules_version,
                    &to_micros(f.at),
                    &f.pilot,
                    &f.about,
                    &f.week,
                ],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn feedback(&self, user: Option<&str>, pilot: Option<&str>) -> Result<Vec<Feedback>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {FEEDBACK_COLUMNS} FROM score_feedback \
                     WHERE ($1::TEXT IS NULL OR user_id = $1) AND ($2::TEXT IS NULL OR pilot = $2) ORDER BY at_us, id"
                ),
                &[&user, &pilot],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(feedback_from_row).collect()
    }

    async fn decide_pilot(&self, d: &PilotDecision) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                &format!(
                    "INSERT INTO pilot_decisions ({DECISION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT DO NOTHING"
                ),
                &[&d.pilot, &d.decision, &d.reward_model, &d.rules_version, &d.decided_by, &to_micros(d.at)],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn pilot_decisions(&self) -> Result<Vec<PilotDecision>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&format!("SELECT {DECISION_COLUMNS} FROM pilot_decisions ORDER BY at_us, pilot_id"), &[])
            .await
            .map_err(db_err)?;
        rows.iter().map(decision_from_row).collect()
    }
}
