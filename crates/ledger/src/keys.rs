//! API keys. The key is shown once, at creation; the ledger keeps only its
//! SHA-256. Keys carry over 250 random bits from a CSPRNG (rand's thread
//! generator: ChaCha, seeded from the OS), so a fast hash is the
//! right tool (a slow password hash protects guessable secrets, which these
//! are not) and lookup by hash stays one index probe per request.

use jiff::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokenwise_core::Track;

pub const KEY_PREFIX: &str = "tw_";
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A stored key: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    /// SHA-256 of the full key, hex.
    pub hash: String,
    /// The first characters, to tell keys apart in lists (`tw_AbC1…`).
    pub prefix: String,
    pub user_id: String,
    /// Defaults for requests that do not send the metadata headers.
    pub use_case: Option<String>,
    pub project_id: Option<String>,
    pub track: Option<Track>,
    pub label: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A key just made: the secret to print once, and the record to store.
#[derive(Debug)]
pub struct NewKey {
    pub secret: String,
    pub record: ApiKey,
}

impl ApiKey {
    pub fn hash_secret(secret: &str) -> String {
        hex::encode(Sha256::digest(secret.as_bytes()))
    }

    /// Makes a new key for `user_id`.
    pub fn generate(user_id: &str, at: Timestamp) -> NewKey {
        let mut bytes = [0u8; 43];
        rand::rng().fill(&mut bytes);
        // 43 characters of 62: 256 bits before the small modulo bias
        // (256 % 62 = 8), which costs well under 0.1 bit per character.
        let body: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
        let secret = format!("{KEY_PREFIX}{body}");
        let record = ApiKey {
            id: format!("key_{}", uuid::Uuid::now_v7().simple()),
            hash: Self::hash_secret(&secret),
            prefix: secret.chars().take(KEY_PREFIX.len() + 6).collect(),
            user_id: user_id.to_string(),
            use_case: None,
            project_id: None,
            track: None,
            label: None,
            created_at: at,
            revoked_at: None,
        };
        NewKey { secret, record }
    }

    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// Keys looked up before, kept by a store that hears of every revocation
/// (see `KeyStore::key_cache`). It answers only while its store is
/// listening: a revocation it may have missed must not be served from it.
#[derive(Debug, Default)]
pub struct KeyCache {
    state: RwLock<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    keys: HashMap<String, Arc<ApiKey>>,
    /// Bumped by every eviction and every change of `live`, so a lookup
    /// that began before one cannot cache what it read.
    generation: u64,
    live: bool,
}

impl KeyCache {
    /// Beyond this many keys the cache starts over rather than grow.
    const MAX_KEYS: usize = 100_000;

    /// A cache that answers nothing until its store says it is listening.
    pub fn new() -> KeyCache {
        KeyCache::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        // The state is a map and two scalars, never left half-updated.
        self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState> {
        self.state.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached key, if the cache may answer.
    pub fn get(&self, hash: &str) -> Option<Arc<ApiKey>> {
        let s = self.read();
        if !s.live {
            return None;
        }
        s.keys.get(hash).cloned()
    }

    /// Take before reading a key from the database; pass to [`put`](Self::put).
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Caches `key`, unless something was revoked (or the listener came or
    /// went) since `generation` was taken.
    pub fn put(&self, hash: &str, key: Arc<ApiKey>, generation: u64) {
        let mut s = self.write();
        if !s.live || s.generation != generation {
            return;
        }
        if s.keys.len() >= Self::MAX_KEYS {
            s.keys.clear();
        }
        s.keys.insert(hash.to_string(), key);
    }

    /// A key with this hash was revoked.
    pub fn evict(&self, hash: &str) {
        let mut s = self.write();
        s.keys.remove(hash);
        s.generation += 1;
    }

    /// Whether the store hears of revocations now. Either way the cache
    /// starts empty: what it held may have been revoked unheard.
    pub fn set_live(&self, live: bool) {
        let mut s = self.write();
        s.keys.clear();
        s.generation += 1;
        s.live = live;
    }

    pub fn is_live(&self) -> bool {
        self.read().live
    }

    pub fn len(&self) -> usize {
        self.read().keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_stored_only_as_hashes() {
        let a = ApiKey::generate("u", Timestamp::now());
        let b = ApiKey::generate("u", Timestamp::now());
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("tw_") && a.secret.len() == 46);
        assert_eq!(a.record.hash, ApiKey::hash_secret(&a.secret));
        assert!(!a.record.hash.contains(&a.secret[3..]));
        assert!(a.secret.starts_with(&a.record.prefix));
    }

    #[test]
    fn the_cache_answers_only_while_live_and_refuses_reads_older_than_a_revocation() {
        let c = KeyCache::new();
        let k = Arc::new(ApiKey::generate("u", Timestamp::now()).record);
        c.put("h", k.clone(), c.generation());
        assert!(c.get("h").is_none(), "not listening: nothing is cached");
        c.set_live(true);
        c.put("h", k.clone(), c.generation());
        assert_eq!(c.get("h"), Some(k.clone()));
        // A lookup that began before a revocation was heard is not cached.
        let before = c.generation();
        c.evict("h");
        assert!(c.get("h").is_none());
        c.put("h", k.clone(), before);
        assert!(c.get("h").is_none(), "a read older than the revocation was cached");
        c.put("h", k.clone(), c.generation());
        assert!(c.get("h").is_some());
        // Losing the listener empties the cache and stops it answering.
        c.set_live(false);
        assert!(c.get("h").is_none() && c.is_empty());
    }
}
