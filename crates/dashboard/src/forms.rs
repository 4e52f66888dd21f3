//! A form POST: the reader's session, and the form's fields once its CSRF
//! token (`_csrf`, the session's, put in every form by `base.html`'s
//! `csrf_field()` macro) matches and the request did not come from
//! another site (`Origin`, when the browser sends it, names this host).
//! A form without a session gets 401, a bad token 403.

use crate::Dash;
use crate::error::PageError;
use crate::viewer::{Viewer, not_logged_in};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use tokenwise_app::AppError;

/// A checked form: who posted it and what it says.
#[derive(Debug)]
pub struct Posted<T> {
    pub viewer: Viewer,
    pub form: T,
}

/// Equal without telling, by its timing, how much of a guess was right.
fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Whether a POST came from a page of this site: its `Origin` (when the
/// browser sends one) names the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let bare = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    !host.is_empty() && bare == host
}

impl<T: DeserializeOwned + Send> FromRequest<Dash> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, dash: &Dash) -> Result<Posted<T>, PageError> {
        let (mut parts, body) = req.into_parts();
        let viewer = match Viewer::from_request_parts(&mut parts, dash).await {
            Ok(v) => v,
            Err(PageError::Login { .. }) => return Err(not_logged_in().into()),
            Err(e) => return Err(e),
        };
        if !same_origin(&parts.headers) {
            return Err(AppError::denied("this form was sent from another site").into());
        }
        let limit = usize::try_from(dash.app.policy.server.max_request_bytes).unwrap_or(usize::MAX);
        let bytes = axum::body::to_bytes(body, limit)
            .await
            .map_err(|e| AppError::invalid(format!("cannot read the form: {e}")))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| AppError::invalid(format!("cannot read the form: {e}")))?;
        let token = fields.iter().find(|(k, _)| k == "_csrf").map_or("", |(_, v)| v.as_str());
        if !same_secret(token, &viewer.csrf) {
            return Err(AppError::denied(
                "this form's security token does not match your session (it may be from an old page): reload and try again",
            )
            .into());
        }
        // The token is the form reader's: the form's own type never sees it,
        // so the same type serves the JSON API (with deny_unknown_fields).
        let rest: Vec<&(String, String)> = fields.iter().filter(|(k, _)| k != "_csrf").collect();
        let rest =
            serde_urlencoded::to_string(&rest).map_err(|e| AppError::invalid(format!("cannot read the form: {e}")))?;
        let form = serde_urlencoded::from_str::<T>(&rest)
            .map_err(|e| AppError::invalid(format!("the form is incomplete: {e}")))?;
        Ok(Posted { viewer, form })
    }
}
