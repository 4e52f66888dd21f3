//! The policy in force, as loaded: the file's text and its SHA-256 (the
//! same digest the `policy.load` audit entry records), with a summary of
//! what the server read from it.

use crate::App;
use crate::access::may_oversee;
use crate::auth::Caller;
use crate::error::AppResult;
use serde::Serialize;
use tokenwise_policy::Role;

#[derive(Debug, Clone, Serialize)]
pub struct PolicyFile {
    /// Where it was read from.
    pub source: String,
    pub sha256: String,
    /// The file as it was when the server started (it holds no secrets: the
    /// policy names environment variables for those).
    pub text: String,
    pub summary: PolicySummary,
}

/// Counts of what the policy declares, and its use cases in brief.
#[derive(Debug, Clone, Serialize)]
pub struct PolicySummary {
    pub org: String,
    pub time_zone: String,
    pub teams: usize,
    pub people: usize,
    /// People per role: member, manager, governance, finance, admin.
    pub roles: Vec<(String, usize)>,
    pub models: usize,
    pub budgets: usize,
    pub templates: usize,
    pub use_cases: Vec<UseCaseBrief>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UseCaseBrief {
    pub id: String,
    pub name: String,
    pub default_model: String,
    pub allowed_models: Vec<String>,
    /// The most sensitive data class it may receive.
    pub max_class: String,
}

impl App {
    /// The policy file in force: for governance and admins.
    pub fn policy_as_loaded(&self, caller: &Caller) -> AppResult<PolicyFile> {
        may_oversee(&caller.user)?;
        let p = &self.policy;
        let roles = Role::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), p.users.values().filter(|u| u.role == *r).count()))
            .collect();
        let use_cases = p
            .use_cases
            .values()
            .map(|u| UseCaseBrief {
                id: u.id.clone(),
                name: u.name.clone(),
                default_model: u.default_model.clone(),
                allowed_models: u.allowed_models.clone(),
                max_class: p.class_name(u.max_class).to_string(),
            })
            .collect();
        Ok(PolicyFile {
            source: self.policy_file.source.clone(),
            sha256: self.policy_file.sha256.clone(),
            text: self.policy_file.text.to_string(),
            summary: PolicySummary {
                org: p.org.name.clone(),
                time_zone: p.org.time_zone.iana_name().unwrap_or("UTC").to_string(),
                teams: p.teams.len(),
                people: p.users.len(),
                roles,
                models: p.models.len(),
                budgets: p.budgets.len(),
                templates: p.templates.len(),
                use_cases,
            },
        })
    }
}
