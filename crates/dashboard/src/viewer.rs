//! Who is reading. Two ways in:
//!
//! - **An API key** (the same keys the API takes) typed into `/login` is
//!   exchanged for a session (`app::sessions`): a random token in an
//!   `HttpOnly`, `SameSite=Lax` cookie (`Secure` when the request came over
//!   https), expiring with the session (`[dashboard] session_hours`). The
//!   store keeps the token's SHA-256 and the key's, so every replica serves
//!   the session and revoking the key ends it.
//! - **A trusted sign-on proxy** (oauth2-proxy style) sets
//!   `X-Forwarded-User` (a person's id) or `X-Forwarded-Email` on every
//!   request. Believed only from the addresses in `[dashboard]
//!   trusted_proxies`; from anyone else the headers are ignored. Such a
//!   person still gets a session cookie, which only carries the CSRF token
//!   their forms send back: identity comes from the proxy on each request.

use crate::Dash;
use crate::error::PageError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use std::net::SocketAddr;
use tokenwise_app::sessions::{Opened, proxy_caller};
use tokenwise_app::{AppError, Caller, Code};

/// The session cookie's name.
pub const COOKIE: &str = "tw_session";

/// The person reading a page, with their session's CSRF token.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub caller: Caller,
    pub csrf: String,
    /// The session's token, to end it at logout.
    pub token: Option<String>,
    /// A cookie to set with the answer (a proxy's person seen anew).
    pub set_cookie: Option<HeaderValue>,
}

impl Viewer {
    pub fn attach_cookie(&self, r: &mut Response) {
        if let Some(c) = &self.set_cookie {
            r.headers_mut().append(header::SET_COOKIE, c.clone());
        }
    }
}

/// The value of cookie `name` in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether the request reached us over https (directly, or as a proxy says).
pub fn over_https(parts: &Parts) -> bool {
    parts.uri.scheme_str() == Some("https")
        || parts.headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

/// `Set-Cookie` for a session: HttpOnly, SameSite=Lax, Path=/, Max-Age
/// until it ends, Secure over https.
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"))
        .ok()
}

pub fn opened_cookie(o: &Opened, secure: bool) -> Option<HeaderValue> {
    let secs = o.expires_at.duration_since(o.session.created_at).as_secs().max(0);
    session_cookie(&o.token, secs, secure)
}

/// The identity a trusted proxy vouches for, if the request came from one
/// and carries it.
fn vouched(dash: &Dash, parts: &Parts) -> Option<(Option<String>, Option<String>)> {
    let text = |name: &str| {
        parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).map(String::from)
    };
    let (user, email) = (text("x-forwarded-user"), text("x-forwarded-email"));
    if user.is_none() && email.is_none() {
        return None;
    }
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    if !peer.is_some_and(|ip| dash.app.policy.dashboard.trusts(ip)) {
        tracing::debug!(?peer, "identity header from an address not in [dashboard] trusted_proxies: ignored");
        return None;
    }
    Some((user, email))
}

impl FromRequestParts<Dash> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, dash: &Dash) -> Result<Viewer, PageError> {
        let app = &dash.app;
        let token = cookie(&parts.headers, COOKIE).map(str::to_string);
        let session = match &token {
            // A session whose key was revoked is no session.
            Some(t) => app.session(t).await.unwrap_or(None),
            None => None,
        };
        if let Some((user, email)) = vouched(dash, parts) {
            let caller = proxy_caller(app, user.as_deref(), email.as_deref())?;
            if let Some((s, None)) = &session
                && s.user_id == caller.user.id
            {
                return Ok(Viewer { caller, csrf: s.csrf.clone(), token, set_cookie: None });
            }
            let opened = app.open_session(&caller, false).await?;
            let set_cookie = opened_cookie(&opened, over_https(parts));
            return Ok(Viewer { caller, csrf: opened.session.csrf, token: Some(opened.token), set_cookie });
        }
        match session {
            Some((s, Some(caller))) => Ok(Viewer { caller, csrf: s.csrf, token, set_cookie: None }),
            _ => Err(PageError::Login { next: parts.uri.path().to_string() }),
        }
    }
}

/// An error for a request that needs a session but has none (a form
/// POST): 401 rather than a redirect, which a form cannot follow usefully.
pub fn not_logged_in() -> AppError {
    AppError::new(Code::Unauthorized, "your session has ended: log in again")
}
