//! Who may use each use case: the policy must say it for every use case,
//! every name in it must exist, and a claim from outside the audience is
//! refused with a use case the person may use.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod common;

use common::{acme_src, line_of, load_as_acme as load};
use tokenwise_policy::{Audience, Diagnostic};

/// The one error of a policy that must fail with exactly one.
fn only_error(src: &str) -> Diagnostic {
    let report = load(src).unwrap_err();
    let errs: Vec<&Diagnostic> = report.errors().collect();
    assert_eq!(errs.len(), 1, "{report}");
    errs[0].clone()
}

const SUPPORT_ONLY: &str = "available_to = { teams = [\"support\"] }\n";

#[test]
fn the_example_says_who_may_use_each_use_case() {
    let p = load(&acme_src()).unwrap_or_else(|r| panic!("{r}")).policy;
    let user = |id: &str| p.users[id].clone();
    let uc = |id: &str| p.use_cases[id].clone();
    assert_eq!(uc("kb-search").available_to, Audience::Everyone);
    assert!(uc("support-reply").available_to.admits(&user("ivan.petrov")));
    assert!(!uc("support-reply").available_to.admits(&user("chen.wei")));
    // A person named on their own, outside the teams named.
    assert!(uc("contract-review").available_to.admits(&user("carl.johansson")));
    assert!(!uc("contract-review").available_to.admits(&user("dana.levi")));
    assert_eq!(uc("contract-review").available_to.to_string(), "team legal and user carl.johansson");
    // Everyone has something to use.
    for u in p.users.values() {
        assert!(p.use_cases_for(u).next().is_some(), "{} may use nothing", u.id);
    }
}

#[test]
fn a_use_case_that_does_not_say_who_may_use_it_is_an_error_naming_the_line_to_add() {
    let src = acme_src().replacen(SUPPORT_ONLY, "", 1);
    let d = only_error(&src);
    assert_eq!(d.message, "use case `support-reply` does not say who may use it");
    assert_eq!(d.line, line_of(&src, "[use_cases.support-reply]"));
    let hint = d.hint.unwrap();
    // The owner's team, written as it must be written.
    assert!(hint.contains("available_to = { teams = [\"support\"] }"), "{hint}");
    assert!(hint.contains("available_to = \"everyone\""), "{hint}");
}

#[test]
fn unknown_teams_and_users_are_named_with_a_suggestion() {
    let src =
        acme_src().replacen(SUPPORT_ONLY, "available_to = { teams = [\"suport\"], users = [\"tom.baker\"] }\n", 1);
    let report = load(&src).unwrap_err();
    let errs: Vec<&Diagnostic> = report.errors().collect();
    assert_eq!(errs.len(), 2, "{report}");
    let line = line_of(&src, "\"suport\"");
    let text = src.lines().nth(line - 1).unwrap();
    assert_eq!(errs[0].message, "unknown team `suport` in use_cases.support-reply.available_to.teams[0]");
    assert_eq!((errs[0].line, errs[0].column), (line, text.find("\"suport\"").unwrap() + 1));
    assert!(errs[0].hint.as_deref().unwrap().starts_with("did you mean `support`?"), "{:?}", errs[0].hint);
    assert_eq!(errs[1].message, "unknown user `tom.baker` in use_cases.support-reply.available_to.users[0]");
    assert_eq!((errs[1].line, errs[1].column), (line, text.find("\"tom.baker\"").unwrap() + 1));
    assert!(errs[1].hint.as_deref().unwrap().starts_with("did you mean `tom.becker`?"), "{:?}", errs[1].hint);
}

#[test]
fn only_the_word_everyone_is_an_audience() {
    let src = acme_src().replacen(SUPPORT_ONLY, "available_to = \"all\"\n", 1);
    let d = only_error(&src);
    assert_eq!(d.message, "`all` is not an audience for use case `support-reply`");
    assert_eq!(d.line, line_of(&src, "available_to = \"all\""));
    assert!(d.hint.unwrap().contains("available_to = \"everyone\""));
}

#[test]
fn an_audience_of_nobody_is_an_error() {
    for empty in ["available_to = {}\n", "available_to = { teams = [], users = [] }\n"] {
        let src = acme_src().replacen(SUPPORT_ONLY, empty, 1);
        let d = only_error(&src);
        assert_eq!(d.message, "use case `support-reply` is available to nobody", "{empty}");
        assert_eq!(d.line, line_of(&src, empty.trim()));
    }
}

