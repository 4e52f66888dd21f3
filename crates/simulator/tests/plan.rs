//! The simulated month of Acme Corp: who is cast as what, and that each
//! persona's plan has the shape of its strategy.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use tokenwise_simulator::{Action, Call, Claim, Company, Persona, cast, month};

fn acme() -> tokenwise_policy::Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml");
    tokenwise_policy::load_file(&path).unwrap().policy
}

fn weekdays() -> Vec<bool> {
    // November 2026 starts on a Sunday.
    (0..30).map(|d| !matches!(d % 7, 0 | 6)).collect()
}

struct Shape {
    calls: Vec<Call>,
    claims: Vec<Claim>,
}

fn shapes(company: &Company, seed: u64) -> BTreeMap<Persona, Shape> {
    let policy = acme();
    let mut out: BTreeMap<Persona, Shape> = BTreeMap::new();
    for day in month(company, &policy, seed, &weekdays()) {
        for a in day.actions {
            let user = match &a {
                Action::Call(c) => c.user.clone(),
                Action::Claim(c) => c.user.clone(),
                Action::Feedback(f) => f.user.clone(),
            };
            let persona = company.person(&user).unwrap().persona;
            let shape = out.entry(persona).or_insert(Shape { calls: Vec::new(), claims: Vec::new() });
            match a {
                Action::Call(c) => shape.calls.push(c),
                Action::Claim(c) => shape.claims.push(c),
                Action::Feedback(_) => {}
            }
        }
    }
    out
}

#[test]
fn every_persona_is_cast_and_gaming_ones_sit_in_large_teams() {
    let policy = acme();
    let company = cast(&policy, 7);
    let cast_as: BTreeSet<Persona> = company.people.iter().map(|p| p.persona).collect();
    for p in Persona::GAMING.iter().chain(&Persona::HONEST) {
        assert!(cast_as.contains(p), "{p:?} missing");
    }
    for p in company.people.iter().filter(|p| p.persona.gaming()) {
        let size = policy.users.values().filter(|u| u.team == p.team).count();
        assert!(size >= 6, "{} ({:?}) is in {} of {size}", p.user, p.persona, p.team);
        assert_ne!(p.validator, p.user);
    }
    assert!(company.people.len() >= 35, "{}", company.people.len());
    assert_eq!(cast(&policy, 7), company, "the same seed casts the same people");
    assert_ne!(cast(&policy, 8), company, "another seed casts others");
}

#[test]
fn the_same_seed_plans_the_same_month() {
    let policy = acme();
    let company = cast(&policy, 3);
    assert_eq!(month(&company, &policy, 3, &weekdays()), month(&company, &policy, 3, &weekdays()));
    assert_ne!(month(&company, &policy, 3, &weekdays()), month(&company, &policy, 4, &weekdays()));
}

fn per_person<T>(xs: &[T], user: impl Fn(&T) -> &str) -> f64 {
    let people: BTreeSet<&str> = xs.iter().map(user).collect();
    xs.len() as f64 / people.len().max(1) as f64
}

