//! Four people, one month: the six reward models rank them differently,
//! and the comparison says how. A token burner tops `raw_tokens` and
//! sinks under `balanced`; the careful worker does the opposite.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tokenwise_core::Nanos;
use tokenwise_scoring::badges::awards;
use tokenwise_scoring::{Activity, Facts, Model, Outcome, Rules, Status, TemplateFacts, UseCaseFacts, compare, score};

fn calls(user: &str, day: u16, calls: u64, blocked: u64, tokens: u64, cost: i64, template: Option<&str>) -> Activity {
    Activity {
        user: user.into(),
        day,
        use_case: Some("support".into()),
        template: template.map(str::to_string),
        calls,
        blocked,
        flagged: 0,
        approved_template_calls: if template.is_some() { calls - blocked } else { 0 },
        exception_calls: 0,
        tokens,
        cost: Nanos(cost),
    }
}

fn outcome(user: &str, n: i64, status: Status, quality: u8) -> Outcome {
    Outcome {
        id: format!("{user}-{n}"),
        user: user.into(),
        use_case: "support".into(),
        kind: "ticket_resolved".into(),
        value: Nanos(21_250_000_000),
        status,
        signed: false,
        quality: Some(quality),
        escalated: false,
        error: false,
        metered: true,
        template: Some("reply@3".into()),
        prompt_hash: Some(format!("{user}-{n}")),
        at: n,
    }
}

fn month() -> Facts {
    let mut f = Facts { period: "2026-11".into(), days: 30, ..Facts::default() };
    for (u, t) in [("careful", "support"), ("burner", "support"), ("claimer", "support"), ("leaker", "support")] {
        f.teams.insert(u.into(), t.into());
    }
    f.use_cases.insert(
        "support".into(),
        UseCaseFacts { baseline_cost: Nanos(50_000_000), outcome_value: Nanos(21_250_000_000), exploration: false },
    );
    f.templates.insert("reply@3".into(), TemplateFacts { author: "careful".into(), approved: true });
    for day in 0..20 {
        f.activity.push(calls("careful", day, 4, 0, 8_000, 30_000_000, Some("reply@3")));
        f.activity.push(calls("burner", day, 60, 0, 900_000, 2_000_000_000, None));
        f.activity.push(calls("claimer", day, 3, 0, 6_000, 25_000_000, Some("reply@3")));
        f.activity.push(calls("leaker", day, 5, 2, 9_000, 30_000_000, Some("reply@3")));
    }
    for n in 0..20 {
        f.outcomes.push(outcome("careful", n, Status::Validated, 5));
        f.outcomes.push(outcome("burner", 100 + n, Status::Validated, 4));
        let status = if n % 2 == 0 { Status::Rejected } else { Status::Validated };
        f.outcomes.push(outcome("claimer", 200 + n, status, 3));
        f.outcomes.push(outcome("leaker", 300 + n, Status::Validated, 4));
    }
    f
}

fn order(model: Model, f: &Facts) -> Vec<String> {
    score(model, f, &Rules::default())
        .scores
        .into_iter()
        .filter(|s| s.subject.starts_with("user:"))
        .map(|s| s.subject.trim_start_matches("user:").to_string())
        .collect()
}

#[test]
fn the_models_rank_one_month_differently() {
    let f = month();
    assert_eq!(order(Model::RawTokens, &f)[0], "burner");
    assert_eq!(order(Model::Balanced, &f)[0], "careful");
    assert_eq!(order(Model::Balanced, &f).last().unwrap(), "burner");
    assert_eq!(order(Model::Efficiency, &f)[0], "careful");
    // Half the claimer's outcomes were rejected: they count for nothing.
    let outcome = order(Model::Outcome, &f);
    assert_eq!(outcome.last().unwrap(), "claimer");
    // Same outcomes, but the leaker's blocked calls cost compliance.
    let of = |model, who: &str| {
        score(model, &f, &Rules::default()).scores.iter().find(|s| s.subject == format!("user:{who}")).unwrap().score
    };
    assert_eq!(of(Model::Outcome, "leaker"), of(Model::Outcome, "careful"));
    assert!(of(Model::ComplianceWeighted, "leaker") < of(Model::ComplianceWeighted, "careful"));

    let c = compare(&f, &Rules::default());
    assert_eq!(c.models.len(), 6);
    let raw_vs_balanced =
        c.correlations.iter().find(|x| x.a == Model::RawTokens && x.b == Model::Balanced).unwrap().spearman;
    assert!(raw_vs_balanced < 0.0, "token volume and balanced disagree: {raw_vs_balanced}");
    let raw = c.shifts.iter().find(|s| s.model == Model::RawTokens).unwrap();
    assert_eq!(raw.winners[0].subject, "user:burner");
    assert_eq!(raw.losers[0].subject, "user:careful");
}

