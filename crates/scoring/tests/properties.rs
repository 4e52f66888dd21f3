//! The properties the scoring must keep, over generated histories: spend
//! never helps, gaming never pays, repetition earns less and less, no
//! single axis carries a subject, rejected outcomes add nothing, reuse
//! counts teams, and the same facts always score the same.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use std::collections::BTreeMap;
use tokenwise_core::Nanos;
use tokenwise_scoring::{Activity, Facts, Model, Outcome, Rules, Status, TemplateFacts, UseCaseFacts, score};

const USERS: usize = 6;
const USE_CASES: [&str; 3] = ["support", "review", "sandbox"];
const TEMPLATES: [&str; 3] = ["reply@1", "checklist@2", "draft@1"];

fn user(i: usize) -> String {
    format!("u{i}")
}

fn base() -> Facts {
    let mut f = Facts { period: "2026-11".into(), days: 30, ..Facts::default() };
    for i in 0..USERS {
        f.teams.insert(user(i), format!("t{}", i % 3));
    }
    for (i, uc) in USE_CASES.iter().enumerate() {
        let cost = 2_000_000 * (i as i64 + 1);
        f.use_cases.insert(
            (*uc).into(),
            UseCaseFacts { baseline_cost: Nanos(cost), outcome_value: Nanos(20_000_000_000), exploration: i == 2 },
        );
    }
    for (i, t) in TEMPLATES.iter().enumerate() {
        f.templates.insert((*t).into(), TemplateFacts { author: user(i), approved: i != 2 });
    }
    f
}

fn activity() -> impl Strategy<Value = Activity> {
    (0..USERS, 0u16..30, 0..4usize, 0..4usize, 1u64..40, 0u64..3, 0u64..3, 0u64..200_000, 0i64..50_000_000).prop_map(
        |(u, day, uc, tpl, calls, blocked, flagged, tokens, cost)| {
            let blocked = blocked.min(calls);
            let flagged = flagged.min(calls - blocked);
            let template = TEMPLATES.get(tpl).map(|t| (*t).to_string());
            Activity {
                user: user(u),
                day,
                use_case: USE_CASES.get(uc).map(|u| (*u).to_string()),
                approved_template_calls: if tpl < 2 { calls - blocked } else { 0 },
                template,
                calls,
                blocked,
                flagged,
                exception_calls: 0,
                tokens,
                cost: Nanos(cost),
            }
        },
    )
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Pending), Just(Status::Validated), Just(Status::Rejected)]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    (
        (0..USERS, 0..3usize, 0..3usize, 1i64..80_000_000_000, status(), any::<bool>()),
        (proptest::option::of(1u8..=5), any::<bool>(), any::<bool>(), 0..4usize, 0..3usize, 0i64..1_000_000),
        proptest::bool::weighted(0.9),
    )
        .prop_map(
            |((u, uc, kind, value, status, signed), (quality, escalated, error, tpl, prompt, at), metered)| Outcome {
                id: format!("o{at}"),
                user: user(u),
                use_case: USE_CASES[uc].into(),
                kind: ["ticket_resolved", "pr_merged", "template_created"][kind].into(),
                value: Nanos(value),
                status,
                signed,
                quality,
                escalated,
                error,
                metered,
                template: TEMPLATES.get(tpl).map(|t| (*t).to_string()),
                prompt_hash: Some(format!("h{prompt}")),
                at,
            },
        )
}

prop_compose! {
    fn history()(activity in proptest::collection::vec(activity(), 1..30),
                 outcomes in proptest::collection::vec(outcome(), 0..30)) -> Facts {
        let mut f = base();
        f.activity = activity;
        f.outcomes = outcomes;
        f
    }
}

fn scores(model: Model, f: &Facts) -> BTreeMap<String, f64> {
    score(model, f, &Rules::default()).scores.into_iter().map(|s| (s.subject, s.score)).collect()
}

fn balanced_of(f: &Facts, subject: &str) -> f64 {
    scores(Model::Balanced, f).get(subject).copied().unwrap_or(0.0)
}

/// Applies `edit` to every activity row of user `u`.
fn edit_rows(f: &Facts, u: &str, edit: impl Fn(&mut Activity)) -> Facts {
    let mut g = f.clone();
    g.activity.iter_mut().filter(|a| a.user == u).for_each(edit);
    g
}

/// A gaming transformation, applied to user `u`'s history.
#[derive(Debug, Clone, Copy)]
enum Gaming {
    PadPrompts,
    RepeatPrompt,
    SplitTask,
    ClaimRejected,
    LeakBlocked,
    ExpensiveModel,
}

