//! Request metadata: use case, template, task, track, destination and
//! project, from the contract's headers or else the key's defaults. A use
//! case is only what its caller may use: claiming another is refused.

use crate::auth::Caller;
use crate::error::{ApiError, Code};
use axum::http::HeaderMap;
use tokenwise_core::Track;
use tokenwise_policy::{Policy, UseCase, User};

pub const USE_CASE: &str = "x-tokenwise-use-case";
pub const TEMPLATE: &str = "x-tokenwise-template";
pub const TASK: &str = "x-tokenwise-task";
pub const TRACK: &str = "x-tokenwise-track";
pub const DESTINATION: &str = "x-tokenwise-destination";
/// Not in the contract: lets one key work across projects.
pub const PROJECT: &str = "x-tokenwise-project";

#[derive(Debug, Clone)]
pub struct Meta<'p> {
    pub use_case: &'p UseCase,
    pub template: Option<String>,
    pub task: Option<String>,
    pub track: Track,
    pub destination: Option<String>,
    pub project: Option<String>,
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(s) if s.trim().is_empty() => Ok(None),
            Ok(s) => Ok(Some(s.trim())),
            Err(_) => Err(ApiError::invalid(format!("header `{name}` is not valid text"))),
        },
    }
}

fn bounded(name: &str, v: &str, max: usize) -> Result<String, ApiError> {
    if v.len() > max || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!("header `{name}` must be at most {max} printable characters")));
    }
    Ok(v.to_string())
}

/// The request's metadata, refused (403) when the use case it claims is
/// not one its caller may use.
pub fn resolve<'p>(policy: &'p Policy, caller: &Caller, headers: &HeaderMap) -> Result<Meta<'p>, ApiError> {
    let meta = claimed(policy, caller, headers)?;
    permit(policy, &caller.user, meta.use_case)?;
    Ok(meta)
}

/// 403 `policy_violation` when `user` may not use `use_case`, with a use
/// case they may use as the nudge.
pub fn permit(policy: &Policy, user: &User, use_case: &UseCase) -> Result<(), ApiError> {
    match policy.use_case_refusal(user, use_case) {
        None => Ok(()),
        Some(r) => Err(ApiError::new(Code::PolicyViolation, r.message)
            .with_nudge(Some(&r.nudge))
            .with_field("use_case", use_case.id.as_str())
            .with_field("suggested_use_case", r.instead.map(|u| u.id.as_str()))),
    }
}

/// The request's metadata as claimed, before [`permit`]: for the gateway,
/// which records a refused claim on the ledger like other policy refusals.
pub fn claimed<'p>(policy: &'p Policy, caller: &Caller, headers: &HeaderMap) -> Result<Meta<'p>, ApiError> {
    let use_case_id = match header(headers, USE_CASE)? {
        Some(u) => u.to_string(),
        None => caller.key.use_case.clone().ok_or_else(|| {
            ApiError::invalid(format!(
                "name the use case with the `{USE_CASE}` header (or create the key with --use-case); known: {}",
                policy.use_cases.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?,
    };
    let use_case = policy.use_cases.get(&use_case_id).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown use case `{use_case_id}`; known: {}",
            policy.use_cases.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let template = match header(headers, TEMPLATE)? {
        None => None,
        Some(t) => {
            let Some(tpl) = policy.templates.get(t) else {
                let known: Vec<String> =
                    policy.templates.values().filter(|x| x.use_case == use_case.id).map(|x| x.key()).collect();
                return Err(ApiError::invalid(format!(
                    "unknown template `{t}` (write it as id@version); templates of `{}`: {}",
                    use_case.id,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )));
            };
            if tpl.use_case != use_case.id {
                return Err(ApiError::invalid(format!(
                    "template `{t}` belongs to use case `{}`, not `{}`",
                    tpl.use_case, use_case.id
                )));
            }
            Some(t.to_string())
        }
    };
    let track = match header(headers, TRACK)? {
        Some(t) => t
            .parse::<Track>()
            .map_err(|_| ApiError::invalid(format!("`{TRACK}` must be `production` or `exploration`, not `{t}`")))?,
        None => caller.key.track.unwrap_or(use_case.track),
    };
    let project = match header(headers, PROJECT)? {
        Some(p) if !policy.projects.contains_key(p) => {
            return Err(ApiError::invalid(format!(
                "unknown project `{p}`; known: {}",
                policy.projects.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        Some(p) => Some(p.to_string()),
        None => caller.key.project_id.clone(),
    };
    Ok(Meta {
        use_case,
        template,
        task: header(headers, TASK)?.map(|t| bounded(TASK, t, 200)).transpose()?,
        track,
        destination: header(headers, DESTINATION)?.map(|d| bounded(DESTINATION, d, 100)).transpose()?,
        project,
    })
}
