//! Budget exceptions: requested, decided once, in force for a while.

use super::StoreError;
use crate::exception::{Exception, ExceptionStatus};
use async_trait::async_trait;
use jiff::Timestamp;

#[async_trait]
pub trait ExceptionStore: Send + Sync {
    async fn insert_exception(&self, e: &Exception) -> Result<(), StoreError>;

    async fn exception(&self, id: &str) -> Result<Option<Exception>, StoreError>;

    /// Moves a pending exception to approved (valid from `at` for its
    /// duration) or denied; None if it was not pending.
    async fn decide_exception(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        at: Timestamp,
    ) -> Result<Option<Exception>, StoreError>;

    /// Exceptions newest first, optionally of one status and one scope, at
    /// most `limit` (what approvers and requesters list).
    async fn list_exceptions(
        &self,
        status: Option<ExceptionStatus>,
        scope: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Exception>, StoreError>;

    /// Approved exceptions of these scopes in force at `at`.
    async fn active_exceptions(&self, scopes: &[String], at: Timestamp) -> Result<Vec<Exception>, StoreError>;
}
