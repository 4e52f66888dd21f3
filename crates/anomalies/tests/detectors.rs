//! Each detector fires on a constructed case, explains itself, and stays
//! quiet on a normal month; findings do not depend on the order of the
//! facts, and scaling everyone's usage alike flags nobody.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::collections::BTreeMap;
use tokenwise_anomalies::minhash;
use tokenwise_anomalies::*;
use tokenwise_core::Nanos;

/// 2025-11-01, a Saturday: the period's first UTC day.
const D: i64 = 20_393;
const DAYS: i64 = 30;
const PEOPLE: usize = 6;

fn person(i: usize) -> String {
    format!("p{i}")
}

/// Six people in `support-reply` (default model `haiku`), a steady 30–40k
/// tokens over 20 calls a day for the month and the 28 days before, ten
/// metered outcomes each in the month.
fn normal() -> Facts {
    let mut usage = Vec::new();
    for i in 0..PEOPLE {
        for day in D - 28..D + DAYS {
            let tokens = 30_000 + ((i as i64 * 7_919 + day * 104_729) % 10_000) as u64;
            usage.push(DayUse {
                day,
                user: person(i),
                use_case: "support-reply".into(),
                model: "haiku".into(),
                calls: 20,
                tokens,
                cost: Nanos(tokens as i64 * 1_000),
            });
        }
    }
    let mut outcomes = Vec::new();
    for i in 0..PEOPLE {
        for k in 0..10 {
            outcomes.push(OutcomeFact {
                id: format!("out-{i}-{k}"),
                user: person(i),
                use_case: "support-reply".into(),
                day: D + 3 * k,
                counted: true,
                metered: true,
            });
        }
    }
    Facts {
        period: "2025-11".into(),
        first_day: D,
        end_day: D + DAYS,
        as_of_day: D + DAYS,
        usage,
        outcomes,
        teams: (0..PEOPLE).map(|i| (person(i), if i < 3 { "support".into() } else { "sales".into() })).collect(),
        use_cases: BTreeMap::from([("support-reply".into(), UseCaseFacts { default_model: "haiku".into() })]),
        model_prices: BTreeMap::from([("haiku".into(), Nanos(1_000_000_000)), ("opus".into(), Nanos(5_000_000_000))]),
        ..Facts::default()
    }
}

fn found(facts: &Facts) -> Vec<Finding> {
    detect(facts, &Thresholds::default())
}

fn only(facts: &Facts, d: Detector) -> Finding {
    let all = found(facts);
    let of: Vec<&Finding> = all.iter().filter(|f| f.detector == d).collect();
    assert_eq!(of.len(), 1, "{d}: {all:#?}");
    of[0].clone()
}

#[test]
fn a_normal_month_flags_nobody() {
    assert_eq!(found(&normal()), vec![]);
}

#[test]
fn a_day_far_above_ones_own_history_is_a_spike() {
    let mut f = normal();
    let day = f.usage.iter_mut().find(|u| u.user == "p0" && u.day == D + 10).unwrap();
    day.tokens = 400_000;
    let a = only(&f, Detector::OwnSpike);
    assert_eq!((a.subject.as_str(), a.window.as_str(), a.team.as_deref()), ("user:p0", "2025-11-11", Some("support")));
    assert!(a.explanation.contains("400000 tokens on 2025-11-11"), "{}", a.explanation);
    assert!(a.explanation.contains("times their usual day"), "{}", a.explanation);
    assert_eq!(a.evidence.numbers["tokens"], 400_000);
    assert_eq!(a.severity, Severity::High);
    let l = a.lookup.unwrap();
    assert_eq!((l.user.as_str(), l.from_us, l.to_us), ("p0", (D + 10) * 86_400_000_000, (D + 11) * 86_400_000_000));
    // Twice as much is not a spike.
    let mut f = normal();
    f.usage.iter_mut().find(|u| u.user == "p0" && u.day == D + 10).unwrap().tokens = 70_000;
    assert!(found(&f).iter().all(|x| x.detector != Detector::OwnSpike));
}

