//! Who is calling: the presented API key is hashed and looked up as it is
//! now (the store keeps a cache only while it hears of every revocation,
//! so a revoked key stops working at once, on every replica); the key's
//! person must still be in the policy.

use crate::App;
use crate::error::{AppError, AppResult, Code};
use std::sync::Arc;
use tokenwise_ledger::ApiKey;
use tokenwise_policy::User;

#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Arc<ApiKey>,
    pub user: User,
}

impl App {
    /// `secret` is the key as presented (Bearer or x-api-key), if any.
    pub async fn authenticate(&self, secret: Option<&str>) -> AppResult<Caller> {
        let Some(secret) = secret.filter(|k| !k.is_empty()) else {
            return Err(AppError::new(
                Code::Unauthorized,
                "no API key: send your tokenwise key as `Authorization: Bearer KEY` or `x-api-key: KEY` (create one with `tokenwise keys create`)",
            ));
        };
        let Some(key) = self.store.current_api_key(&ApiKey::hash_secret(secret)).await? else {
            return Err(AppError::new(Code::Unauthorized, "unknown API key"));
        };
        if !key.is_active() {
            return Err(AppError::new(Code::Unauthorized, format!("API key {} was revoked", key.id)));
        }
        let Some(user) = self.policy.users.get(&key.user_id) else {
            return Err(AppError::new(
                Code::Unauthorized,
                format!("API key {} belongs to `{}`, who is no longer in the policy", key.id, key.user_id),
            ));
        };
        self.rate_limiter.admit(&key.id, self.policy.rate_limits.for_role(user.role))?;
        Ok(Caller { key, user: user.clone() })
    }
}
