//! `[[pilots]]` as people write them: the example's pilot resolved to
//! people, and each mistake refused with its line and a fix.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use tokenwise_policy::{Report, load_str};

fn acme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml")
}

fn load(src: &str) -> Result<tokenwise_policy::Loaded, Report> {
    load_str(&acme_path(), src, &|p: &Path| std::fs::read_to_string(p))
}

/// The example policy with one more pilot.
fn with_pilot(body: &str) -> String {
    std::fs::read_to_string(acme_path()).unwrap() + "\n[[pilots]]\n" + body
}

fn line_of(src: &str, needle: &str) -> usize {
    let lines: Vec<&str> = src.lines().collect();
    lines.iter().rposition(|l| l.contains(needle)).unwrap_or_else(|| panic!("`{needle}` not in source")) + 1
}

/// The single error: (line, message, hint).
fn error_of(src: &str) -> (usize, String, String) {
    let Err(report) = load(src) else { panic!("refused") };
    let errors: Vec<_> = report.errors().collect();
    assert_eq!(errors.len(), 1, "{report}");
    let e = errors[0];
    (e.line, e.message.clone(), e.hint.clone().unwrap_or_default())
}

const GOOD: &str = "id = \"p2\"\ncohort = { teams = [\"legal\"] }\ncontrol = { users = [\"carl.johansson\"] }\n\
                    start = \"2026-11-02\"\nend = \"2027-01-15\"\nreward_model = \"outcome\"\n";

#[test]
fn the_examples_pilot_is_resolved_to_people() {
    let p = load(&with_pilot(GOOD)).unwrap().policy;
    let demo = p.pilot("efficiency-first").unwrap();
    assert_eq!(demo.cohort.len(), 8, "the platform team");
    assert!(demo.control.iter().all(|u| p.users[u].team == "data"), "everyone else on code review: {:?}", demo.control);
    assert_eq!(demo.reward_model.as_str(), "efficiency");
    assert_eq!(demo.rules_version, p.scoring.rules.version(), "the policy's own rules by default");
    assert_eq!((demo.baseline_weeks, demo.badges), (2, false));
    let p2 = p.pilot("p2").unwrap();
    assert_eq!(p2.control.iter().collect::<Vec<_>>(), vec!["carl.johansson"]);
    assert_eq!(p2.baseline_weeks, 4);
}

#[test]
fn mistakes_in_a_pilot_are_refused_with_their_line_and_a_fix() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("cohort = { teams = [\"legal\"] }", "cohort = { teams = [\"legl\"] }", "unknown team `legl`", "legal"),
        (
            "control = { users = [\"carl.johansson\"] }",
            "control = { users = [\"umar.farouk\"] }",
            "`umar.farouk` is in both the cohort and the control group",
            "one group only",
        ),
        ("end = \"2027-01-15\"", "end = \"2026-10-01\"", "ends (2026-10-01) before it starts", "on or after `start`"),
        ("reward_model = \"outcome\"", "reward_model = \"outcomes\"", "unknown reward model `outcomes`", "outcome"),
        (
            "reward_model = \"outcome\"",
            "reward_model = \"outcome\"\nrules_version = \"s1-deadbeef00\"",
            "unknown scoring-rules version `s1-deadbeef00`",
            "leave rules_version out",
        ),
        ("id = \"p2\"", "id = \"efficiency-first\"", "pilot `efficiency-first` is defined twice", "its own id"),
        (
            "cohort = { teams = [\"legal\"] }",
            "cohort = { teams = [\"legal\"], managers = [\"helen.marsh\"] }",
            "unknown field `managers`",
            "",
        ),
    ];
    for (from, to, message, hint) in cases {
        let src = with_pilot(&GOOD.replace(from, to));
        let (line, m, h) = error_of(&src);
        assert!(m.contains(message), "{to}: {m}");
        assert!(h.contains(hint), "{to}: hint {h}");
        let needle = to.lines().last().unwrap().split(" = ").next().unwrap();
        assert_eq!(line, line_of(&src, needle), "{to}: {m}");
    }
}

#[test]
fn a_cohort_with_nobody_left_to_compare_is_refused() {
    let src = with_pilot(
        "id = \"all-legal\"\ncohort = { teams = [\"legal\"] }\nuse_cases = [\"contract-review\"]\ncontrol = { teams = [] }\nstart = \"2026-11-02\"\nend = \"2027-01-15\"\nreward_model = \"team\"\n",
    );
    let (_, m, h) = error_of(&src);
    assert!(m.contains("the control group is empty"), "{m}");
    assert!(h.contains("name one"), "{h}");
}

#[test]
fn a_person_in_two_cohorts_on_the_same_days_is_refused() {
    // The example's pilot has the platform team in its cohort from
    // 2026-11-16 to 2027-01-31.
    let overlapping = "id = \"p3\"\ncohort = { users = [\"ben.carter\"] }\ncontrol = { teams = [\"legal\"] }\n\
                       start = \"2027-01-01\"\nend = \"2027-03-15\"\nreward_model = \"outcome\"\n";
    let p = load(&acme_path_src()).unwrap().policy;
    assert_eq!(p.users["ben.carter"].team, "platform", "the example's cohort");
    let src = with_pilot(overlapping);
    let (line, m, h) = error_of(&src);
    assert!(m.contains("`ben.carter` is in the cohorts of pilots `efficiency-first` and `p3`"), "{m}");
    assert!(h.contains("one pilot's design at a time"), "{h}");
    assert_eq!(line, line_of(&src, "cohort = { users"), "{m}");
    // The day after the other ends, it may start.
    let after = overlapping.replace("2027-01-01", "2027-02-01");
    assert!(load(&with_pilot(&after)).is_ok());
}

fn acme_path_src() -> String {
    std::fs::read_to_string(acme_path()).unwrap()
}
