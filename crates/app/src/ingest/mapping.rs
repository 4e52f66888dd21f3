//! Whose a record is, and what it cost: the first `[[ingest.sources]]`
//! rule that matches it names the person (never invented: a policy user,
//! by id, e-mail or the rule's `users` table), the use case (which that
//! person must be allowed) and the project; the model is the policy's, so
//! the price book prices it at the record's time.

use tokenwise_core::{Nanos, TokenUsage};
use tokenwise_ingest::Record;
use tokenwise_policy::ingest::IngestRule;
use tokenwise_policy::{Model, Policy, PriceVersion, UseCase, User};

/// More tokens of one kind than any call reads or writes: a billion, a
/// hundred times the largest context window sold today. A count past it is
/// a source's error (a -1 written unsigned, say), and taken in it would
/// price one call at millions of dollars and overflow the ledger's sums.
pub const MAX_TOKENS_PER_CALL: u64 = 1_000_000_000;

/// More than one call can cost ($1,000,000): a price or count gone wrong.
pub const MAX_COST_PER_CALL: Nanos = Nanos(1_000_000_000_000_000);

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

/// What the record's usage costs at `m`'s price, or why it is not a
/// call's: a count past [`MAX_TOKENS_PER_CALL`], or a cost past
/// [`MAX_COST_PER_CALL`].
pub fn cost(usage: &TokenUsage, m: &Mapped<'_>) -> Result<Nanos, String> {
    let counts = [
        ("input", usage.input),
        ("output", usage.output),
        ("cache read", usage.cached_read),
        ("cache write", usage.cache_write),
        ("reasoning", usage.reasoning),
    ];
    if let Some((kind, n)) = counts.iter().find(|(_, n)| *n > MAX_TOKENS_PER_CALL) {
        return Err(format!(
            "{n} {kind} tokens is more than any one call uses (at most {MAX_TOKENS_PER_CALL}): the source wrote a wrong count"
        ));
    }
    let cost = usage.cost(&m.price.rates);
    if cost > MAX_COST_PER_CALL {
        return Err(format!(
            "at the prices of `{}` these tokens would cost ${}, more than one call can (at most ${}): check the counts and the price",
            m.model.id,
            cost.to_usd_string(),
            MAX_COST_PER_CALL.to_usd_string()
        ));
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::acme;
    use tokenwise_core::PricePerMtok;
    use tokenwise_ingest::{Format, parse};

    fn record(usage: &str) -> Record {
        let line = format!(
            r#"{{"id":"c1","source":"acme/ci","time":"2026-11-03T12:00:00Z","user":"ben.carter","use_case":"code-review","model":"gpt-4.1","usage":{usage}}}"#
        );
        let mut p = parse(Format::Jsonl, line.as_bytes(), 0);
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        p.records.remove(0)
    }

    /// A count no call reaches (a -1 written unsigned) is the record's
    /// error; it would otherwise be priced at billions and overflow the
    /// ledger's sums. One at the bound is a call's.
    #[test]
    fn a_count_past_any_calls_is_rejected_with_its_kind() {
        let policy = acme();
        for (usage, kind) in [
            (r#"{"input_tokens":18446744073709551615,"output_tokens":1}"#, "18446744073709551615 input tokens"),
            (r#"{"input_tokens":5,"output_tokens":1000000001}"#, "1000000001 output tokens"),
        ] {
            let r = record(usage);
            let m = map(&policy, &r).unwrap();
            let err = cost(&r.usage, &m).unwrap_err();
            assert!(err.contains(kind) && err.contains("more than any one call uses"), "{err}");
        }
        let r = record(r#"{"input_tokens":1000000000,"output_tokens":1000}"#);
        let m = map(&policy, &r).unwrap();
        assert_eq!(cost(&r.usage, &m), Ok(r.usage.cost(&m.price.rates)));
    }

    /// Plausible counts at an implausible price: the cost says so.
    #[test]
    fn a_cost_past_any_calls_is_rejected_with_the_model() {
        let mut policy = acme();
        for p in &mut policy.models.get_mut("gpt-4.1").unwrap().prices {
            p.rates.output = PricePerMtok(i64::MAX / 2);
        }
        let r = record(r#"{"input_tokens":5,"output_tokens":1000}"#);
        let m = map(&policy, &r).unwrap();
        let err = cost(&r.usage, &m).unwrap_err();
        assert!(err.contains("at the prices of `gpt-4.1`") && err.contains("at most $1000000"), "{err}");
    }
}
