//! The JSON API under `/api/v1`. Callers authenticate with their API key;
//! what they may see follows their role: members their own data, managers
//! their team's, governance, finance and admins everything.

pub mod budgets;
pub mod check;
pub mod events;
pub mod exceptions;

use crate::auth::Caller;
use tokenwise_policy::Role;

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
