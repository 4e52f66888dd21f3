//! Risk tiers: each tier's floor of controls read with its defaults, and
//! every policy that would loosen a floor — or set something that does
//! nothing — refused at its line with the fix.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{acme_src, line_of, load_as_acme};
use tokenwise_policy::{Diagnostic, ExceptionApproval, PromptRetention, RiskTier, TierFloor};

/// The line of `needle` at or after the line of `after`.
fn line_after(src: &str, after: &str, needle: &str) -> usize {
    let start = line_of(src, after);
    start + src.lines().skip(start - 1).position(|l| l.contains(needle)).unwrap()
}

fn only_error(src: &str) -> Diagnostic {
    let report = load_as_acme(src).unwrap_err();
    let errs: Vec<&Diagnostic> = report.errors().collect();
    assert_eq!(errs.len(), 1, "{report}");
    errs[0].clone()
}

/// The acme policy without its own `[risk_tiers.high]`: the defaults alone.
fn without_tiers(src: &str) -> String {
    let start = src.find("[risk_tiers.high]").expect("acme has [risk_tiers.high]");
    let end = src[start..].find("\n\n").map_or(src.len(), |e| start + e);
    format!("{}{}", &src[..start], &src[end..])
}

/// The three high-tier use cases of the example company.
const HIGH: [&str; 3] = ["contract-review", "incident-triage", "finance-narrative"];

#[test]
fn each_tier_has_a_documented_floor_and_the_riskier_is_never_looser() {
    let p = load_as_acme(&without_tiers(&acme_src())).unwrap_or_else(|r| panic!("{r}")).policy;
    let low = TierFloor::default_for(RiskTier::Low);
    assert_eq!(p.floor("kb-search"), low);
    assert_eq!(low.exceptions, ExceptionApproval::Managers);
    assert!(!low.scan_output && low.available_to_everyone);
    assert_eq!(p.floor("support-reply"), TierFloor::default_for(RiskTier::Medium));
    let high = p.floor("incident-triage");
    assert_eq!(high.exceptions, ExceptionApproval::Governance);
    assert!(high.scan_output && !high.available_to_everyone);
    assert!(high.allows_prompts(PromptRetention::Redacted) && !high.allows_prompts(PromptRetention::Full));
    let critical = TierFloor::default_for(RiskTier::Critical);
    assert_eq!(critical.exceptions, ExceptionApproval::None);
    // The floors rise with the tier.
    for pair in RiskTier::ALL.windows(2) {
        let (lo, hi) = (TierFloor::default_for(pair[0]), TierFloor::default_for(pair[1]));
        assert!(hi.exceptions >= lo.exceptions && hi.scan_output >= lo.scan_output);
        assert!(hi.prompts.iter().all(|m| lo.prompts.contains(m)));
        assert!(!hi.available_to_everyone || lo.available_to_everyone);
    }
    // The example's own [risk_tiers.high] restates the defaults.
    let acme = load_as_acme(&acme_src()).unwrap().policy;
    for id in HIGH {
        assert_eq!(acme.floor(id), high, "{id}");
    }
}

#[test]
fn high_tier_replies_are_scanned_whatever_the_global_switch_says() {
    let off = acme_src().replace("scan_output = true\n", "scan_output = false\n");
    let p = load_as_acme(&off).unwrap_or_else(|r| panic!("{r}")).policy;
    assert!(!p.dlp.scan_output);
    for id in HIGH {
        assert!(p.scans_output(id), "{id}");
    }
    for id in ["support-reply", "kb-search", "code-review"] {
        assert!(!p.scans_output(id), "{id}");
    }
    // A low tier asking for it has its replies scanned too, and so has every
    // riskier tier that does not say (its floor is raised to the one below).
    let low = off.clone() + "\n[risk_tiers.low]\nscan_output = true\n";
    let p = load_as_acme(&low).unwrap_or_else(|r| panic!("{r}")).policy;
    assert!(p.scans_output("kb-search") && p.scans_output("support-reply"));
    let lower = low + "[risk_tiers.medium]\nscan_output = false\n";
    let d = only_error(&lower);
    assert_eq!(d.message, "risk tier `medium` would be looser than `low` in `scan_output`");
    assert_eq!(d.line, line_after(&lower, "[risk_tiers.medium]", "scan_output = false"));
    // The global switch on: every reply, and a tier's `scan_output` does nothing.
    let src = acme_src().replace("[risk_tiers.high]\n", "[risk_tiers.high]\nscan_output = true\n");
    let d = only_error(&src);
    assert_eq!(d.line, line_after(&src, "[risk_tiers.high]", "scan_output = true"));
    assert!(d.message.contains("`scan_output` does nothing here"), "{}", d.message);
    assert!(d.hint.unwrap().contains("remove it from [risk_tiers.high]"));
}

