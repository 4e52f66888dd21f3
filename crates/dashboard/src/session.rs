//! Logging in and out: `/login` exchanges an API key for a session
//! (see [`crate::viewer`] for how a reader is recognised, by cookie or by a
//! trusted sign-on proxy), `/logout` ends it, `/` sends each role to its page.

use crate::Dash;
use crate::error::{error_page, no_store};
use crate::forms::{Posted, same_origin};
use crate::page;
use crate::viewer::{COOKIE, Viewer, opened_cookie, over_https};
use crate::views;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Deserialize;
use tokenwise_app::{AppError, Code};

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