#[test]
fn a_misspelt_key_or_a_wrong_type_is_reported_at_its_line() {
    let src = acme_src().replacen(SUPPORT_ONLY, "available_to = { team = [\"support\"] }\n", 1);
    let d = only_error(&src);
    assert!(d.message.contains("unknown field `team`, expected `teams` or `users`"), "{}", d.message);
    assert_eq!(d.line, line_of(&src, "available_to = { team = "));

    let src = acme_src().replacen(SUPPORT_ONLY, "available_to = [\"support\"]\n", 1);
    let d = only_error(&src);
    assert!(d.message.contains("\"everyone\" or a table"), "{}", d.message);
    assert_eq!(d.line, line_of(&src, "available_to = [\"support\"]"));
}

#[test]
fn a_name_listed_twice_is_an_error_and_one_already_included_a_warning() {
    let src = acme_src().replacen(SUPPORT_ONLY, "available_to = { teams = [\"support\", \"support\"] }\n", 1);
    let d = only_error(&src);
    assert_eq!(d.message, "team `support` is listed twice");

    let src =
        acme_src().replacen(SUPPORT_ONLY, "available_to = { teams = [\"support\"], users = [\"jade.nguyen\"] }\n", 1);
    let loaded = load(&src).unwrap_or_else(|r| panic!("{r}"));
    let w: Vec<&Diagnostic> = loaded.warnings.warnings().collect();
    assert_eq!(w.len(), 1, "{}", loaded.warnings);
    assert_eq!(w[0].message, "`jade.nguyen` may already use `support-reply` as a member of team `support`");
    assert_eq!(w[0].line, line_of(&src, "users = [\"jade.nguyen\"]"));
}

#[test]
fn a_person_with_no_use_case_is_pointed_out() {
    // Legal loses the knowledge base and contract review: nothing is left.
    let src = acme_src()
        .replace(
            "available_to = \"everyone\"",
            "available_to = { teams = [\"platform\", \"support\", \"sales\", \"data\", \"finance\", \"risk\"] }",
        )
        .replace(
            "available_to = { teams = [\"legal\"], users = [\"carl.johansson\"] }",
            "available_to = { users = [\"carl.johansson\"] }",
        );
    let loaded = load(&src).unwrap_or_else(|r| panic!("{r}"));
    let msgs: Vec<String> = loaded.warnings.warnings().map(|d| d.message.clone()).collect();
    assert_eq!(msgs.len(), 4, "{}", loaded.warnings);
    assert!(msgs.contains(&"no use case is available to `helen.marsh`, so they cannot make any call".to_string()));
    let d = loaded.warnings.warnings().next().unwrap();
    assert!(d.hint.as_deref().unwrap().contains("team `legal`"), "{:?}", d.hint);
}

#[test]
fn a_refusal_names_a_use_case_the_person_may_use() {
    let p = load(&acme_src()).unwrap().policy;
    let jade = &p.users["jade.nguyen"];
    assert!(p.use_case_refusal(jade, &p.use_cases["support-reply"]).is_none());
    assert!(p.use_case_refusal(jade, &p.use_cases["kb-search"]).is_none());
    let r = p.use_case_refusal(jade, &p.use_cases["code-review"]).unwrap();
    let instead = r.instead.unwrap();
    assert!(instead.available_to.admits(jade));
    assert!(r.nudge.starts_with(&format!("use `{}` instead", instead.id)), "{}", r.nudge);
    assert!(r.nudge.contains("kb-search, support-reply, ticket-summary"), "{}", r.nudge);
    assert!(r.message.contains("`jade.nguyen` (team `support`) may not use use case `code-review`"), "{}", r.message);
    assert!(r.message.contains("available to teams data, platform"), "{}", r.message);
    assert!(r.message.contains("ask `amara.okafor`"), "{}", r.message);
    // The nearest kind of work first: a summary for someone who may not
    // review contracts.
    let r = p.use_case_refusal(jade, &p.use_cases["contract-review"]).unwrap();
    assert_eq!(r.instead.unwrap().id, "ticket-summary");
    let names: Vec<&str> = p.use_cases_for(jade).map(|u| u.id.as_str()).collect();
    assert_eq!(names, ["kb-search", "support-reply", "ticket-summary"]);
}