#[test]
fn a_person_far_above_peers_in_a_use_case_is_a_peer_spike() {
    let mut f = normal();
    // Always ten times the others: steady against their own history.
    for u in f.usage.iter_mut().filter(|u| u.user == "p3") {
        u.tokens *= 10;
    }
    let all = found(&f);
    assert!(all.iter().all(|x| x.detector != Detector::OwnSpike), "{all:#?}");
    let a = only(&f, Detector::PeerSpike);
    assert_eq!(
        (a.subject.as_str(), a.use_case.as_deref(), a.team.as_deref()),
        ("user:p3", Some("support-reply"), Some("sales"))
    );
    assert!(a.explanation.contains("times the median person there"), "{}", a.explanation);
    assert_eq!(a.evidence.numbers["peers"], 6);
}

#[test]
fn the_same_prompt_again_and_again_is_flagged_per_window() {
    let mut f = normal();
    f.repeats = vec![
        PromptRepeat { user: "p1".into(), day: D + 4, prompt_hash: "ab".repeat(32), calls: 12 },
        PromptRepeat { user: "p2".into(), day: D + 4, prompt_hash: "cd".repeat(32), calls: 9 },
    ];
    let a = only(&f, Detector::RepeatedPrompt);
    assert_eq!(a.subject, "user:p1");
    assert!(a.explanation.contains("the same prompt (hash abababababab…) 12 times on 2025-11-05"), "{}", a.explanation);
    assert_eq!(a.lookup.unwrap().prompt_hash.as_deref(), Some("ab".repeat(32).as_str()));
    assert_eq!(a.evidence.event_count, 12);
}

/// Sketches sharing the low band and `shared` more bands with `base`.
fn members(base: u64, shared: &[u32]) -> Vec<PromptMember> {
    shared
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let keep = 1u64.checked_shl(16 * (n + 1)).map_or(u64::MAX, |b| b - 1);
            let noise = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            PromptMember {
                event_id: format!("ev-{i}"),
                prompt_hash: format!("h{i}"),
                minhash: (base & keep) | (noise & !keep),
            }
        })
        .collect()
}

#[test]
fn many_reworded_prompts_are_near_duplicates_and_unrelated_ones_are_not() {
    let mut f = normal();
    let near = members(0xdead_beef_0000_1111, &[3, 1, 2, 3, 1, 2]);
    f.near = vec![NearCandidate { user: "p4".into(), day: D + 2, members: near }];
    let a = only(&f, Detector::NearDuplicatePrompts);
    assert_eq!(a.subject, "user:p4");
    assert!(a.explanation.contains("6 different but near-identical prompts"), "{}", a.explanation);
    assert_eq!(a.evidence.event_ids.len(), 6);
    // The same band, but the prompts are far apart: nothing.
    let far: Vec<PromptMember> = (0..6u64)
        .map(|i| PromptMember {
            event_id: format!("ev-{i}"),
            prompt_hash: format!("h{i}"),
            minhash: 0x1111 | (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) << 16),
        })
        .collect();
    f.near = vec![NearCandidate { user: "p4".into(), day: D + 2, members: far }];
    assert!(found(&f).is_empty());
    // Identical prompts are repeats, not near-duplicates.
    let same: Vec<PromptMember> =
        (0..8).map(|i| PromptMember { event_id: format!("ev-{i}"), prompt_hash: "h".into(), minhash: 7 }).collect();
    f.near = vec![NearCandidate { user: "p4".into(), day: D + 2, members: same }];
    assert!(found(&f).is_empty());
}

