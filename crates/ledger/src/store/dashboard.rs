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

/// One answer to a pilot's question — is this motivating, confusing or
/// unfair? — about one subject (`score`, `leaderboard`, `nudge`,
/// `budget`), in the ISO week it was given, with the reward model and
/// scoring-rules version the person was shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub id: String,
    pub user_id: String,
    /// None for answers kept before pilots existed.
    pub pilot: Option<String>,
    pub about: Option<String>,
    /// ISO week, `2026-W48`.
    pub week: Option<String>,
    /// The scoring period (`YYYY-MM`) it was given in.
    pub period: String,
    /// `motivating`, `confusing` or `unfair`.
    pub answer: String,
    pub comment: Option<String>,
    pub model: String,
    pub rules_version: String,
    pub at: Timestamp,
}

/// What governance decided about a pilot, once: `promoted` (its reward
/// model and rules version became the org's default) or `ended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PilotDecision {
    pub pilot: String,
    pub decision: String,
    pub reward_model: String,
    pub rules_version: String,
    pub decided_by: String,
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
    /// Keeps an answer; false (and nothing kept) when the person already
    /// answered about the same subject of the same pilot in the same week.
    async fn insert_feedback(&self, f: &Feedback) -> Result<bool, StoreError>;

    /// Answers oldest first, optionally of one person and one pilot.
    async fn feedback(&self, user: Option<&str>, pilot: Option<&str>) -> Result<Vec<Feedback>, StoreError>;

    /// Records a decision about a pilot; false when one was already made.
    async fn decide_pilot(&self, d: &PilotDecision) -> Result<bool, StoreError>;

    /// Every decision, oldest first.
    async fn pilot_decisions(&self) -> Result<Vec<PilotDecision>, StoreError>;
}