#[test]
fn every_score_explains_itself_and_names_its_rules() {
    let f = month();
    let board = score(Model::Balanced, &f, &Rules::default());
    assert!(board.rules_version.starts_with("s2-"));
    assert_eq!(board.rules_version, Rules::default().version());
    let other = Rules { team_share: 0.6, ..Rules::default() };
    assert_ne!(other.version(), board.rules_version, "other rules, another version");
    for s in &board.scores {
        assert!((0.0..=100.0).contains(&s.score), "{s:?}");
        for axis in ["efficiency", "quality", "compliance", "score"] {
            assert!(s.breakdown.iter().any(|l| l.axis == axis && !l.rule.is_empty()), "{} lacks {axis}", s.subject);
        }
    }
    let json = serde_json::to_value(&board).unwrap();
    assert_eq!(json["model"], "balanced");
    assert!(json["scores"][0]["breakdown"][0]["fact"].is_string());
}

#[test]
fn badges_are_earned_by_the_facts_they_name() {
    let mut f = month();
    // Three other teams use the careful worker's template.
    for (u, t) in [("ana", "sales"), ("bo", "legal"), ("cy", "data")] {
        f.teams.insert(u.into(), t.into());
        f.activity.push(calls(u, 2, 1, 0, 500, 1_000_000, Some("reply@3")));
    }
    let awards = awards(&f, &Rules::default());
    let reuse = awards.iter().find(|a| a.badge == "template_reuse").expect("reuse badge");
    assert_eq!((reuse.subject.as_str(), reuse.key.as_str()), ("user:careful", "reply"));
    assert!(reuse.explanation.contains("3 other teams"), "{}", reuse.explanation);
    // 20 clean days for everyone but the leaker, whose calls were blocked each day.
    let clean: Vec<&str> = awards.iter().filter(|a| a.badge == "clean_days").map(|a| a.subject.as_str()).collect();
    assert!(clean.contains(&"user:careful") && !clean.contains(&"user:leaker"), "{clean:?}");
    // First validated outcome in a use case, unless one was validated before the period.
    assert!(awards.iter().any(|a| a.badge == "first_validated_outcome" && a.subject == "user:burner"));
    f.validated_before.insert(("burner".into(), "support".into()));
    let again = tokenwise_scoring::badges::awards(&f, &Rules::default());
    assert!(!again.iter().any(|a| a.badge == "first_validated_outcome" && a.subject == "user:burner"));
}

/// Exploration earns on what it taught (templates created, promoted),
/// production on what it did; the other kinds count nothing, and the
/// breakdown says so.
#[test]
fn exploration_earns_on_learning_outcomes_and_production_on_operational_ones() {
    let mut f = Facts { period: "2026-11".into(), days: 30, ..Facts::default() };
    f.teams.insert("ana".into(), "platform".into());
    f.use_cases.insert(
        "sandbox".into(),
        UseCaseFacts { baseline_cost: Nanos(50_000_000), outcome_value: Nanos(21_250_000_000), exploration: true },
    );
    f.activity.push(Activity { use_case: Some("sandbox".into()), ..calls("ana", 0, 4, 0, 8_000, 30_000_000, None) });
    let claim = |kind: &str| Outcome {
        use_case: "sandbox".into(),
        kind: kind.into(),
        ..outcome("ana", 1, Status::Validated, 4)
    };
    let efficiency = |f: &Facts, rules: &Rules| {
        let board = score(Model::Efficiency, f, rules);
        board.scores.iter().find(|s| s.subject == "user:ana").map_or(0.0, |s| s.efficiency)
    };

    f.outcomes = vec![claim("ticket_resolved")];
    assert_eq!(efficiency(&f, &Rules::default()), 0.0, "operational work claimed from a sandbox earns nothing");
    let board = score(Model::Balanced, &f, &Rules::default());
    let ana = board.scores.iter().find(|s| s.subject == "user:ana").unwrap();
    assert!(
        ana.breakdown.iter().any(|l| l.fact.contains("1 outcomes of a kind their use case's track does not score"))
    );

    f.outcomes = vec![claim("template_promoted")];
    assert!(efficiency(&f, &Rules::default()) > 0.5, "a promoted template is what exploration is for");

    let every_kind = Rules { learning_kinds: vec![], ..Rules::default() };
    f.outcomes = vec![claim("ticket_resolved")];
    assert!(efficiency(&f, &every_kind) > 0.5, "no learning kinds: every kind counts everywhere");
    assert_ne!(every_kind.version(), Rules::default().version());
}
