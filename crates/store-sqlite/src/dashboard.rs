//! The dashboard's sessions and the scorecard's feedback.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};
use tokenwise_ledger::{
    Feedback, FeedbackStore, PilotDecision, Session, SessionStore, StoreError, from_micros, to_micros,
};

const SESSION_COLUMNS: &str = "id_hash, user_id, key_hash, via, csrf, created_us, expires_us";
const FEEDBACK_COLUMNS: &str = "id, user_id, period, answer, comment, model, rules_version, at_us, pilot, about, week";
const DECISION_COLUMNS: &str = "pilot_id, decision, reward_model, rules_version, decided_by, at_us";

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id_hash: r.get(0)?,
        user_id: r.get(1)?,
        key_hash: r.get(2)?,
        via: r.get(3)?,
        csrf: r.get(4)?,
        created_at: from_micros(r.get(5)?),
        expires_at: from_micros(r.get(6)?),
    })
}

fn feedback_from_row(r: &Row<'_>) -> rusqlite::Result<Feedback> {
    Ok(Feedback {
        id: r.get(0)?,
        user_id: r.get(1)?,
        period: r.get(2)?,
        answer: r.get(3)?,
        comment: r.get(4)?,
        model: r.get(5)?,
        rules_version: r.get(6)?,
        at: from_micros(r.get(7)?),
        pilot: r.get(8)?,
        about: r.get(9)?,
        week: r.get(10)?,
    })
}

fn decision_from_row(r: &Row<'_>) -> rusqlite::Result<PilotDecision> {
    Ok(PilotDecision {
        pilot: r.get(0)?,
        decision: r.get(1)?,
        reward_model: r.get(2)?,
        rules_version: r.get(3)?,
        decided_by: r.get(4)?,
        at: from_micros(r.get(5)?),
    })
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError> {
        let s = s.clone();
        self.write(move |c| {
            let tx = c.transaction().map_err(db_err)?;
            tx.execute("DELETE FROM dashboard_sessions WHERE expires_us <= ?1", [to_micros(s.created_at)])
                .map_err(db_err)?;
            tx.execute(
                &format!("INSERT INTO dashboard_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    s.id_hash,
                    s.user_id,
                    s.key_hash,
                    s.via,
                    s.csrf,
                    to_micros(s.created_at),
                    to_micros(s.expires_at)
                ],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn session(&self, id_hash: &str, at: Timestamp) -> Result<Option<Session>, StoreError> {
        let id_hash = id_hash.to_string();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM dashboard_sessions WHERE id_hash = ?1 AND expires_us > ?2"),
                params![id_hash, to_micros(at)],
                session_from_row,
            )
            .optional()
            .map_err(corrupt)
        })
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let id_hash = id_hash.to_string();
        self.write(move |c| {
            let n = c.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?1", [id_hash]).map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }
}

#[async_trait]
impl FeedbackStore for SqliteStore {
    async fn insert_feedback(&self, f: &Feedback) -> Result<bool, StoreError> {
        let f = f.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    &format!(
                        "INSERT INTO score_feedback ({FEEDBACK_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING"
                    ),
                    params![
                        f.id,
                        f.user_id,
                        f.period,
                        f.answer,
                        f.comment,
                        f.model,
                        f.rules_version,
                        to_micros(f.at),
                        f.pilot,
                        f.about,
                        f.week
                    ],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn feedback(&self, user: Option<&str>, pilot: Option<&str>) -> Result<Vec<Feedback>, StoreError> {
        let (user, pilot) = (user.map(str::to_string), pilot.map(str::to_string));
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {FEEDBACK_COLUMNS} FROM score_feedback \
                     WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR pilot = ?2) ORDER BY at_us, id"
                ))
                .map_err(db_err)?;
            let rows = st.query_map(params![user, pilot], feedback_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }

    async fn decide_pilot(&self, d: &PilotDecision) -> Result<bool, StoreError> {
        let d = d.clone();
        self.write(move |c| {
            let n = c
                .execute(
                    &format!(
                        "INSERT INTO pilot_decisions ({DECISION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT DO NOTHING"
                    ),
                    params![d.pilot, d.decision, d.reward_model, d.rules_version, d.decided_by, to_micros(d.at)],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn pilot_decisions(&self) -> Result<Vec<PilotDecision>, StoreError> {
        self.read(move |c| {
            let mut st = c
                .prepare(&format!("SELECT {DECISION_COLUMNS} FROM pilot_decisions ORDER BY at_us, pilot_id"))
                .map_err(db_err)?;
            let rows = st.query_map([], decision_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }
}
