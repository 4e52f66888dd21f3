//! The web dashboard, served at `/` by the same binary: pages rendered on
//! the server from templates compiled into it (minijinja, each template
//! `include_str!`-ed, so the binary carries them), one small stylesheet,
//! charts as SVG drawn on the server. Every page calls the application
//! layer (`tokenwise-app`) exactly as the JSON API does — the same typed
//! requests, the same access rules — so a page never shows what its reader
//! may not see, and a page a role may not open answers 403.
//!
//! - [`viewer`]: who is reading — a session cookie (an API key exchanged
//!   at `/login`), or a trusted sign-on proxy's identity header.
//! - [`session`]: `/login`, `/logout`, and `/` sending each role home.
//! - [`forms`]: a form POST, checked against the session's CSRF token.
//! - [`page`]: rendering for the reader; [`error`]: errors as pages (no
//!   session → the login form, 403, 404).
//! - [`views`]: the templates and the stylesheet, compiled in.
//! - [`money`]: nano-dollars as people read them, at the edge only.
//! - one module per page: [`me`] (an employee's month), [`team`] (a
//!   manager's team), [`governance`] (flags, incidents, appeals,
//!   violations, reward models, the audit log, the policy), [`finance`]
//!   (chargeback, spend per outcome, downloads, reconciliation).

pub mod chart;
pub mod error;
pub mod finance;
pub mod forms;
pub mod governance;
pub mod me;
pub mod money;
pub mod page;
pub mod pilots;
pub mod session;
pub mod team;
pub mod viewer;
pub mod views;

use axum::Router;
use axum::extract::FromRef;
use axum::response::Redirect;
use axum::routing::{get, post};
use std::sync::Arc;
use tokenwise_app::App;

/// What every page handler holds: the application.
#[derive(Clone)]
pub struct Dash {
    pub app: Arc<App>,
}

impl FromRef<Dash> for Arc<App> {
    fn from_ref(d: &Dash) -> Arc<App> {
        d.app.clone()
    }
}

/// The dashboard's routes: `/`, `/login`, `/logout`, the pages, and
/// `/static/…`. Mounted by the server beside `/api`, `/v1` and `/metrics`.
pub fn routes(app: Arc<App>) -> Router {
    let dash = Dash { app };
    Router::new()
        .route("/", get(session::home))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/me", get(me::page))
        .route("/me/feedback", post(me::feedback))
        .route("/team", get(team::page))
        .route("/team/outcomes/{id}", post(team::decide_outcome))
        .route("/team/exceptions/{id}", post(team::decide_exception))
        .route("/governance", get(governance::page))
        .route("/governance/incidents", post(governance::open_incident))
        .route("/governance/appeals/{id}", post(governance::decide_appeal))
        .route("/governance/violations", get(governance::violations))
        .route("/governance/models", get(governance::models))
        .route("/governance/pilots", get(pilots::page))
        .route("/governance/pilots/{id}/promote", post(pilots::promote))
        .route("/governance/pilots/{id}/end", post(pilots::end))
        .route("/governance/audit", get(governance::audit))
        .route("/governance/policy", get(governance::policy))
        .route("/finance", get(finance::page))
        .route("/finance/chargeback.csv", get(finance::chargeback_csv))
        .route("/finance/focus.csv", get(finance::focus_csv))
        .route("/finance/reconcile", post(finance::reconcile))
        .route("/static/{file}", get(views::asset))
        .route("/index.html", get(|| async { Redirect::permanent("/") }))
        .with_state(dash)
}
