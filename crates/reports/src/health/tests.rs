use super::*;

fn act(user: &str, team: &str, day: u16, template: Option<&str>, calls: u64, cost: i64) -> Activity {
    Activity {
        user: user.into(),
        team: team.into(),
        day,
        template: template.map(Into::into),
        calls,
        cost: Nanos(cost),
        ..Activity::default()
    }
}

fn tpl(id: &str, team: &str, approved: bool) -> Template {
    Template {
        key: format!("{id}@1"),
        id: id.into(),
        author_team: Some(team.into()),
        approved,
        use_case: "reply".into(),
        description: None,
    }
}

fn input() -> Input {
    let mut blocked = act("ann", "support", 0, None, 4, 0);
    blocked.blocked = 2;
    blocked.flagged = 1;
    let outcome = |day: u16, team: &str, validated: bool, rejected: bool, escalated: bool| Outcome {
        day,
        team: team.into(),
        validated,
        rejected,
        escalated,
        error: false,
    };
    let task = |team: &str, template: Option<&str>, hash: &str| Task {
        team: team.into(),
        template: template.map(Into::into),
        prompt_hash: Some(hash.into()),
        count: 1,
    };
    Input {
        period: "2026-11".into(),
        first_day: "2026-11-01".parse().unwrap(),
        days: 30,
        bucket: Bucket::Week,
        activity: vec![
            act("ann", "support", 0, Some("reply@1"), 10, 1_000),
            act("bob", "sales", 8, Some("reply@1"), 6, 3_000),
            act("cat", "data", 9, Some("reply@1"), 2, 500),
            blocked,
        ],
        outcomes: vec![
            outcome(1, "support", true, false, false),
            outcome(2, "support", false, false, true),
            outcome(3, "support", false, true, true),
            outcome(8, "sales", true, false, false),
        ],
        tasks: vec![
            task("support", None, "aaaa"),
            task("sales", None, "aaaa"),
            task("support", Some("reply@1"), "bbbb"),
            task("sales", Some("reply@1"), "bbbb"),
        ],
        templates: vec![tpl("reply", "support", true), tpl("Reply_v2", "sales", false), tpl("summary", "data", true)],
        people: BTreeMap::from([("support".into(), 4), ("sales".into(), 2), ("data".into(), 5)]),
    }
}

#[test]
fn spend_per_outcome_by_week() {
    let h = health(&input());
    assert_eq!(h.spend_per_outcome.len(), 5);
    let w0 = &h.spend_per_outcome[0];
    assert_eq!((w0.from.as_str(), w0.to.as_str()), ("2026-11-01", "2026-11-08"));
    // Two outcomes counted (the rejected one is not), $0.000001000 spent.
    assert_eq!((w0.outcomes, w0.validated), (2, 1));
    assert_eq!(w0.cost_per_outcome_usd.as_deref(), Some("0.000000500"));
    let w1 = &h.spend_per_outcome[1];
    assert_eq!((w1.outcomes, w1.spend_usd.as_str()), (1, "0.000003500"));
    assert_eq!(h.spend_per_outcome[4].to, "2026-12-01");
    assert_eq!(h.spend_per_outcome[2].cost_per_outcome_usd, None);
}

#[test]
fn reuse_adoption_adherence_and_escalation() {
    let h = health(&input());
    let reply = &h.template_reuse[0];
    assert_eq!((reply.template.as_str(), reply.reused_by_other_teams, reply.calls), ("reply@1", 2, 18));
    let org = &h.adoption[0];
    assert_eq!((org.team.as_str(), org.people, org.active_people), (ORG, 11, 3));
    let sales = h.adoption.iter().find(|a| a.team == "sales").unwrap();
    assert_eq!((sales.active_people, sales.share), (1, 0.5));
    let org = &h.adherence[0];
    assert_eq!((org.calls, org.blocked, org.approved_template_calls), (22, 2, 18));
    assert!((org.approved_template_share - 0.9).abs() < 1e-9);
    assert!((org.blocked_rate - 2.0 / 22.0).abs() < 1e-9);
    let esc = &h.escalation[0];
    assert_eq!((esc.outcomes, esc.escalated), (3, 1));
}

#[test]
fn duplicate_builds_are_prompts_or_names_shared_across_teams_without_a_shared_template() {
    let h = health(&input());
    let same: Vec<&DuplicateBuild> = h.duplicate_builds.iter().filter(|d| d.signal == "same_prompt").collect();
    // "bbbb" went through one shared template: reuse, not a duplicate.
    assert_eq!(same.len(), 1);
    assert_eq!(
        (same[0].key.as_str(), same[0].teams.clone(), same[0].uses),
        ("aaaa", vec!["sales".to_string(), "support".into()], 2)
    );
    let names: Vec<&DuplicateBuild> = h.duplicate_builds.iter().filter(|d| d.signal == "similar_templates").collect();
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].templates, vec!["Reply_v2".to_string(), "reply".into()]);
    assert_eq!(name_signature("support-reply-v2"), name_signature("Support_Reply"));
    assert_ne!(name_signature("reply"), name_signature("summary"));
}
