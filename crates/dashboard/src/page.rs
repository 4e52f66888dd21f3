//! Rendering a page for its reader: the template with the reader, their
//! CSRF token and their navigation; what a role's navigation offers and
//! where each role lands.

use crate::error::{PageError, no_store};
use crate::viewer::Viewer;
use crate::views;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Serialize;
use tokenwise_policy::Role;
/// A link of the navigation bar.
#[derive(Debug, Clone, Serialize)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
}

/// The pages a role's navigation offers. A convenience only: each page
/// asks the application layer, which refuses (403) whatever the role may
/// not read, whether or not a link led there.
pub fn nav(role: Role) -> Vec<NavLink> {
    let mut links = vec![NavLink { href: "/me", label: "My month" }];
    if matches!(role, Role::Manager | Role::Governance | Role::Admin) {
        links.push(NavLink { href: "/team", label: "My team" });
    }
    if matches!(role, Role::Governance | Role::Admin) {
        links.push(NavLink { href: "/governance", label: "Governance" });
    }
    if matches!(role, Role::Manager | Role::Finance | Role::Governance | Role::Admin) {
        links.push(NavLink { href: "/finance", label: "Finance" });
    }
    links
}

/// The page a role lands on after login.
pub fn home(role: Role) -> &'static str {
    match role {
        Role::Manager => "/team",
        Role::Governance => "/governance",
        Role::Finance => "/finance",
        Role::Member | Role::Admin => "/me",
    }
}

/// Renders `template` for `viewer` with `ctx` (its fields at the top
/// level, beside `viewer`, `csrf`, `nav` and `path`).
pub fn render(viewer: &Viewer, path: &str, template: &str, ctx: impl Serialize) -> Result<Response, PageError> {
    let ctx = context! {
        viewer => context! {
            id => &viewer.caller.user.id,
            name => &viewer.caller.user.name,
            role => viewer.caller.user.role.as_str(),
            team => &viewer.caller.user.team,
        },
        csrf => &viewer.csrf,
        nav => nav(viewer.caller.user.role),
        path => path,
        ..minijinja::Value::from_serialize(&ctx)
    };
    let html = views::shared().render(template, ctx).map_err(|e| PageError::template(template, &e))?;
    let mut r = Html(html).into_response();
    viewer.attach_cookie(&mut r);
    no_store(&mut r);
    Ok(r)
}