#[test]
fn output_action_counts_as_doing_something_when_a_tier_scans_replies() {
    let off = acme_src().replace("scan_output = true\n", "scan_output = false\noutput_action = \"flag\"\n");
    let p = load_as_acme(&off).unwrap_or_else(|r| panic!("{r}")).policy;
    assert_eq!(p.dlp.output_action, tokenwise_policy::OutputAction::Flag);
    // No tier in use scans replies: `output_action` does nothing.
    let none = off.replace("[risk_tiers.high]\n", "[risk_tiers.high]\nscan_output = false\n");
    let d = only_error(&none);
    assert_eq!(d.line, line_of(&none, "output_action = \"flag\""));
    assert!(d.message.contains("`output_action` does nothing"), "{}", d.message);
}

#[test]
fn a_high_tier_use_case_keeping_prompts_in_full_is_refused_at_its_line() {
    let src = acme_src()
        .replace("retention = { prompts = \"redacted\", days = 90 }", "retention = { prompts = \"full\", days = 90 }");
    let d = only_error(&src);
    assert_eq!(d.line, line_of(&src, "retention = { prompts = \"full\""));
    assert_eq!(
        d.message,
        "use case `contract-review` keeps prompts `full`, but risk tier `high` allows only [\"none\", \"redacted\"]"
    );
    let hint = d.hint.unwrap();
    assert!(
        hint.contains("set `retention = { prompts = \"redacted\", days = 90 }` on [use_cases.contract-review]"),
        "{hint}"
    );
    assert!(hint.contains("or allow `full` in [risk_tiers.high] `prompts`"), "{hint}");
    // Allowed by the tier, it loads.
    let allowed = src.replace("prompts = [\"none\", \"redacted\"]", "prompts = [\"none\", \"redacted\", \"full\"]");
    load_as_acme(&allowed).unwrap_or_else(|r| panic!("{r}"));
}

#[test]
fn a_full_default_retention_is_refused_on_each_high_tier_use_case_that_would_take_it() {
    let src = acme_src().replace("[retention]\nprompts = \"none\"", "[retention]\nprompts = \"full\"\ndays = 7");
    let report = load_as_acme(&src).unwrap_err();
    let errs: Vec<&Diagnostic> = report.errors().collect();
    // contract-review keeps its own (redacted); the other two inherit `full`.
    assert_eq!(errs.len(), 2, "{report}");
    for id in ["finance-narrative", "incident-triage"] {
        let d = errs.iter().find(|d| d.message.contains(&format!("`{id}`"))).unwrap();
        assert!(d.message.starts_with(&format!("use case `{id}` keeps prompts `full`")), "{}", d.message);
        assert_eq!(d.line, line_after(&src, &format!("[use_cases.{id}]"), "risk_tier = \"high\""));
        assert!(d.hint.as_deref().unwrap().contains("days = 7 }"), "{:?}", d.hint);
    }
}

#[test]
fn a_tier_that_requires_an_audit_trail_refuses_use_cases_keeping_nothing() {
    let src = acme_src().replace("prompts = [\"none\", \"redacted\"]", "prompts = [\"redacted\"]");
    let report = load_as_acme(&src).unwrap_err();
    let errs: Vec<&Diagnostic> = report.errors().collect();
    assert_eq!(errs.len(), 2, "{report}");
    let d = errs.iter().find(|d| d.message.contains("`incident-triage`")).unwrap();
    assert_eq!(
        d.message,
        "use case `incident-triage` keeps no prompts, but risk tier `high` allows only [\"redacted\"]"
    );
    assert_eq!(d.line, line_after(&src, "[use_cases.incident-triage]", "risk_tier"));
    assert!(
        d.hint
            .as_deref()
            .unwrap()
            .starts_with("set `retention = { prompts = \"redacted\", days = 90 }` on [use_cases.incident-triage]")
    );
}

#[test]
fn a_high_tier_use_case_open_to_everyone_is_refused_at_its_line() {
    let src = acme_src().replace("available_to = { teams = [\"risk\", \"platform\"] }", "available_to = \"everyone\"");
    let d = only_error(&src);
    assert_eq!(d.line, line_after(&src, "[use_cases.incident-triage]", "available_to = \"everyone\""));
    assert_eq!(
        d.message,
        "use case `incident-triage` is available to everyone, but risk tier `high` is for named teams and people only"
    );
    let hint = d.hint.unwrap();
    assert!(hint.contains("available_to = { teams = [\"risk\"] }"), "the owner's team: {hint}");
    assert!(hint.contains("`available_to_everyone = true` in [risk_tiers.high]"), "{hint}");
    // The tier may allow it.
    let allowed = src.replace("available_to_everyone = false", "available_to_everyone = true");
    load_as_acme(&allowed).unwrap_or_else(|r| panic!("{r}"));
}

