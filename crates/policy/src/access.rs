//! Who may use which use case. A use case is not whatever a caller claims:
//! each names its audience, and a claim from outside it is refused with a
//! use case the caller may use instead.

use crate::model::{Policy, UseCase, User};

/// Why a user may not use a use case, and where to go instead.
#[derive(Debug, Clone)]
pub struct UseCaseRefusal<'p> {
    /// The refusal, ending with the advice.
    pub message: String,
    /// The advice alone, for `x-tokenwise-nudge`.
    pub nudge: String,
    /// The use case suggested instead, when the user may use any.
    pub instead: Option<&'p UseCase>,
}

impl Policy {
    /// The use cases `user` may use, in id order.
    pub fn use_cases_for<'a>(&'a self, user: &'a User) -> impl Iterator<Item = &'a UseCase> + 'a {
        self.use_cases.values().filter(move |u| u.available_to.admits(user))
    }

    /// None when `user` may use `use_case`; else why not, naming a use case
    /// they may use (the same kind of work first, then the same track).
    pub fn use_case_refusal(&self, user: &User, use_case: &UseCase) -> Option<UseCaseRefusal<'_>> {
        if use_case.available_to.admits(user) {
            return None;
        }
        let mine: Vec<&UseCase> = self.use_cases.values().filter(|u| u.available_to.admits(user)).collect();
        let instead = mine.iter().copied().min_by_key(|u| (u.category != use_case.category, u.track != use_case.track));
        let ask = format!("ask `{}`, the owner of `{}`, for access", use_case.owner, use_case.id);
        let nudge = match instead {
            Some(u) => {
                let all: Vec<&str> = mine.iter().map(|u| u.id.as_str()).collect();
                format!("use `{}` instead (your use cases: {}), or {ask}", u.id, all.join(", "))
            }
            None => format!("no use case is available to you; {ask}"),
        };
        let message = format!(
            "`{}` (team `{}`) may not use use case `{}`: it is available to {}; {nudge}",
            user.id, user.team, use_case.id, use_case.available_to
        );
        Some(UseCaseRefusal { message, nudge, instead })
    }
}
