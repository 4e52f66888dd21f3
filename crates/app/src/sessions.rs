//! Dashboard sessions: an API key (the same keys the API takes) or a
//! trusted proxy's word exchanged for a session, kept in the database so
//! any replica serves it. The browser holds a random token; the store keeps
//! its SHA-256. A session opened with a key is only as good as its key:
//! the key is looked up again on every request, so revoking it, or the
//! person leaving the policy, ends the session at once.

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Code};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokenwise_ledger::{ApiKey, AuditAction, AuditDraft, Session};

/// A session just opened: the token to set in the browser, once.
#[derive(Debug, Clone)]
pub struct Opened {
    pub token: String,
    pub session: Session,
    pub expires_at: Timestamp,
}

fn fresh_secret() -> String {
    // Two v4 UUIDs: 244 random bits from the OS's generator.
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The caller a trusted proxy vouches for: a person of the policy named by
/// id (`X-Forwarded-User`) or e-mail (`X-Forwarded-Email`). Such a caller
/// holds no API key; its key record is a marker (`proxy:ID`) that opens
/// nothing else.
pub fn proxy_caller(app: &App, user: Option<&str>, email: Option<&str>) -> AppResult<Caller> {
    let by_id = user.and_then(|u| app.policy.users.get(u.trim()));
    let by_email = || {
        let email = email?.trim();
        app.policy.users.values().find(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
    };
    let Some(user) = by_id.or_else(by_email) else {
        return Err(AppError::new(
            Code::Unauthorized,
            format!(
                "the sign-on proxy vouched for `{}`, who is not a person of the policy",
                user.or(email).unwrap_or_default()
            ),
        ));
    };
    let at = app.clock.now();
    let key = ApiKey {
        id: format!("proxy:{}", user.id),
        hash: String::new(),
        prefix: String::new(),
        user_id: user.id.clone(),
        use_case: None,
        project_id: None,
        track: None,
        label: Some("single sign-on".into()),
        created_at: at,
        revoked_at: None,
    };
    Ok(Caller { key: Arc::new(key), user: user.clone() })
}

impl App {
    /// Opens a session for a caller who proved who they are, by API key
    /// (`via_key`) or through a trusted proxy; audited as a login.
    pub async fn open_session(&self, caller: &Caller, via_key: bool) -> AppResult<Opened> {
        let token = fresh_secret();
        let now = self.clock.now();
        let hours = i64::from(self.policy.dashboard.session_hours);
        let expires_at = now.saturating_add(SignedDuration::from_hours(hours)).unwrap_or(now);
        let session = Session {
            id_hash: hash(&token),
            user_id: caller.user.id.clone(),
            key_hash: via_key.then(|| caller.key.hash.clone()),
            via: if via_key { "key".into() } else { "proxy".into() },
            csrf: fresh_secret(),
            created_at: now,
            expires_at,
        };
        self.store.insert_session(&session).await?;
        let details = serde_json::json!({"via": session.via, "key": via_key.then(|| caller.key.id.clone())});
        self.auditor
            .submit(AuditDraft::new(&caller.user.id, AuditAction::DashboardLogin, &caller.user.id, details))
            .await;
        Ok(Opened { token, session, expires_at })
    }

    /// The session a browser's token names, if live. For a session opened
    /// with a key, the caller as that key stands now (revoked: 401);
    /// for a proxy's session, None as caller: the proxy must vouch for the
    /// person on every request ([`proxy_caller`]), the session only carries
    /// the CSRF token.
    pub async fn session(&self, token: &str) -> AppResult<Option<(Session, Option<Caller>)>> {
        let Some(s) = self.store.session(&hash(token), self.clock.now()).await? else {
            return Ok(None);
        };
        let Some(key_hash) = &s.key_hash else {
            return Ok(Some((s, None)));
        };
        let caller = self.caller_by_key_hash(key_hash).await?;
        if caller.user.id != s.user_id {
            return Ok(None);
        }
        Ok(Some((s, Some(caller))))
    }

    async fn caller_by_key_hash(&self, key_hash: &str) -> AppResult<Caller> {
        let Some(key) = self.store.current_api_key(key_hash).await? else {
            return Err(AppError::new(Code::Unauthorized, "the key this session was opened with is gone"));
        };
        if !key.is_active() {
            return Err(AppError::new(Code::Unauthorized, format!("API key {} was revoked", key.id)));
        }
        let Some(user) = self.policy.users.get(&key.user_id) else {
            return Err(AppError::new(Code::Unauthorized, format!("`{}` is no longer in the policy", key.user_id)));
        };
        Ok(Caller { key, user: user.clone() })
    }

    /// Ends a session (logout).
    pub async fn close_session(&self, token: &str) -> AppResult<()> {
        self.store.delete_session(&hash(token)).await?;
        Ok(())
    }
}
