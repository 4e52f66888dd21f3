//! The JSON API under `/api/v1`. Callers authenticate with their API key;
//! what they may see follows their role: members their own data, managers
//! their team's, governance, finance and admins everything.

pub mod budgets;
pub mod check;
pub mod events;
pub mod exceptions;

use crate::auth::Caller;
use tokenwise_policy::{Policy, Role};

/// Which events a caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sight {
    Own(String),
    Team(String),
    All,
}

pub fn sight(caller: &Caller) -> Sight {
    match caller.user.role {
        Role::Member => Sight::Own(caller.user.id.clone()),
        Role::Manager => Sight::Team(caller.user.team.clone()),
        Role::Governance | Role::Finance | Role::Admin => Sight::All,
    }
}

/// The team a budget or exception scope belongs to (`user:`, `team:`,
/// `project:`); None for `org` and `use_case:` scopes, which no team owns.
pub fn team_of<'a>(policy: &'a Policy, scope: &'a str) -> Option<&'a str> {
    let (kind, id) = scope.split_once(':')?;
    match kind {
        "user" => policy.users.get(id).map(|u| u.team.as_str()),
        "team" => Some(id),
        "project" => policy.projects.get(id).map(|p| p.team.as_str()),
        _ => None,
    }
}
