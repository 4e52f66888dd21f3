//! The policy's answer for one prompt: allow, redact, reroute or block.
//! Pure: it sees what was found (kinds and classes, never the text) and the
//! policy, and says what to do, why, and — when it refuses — what the
//! compliant alternative is (the nudge).

use crate::model::{DataClass, Model, Policy, UseCase};
use crate::raw::{Action, WireFormat};
use jiff::Timestamp;
use std::collections::BTreeMap;
use tokenwise_core::FindingKind;

/// A finding with the data class the policy gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub kind: FindingKind,
    pub class: DataClass,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Mask every finding of a class above `keep_up_to` before forwarding.
    Redact {
        keep_up_to: DataClass,
    },
    /// Send to this model instead (cleared for the prompt's class).
    Reroute {
        to: String,
    },
    Block,
}

/// The policy's ruling on a prompt: its verdict (whose kind, as the ledger
/// records it, is `tokenwise_core::Decision`), the class, why, and advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruling {
    pub verdict: Verdict,
    /// The most sensitive class in the prompt as received.
    pub data_class: DataClass,
    pub reasons: Vec<String>,
    /// Advice for the person: the compliant alternative when blocked, what
    /// was done when redacted or rerouted.
    pub nudge: Option<String>,
}

impl Verdict {
    /// The verdict's kind, as the ledger records it.
    pub fn kind(&self) -> tokenwise_core::Decision {
        match self {
            Verdict::Allow => tokenwise_core::Decision::Allow,
            Verdict::Redact { .. } => tokenwise_core::Decision::Redact,
            Verdict::Reroute { .. } => tokenwise_core::Decision::Reroute,
            Verdict::Block => tokenwise_core::Decision::Block,
        }
    }
}

impl Ruling {
    pub fn name(&self) -> &'static str {
        self.verdict.kind().as_str()
    }
}

