//! Errors as pages: a request with no session goes to the login form (a
//! form POST gets 401), a refusal of the application layer becomes a 403
//! page naming why, an unknown thing a 404 page. Handlers return
//! `Result<Response, PageError>` and use `?` on the application's calls.

use crate::views;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use tokenwise_app::{AppError, Code};

/// Pages carry personal figures: never kept by a shared cache.
pub fn no_store(r: &mut Response) {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No session: the login form, coming back to `next` afterwards.
    Login { next: String },
    /// The application refused or failed.
    App(AppError),
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> PageError {
        PageError::App(e)
    }
}

impl PageError {
    pub fn template(name: &str, e: &minijinja::Error) -> PageError {
        tracing::error!(template = name, error = %e, "a dashboard template failed to render");
        PageError::App(AppError::internal(format!("the page `{name}` could not be drawn")))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login { next } => {
                let to = format!("/login?next={}", encode(&next));
                Redirect::to(&to).into_response()
            }
            PageError::App(e) => error_page(&e),
        }
    }
}

/// An error as a page, with the status of the application's code table.
pub fn error_page(e: &AppError) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = match e.code {
        Code::PolicyViolation => "Not for your role",
        Code::NotFound => "Not found",
        Code::Unauthorized => "Please log in",
        Code::InvalidRequest | Code::TooLarge | Code::MethodNotAllowed | Code::HeadersTooLarge => "That did not work",
        Code::Conflict => "Already decided",
        Code::NotInCohort => "Not your pilot",
        Code::AlreadyAnswered => "Already answered this week",
        _ => "Something went wrong",
    };
    let mut message = e.message.clone();
    if let Some(first) = message.get(..1) {
        message = format!("{}{}", first.to_uppercase(), &message[1..]);
    }
    let ctx = context! { status => status.as_u16(), title => title, message => message };
    let html = views::shared()
        .render("error.html", ctx)
        .unwrap_or_else(|_| format!("<!doctype html><title>{title}</title><h1>{title}</h1>"));
    let mut r = (status, Html(html)).into_response();
    no_store(&mut r);
    r
}

/// Percent-encodes a path for a query parameter.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
