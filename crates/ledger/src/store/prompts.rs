//! Prompts kept under a use case's `[retention]` policy: none by default;
//! masked (every DLP finding replaced by its kind) or in full, each until
//! its purge time, after which the purge job deletes it. A row holds no
//! more than the event it belongs to names (its id, person, use case), the
//! mode it was kept in and the text.

use super::StoreError;
use async_trait::async_trait;
use jiff::Timestamp;

/// A stored prompt: the texts a call sent upstream, joined by blank lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrompt {
    /// The usage event's id.
    pub event_id: String,
    pub ts: Timestamp,
    pub user_id: String,
    pub use_case: String,
    /// `redacted` or `full`.
    pub mode: String,
    pub text: String,
    /// When the purge job deletes it.
    pub purge_after: Timestamp,
}

#[async_trait]
pub trait PromptStore: Send + Sync {
    /// Keeps a prompt; a second one for the same event is ignored.
    async fn insert_prompt(&self, p: &StoredPrompt) -> Result<(), StoreError>;
    /// The prompt kept for an event, unless purged (or due to be: a prompt
    /// whose purge time has passed is never read back).
    async fn prompt(&self, event_id: &str, at: Timestamp) -> Result<Option<StoredPrompt>, StoreError>;
    /// Deletes every prompt whose purge time is at or before `now`; how many.
    async fn purge_prompts(&self, now: Timestamp) -> Result<u64, StoreError>;
}
