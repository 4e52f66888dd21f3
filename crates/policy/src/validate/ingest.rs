//! `[ingest]` → checked rules: formats known, every person, use case,
//! project and model named declared, and a fixed person allowed the fixed
//! use case.

use super::{V, path};
use crate::diag::suggest;
use crate::ingest::{INGEST_FORMATS, Ingest, IngestRule, Pattern, RawIngest, RawIngestSource};
use crate::model::{UseCase, User};
use std::collections::BTreeMap;

/// What the rules may name.
pub(super) struct Known<'a> {
    pub users: &'a BTreeMap<String, User>,
    pub use_cases: &'a BTreeMap<String, UseCase>,
}

pub(super) fn ingest(v: &mut V<'_>, raw: Option<&RawIngest>, known: &Known<'_>) -> Ingest {
    let Some(raw) = raw else { return Ingest::default() };
    let sources = raw.sources.iter().enumerate().map(|(i, r)| rule(v, i, r, known)).collect();
    Ingest { sources }
}

fn rule(v: &mut V<'_>, i: usize, r: &RawIngestSource, known: &Known<'_>) -> IngestRule {
    let p = path(&["ingest", "sources"]).index(i);
    if let Some(f) = r.format.as_ref().filter(|f| !INGEST_FORMATS.contains(&f.as_str())) {
        let hint = suggest(f, INGEST_FORMATS.iter().copied());
        v.err(p.key("format"), format!("unknown ingest format `{f}`"), Some(hint));
    }
    let names = v.names;
    if let Some(u) = &r.user {
        v.reference(p.key("user"), "user", u, &names.users);
    }
    for (from, to) in &r.users {
        v.reference(p.key("users").key(from), "user", to, &names.users);
    }
    if let Some(u) = &r.use_case {
        v.reference(p.key("use_case"), "use case", u, &names.use_cases);
    }
    if let Some(pr) = &r.project {
        v.reference(p.key("project"), "project", pr, &names.projects);
    }
    for (from, to) in &r.models {
        v.reference(p.key("models").key(from), "model", to, &names.models);
    }
    if r.user.is_some() && !r.users.is_empty() {
        v.err(
            p.key("users"),
            "a rule names either one `user` for every record or a `users` table, not both",
            Some("keep `user` to charge everything to one person, or `users` to translate each record's user".into()),
        );
    }
    // A fixed person and a fixed use case must go together.
    let fixed = r.user.as_ref().and_then(|u| known.users.get(u));
    let fixed_uc = r.use_case.as_ref().and_then(|u| known.use_cases.get(u));
    if let (Some(user), Some(uc)) = (fixed, fixed_uc)
        && !uc.available_to.admits(user)
    {
        let msg = format!("`{}` may not use use case `{}` (it is available to {})", user.id, uc.id, uc.available_to);
        v.err(p.key("use_case"), msg, Some("name a use case this person may use, or another person".into()));
    }
    IngestRule {
        name: r.name.clone().unwrap_or_else(|| format!("ingest.sources[{i}]")),
        format: r.format.clone(),
        source: r.source.clone().map(Pattern),
        team: r.team.clone().map(Pattern),
        key_alias: r.key_alias.clone().map(Pattern),
        attributes: r.attributes.iter().map(|(k, val)| (k.clone(), Pattern(val.clone()))).collect(),
        user: r.user.clone(),
        users: r.users.clone(),
        use_case: r.use_case.clone(),
        project: r.project.clone(),
        models: r.models.clone(),
    }
}