#[test]
fn spending_far_more_per_outcome_than_peers_is_flagged_with_its_outcomes() {
    let mut f = normal();
    // p5 reports 3 outcomes for the same work others report 10 for.
    f.outcomes.retain(|o| o.user != "p5" || o.id.ends_with("-0") || o.id.ends_with("-1") || o.id.ends_with("-2"));
    let a = only(&f, Detector::CostPerOutcome);
    assert_eq!(a.subject, "user:p5");
    assert!(a.explanation.contains("per outcome in `support-reply`"), "{}", a.explanation);
    assert_eq!(a.evidence.outcome_ids, vec!["out-5-0", "out-5-1", "out-5-2"]);
    let b = only(&f, Detector::WorkflowSplitting);
    assert!(b.explanation.contains("calls per outcome"), "{}", b.explanation);
    assert_eq!(b.evidence.numbers["calls"], 600);
}

#[test]
fn a_dear_model_where_the_default_would_do_is_overuse() {
    let mut f = normal();
    for u in f.usage.iter_mut().filter(|u| u.user == "p2" && u.day >= D) {
        u.model = "opus".into();
        u.cost = Nanos(u.cost.0 * 5);
    }
    let a = only(&f, Detector::ModelOveruse);
    assert_eq!(a.subject, "user:p2");
    assert!(
        a.explanation.contains("on models at least 2.0 times dearer than its default `haiku` (mostly `opus`)"),
        "{}",
        a.explanation
    );
    assert_eq!(a.evidence.numbers["share"], 1.0);
    assert_eq!(a.lookup.unwrap().model.as_deref(), Some("opus"));
    // Four-fifths of its cost was avoidable.
    let dear: i64 = f.usage.iter().filter(|u| u.user == "p2" && u.day >= D).map(|u| u.cost.0).sum();
    assert_eq!(a.evidence.numbers["extra_cost_usd"], Nanos(dear - dear / 5).to_usd_string());
}

#[test]
fn outcomes_with_no_metered_call_are_flagged_from_two() {
    let mut f = normal();
    for o in f.outcomes.iter_mut().filter(|o| o.user == "p0").take(1) {
        o.metered = false;
    }
    assert!(found(&f).is_empty());
    for o in f.outcomes.iter_mut().filter(|o| o.user == "p0").take(3) {
        o.metered = false;
    }
    let a = only(&f, Detector::UnmeteredOutcomes);
    assert!(a.explanation.contains("reported 3 of 10 outcomes"), "{}", a.explanation);
    assert_eq!(a.evidence.outcome_count, 3);
    assert_eq!(a.severity, Severity::Medium);
}

#[test]
fn gateway_use_that_stops_while_outcomes_continue_is_possible_shadow_usage() {
    let mut f = normal();
    f.usage.retain(|u| !(u.user == "p1" && u.day >= D + DAYS - 7));
    // Outcomes keep coming in the last week.
    for k in 0..4 {
        f.outcomes.push(OutcomeFact {
            id: format!("late-{k}"),
            user: "p1".into(),
            use_case: "support-reply".into(),
            day: D + DAYS - 1 - k,
            counted: true,
            metered: true,
        });
    }
    let a = only(&f, Detector::ShadowUsage);
    assert!(
        a.explanation.contains("0.0 calls a day through tokenwise from 2025-11-24 to 2025-11-30"),
        "{}",
        a.explanation
    );
    assert!(a.explanation.contains("reported 6 outcomes"), "{}", a.explanation);
    // Stopping with no outcomes is just a holiday.
    f.outcomes.retain(|o| !o.id.starts_with("late-"));
    assert!(found(&f).iter().all(|x| x.detector != Detector::ShadowUsage));
}

/// One person's days in the period, from the first: the history they are
/// judged against is the period's own days before.
fn days_of(user: &str, tokens: &[u64]) -> Facts {
    let usage = tokens
        .iter()
        .enumerate()
        .map(|(i, &tk)| DayUse {
            day: D + i as i64,
            user: user.into(),
            use_case: "support-reply".into(),
            model: "haiku".into(),
            calls: tk / 2_500,
            tokens: tk,
            cost: Nanos(0),
        })
        .collect();
    Facts { period: "2025-11".into(), first_day: D, end_day: D + DAYS, as_of_day: D + DAYS, usage, ..Facts::default() }
}