fn game(f: &Facts, u: &str, how: Gaming, k: u64) -> Facts {
    match how {
        Gaming::PadPrompts => edit_rows(f, u, |a| {
            a.tokens += 1_000 * k;
            a.cost = Nanos(a.cost.0 + 400_000 * k as i64);
        }),
        Gaming::RepeatPrompt => {
            let mut g = f.clone();
            let copies: Vec<Activity> = f.activity.iter().filter(|a| a.user == u).cloned().collect();
            for _ in 0..k {
                g.activity.extend(copies.iter().cloned());
            }
            g
        }
        Gaming::SplitTask => {
            // Each call becomes k + 1 calls; every extra call resends its preamble.
            edit_rows(f, u, |a| {
                a.calls *= k + 1;
                a.tokens += 200 * k * a.calls;
                a.cost = Nanos(a.cost.0 + 80_000 * (k * a.calls) as i64);
            })
        }
        Gaming::ClaimRejected => {
            let mut g = f.clone();
            for i in 0..k {
                g.outcomes.push(Outcome {
                    id: format!("claim{i}"),
                    user: u.into(),
                    use_case: USE_CASES[0].into(),
                    kind: "ticket_resolved".into(),
                    value: Nanos(80_000_000_000),
                    status: Status::Rejected,
                    signed: false,
                    quality: Some(5),
                    escalated: false,
                    error: false,
                    metered: false,
                    template: Some(TEMPLATES[0].into()),
                    prompt_hash: None,
                    at: 2_000_000 + i as i64,
                });
            }
            g
        }
        Gaming::LeakBlocked => {
            let mut g = f.clone();
            g.activity.push(Activity {
                user: u.into(),
                day: 3,
                use_case: Some(USE_CASES[0].into()),
                template: Some(TEMPLATES[0].into()),
                calls: k,
                blocked: k,
                flagged: 0,
                approved_template_calls: 0,
                exception_calls: 0,
                tokens: 0,
                cost: Nanos(0),
            });
            g
        }
        Gaming::ExpensiveModel => edit_rows(f, u, |a| a.cost = Nanos(a.cost.0 * (k as i64 + 1) + 1)),
    }
}

