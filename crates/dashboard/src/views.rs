//! The templates and static files, compiled into the binary. A new page's
//! template goes in `crates/dashboard/templates/` and in [`TEMPLATES`];
//! every page extends `base.html` (header, navigation by role, footer).
//! Templates are HTML-escaped by default; they receive plain serialisable
//! values, money already written as text ([`crate::money`]).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use std::sync::OnceLock;

/// Every template by name, from the crate's `templates/` folder.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("me.html", include_str!("../templates/me.html")),
    ("team.html", include_str!("../templates/team.html")),
    ("gov_tabs.html", include_str!("../templates/gov_tabs.html")),
    ("governance.html", include_str!("../templates/governance.html")),
    ("violations.html", include_str!("../templates/violations.html")),
    ("models.html", include_str!("../templates/models.html")),
    ("pilots.html", include_str!("../templates/pilots.html")),
    ("audit.html", include_str!("../templates/audit.html")),
    ("policy.html", include_str!("../templates/policy.html")),
    ("finance.html", include_str!("../templates/finance.html")),
    ("reconcile.html", include_str!("../templates/reconcile.html")),
];

/// Static files: (name, content type, bytes).
const ASSETS: &[(&str, &str, &str)] = &[("style.css", "text/css; charset=utf-8", include_str!("../static/style.css"))];

pub struct Views {
    env: Environment<'static>,
}

/// The templates, parsed on first use and shared by every request.
pub fn shared() -> &'static Views {
    static VIEWS: OnceLock<Views> = OnceLock::new();
    VIEWS.get_or_init(Views::load)
}

impl Views {
    /// Every template parsed once, at start. A template that does not parse
    /// is a bug caught by this crate's tests (`every_template_renders`).
    pub fn load() -> Views {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a dashboard template does not parse");
            }
        }
        Views { env }
    }

    /// Renders a template with a context.
    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

/// `GET /static/{file}`: the stylesheet and script, cached for a day.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, kind, body)) => {
            ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "public, max-age=86400")], *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                unreachable!("template {name} does not parse: {e:#}");
            }
        }
    }

    #[test]
    fn a_page_escapes_what_people_typed() {
        let v = Views::load();
        let html = v
            .render(
                "error.html",
                minijinja::context! { status => 403, title => "Not for your role", message => "<script>alert(1)</script>" },
            )
            .unwrap();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"));
    }

    #[tokio::test]
    async fn the_stylesheet_is_served_and_unknown_files_are_not() {
        let r = asset(Path("style.css".into())).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(asset(Path("../Cargo.toml".into())).await.status(), StatusCode::NOT_FOUND);
    }
}
