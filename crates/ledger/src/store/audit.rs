//! The hash-chained audit log.

use super::StoreError;
use crate::audit::{AuditDraft, AuditEntry};
use async_trait::async_trait;

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends to the audit chain, atomically with respect to every other
    /// appender (other tasks, other replicas).
    async fn append_audit(&self, draft: &AuditDraft) -> Result<AuditEntry, StoreError> {
        let mut entries = self.append_audit_batch(std::slice::from_ref(draft)).await?;
        entries.pop().ok_or_else(|| StoreError::Backend("no audit entry written".into()))
    }

    /// Appends several entries in one transaction (the auditor's batches).
    async fn append_audit_batch(&self, drafts: &[AuditDraft]) -> Result<Vec<AuditEntry>, StoreError>;

    /// Entries with `seq > after_seq`, in order, at most `limit`.
    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// The newest entry whose action is `action`, if any.
    async fn last_audit(&self, action: &str) -> Result<Option<AuditEntry>, StoreError>;
}
