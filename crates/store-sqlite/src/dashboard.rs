//! The dashboard's sessions and the scorecard's feedback.

use crate::SqliteStore;
use crate::connection::{corrupt, db_err};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};
use tokenwise_ledger::{Feedback, FeedbackStore, Session, SessionStore, StoreError, from_micros, to_micros};

const SESSION_COLUMNS: &str = "id_hash, user_id, key_hash, via, csrf, created_us, expires_us";
const FEEDBACK_COLUMNS: &str = "id, user_id, period, answer, comment, model, rules_version, at_us";

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
    async fn insert_feedback(&self, f: &Feedback) -> Result<(), StoreError> {
        let f = f.clone();
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO score_feedback ({FEEDBACK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![f.id, f.user_id, f.period, f.answer, f.comment, f.model, f.rules_version, to_micros(f.at)],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn feedback(&self, user: Option<&str>, period: Option<&str>) -> Result<Vec<Feedback>, StoreError> {
        let (user, period) = (user.map(str::to_string), period.map(str::to_string));
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {FEEDBACK_COLUMNS} FROM score_feedback \
                     WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR period = ?2) ORDER BY at_us, id"
                ))
                .map_err(db_err)?;
            let rows = st.query_map(params![user, period], feedback_from_row).map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(corrupt)
        })
        .await
    }
}
