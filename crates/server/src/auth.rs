//! Who is calling: the API key (sent as `Authorization: Bearer` or
//! `x-api-key`) is hashed and looked up; the key's user must still be in
//! the policy. Lookups are cached briefly so the hot path does not pay a
//! database round trip per request; a revoked key stops working within
//! the cache's lifetime.

use crate::error::{ApiError, Code};
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokenwise_ledger::{ApiKey, Store};
use tokenwise_policy::{Policy, User};

const KEY_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Arc<ApiKey>,
    pub user: User,
}

#[derive(Debug, Default)]
pub struct KeyCache {
    map: RwLock<HashMap<String, (Arc<ApiKey>, Instant)>>,
}

impl KeyCache {
    fn get(&self, hash: &str) -> Option<Arc<ApiKey>> {
        let map = self.map.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(hash).filter(|(_, at)| at.elapsed() < KEY_TTL).map(|(k, _)| k.clone())
    }

    fn put(&self, hash: String, key: Arc<ApiKey>) {
        let mut map = self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > 100_000 {
            map.retain(|_, (_, at)| at.elapsed() < KEY_TTL);
        }
        map.insert(hash, (key, Instant::now()));
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if let Some(k) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) {
            return Some(k.trim());
        }
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

pub async fn authenticate(
    policy: &Policy,
    store: &dyn Store,
    cache: &KeyCache,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let Some(secret) = presented_key(headers).filter(|k| !k.is_empty()) else {
        return Err(ApiError::new(
            Code::Unauthorized,
            "no API key: send your tokenwise key as `Authorization: Bearer KEY` or `x-api-key: KEY` (create one with `tokenwise keys create`)",
        ));
    };
    let hash = ApiKey::hash_secret(secret);
    let key = match cache.get(&hash) {
        Some(k) => k,
        None => {
            let found = store.api_key_by_hash(&hash).await?;
            let Some(k) = found else {
                return Err(ApiError::new(Code::Unauthorized, "unknown API key"));
            };
            let k = Arc::new(k);
            cache.put(hash, k.clone());
            k
        }
    };
    if !key.is_active() {
        return Err(ApiError::new(Code::Unauthorized, format!("API key {} was revoked", key.id)));
    }
    let Some(user) = policy.users.get(&key.user_id) else {
        return Err(ApiError::new(
            Code::Unauthorized,
            format!("API key {} belongs to `{}`, who is no longer in the policy", key.id, key.user_id),
        ));
    };
    Ok(Caller { key, user: user.clone() })
}