/// "2 email, 1 credit_card"
pub fn describe(found: &[Classified]) -> String {
    let mut counts: BTreeMap<FindingKind, usize> = BTreeMap::new();
    for f in found {
        *counts.entry(f.kind).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
}

/// Decides for a prompt sent to `model` under `use_case`. `formats` are the
/// wire formats the gateway can reach for this request (the client's own,
/// and any it can translate to): a reroute picks among models speaking them.
pub fn decide(
    policy: &Policy,
    use_case: &UseCase,
    model: &Model,
    formats: &[WireFormat],
    found: &[Classified],
    at: Timestamp,
) -> Ruling {
    let name = |c: DataClass| policy.class_name(c).to_string();
    let class = found.iter().map(|f| f.class).max().unwrap_or(policy.classes.lowest());
    let ceiling = use_case.max_class.min(model.max_class);
    if class <= ceiling {
        let reasons = if found.is_empty() {
            vec!["nothing sensitive found".to_string()]
        } else {
            vec![format!(
                "found {} ({} at most); `{}` may receive {} and use case `{}` allows {}",
                describe(found),
                name(class),
                model.id,
                name(model.max_class),
                use_case.id,
                name(use_case.max_class)
            )]
        };
        return Ruling { verdict: Verdict::Allow, data_class: class, reasons, nudge: None };
    }
    let above: Vec<Classified> = found.iter().copied().filter(|f| f.class > ceiling).collect();
    let action = above
        .iter()
        .map(|f| policy.dlp.actions.get(&f.class).copied().unwrap_or(Action::Block))
        .max()
        .unwrap_or(Action::Block);
    let mut reasons = vec![format!(
        "the prompt holds {} data ({}); `{}` is cleared for {} and use case `{}` for {}",
        name(class),
        describe(&above),
        model.id,
        name(model.max_class),
        use_case.id,
        name(use_case.max_class)
    )];
    match action {
        Action::Redact => {
            reasons.push(format!("policy for {} data: redact", name(class)));
            let nudge = format!("masked {} before sending to `{}`", describe(&above), model.id);
            Ruling { verdict: Verdict::Redact { keep_up_to: ceiling }, data_class: class, reasons, nudge: Some(nudge) }
        }
        Action::Reroute if class <= use_case.max_class => {
            let target = policy.models_cleared_for(use_case, class, at).into_iter().find(|m| {
                policy.upstreams.get(&m.upstream).is_some_and(|u| formats.contains(&u.format))
                    && m.price_at(at).is_some()
            });
            match target {
                Some(m) => {
                    reasons.push(format!("policy for {} data: reroute to the cheapest cleared model", name(class)));
                    let nudge = format!(
                        "rerouted from `{}` to `{}`, which is cleared for {} data ({})",
                        model.id,
                        m.id,
                        name(class),
                        describe(&above)
                    );
                    Ruling {
                        verdict: Verdict::Reroute { to: m.id.clone() },
                        data_class: class,
                        reasons,
                        nudge: Some(nudge),
                    }
                }
                None => {
                    reasons.push(format!(
                        "no model of `{}` in this wire format is cleared for {} data",
                        use_case.id,
                        name(class)
                    ));
                    block(policy, use_case, class, &above, reasons, at)
                }
            }
        }
        _ => {
            reasons.push(format!("policy for {} data: block", name(class)));
            block(policy, use_case, class, &above, reasons, at)
        }
    }
}

/// A refusal that names the compliant way: a cleared model of this use
/// case, else a use case that accepts the data, and always the findings to
/// remove.
fn block(
    policy: &Policy,
    use_case: &UseCase,
    class: DataClass,
    above: &[Classified],
    reasons: Vec<String>,
    at: Timestamp,
) -> Ruling {
    let name = |c: DataClass| policy.class_name(c).to_string();
    let mut options: Vec<String> = Vec::new();
    if class <= use_case.max_class {
        if let Some(m) = policy.models_cleared_for(use_case, class, at).first() {
            options.push(format!("use model `{}`, which is cleared for {} data", m.id, name(class)));
        }
    } else {
        let mut other: Vec<&UseCase> = policy.use_cases.values().filter(|u| u.max_class >= class).collect();
        other.sort_by_key(|u| (u.category != use_case.category, u.id.clone()));
        if let Some(u) = other.first() {
            options.push(format!("use case `{}` accepts {} data", u.id, name(class)));
        }
    }
    options.push(format!("remove the {} from the prompt", describe(above)));
    let nudge = format!("blocked: {} data may not go to this model here; {}", name(class), options.join("; or "));
    Ruling { verdict: Verdict::Block, data_class: class, reasons, nudge: Some(nudge) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_file;
    use std::path::Path;

    fn acme() -> Policy {
        load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml")).unwrap().policy
    }

    fn found(p: &Policy, kinds: &[FindingKind]) -> Vec<Classified> {
        kinds.iter().map(|k| Classified { kind: *k, class: p.dlp.kind_classes[k] }).collect()
    }

    #[test]
    fn clean_prompts_and_allowed_classes_pass() {
        let p = acme();
        let uc = &p.use_cases["support-reply"];
        let now = Timestamp::now();
        let d = decide(&p, uc, &p.models["claude-haiku-4-5"], &[WireFormat::Anthropic], &[], now);
        assert_eq!(d.verdict, Verdict::Allow);
        let d = decide(
            &p,
            uc,
            &p.models["claude-haiku-4-5"],
            &[WireFormat::Anthropic],
            &found(&p, &[FindingKind::Email]),
            now,
        );
        assert_eq!(d.verdict, Verdict::Allow, "haiku is cleared for confidential: {d:?}");
    }

    #[test]
    fn confidential_data_to_an_internal_model_is_rerouted_to_the_cheapest_cleared_one() {
        let p = acme();
        let uc = &p.use_cases["code-review"];
        let d = decide(
            &p,
            uc,
            &p.models["gpt-4.1"],
            &[WireFormat::Openai],
            &found(&p, &[FindingKind::Email]),
            Timestamp::now(),
        );
        // Only acme-llama-70b is both allowed, cleared for confidential and OpenAI-format.
        assert_eq!(d.verdict, Verdict::Reroute { to: "acme-llama-70b".into() });
        assert!(d.nudge.unwrap().contains("rerouted from `gpt-4.1` to `acme-llama-70b`"));
    }

    #[test]
    fn restricted_data_is_blocked_with_a_nudge_naming_the_alternative() {
        let p = acme();
        let uc = &p.use_cases["support-reply"];
        let d = decide(
            &p,
            uc,
            &p.models["gpt-4.1-mini"],
            &[WireFormat::Openai],
            &found(&p, &[FindingKind::CreditCard]),
            Timestamp::now(),
        );
        assert_eq!(d.verdict, Verdict::Block);
        let nudge = d.nudge.unwrap();
        assert!(nudge.contains("use case `"), "{nudge}");
        assert!(nudge.contains("remove the 1 credit_card"), "{nudge}");
        assert_eq!(p.class_name(d.data_class), "restricted");
    }

    #[test]
    fn no_cleared_model_in_the_format_blocks_and_names_the_model() {
        let p = acme();
        let uc = &p.use_cases["support-reply"];
        // gpt-4.1-mini is internal; the cleared models (Claude) speak Anthropic.
        let d = decide(
            &p,
            uc,
            &p.models["gpt-4.1-mini"],
            &[WireFormat::Openai],
            &found(&p, &[FindingKind::Email]),
            Timestamp::now(),
        );
        assert_eq!(d.verdict, Verdict::Block);
        assert!(d.nudge.unwrap().contains("use model `claude-haiku-4-5`"));
    }

    #[test]
    fn a_reroute_may_cross_wire_formats_the_gateway_can_translate() {
        let p = acme();
        let uc = &p.use_cases["support-reply"];
        let d = decide(
            &p,
            uc,
            &p.models["gpt-4.1-mini"],
            &[WireFormat::Openai, WireFormat::Anthropic],
            &found(&p, &[FindingKind::Email]),
            Timestamp::now(),
        );
        // Haiku ($1/Mtok in) is cheaper than Sonnet ($3) and cleared for confidential.
        assert_eq!(d.verdict, Verdict::Reroute { to: "claude-haiku-4-5".into() });
    }

    #[test]
    fn the_strictest_action_of_the_classes_found_wins() {
        let mut p = acme();
        let internal = p.classes.get("internal").unwrap();
        let confidential = p.classes.get("confidential").unwrap();
        p.dlp.actions.insert(confidential, Action::Redact);
        let uc = p.use_cases["support-reply"].clone();
        let m = p.models["gpt-4.1-mini"].clone();
        let d = decide(
            &p,
            &uc,
            &m,
            &[WireFormat::Openai],
            &found(&p, &[FindingKind::Email, FindingKind::Phone]),
            Timestamp::now(),
        );
        assert_eq!(d.verdict, Verdict::Redact { keep_up_to: internal });
        let d = decide(
            &p,
            &uc,
            &m,
            &[WireFormat::Openai],
            &found(&p, &[FindingKind::Email, FindingKind::Iban]),
            Timestamp::now(),
        );
        assert_eq!(d.verdict, Verdict::Block, "restricted → block outranks redact");
    }
}