#[test]
fn each_gaming_persona_plays_its_strategy() {
    let policy = acme();
    let company = cast(&policy, 11);
    let s = shapes(&company, 11);
    let sent = |c: &Call| c.prompt.len() + c.system.as_ref().map_or(0, String::len);
    let avg_words = |sh: &Shape| sh.calls.iter().map(sent).sum::<usize>() as f64 / sh.calls.len() as f64;
    let calls_per_claim = |sh: &Shape| sh.calls.len() as f64 / sh.claims.len().max(1) as f64;
    let average = &s[&Persona::Average];

    let burner = &s[&Persona::TokenBurner];
    assert!(avg_words(burner) > 10.0 * avg_words(average));
    let output_price = |m: &str| policy.models[m].prices.last().unwrap().rates.output.0;
    for c in &burner.calls {
        let dearest = policy.use_cases[&c.use_case].allowed_models.iter().map(|m| output_price(m)).max().unwrap();
        assert_eq!(output_price(&c.model), dearest, "the dearest model the use case allows: {}", c.model);
    }

    let repeater = &s[&Persona::PromptRepeater];
    let prompts: BTreeSet<&str> = repeater.calls.iter().map(|c| c.prompt.as_str()).collect();
    assert_eq!(prompts.len(), 1, "one prompt, again and again");
    assert!(per_person(&repeater.claims, |c| &c.user) > per_person(&average.claims, |c| &c.user));

    assert!(calls_per_claim(&s[&Persona::WorkflowSplitter]) > 4.0 * calls_per_claim(average));

    let inflater = &s[&Persona::OutcomeInflater];
    let worked: BTreeSet<&str> = inflater.calls.iter().map(|c| c.task.as_str()).collect();
    let fake: Vec<&Claim> = inflater.claims.iter().filter(|c| !c.genuine).collect();
    assert!(fake.len() > 2 * worked.len(), "{} fake, {} worked", fake.len(), worked.len());
    assert!(fake.iter().all(|c| !worked.contains(c.task.as_str())), "no call behind a fake claim");

    let scanner = tokenwise_dlp::Scanner::new(&tokenwise_dlp::ScannerConfig::default()).unwrap();
    let leaky = s[&Persona::DataLeaker].calls.iter().filter(|c| !scanner.scan(&c.prompt).is_empty()).count();
    assert!(leaky * 4 >= s[&Persona::DataLeaker].calls.len(), "about half the leaker's calls carry findings");
    let clean = average.calls.iter().filter(|c| !scanner.scan(&c.prompt).is_empty()).count();
    assert_eq!(clean, 0, "honest prompts carry nothing the scanner flags");

    // The abuser's batch days: one task of many calls on a large export.
    let abuser = &s[&Persona::ExceptionAbuser];
    let batch = abuser.calls.iter().filter(|c| c.task.ends_with("-batch")).count();
    assert!(batch >= 100, "{batch} batch calls");

    let explorer = &s[&Persona::Explorer];
    assert!(explorer.claims.iter().all(|c| c.kind == "template_created"));
    let author = &s[&Persona::TemplateAuthor];
    assert!(author.calls.iter().all(|c| c.template.is_some()));
}

#[test]
fn a_pilots_cohort_works_leaner_from_its_start_and_answers_its_question() {
    let policy = acme();
    let pilot = policy.pilot("efficiency-first").unwrap();
    let mut company = cast(&policy, 7);
    company.start_pilots(&policy, jiff::civil::date(2026, 11, 1));
    let from = company.person("ben.carter").unwrap().pilot.clone().unwrap().1;
    assert_eq!(from, 15, "the pilot starts on November 16th");
    assert!(company.people.iter().filter(|p| p.pilot.is_some()).all(|p| pilot.cohort.contains(&p.user)));
    let days = month(&company, &policy, 7, &weekdays());
    // Calls per task of honest cohort members, before and during.
    let per_task = |during: bool| {
        let (mut calls, mut tasks) = (0usize, BTreeSet::new());
        for d in days.iter().filter(|d| (d.index >= from) == during) {
            for a in &d.actions {
                if let Action::Call(c) = a
                    && pilot.cohort.contains(&c.user)
                    && !company.person(&c.user).unwrap().persona.gaming()
                {
                    calls += 1;
                    tasks.insert(c.task.clone());
                }
            }
        }
        calls as f64 / tasks.len().max(1) as f64
    };
    assert!(per_task(true) < per_task(false) * 0.9, "{} vs {}", per_task(true), per_task(false));
    let answers: Vec<(u16, String)> = days
        .iter()
        .flat_map(|d| {
            d.actions.iter().filter_map(move |a| match a {
                Action::Feedback(f) => Some((d.index, f.user.clone())),
                _ => None,
            })
        })
        .collect();
    assert!(!answers.is_empty());
    assert!(answers.iter().all(|(day, user)| *day >= from && pilot.cohort.contains(user)), "{answers:?}");
}
