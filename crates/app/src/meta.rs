//! Request metadata: use case, template, task, track, destination and
//! project, from what the request says (the contract's `x-tokenwise-*`
//! headers, read by the HTTP edge into [`MetaHeaders`]) or else the key's
//! defaults. A use case is only what its caller may use: claiming another
//! is refused.

use crate::auth::Caller;
use crate::error::{AppError, AppResult, Code};
use tokenwise_core::Track;
use tokenwise_policy::{Policy, UseCase, User};

/// What a request says about itself, each trimmed and None when blank.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetaHeaders<'h> {
    pub use_case: Option<&'h str>,
    pub template: Option<&'h str>,
    pub task: Option<&'h str>,
    pub track: Option<&'h str>,
    pub destination: Option<&'h str>,
    pub project: Option<&'h str>,
}

#[derive(Debug, Clone)]
pub struct Meta<'p> {
    pub use_case: &'p UseCase,
    pub template: Option<String>,
    pub task: Option<String>,
    pub track: Track,
    pub destination: Option<String>,
    pub project: Option<String>,
}

fn bounded(name: &str, v: &str, max: usize) -> AppResult<String> {
    if v.len() > max || v.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "header `x-tokenwise-{name}` must be at most {max} printable characters"
        )));
    }
    Ok(v.to_string())
}

fn known(names: impl Iterator<Item = impl AsRef<str>>) -> String {
    names.map(|n| n.as_ref().to_string()).collect::<Vec<_>>().join(", ")
}

/// The request's metadata, refused (403) when the use case it claims is
/// not one its caller may use.
pub fn resolve<'p>(policy: &'p Policy, caller: &Caller, h: &MetaHeaders<'_>) -> AppResult<Meta<'p>> {
    let meta = claimed(policy, caller, h)?;
    permit(policy, &caller.user, meta.use_case)?;
    Ok(meta)
}

/// 403 `policy_violation` when `user` may not use `use_case`, with a use
/// case they may use as the nudge.
pub fn permit(policy: &Policy, user: &User, use_case: &UseCase) -> AppResult<()> {
    match policy.use_case_refusal(user, use_case) {
        None => Ok(()),
        Some(r) => Err(AppError::new(Code::PolicyViolation, r.message)
            .with_nudge(Some(&r.nudge))
            .with_field("use_case", use_case.id.as_str())
            .with_field("suggested_use_case", r.instead.map(|u| u.id.as_str()))),
    }
}

/// The request's metadata as claimed, before [`permit`]: for the gateway,
/// which records a refused claim on the ledger like other policy refusals.
pub fn claimed<'p>(policy: &'p Policy, caller: &Caller, h: &MetaHeaders<'_>) -> AppResult<Meta<'p>> {
    let use_case_id = match h.use_case {
        Some(u) => u.to_string(),
        None => caller.key.use_case.clone().ok_or_else(|| {
            AppError::invalid(format!(
                "name the use case with the `x-tokenwise-use-case` header (or create the key with --use-case); known: {}",
                known(policy.use_cases.keys())
            ))
        })?,
    };
    let use_case = policy.use_cases.get(&use_case_id).ok_or_else(|| {
        AppError::invalid(format!("unknown use case `{use_case_id}`; known: {}", known(policy.use_cases.keys())))
    })?;
    let track = match h.track {
        Some(t) => t.parse::<Track>().map_err(|_| {
            AppError::invalid(format!("`x-tokenwise-track` must be `production` or `exploration`, not `{t}`"))
        })?,
        None => caller.key.track.unwrap_or(use_case.track),
    };
    let project = match h.project {
        Some(p) if !policy.projects.contains_key(p) => {
            return Err(AppError::invalid(format!("unknown project `{p}`; known: {}", known(policy.projects.keys()))));
        }
        Some(p) => Some(p.to_string()),
        None => caller.key.project_id.clone(),
    };
    Ok(Meta {
        use_case,
        template: h.template.map(|t| template(policy, use_case, t)).transpose()?,
        task: h.task.map(|t| bounded("task", t, 200)).transpose()?,
        track,
        destination: h.destination.map(|d| bounded("destination", d, 100)).transpose()?,
        project,
    })
}

/// A template the policy has (`id@version`), of this use case.
fn template(policy: &Policy, use_case: &UseCase, t: &str) -> AppResult<String> {
    let Some(tpl) = policy.templates.get(t) else {
        let of_use_case: Vec<String> =
            policy.templates.values().filter(|x| x.use_case == use_case.id).map(|x| x.key()).collect();
        return Err(AppError::invalid(format!(
            "unknown template `{t}` (write it as id@version); templates of `{}`: {}",
            use_case.id,
            if of_use_case.is_empty() { "none".to_string() } else { of_use_case.join(", ") }
        )));
    };
    if tpl.use_case != use_case.id {
        return Err(AppError::invalid(format!(
            "template `{t}` belongs to use case `{}`, not `{}`",
            tpl.use_case, use_case.id
        )));
    }
    Ok(t.to_string())
}
