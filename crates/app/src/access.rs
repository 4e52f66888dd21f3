//! Who may see and do what, decided in one place. The JSON API, the
//! gateway and the dashboard all ask these functions; none decides on its
//! own. Members see their own data, managers their team's, governance,
//! finance and admins everything; exceptions are decided by the manager of
//! the team concerned or by governance, never by the person they benefit
//! or who asked for them.

use tokenwise_core::Scope;
use tokenwise_policy::{Policy, Role, User};

/// How much of the ledger a person may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sight {
    Own(String),
    Team(String),
    All,
}

impl Sight {
    pub fn of(user: &User) -> Sight {
        match user.role {
            Role::Member => Sight::Own(user.id.clone()),
            Role::Manager => Sight::Team(user.team.clone()),
            Role::Governance | Role::Finance | Role::Admin => Sight::All,
        }
    }

    /// Whether figures about `scope` (a budget envelope, an exception) may
    /// be shown.
    pub fn sees_scope(&self, policy: &Policy, scope: &Scope) -> bool {
        match self {
            Sight::All => true,
            Sight::Own(me) => scope.user() == Some(me.as_str()),
            Sight::Team(team) => team_of(policy, scope) == Some(team.as_str()),
        }
    }

    /// Whether another person's records may be shown.
    pub fn sees_user(&self, policy: &Policy, user: &str) -> bool {
        match self {
            Sight::All => true,
            Sight::Own(me) => me == user,
            Sight::Team(team) => policy.users.get(user).is_some_and(|u| &u.team == team),
        }
    }
}

/// The team a scope belongs to (a person's, a team, a project's owner);
/// None for the org and use cases, which no team owns.
pub fn team_of<'a>(policy: &'a Policy, scope: &'a Scope) -> Option<&'a str> {
    match scope {
        Scope::User(id) => policy.users.get(id).map(|u| u.team.as_str()),
        Scope::Team(id) => Some(id),
        Scope::Project(id) => policy.projects.get(id).map(|p| p.team.as_str()),
        Scope::Org | Scope::UseCase(_) => None,
    }
}

/// Whether a scope names something the policy has.
pub fn scope_exists(policy: &Policy, scope: &Scope) -> bool {
    match scope {
        Scope::Org => true,
        Scope::User(id) => policy.users.contains_key(id),
        Scope::Team(id) => policy.teams.contains_key(id),
        Scope::Project(id) => policy.projects.contains_key(id),
        Scope::UseCase(id) => policy.use_cases.contains_key(id),
    }
}

/// Whether `who` may decide an exception of `scope` asked for by
/// `requested_by`. Nobody decides their own request or an exception for
/// themselves (`user:<their id>`), whatever their role.
pub fn may_decide(policy: &Policy, who: &User, scope: &Scope, requested_by: &str) -> bool {
    requested_by != who.id
        && scope.user() != Some(who.id.as_str())
        && match who.role {
            Role::Governance | Role::Admin => true,
            Role::Manager => {
                team_of(policy, scope).is_some_and(|t| policy.teams.get(t).is_some_and(|t| t.manager == who.id))
            }
            Role::Member | Role::Finance => false,
        }
}

/// Why `who` may not decide such an exception, naming who may; None when
/// they may ([`may_decide`]).
pub fn why_not_decide(policy: &Policy, who: &User, scope: &Scope, requested_by: &str) -> Option<String> {
    if may_decide(policy, who, scope, requested_by) {
        return None;
    }
    if requested_by == who.id {
        return Some("nobody decides their own exception".into());
    }
    let why = if scope.user() == Some(who.id.as_str()) { "nobody decides an exception for themselves: " } else { "" };
    let deciders = deciders(policy, scope, &[&who.id, requested_by]);
    Some(format!("{why}exceptions for `{scope}` are decided by {deciders}"))
}

/// Who may decide an exception for `scope`, by name: the manager of the
/// team concerned, governance and admins; never those in `except` (the
/// caller, the requester) nor the person the exception is for.
fn deciders(policy: &Policy, scope: &Scope, except: &[&str]) -> String {
    let may = |id: &str| !except.contains(&id) && scope.user() != Some(id);
    let manager = team_of(policy, scope)
        .and_then(|t| policy.teams.get(t))
        .filter(|t| may(&t.manager))
        .map(|t| format!("`{}` (manager of {}) or ", t.manager, t.id));
    let others: Vec<String> = policy
        .users
        .values()
        .filter(|u| matches!(u.role, Role::Governance | Role::Admin) && may(&u.id))
        .map(|u| format!("`{}`", u.id))
        .collect();
    format!("{}governance or an admin ({})", manager.unwrap_or_default(), others.join(", "))
}