/// People work in light and busy days. Over a week of history the MAD sees
/// only the light ones, so a busy day like the busy days before it looked
/// like a spike (the demo's honest `average` people, their real days).
#[test]
fn a_busy_day_like_the_busy_days_before_is_no_spike() {
    // paula.costa: 24,124 tokens after a day of 26,337 (median 6,306, robust z 5.5).
    let paula = days_of("paula", &[4_063, 8_034, 26_337, 4_577, 24_024, 4_156, 24_124]);
    assert_eq!(found(&paula), vec![]);
    // emil.berg: 29,058 tokens, 1.3 times his busiest day before (median 5,840, robust z 24.1).
    let emil = days_of("emil", &[10_829, 15_826, 5_840, 5_189, 22_253, 5_255, 5_416, 29_058]);
    assert_eq!(found(&emil), vec![]);
    // Three times his busier days (upper quartile 13,328) is a spike.
    let spike = days_of("emil", &[10_829, 15_826, 5_840, 5_189, 22_253, 5_255, 5_416, 40_000]);
    let a = only(&spike, Detector::OwnSpike);
    assert!(
        a.explanation.contains("3.0 times their busier days (median 5840 and upper quartile 13328"),
        "{}",
        a.explanation
    );
    assert_eq!(a.evidence.numbers["history_upper_quartile_tokens"], 13_327.5);
}

fn stopped(user: &str, day: i64, blocked: u64, masked: u64) -> DlpDay {
    DlpDay { day, user: user.into(), use_case: "support-reply".into(), blocked, masked }
}

#[test]
fn prompts_dlp_stops_day_after_day_are_flagged_and_one_slip_is_not() {
    let mut f = normal();
    // One slip, retried three times the same day: one day.
    f.dlp = vec![stopped("p2", D + 4, 3, 0)];
    assert_eq!(found(&f), vec![]);
    // Two slips on two days: still under the three days the policy flags.
    f.dlp.push(stopped("p2", D + 12, 1, 0));
    assert_eq!(found(&f), vec![]);
    // p1 pastes secrets and addresses week after week.
    f.dlp.extend([stopped("p1", D + 2, 2, 1), stopped("p1", D + 9, 1, 0), stopped("p1", D + 16, 3, 0)]);
    let a = only(&f, Detector::DlpViolations);
    assert_eq!((a.subject.as_str(), a.window.as_str(), a.team.as_deref()), ("user:p1", "2025-11", Some("support")));
    assert_eq!(a.use_case.as_deref(), Some("support-reply"));
    assert_eq!(a.severity, Severity::High, "refused on three days");
    assert!(
        a.explanation.contains("DLP blocked 6 and masked or rerouted 1 of `p1`'s prompts on 3 days of 2025-11"),
        "{}",
        a.explanation
    );
    assert!(a.explanation.contains("`support-reply` (7 of 600 calls, 1.2%; the median person there 0.0%, of 6)"));
    assert_eq!((a.evidence.numbers["blocked"].clone(), a.evidence.numbers["days"].clone()), (6.into(), 3.into()));
    assert_eq!(a.evidence.event_count, 7);
    let l = a.lookup.unwrap();
    assert!(l.dlp, "cites the calls DLP stopped");
    assert_eq!((l.from_us, l.to_us), (D * 86_400_000_000, (D + DAYS) * 86_400_000_000));
    // Days outside the judged ones do not count.
    f.as_of_day = D + 10;
    assert_eq!(found(&f), vec![]);
}

/// Where masking is routine (a use case that handles clients' addresses),
/// it is the use case's way of working: only someone far above it is flagged.
#[test]
fn masking_everyone_meets_in_a_use_case_flags_only_who_is_far_above_it() {
    let mut f = normal();
    for i in 0..PEOPLE {
        for day in D..D + DAYS {
            f.dlp.push(stopped(&person(i), day, 0, 2 + (i as u64 + day as u64) % 2));
        }
    }
    assert_eq!(found(&f), vec![]);
    // Twice as often is within reason; six times is not.
    for d in f.dlp.iter_mut().filter(|d| d.user == "p4") {
        d.masked = 5;
    }
    assert_eq!(found(&f), vec![]);
    for d in f.dlp.iter_mut().filter(|d| d.user == "p4") {
        d.masked = 15;
    }
    let a = only(&f, Detector::DlpViolations);
    assert_eq!(a.subject, "user:p4");
    assert_eq!(a.severity, Severity::Medium, "masked, never refused");
    assert!(a.explanation.contains("the median person there 12.5%, of 6"), "{}", a.explanation);
}

