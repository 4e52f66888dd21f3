//! Who may see and do what, decided in one place. The JSON API, the
//! gateway and the dashboard all ask these functions; none decides on its
//! own. Members see their own data, managers their team's, governance,
//! finance and admins everything; exceptions are decided by the manager of
//! the team concerned or by governance (for a use case of a high risk
//! tier, as its `[risk_tiers]` floor says: governance only, or nobody),
//! never by the person they benefit or who asked for them; outcomes are reported by their person (or for
//! them by their manager, governance or an admin) and validated by the
//! team's manager, governance or an admin, never by their person; appeals
//! are decided by governance, never by the appellant or by the one whose
//! decision is appealed.

use crate::error::{AppError, AppResult};
use tokenwise_core::Scope;
use tokenwise_policy::{ExceptionApproval, Policy, Role, User};

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

/// Whether `who` may take in usage recorded elsewhere (events:batch, OTLP,
/// `tokenwise ingest`): admins and governance, who answer for the sources'
/// mapping to people. Anyone else could book usage on a colleague.
pub fn may_ingest(who: &User) -> bool {
    matches!(who.role, Role::Admin | Role::Governance)
}

/// Whether `who` may decide an exception of `scope` asked for by
/// `requested_by`. Nobody decides their own request or an exception for
/// themselves (`user:<their id>`), whatever their role.
pub fn may_decide(policy: &Policy, who: &User, scope: &Scope, requested_by: &str) -> bool {
    requested_by != who.id
        && scope.user() != Some(who.id.as_str())
        && match scope_approval(policy, scope) {
            ExceptionApproval::None => false,
            ExceptionApproval::Governance => who.role == Role::Governance,
            ExceptionApproval::Managers => match who.role {
                Role::Governance | Role::Admin => true,
                Role::Manager => {
                    team_of(policy, scope).is_some_and(|t| policy.teams.get(t).is_some_and(|t| t.manager == who.id))
                }
                Role::Member | Role::Finance => false,
            },
        }
}

/// Who may approve an exception of `scope`: for a use case, what its risk
/// tier's floor says; for any other scope, the usual deciders (an
/// exception approved so still covers no call of a use case whose tier
/// asks for more: `App::hold`).
pub fn scope_approval(policy: &Policy, scope: &Scope) -> ExceptionApproval {
    match scope {
        Scope::UseCase(id) => policy.exception_approval(id),
        _ => ExceptionApproval::Managers,
    }
}

/// Whether an approved exception, decided by `decided_by`, may cover a
/// call of `use_case`, as the use case's risk tier says.
pub fn exception_covers(policy: &Policy, use_case: &str, decided_by: Option<&str>) -> bool {
    match policy.exception_approval(use_case) {
        ExceptionApproval::Managers => true,
        ExceptionApproval::Governance => {
            decided_by.and_then(|d| policy.users.get(d)).is_some_and(|u| u.role == Role::Governance)
        }
        ExceptionApproval::None => false,
    }
}

/// Why `scope` takes no exception at all (a use case whose risk tier
/// allows none), or None.
pub fn why_no_exception(policy: &Policy, scope: &Scope) -> Option<String> {
    let Scope::UseCase(id) = scope else { return None };
    let tier = policy.use_cases.get(id)?.risk_tier;
    (policy.exception_approval(id) == ExceptionApproval::None)
        .then(|| format!("use case `{id}` is of risk tier `{}`, which allows no budget exception", tier.as_str()))
}

/// Why `who` may not decide such an exception, naming who may; None when
/// they may ([`may_decide`]).
pub fn why_not_decide(policy: &Policy, who: &User, scope: &Scope, requested_by: &str) -> Option<String> {
    if may_decide(policy, who, scope, requested_by) {
        return None;
    }
    if let Some(why) = why_no_exception(policy, scope) {
        return Some(why);
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
    let governance_only = scope_approval(policy, scope) == ExceptionApproval::Governance;
    let others: Vec<String> = policy
        .users
        .values()
        .filter(|u| (u.role == Role::Governance || (u.role == Role::Admin && !governance_only)) && may(&u.id))
        .map(|u| format!("`{}`", u.id))
        .collect();
    if governance_only {
        let tier = scope_use_case_tier(policy, scope);
        return format!("governance only, as its risk tier `{tier}` requires ({})", others.join(", "));
    }
    format!("{}governance or an admin ({})", manager.unwrap_or_default(), others.join(", "))
}

fn scope_use_case_tier(policy: &Policy, scope: &Scope) -> &'static str {
    match scope {
        Scope::UseCase(id) => policy.use_cases.get(id).map_or("", |u| u.risk_tier.as_str()),
        _ => "",
    }
}

