//! Who is calling: the API key (sent as `Authorization: Bearer` or
//! `x-api-key`) is hashed and looked up; the key's user must still be in
//! the policy. A revoked key is refused from the next request on, whichever
//! process revoked it: the store decides how (SQLite reads the key on every
//! request; PostgreSQL caches keys and hears of each revocation; see
//! `KeyStore::current_api_key`).

use crate::error::{ApiError, Code};
use axum::http::HeaderMap;
use std::sync::Arc;
use tokenwise_ledger::{ApiKey, KeyStore};
use tokenwise_policy::{Policy, User};

#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Arc<ApiKey>,
    pub user: User,
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

pub async fn authenticate(policy: &Policy, store: &dyn KeyStore, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(secret) = presented_key(headers).filter(|k| !k.is_empty()) else {
        return Err(ApiError::new(
            Code::Unauthorized,
            "no API key: send your tokenwise key as `Authorization: Bearer KEY` or `x-api-key: KEY` (create one with `tokenwise keys create`)",
        ));
    };
    let Some(key) = store.current_api_key(&ApiKey::hash_secret(secret)).await? else {
        return Err(ApiError::new(Code::Unauthorized, "unknown API key"));
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
