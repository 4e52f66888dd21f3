//! API keys, stored hashed, and how soon a revocation is seen.

use super::StoreError;
use crate::keys::{ApiKey, KeyCache};
use async_trait::async_trait;
use jiff::Timestamp;
use std::sync::Arc;

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// Reads the key from the database, every time.
    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;

    async fn api_keys_for_user(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError>;

    /// Every key, of every person (also people no longer in the policy),
    /// by person then creation: what an admin reviews.
    async fn api_keys_all(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Returns false when there was no such active key. Once it returns,
    /// [`current_api_key`](Self::current_api_key) shows the key revoked in
    /// this process, and in every other process on the same database as
    /// soon as that process can hear of it (see [`key_cache`](Self::key_cache)).
    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// The cache of keys this store keeps fresh across processes, if it can:
    /// it must evict a key the moment any process revokes it, and stop
    /// answering while it cannot hear of revocations (PostgreSQL: a
    /// LISTEN/NOTIFY channel and its connection). None: the store cannot
    /// hear of other processes' revocations, so keys are read from the
    /// database on every request (SQLite, where that is a local index probe).
    fn key_cache(&self) -> Option<&KeyCache> {
        None
    }

    /// The key with this hash as it is now, for authenticating a request:
    /// from [`key_cache`](Self::key_cache) when it can answer, else from the
    /// database (and then cached). Unknown keys are never cached.
    async fn current_api_key(&self, hash: &str) -> Result<Option<Arc<ApiKey>>, StoreError> {
        let Some(cache) = self.key_cache() else {
            return Ok(self.api_key_by_hash(hash).await?.map(Arc::new));
        };
        if let Some(k) = cache.get(hash) {
            return Ok(Some(k));
        }
        // Taken before the read: a revocation heard while it runs makes the
        // cache refuse what the read returns, which may predate it.
        let generation = cache.generation();
        let found = self.api_key_by_hash(hash).await?.map(Arc::new);
        if let Some(k) = &found {
            cache.put(hash, k.clone(), generation);
        }
        Ok(found)
    }
}
