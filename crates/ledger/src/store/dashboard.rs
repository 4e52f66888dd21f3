//! What the dashboard keeps: its sessions (an API key, or a trusted
//! proxy's identity, exchanged for a cookie) and the one-click feedback
//! people give on their scorecard (read by pilots).

use super::StoreError;
use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A dashboard session. The browser holds a random token; only its SHA-256
/// is stored (`id_hash`), like API keys, so a database read leaks no
/// usable session. Kept in the database so that any replica serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: String,
    /// The SHA-256 of the API key it was opened with: the key is checked
    /// again on every request, so revoking it ends the session. None for
    /// a session opened by a trusted proxy's identity header.
    pub key_hash: Option<String>,
    /// `key` or `proxy`.
    pub via: String,
    /// The session's CSRF token, sent back by every form.
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// One answer to "is this motivating / confusing / unfair?" about a
/// scorecard: who, for which period, under which reward model and rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub id: String,
    pub user_id: String,
    pub period: String,
    /// `motivating`, `confusing` or `unfair`.
    pub answer: String,
    pub comment: Option<String>,
    pub model: String,
    pub rules_version: String,
    pub at: Timestamp,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session, and drops sessions that expired before its
    /// creation (so the table holds live sessions only).
    async fn insert_session(&self, s: &Session) -> Result<(), StoreError>;

    /// The session with this token hash, if it has not expired at `at`.
    async fn session(&self, id_hash: &str, at: Timestamp) -> Result<Option<Session>, StoreError>;

    /// Ends a session (logout); false when there was none.
    async fn delete_session(&self, id_hash: &str) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait FeedbackStore: Send + Sync {
    async fn insert_feedback(&self, f: &Feedback) -> Result<(), StoreError>;

    /// Answers oldest first, optionally of one person and one period.
    async fn feedback(&self, user: Option<&str>, period: Option<&str>) -> Result<Vec<Feedback>, StoreError>;
}