#[test]
fn the_period_in_progress_is_judged_up_to_today() {
    let mut f = normal();
    f.usage.iter_mut().find(|u| u.user == "p0" && u.day == D + 20).unwrap().tokens = 400_000;
    f.as_of_day = D + 15;
    assert!(found(&f).is_empty());
    f.as_of_day = D + 21;
    assert_eq!(only(&f, Detector::OwnSpike).window, "2025-11-21");
}

#[test]
fn near_identical_texts_cluster_through_the_real_minhash() {
    let base = "Please summarise ticket {} about a late parcel and draft a polite reply offering a refund of the \
                shipping fee; keep it under five sentences and sign it as the support team of Acme";
    let texts: Vec<String> = (0..6).map(|i| base.replace("{}", &format!("{}", 1000 + i))).collect();
    let members: Vec<PromptMember> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| PromptMember {
            event_id: format!("ev-{i}"),
            prompt_hash: format!("h{i}"),
            minhash: minhash::of_text(t).unwrap(),
        })
        .collect();
    let (_, cluster) = tokenwise_anomalies::prompts::cluster(&members, 3).unwrap();
    assert!(cluster.len() >= 5, "{}", cluster.len());
}

fn shuffled<T: Clone + std::fmt::Debug>(v: Vec<T>) -> impl Strategy<Value = Vec<T>> {
    Just(v).prop_shuffle()
}

/// A month with one spike, one peer outlier, unmetered outcomes and a dear
/// model, so every order has findings to keep.
fn busy() -> Facts {
    let mut f = normal();
    f.usage.iter_mut().find(|u| u.user == "p0" && u.day == D + 10).unwrap().tokens = 400_000;
    for u in f.usage.iter_mut().filter(|u| u.user == "p3") {
        u.tokens *= 10;
    }
    for u in f.usage.iter_mut().filter(|u| u.user == "p2" && u.day >= D) {
        u.model = "opus".into();
    }
    for o in f.outcomes.iter_mut().filter(|o| o.user == "p4").take(2) {
        o.metered = false;
    }
    f
}

proptest! {
    #[test]
    fn findings_do_not_depend_on_the_order_of_the_facts(
        usage in shuffled(busy().usage),
        outcomes in shuffled(busy().outcomes),
    ) {
        let expected = found(&busy());
        prop_assert!(expected.len() >= 4);
        let f = Facts { usage, outcomes, ..busy() };
        prop_assert_eq!(found(&f), expected);
    }

    #[test]
    fn scaling_everyones_usage_alike_raises_no_peer_spike(
        tokens in proptest::collection::vec(1u64..5_000_000, 4..12),
        shift in 1u32..4,
    ) {
        let t = Thresholds { min_spike_tokens: 0, ..Thresholds::default() };
        let facts = |k: u64| Facts {
            period: "2025-11".into(),
            first_day: D,
            end_day: D + DAYS,
            as_of_day: D + DAYS,
            usage: tokens.iter().enumerate().map(|(i, &tk)| DayUse {
                day: D + 1,
                user: person(i),
                use_case: "support-reply".into(),
                model: "haiku".into(),
                calls: 1,
                tokens: tk * k,
                cost: Nanos(0),
            }).collect(),
            ..Facts::default()
        };
        let peer = |f: &Facts| -> Vec<String> {
            tokenwise_anomalies::usage::peer_spikes(f, &t).into_iter().map(|x| x.id).collect()
        };
        prop_assert_eq!(peer(&facts(1 << shift)), peer(&facts(1)));
    }
}
