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
use crate::forms::{Posted, same_origin};
use crate::page::{self, PageError, error_page, no_store};
use crate::views;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
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
fn over_https(parts: &Parts) -> bool {
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

fn opened_cookie(o: &Opened, secure: bool) -> Option<HeaderValue> {
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

/// `GET /`: the reader's own landing page.
pub async fn home(viewer: Viewer) -> Response {
    let mut r = Redirect::to(page::home(viewer.caller.user.role)).into_response();
    viewer.attach_cookie(&mut r);
    r
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

/// Only a path of this site may be gone back to after login.
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
}

fn login_page(status: StatusCode, next: Option<&str>, error: Option<&str>) -> Response {
    let html = views::shared()
        .render("login.html", context! { next => safe_next(next).unwrap_or("/"), error => error })
        .unwrap_or_else(|e| format!("<!doctype html><title>Log in</title><p>{e}</p>"));
    let mut r = (status, Html(html)).into_response();
    no_store(&mut r);
    r
}

/// `GET /login`.
pub async fn login_form(Query(q): Query<LoginQuery>) -> Response {
    login_page(StatusCode::OK, q.next.as_deref(), None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    api_key: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: an API key for a session cookie.
pub async fn login(State(dash): State<Dash>, parts: Parts, body: axum::body::Bytes) -> Response {
    if !same_origin(&parts.headers) {
        return error_page(&AppError::denied("a login must come from this site's own form"));
    }
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&body) else {
        return login_page(StatusCode::BAD_REQUEST, None, Some("Paste your tokenwise API key to log in."));
    };
    let next = safe_next(form.next.as_deref()).map(str::to_string);
    let caller = match dash.app.authenticate(Some(form.api_key.trim())).await {
        Ok(c) => c,
        Err(e) if e.code == Code::Unauthorized => {
            return login_page(StatusCode::UNAUTHORIZED, next.as_deref(), Some(&login_refusal(&e)));
        }
        Err(e) => return error_page(&e),
    };
    let opened = match dash.app.open_session(&caller, true).await {
        Ok(o) => o,
        Err(e) => return error_page(&e),
    };
    let to = next.filter(|n| n != "/").unwrap_or_else(|| page::home(caller.user.role).to_string());
    let mut r = Redirect::to(&to).into_response();
    if let Some(c) = opened_cookie(&opened, over_https(&parts)) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn login_refusal(e: &AppError) -> String {
    if e.message.contains("revoked") {
        "That key was revoked. Ask an admin for a new one.".into()
    } else if e.message.starts_with("no API key") {
        "Paste your tokenwise API key to log in.".into()
    } else {
        "That key is not one tokenwise knows. Check you pasted all of it (it starts with tw_).".into()
    }
}

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// `POST /logout`: ends the session, forgets the cookie.
pub async fn logout(State(dash): State<Dash>, posted: Posted<NoFields>) -> Response {
    if let Some(t) = &posted.viewer.token
        && let Err(e) = dash.app.close_session(t).await
    {
        return error_page(&e);
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(gone) = HeaderValue::from_str(&format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")) {
        r.headers_mut().append(header::SET_COOKIE, gone);
    }
    r
}

/// An error for a request that needs a session but has none (a form
/// POST): 401 rather than a redirect, which a form cannot follow usefully.
pub fn not_logged_in() -> AppError {
    AppError::new(Code::Unauthorized, "your session has ended: log in again")
}