/// The user and team filters a listing runs with, narrowed to what `who`
/// may see: members their own records, managers their team's; 403 when
/// they ask for more. `what` names the records ("events", "outcomes").
pub fn narrow(
    policy: &Policy,
    who: &User,
    user: Option<String>,
    team: Option<String>,
    what: &str,
) -> AppResult<(Option<String>, Option<String>)> {
    let denied = |whose: &str| AppError::denied(format!("your role may not read {whose} {what}"));
    match Sight::of(who) {
        Sight::All => Ok((user, team)),
        Sight::Own(me) => {
            if user.as_ref().is_some_and(|u| *u != me) {
                return Err(denied("another person's"));
            }
            if team.is_some() {
                return Err(denied("a team's"));
            }
            Ok((Some(me), None))
        }
        Sight::Team(mine) => {
            if team.as_ref().is_some_and(|t| *t != mine) {
                return Err(denied("another team's"));
            }
            if user.as_ref().is_some_and(|u| policy.users.get(u).is_none_or(|x| x.team != mine)) {
                return Err(AppError::denied(format!("your role may not read {what} of people outside your team")));
            }
            Ok((user, Some(mine)))
        }
    }
}

fn manages(policy: &Policy, who: &User, team: &str) -> bool {
    policy.teams.get(team).is_some_and(|t| t.manager == who.id)
}

fn oversees_all(who: &User) -> bool {
    matches!(who.role, Role::Governance | Role::Admin)
}

/// Whether `who` may report an outcome as `user`'s work: their own, or
/// anyone's as the manager of the user's team, governance or an admin.
pub fn may_report_for(policy: &Policy, who: &User, user: &User) -> bool {
    who.id == user.id || oversees_all(who) || manages(policy, who, &user.team)
}

/// Whether `who` may validate or reject an outcome of `user`, counted for
/// `team`: the team's manager, governance or an admin — never `user`,
/// whatever their role.
pub fn may_validate(policy: &Policy, who: &User, user: &str, team: &str) -> bool {
    who.id != user && (oversees_all(who) || manages(policy, who, team))
}

/// Why `who` may not validate such an outcome, naming who may; None when
/// they may ([`may_validate`]).
pub fn why_not_validate(policy: &Policy, who: &User, user: &str, team: &str) -> Option<String> {
    if may_validate(policy, who, user, team) {
        return None;
    }
    let deciders = deciders(policy, &Scope::Team(team.to_string()), &[&who.id, user]);
    if who.id == user {
        return Some(format!("nobody validates their own outcome: yours are decided by {deciders}"));
    }
    Some(format!("outcomes of `{user}` (team `{team}`) are decided by {deciders}"))
}

/// Why `who` may not decide an appeal filed by `appellant` against a
/// decision taken by `decided_by`, naming who may; None when they may.
/// Governance decides appeals, never their own nor one of their decisions.
pub fn why_not_decide_appeal(policy: &Policy, who: &User, appellant: &str, decided_by: Option<&str>) -> Option<String> {
    let excluded = |id: &str| id == who.id || id == appellant || decided_by == Some(id);
    let others: Vec<String> = policy
        .users
        .values()
        .filter(|u| u.role == Role::Governance && !excluded(&u.id))
        .map(|u| format!("`{}`", u.id))
        .collect();
    let ask = format!("appeals are decided by governance ({})", others.join(", "));
    if who.role != Role::Governance {
        Some(ask)
    } else if who.id == appellant {
        Some(format!("nobody decides their own appeal: {ask}"))
    } else if decided_by == Some(who.id.as_str()) {
        Some(format!("nobody decides an appeal against their own decision: {ask}"))
    } else {
        None
    }
}

/// Whose spend `who` may read in chargeback and program-health reports:
/// finance, governance and admins every team's (None), a manager their
/// own team's; members none (403). A provider's bill is the whole org's,
/// so reconciling it is for finance, governance and admins only
/// ([`may_reconcile`]).
pub fn report_scope(who: &User) -> AppResult<Option<String>> {
    match who.role {
        Role::Finance | Role::Governance | Role::Admin => Ok(None),
        Role::Manager => Ok(Some(who.team.clone())),
        Role::Member => Err(AppError::denied(
            "reports are for finance, governance, admins, and managers (their own team); your own spend is at /api/v1/events",
        )),
    }
}

/// Whether `who` may reconcile a provider's export with the ledger.
pub fn may_reconcile(who: &User) -> AppResult<()> {
    match who.role {
        Role::Finance | Role::Governance | Role::Admin => Ok(()),
        Role::Manager | Role::Member => {
            Err(AppError::denied("reconciling a provider's bill is for finance, governance and admins"))
        }
    }
}

/// Whether `who` may open what governance oversees together — every flag
/// and incident, appeals to decide, the policy's decisions on prompts
/// (violations), the audit log and the policy file: governance and admins.
/// Each JSON route keeps its own rule (a member lists their own flags at
/// `/api/v1/anomalies`); a view gathering everyone's is for those who
/// oversee everyone, and anyone else is refused, not shown an empty page.
pub fn may_oversee(who: &User) -> AppResult<()> {
    match who.role {
        Role::Governance | Role::Admin => Ok(()),
        Role::Member | Role::Manager | Role::Finance => Err(AppError::denied(
            "governance's views (anomalies, incidents, appeals, violations, the audit log, the policy) are for governance and admins",
        )),
    }
}