fn gaming() -> impl Strategy<Value = Gaming> {
    prop_oneof![
        Just(Gaming::PadPrompts),
        Just(Gaming::RepeatPrompt),
        Just(Gaming::SplitTask),
        Just(Gaming::ClaimRejected),
        Just(Gaming::LeakBlocked),
        Just(Gaming::ExpensiveModel),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// More tokens, or dearer models, for the same outcomes never raise any
    /// score under any model but raw_tokens.
    #[test]
    fn spend_never_raises_a_score(f in history(), u in 0..USERS, extra in 1i64..5_000_000, factor in 1i64..4) {
        let u = user(u);
        let more = edit_rows(&f, &u, |a| {
            a.tokens += 1_000;
            a.cost = Nanos(a.cost.0 * factor + extra);
        });
        for model in Model::ALL.iter().copied().filter(|m| *m != Model::RawTokens) {
            let (before, after) = (scores(model, &f), scores(model, &more));
            for (subject, was) in &before {
                let now = after.get(subject).copied().unwrap_or(0.0);
                prop_assert!(now <= *was, "{model}: {subject} rose from {was} to {now}");
            }
        }
    }

    /// Every gaming strategy, applied to an honest history, never raises
    /// the gamer's balanced score.
    #[test]
    fn gaming_never_pays(f in history(), u in 0..USERS, how in gaming(), k in 1u64..6) {
        let u = user(u);
        let subject = format!("user:{u}");
        let (before, after) = (balanced_of(&f, &subject), balanced_of(&game(&f, &u, how, k), &subject));
        prop_assert!(after <= before, "{how:?} × {k} raised {subject} from {before} to {after}");
    }

    /// Rejected outcomes, and outcomes with no metered call behind them, add
    /// nothing to efficiency or to outcome value.
    #[test]
    fn rejected_or_unmetered_outcomes_add_nothing(f in history(), u in 0..USERS, k in 1u64..6, metered in any::<bool>()) {
        let mut g = game(&f, &user(u), Gaming::ClaimRejected, k);
        if !metered {
            // The same claims validated, but with no call behind them.
            for o in g.outcomes.iter_mut().filter(|o| o.id.starts_with("claim")) {
                o.status = Status::Validated;
            }
        }
        for model in [Model::Efficiency, Model::Outcome] {
            prop_assert_eq!(scores(model, &f), scores(model, &g));
        }
    }

    /// Outcomes claimed off their track — operational work from an
    /// exploration use case, a learning outcome from a production one —
    /// change no score under any model, even validated and metered.
    #[test]
    fn off_track_outcomes_add_nothing(f in history(), u in 0..USERS, k in 1u64..6) {
        let mut g = f.clone();
        for i in 0..k {
            for (use_case, kind) in [("sandbox", "ticket_resolved"), ("support", "template_promoted")] {
                g.outcomes.push(Outcome {
                    id: format!("off{i}{kind}"),
                    user: user(u),
                    use_case: use_case.into(),
                    kind: kind.into(),
                    value: Nanos(40_000_000_000),
                    status: Status::Validated,
                    signed: true,
                    quality: Some(5),
                    escalated: false,
                    error: false,
                    metered: true,
                    template: Some(TEMPLATES[0].into()),
                    prompt_hash: Some(format!("off{i}")),
                    at: 3_000_000 + i as i64,
                });
            }
        }
        for model in Model::ALL.iter().copied() {
            prop_assert_eq!(scores(model, &f), scores(model, &g));
        }
    }

    /// The same facts in any order score the same, under every model: a past
    /// period re-scores identically under its rules version.
    #[test]
    fn order_does_not_matter(f in history(), seed in any::<u64>()) {
        let mut g = f.clone();
        let n = g.activity.len();
        g.activity.rotate_left((seed as usize) % n.max(1));
        g.activity.reverse();
        g.outcomes.reverse();
        for model in Model::ALL.iter().copied() {
            prop_assert_eq!(score(model, &f, &Rules::default()), score(model, &g, &Rules::default()));
        }
    }

    /// A template's author earns reuse credit per other team, not per run:
    /// other teams running it more changes nothing for the author.
    #[test]
    fn reuse_counts_teams_not_runs(f in history(), k in 1u64..6) {
        let author = "u0";
        let mut g = f.clone();
        let runs: Vec<Activity> = f.activity.iter()
            .filter(|a| a.template.as_deref() == Some(TEMPLATES[0]) && f.team_of(&a.user) != f.team_of(author))
            .cloned().collect();
        for _ in 0..k {
            g.activity.extend(runs.iter().cloned());
        }
        let (before, after) = (balanced_of(&f, "user:u0"), balanced_of(&g, "user:u0"));
        prop_assert_eq!(before, after);
    }

    /// With no counted outcome (efficiency 0), a person never beats a
    /// teammate whose every axis is above zero, however clean and busy.
    #[test]
    fn one_axis_cannot_carry_a_subject(f in history(), tokens in 0u64..10_000_000) {
        let mut g = f.clone();
        // u3 is in u0's team: no outcomes, perfect compliance, lots of calls.
        g.outcomes.retain(|o| o.user != "u3");
        g.activity.retain(|a| a.user != "u3");
        g.activity.push(Activity {
            user: "u3".into(), day: 1, use_case: Some(USE_CASES[0].into()), template: Some(TEMPLATES[0].into()),
            calls: 500, blocked: 0, flagged: 0, approved_template_calls: 500, exception_calls: 0, tokens, cost: Nanos(1),
        });
        let board = scores(Model::Balanced, &g);
        let eff = scores(Model::Efficiency, &g);
        if eff.get("user:u0").copied().unwrap_or(0.0) > 0.0 {
            prop_assert!(board["user:u3"] < board["user:u0"], "{board:?}");
        }
    }
}

/// The n-th identical action earns strictly less than the one before, and
/// however many there are, the total stays under a bound.
#[test]
fn repetition_earns_less_each_time_and_is_bounded() {
    for half_life in [0.5, 1.0, 2.0, 5.0] {
        let rules = Rules { repeat_half_life: half_life, ..Rules::default() };
        let bound = 1.0 / (1.0 - (-1.0 / half_life).exp2());
        let mut f = base();
        f.activity.push(Activity {
            user: "u1".into(),
            day: 0,
            use_case: Some("support".into()),
            template: None,
            calls: 1,
            blocked: 0,
            flagged: 0,
            approved_template_calls: 0,
            exception_calls: 0,
            tokens: 10,
            cost: Nanos(1_000_000_000),
        });
        let mut previous_total = 0.0;
        for n in 1..=60u64 {
            f.outcomes.push(Outcome {
                id: format!("o{n}"),
                user: "u1".into(),
                use_case: "support".into(),
                kind: "ticket_resolved".into(),
                value: Nanos(20_000_000_000),
                status: Status::Validated,
                signed: false,
                quality: None,
                escalated: false,
                error: false,
                metered: true,
                template: None,
                prompt_hash: Some("same".into()),
                at: n as i64,
            });
            let total = tokenwise_scoring::tally::people(&f, &rules)["u1"].weight;
            assert!(rules.repeat_factor(n + 1) < rules.repeat_factor(n), "the {}th earns less than the {n}th", n + 1);
            assert!(total >= previous_total, "credit never falls as outcomes are added");
            assert!(total <= bound, "{total} > {bound}");
            previous_total = total;
        }
    }
}