#[test]
fn mistakes_in_the_tiers_are_located_and_explained() {
    let base = acme_src();
    let src = base.replace("[risk_tiers.high]", "[risk_tiers.hihg]");
    let report = load_as_acme(&src).unwrap_err();
    let d = report.errors().next().unwrap();
    assert_eq!((d.line, d.message.as_str()), (line_of(&src, "[risk_tiers.hihg]"), "unknown risk tier `hihg`"));
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `high`?"));

    let src = base.replace("exceptions = \"governance\"", "exceptions = \"governance\"\nexception = \"none\"");
    let d = only_error(&src);
    assert_eq!(d.line, line_of(&src, "exception = \"none\""));
    assert!(d.message.contains("unknown field `exception`"), "{}", d.message);

    let src = base.replace("exceptions = \"governance\"", "exceptions = \"managrs\"");
    let d = only_error(&src);
    assert_eq!(d.line, line_of(&src, "exceptions = \"managrs\""));

    let src = base.replace("prompts = [\"none\", \"redacted\"]", "prompts = []");
    let d = only_error(&src);
    assert_eq!(d.line, line_of(&src, "prompts = []"));
    assert!(d.message.contains("allows no retention"), "{}", d.message);

    // A riskier tier looser than a less risky one: refused where it is written.
    let src = base.replace("exceptions = \"governance\"", "exceptions = \"managers\"")
        + "\n[risk_tiers.medium]\nexceptions = \"governance\"\n";
    let d = only_error(&src);
    assert_eq!(d.line, line_after(&src, "[risk_tiers.high]", "exceptions = \"managers\""));
    assert_eq!(d.message, "risk tier `high` would be looser than `medium` in `exceptions`");
    assert!(d.hint.unwrap().contains("set `exceptions` in [risk_tiers.high] to \"governance\""));

    // A stricter tier below raises a riskier tier's unwritten keys: medium
    // keeping nothing makes high keep nothing, so contract-review is refused.
    let src = base.clone() + "\n[risk_tiers.medium]\nprompts = [\"none\"]\n";
    let report = load_as_acme(&src).unwrap_err();
    assert!(
        report.errors().any(|d| d.message.contains("risk tier `high` would be looser than `medium` in `prompts`")),
        "{report}"
    );
    let src = without_tiers(&base) + "\n[risk_tiers.medium]\nprompts = [\"none\"]\n";
    let d = only_error(&src.replace("retention = { prompts = \"redacted\", days = 90 }\n", "").replace(
        "[risk_tiers.medium]\nprompts = [\"none\"]",
        "[risk_tiers.medium]\nprompts = [\"none\"]\n[risk_tiers.low]\navailable_to_everyone = false",
    ));
    assert!(
        d.message.starts_with("use case `kb-search` is available to everyone, but risk tier `low`"),
        "{}",
        d.message
    );

    // A tier no use case has is a warning, not an error: it waits for one.
    let src = base.clone() + "\n[risk_tiers.critical]\nexceptions = \"none\"\n";
    let loaded = load_as_acme(&src).unwrap_or_else(|r| panic!("{r}"));
    let w = loaded.warnings.warnings().next().unwrap();
    assert_eq!(w.line, line_of(&src, "[risk_tiers.critical]"));
    assert!(w.message.contains("no use case is of risk tier `critical`"), "{}", w.message);
}

#[test]
fn a_top_level_retention_default_nobody_takes_is_refused() {
    // `days` with no prompts kept anywhere: nobody's default.
    let src = acme_src().replace("[retention]\nprompts = \"none\"", "[retention]\nprompts = \"none\"\ndays = 30");
    let d = only_error(&src);
    assert_eq!(d.line, line_after(&src, "[retention]", "days = 30"));
    assert!(d.message.starts_with("`days` does nothing: no use case keeps prompts"), "{}", d.message);
    assert!(d.hint.unwrap().starts_with("remove `days` from [retention]"));
    // A use case keeping prompts without days of its own takes them: accepted.
    let taken =
        src.replace("retention = { prompts = \"redacted\", days = 90 }", "retention = { prompts = \"redacted\" }");
    let p = load_as_acme(&taken).unwrap_or_else(|r| panic!("{r}")).policy;
    assert_eq!(p.use_cases["contract-review"].retention.days, 30);
}

#[test]
fn a_top_level_prompts_default_every_use_case_overrides_is_refused() {
    // Every use case sets its own retention: a top-level `prompts` is nobody's.
    let mut src =
        acme_src().replace("[retention]\nprompts = \"none\"", "[retention]\nprompts = \"redacted\"\ndays = 30");
    for (after, own) in [
        ("risk_tier = \"low\"\n", "retention = { prompts = \"none\" }\n"),
        ("risk_tier = \"medium\"\n", "retention = { prompts = \"none\" }\n"),
        ("outcome_value_hours = 1.5\n", "retention = { prompts = \"none\" }\n"),
        ("outcome_value_hours = 3.0\n", "retention = { prompts = \"none\" }\n"),
    ] {
        src = src.replace(after, &format!("{after}{own}"));
    }
    let report = load_as_acme(&src).unwrap_err();
    let errs: Vec<&Diagnostic> = report.errors().collect();
    assert_eq!(errs.len(), 2, "{report}");
    assert!(errs.iter().any(|d| d.message == "`prompts` does nothing: every use case sets its own `retention`"
        && d.line == line_after(&src, "[retention]", "prompts = \"redacted\"")));
    assert!(
        errs.iter()
            .any(|d| d.message.starts_with("`days` does nothing: every use case that keeps prompts sets its own"))
    );
}
