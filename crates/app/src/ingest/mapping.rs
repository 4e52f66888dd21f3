//! Whose a record is, and what it cost: the first `[[ingest.sources]]`
//! rule that matches it names the person (never invented: a policy user,
//! by id, e-mail or the rule's `users` table), the use case (which that
//! person must be allowed) and the project; the model is the policy's, so
//! the price book prices it at the record's time.

use tokenwise_ingest::Record;
use tokenwise_policy::ingest::IngestRule;
use tokenwise_policy::{Model, Policy, PriceVersion, UseCase, User};

/// A record, mapped onto the policy.
#[derive(Debug)]
pub struct Mapped<'p> {
    pub user: &'p User,
    pub use_case: &'p UseCase,
    pub project: Option<&'p str>,
    pub model: &'p Model,
    pub price: &'p PriceVersion,
}

/// Whether every matcher the rule has matches the record.
pub fn matches(rule: &IngestRule, r: &Record) -> bool {
    let f = &r.facts;
    rule.format.as_deref().is_none_or(|x| x == r.format.family())
        && rule.source.as_ref().is_none_or(|p| p.matches(&r.source))
        && rule
            .team
            .as_ref()
            .is_none_or(|p| p.matches_some(f.team.as_deref()) || p.matches_some(f.attribute("team_alias")))
        && rule.key_alias.as_ref().is_none_or(|p| p.matches_some(f.key_alias.as_deref()))
        && rule.attributes.iter().all(|(k, p)| f.attributes.iter().any(|(fk, fv)| fk == k && p.matches(fv)))
}

fn person<'p>(policy: &'p Policy, rule: &IngestRule, r: &Record) -> Result<&'p User, String> {
    let found = |id: &str| policy.users.get(id);
    if let Some(id) = &rule.user {
        return found(id).ok_or_else(|| format!("rule `{}` names unknown user `{id}`", rule.name));
    }
    let Some(claim) = r.facts.user.as_deref() else {
        return Err(format!(
            "the record names no user and rule `{}` names none: add `user` or `users` to the rule, or a user to the record",
            rule.name
        ));
    };
    if !rule.users.is_empty() {
        return rule.users.get(claim).and_then(|id| found(id)).ok_or_else(|| {
            format!(
                "user `{claim}` is not in the `users` table of rule `{}`: add it there to say who this is",
                rule.name
            )
        });
    }
    found(claim)
        .or_else(|| policy.users.values().find(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(claim))))
        .ok_or_else(|| {
            format!(
                "user `{claim}` is not a person of the policy (by id or e-mail): map it in the `users` table of rule `{}`",
                rule.name
            )
        })
}

/// The policy's model for the source's name: the rule's `models` table,
/// the model id, the id after a `provider/` prefix, or an upstream model name.
fn model<'p>(policy: &'p Policy, rule: &IngestRule, name: &str) -> Option<&'p Model> {
    if let Some(id) = rule.models.get(name) {
        return policy.models.get(id);
    }
    let bare = name.rsplit_once('/').map_or(name, |(_, m)| m);
    policy
        .models
        .get(name)
        .or_else(|| policy.models.get(bare))
        .or_else(|| policy.models.values().find(|m| m.upstream_model == name || m.upstream_model == bare))
}

/// Maps a record, or says why it cannot be taken in.
pub fn map<'p>(policy: &'p Policy, r: &Record) -> Result<Mapped<'p>, String> {
    let Some(rule) = policy.ingest.sources.iter().find(|rule| matches(rule, r)) else {
        return Err(format!(
            "no [[ingest.sources]] rule of the policy matches source `{}` (format {}): add one saying whose it is",
            r.source,
            r.format.family()
        ));
    };
    let user = person(policy, rule, r)?;
    let Some(uc_id) = r.facts.use_case.as_deref().or(rule.use_case.as_deref()) else {
        return Err(format!("the record names no use case and rule `{}` names none", rule.name));
    };
    let use_case = policy.use_cases.get(uc_id).ok_or_else(|| format!("unknown use case `{uc_id}`"))?;
    if let Some(refusal) = policy.use_case_refusal(user, use_case) {
        return Err(refusal.message);
    }
    let project = match r.facts.project.as_deref().or(rule.project.as_deref()) {
        Some(p) => match policy.projects.get_key_value(p) {
            Some((id, _)) => Some(id.as_str()),
            None => return Err(format!("unknown project `{p}`")),
        },
        None => None,
    };
    let model = model(policy, rule, &r.model).ok_or_else(|| {
        format!(
            "model `{}` is not one of the policy's models: add it with its prices, or map it in the `models` table of rule `{}`",
            r.model, rule.name
        )
    })?;
    let price =
        model.price_at(r.ts).ok_or_else(|| format!("model `{}` has no price in effect at {}", model.id, r.ts))?;
    Ok(Mapped { user, use_case, project, model, price })
}
