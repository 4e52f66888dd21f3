//! A month of work as a plan: for each day, every person's calls (with the
//! headers real tools send: use case, template, task) and the outcomes
//! they then claim. The demo sends the calls through the gateway and the
//! claims through the API; managers decide claims by whether the work was
//! real (`Claim::genuine`).

use crate::cast::{Company, Person};
use crate::persona::{Persona, Style};
use crate::text;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokenwise_policy::{Policy, WireFormat};

/// Which API a call goes through: the one its model's provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `/v1/chat/completions`.
    OpenAi,
    /// `/v1/messages`.
    Anthropic,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub user: String,
    pub use_case: String,
    /// `id@version`, sent as `x-tokenwise-template`.
    pub template: Option<String>,
    /// Sent as `x-tokenwise-task`.
    pub task: String,
    pub model: String,
    /// The template's instructions, sent as the system prompt: the same
    /// text every time, so the provider's prompt cache serves it.
    pub system: Option<String>,
    pub format: Format,
    pub stream: bool,
    pub prompt: String,
    pub max_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub user: String,
    pub task: String,
    pub use_case: String,
    pub kind: String,
    pub value_hours: f64,
    pub quality: Option<u8>,
    pub escalated: bool,
    /// Whether the work was done: a manager validates a genuine claim and
    /// rejects the others.
    pub genuine: bool,
}

/// An answer to a pilot's question, from someone in its cohort.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feedback {
    pub user: String,
    pub pilot: String,
    /// `score` or `leaderboard`.
    pub about: &'static str,
    /// `motivating`, `confusing` or `unfair`.
    pub answer: &'static str,
    pub comment: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Action {
    Call(Call),
    Claim(Claim),
    Feedback(Feedback),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// 0-based day of the month.
    pub index: u16,
    /// Calls first, in the order sent; then the day's claims.
    pub actions: Vec<Action>,
}

/// What finishing a task in each use case is called.
pub fn outcome_kind(use_case: &str, exploration: bool) -> &'static str {
    if exploration {
        return "template_created";
    }
    match use_case {
        "support-reply" => "ticket_resolved",
        "ticket-summary" => "ticket_handed_over",
        "code-review" => "pr_merged",
        "contract-review" => "contract_reviewed",
        "sales-outreach" => "meeting_booked",
        "kb-search" => "question_answered",
        "incident-triage" => "incident_resolved",
        "finance-narrative" => "narrative_drafted",
        _ => "task_completed",
    }
}

/// The use case's default model, or for a dear persona the allowed model
/// with the highest output price.
fn model_for(policy: &Policy, use_case: &str, dear: bool) -> Option<String> {
    let uc = policy.use_cases.get(use_case)?;
    if !dear {
        return Some(uc.default_model.clone());
    }
    let price = |m: &String| policy.models.get(m).and_then(|m| m.prices.last()).map_or(0, |p| p.rates.output.0);
    uc.allowed_models.iter().max_by_key(|m| (price(m), std::cmp::Reverse((*m).clone()))).cloned()
}

fn format_of(policy: &Policy, model: &str) -> Format {
    let format = policy.models.get(model).and_then(|m| policy.upstreams.get(&m.upstream)).map(|u| u.format);
    if format == Some(WireFormat::Anthropic) { Format::Anthropic } else { Format::OpenAi }
}

/// The newest approved template of a use case.
fn template_for(policy: &Policy, use_case: &str) -> Option<String> {
    policy
        .templates
        .values()
        .filter(|t| t.approved && t.use_case == use_case)
        .max_by(|a, b| a.version.cmp(&b.version))
        .map(|t| format!("{}@{}", t.id, t.version))
}

fn between(rng: &mut StdRng, (lo, hi): (u32, u32)) -> u32 {
    rng.random_range(lo..=hi.max(lo))
}

/// The use case of a task: an explorer's sandbox; a template author's
/// template's use case; else the main one mostly, the others sometimes.
fn pick_use_case(rng: &mut StdRng, policy: &Policy, p: &Person) -> Option<(String, bool)> {
    if p.persona == Persona::Explorer
        && let Some(s) = &p.sandbox
    {
        return Some((s.clone(), true));
    }
    if p.persona == Persona::TemplateAuthor
        && let Some(t) = policy.templates.values().find(|t| t.author == p.user && t.approved)
        && p.use_cases.contains(&t.use_case)
    {
        return Some((t.use_case.clone(), false));
    }
    let first = p.use_cases.first()?;
    if p.use_cases.len() > 1 && rng.random_bool(0.3) {
        let i = rng.random_range(1..p.use_cases.len());
        return Some((p.use_cases[i].clone(), false));
    }
    Some((first.clone(), false))
}

/// A batch job: one task, many calls over one large document (the same
/// text each call, sent as the user's message, so no cache serves it).
fn crunch(rng: &mut StdRng, policy: &Policy, p: &Person, day: u16, c: crate::persona::Crunch, out: &mut Vec<Action>) {
    let Some(use_case) = p.use_cases.first() else { return };
    let Some(model) = model_for(policy, use_case, true) else { return };
    let doc = text::document(&format!("{}-{day}", p.user), "Process every record of this export:", c.words);
    for i in 0..c.calls {
        out.push(Action::Call(Call {
            user: p.user.clone(),
            use_case: use_case.clone(),
            template: None,
            task: format!("{}-d{:02}-batch", p.user, day + 1),
            model: model.clone(),
            system: None,
            format: format_of(policy, &model),
            stream: false,
            prompt: format!("{doc}\nRecord {i}: classify it."),
            max_tokens: rng.random_range(200..=600),
        }));
    }
}

/// One person's calls and claims for one day.
fn person_day(
    rng: &mut StdRng,
    policy: &Policy,
    p: &Person,
    day: u16,
    out: &mut Vec<Action>,
    claims: &mut Vec<Action>,
) {
    let piloted = p.pilot.as_ref().filter(|(_, from)| day >= *from);
    let usual: Style = p.persona.style();
    // The pilot changes how its cohort works in the pilot's use cases only;
    // elsewhere they work as usual (so the pilot does not move other use
    // cases' peer medians).
    let pilot_cases =
        piloted.and_then(|(id, _)| policy.pilot(id)).map(|pl| pl.use_cases.as_slice()).unwrap_or_default();
    let style = usual;
    let same_prompt = style.repeat.then(|| format!("Summarise the open items for {} today.", p.team));
    let system = (style.cached_context > 0)
        .then(|| text::document(&p.user, "Here is everything in our repository, for context:", style.cached_context));
    if let Some(c) = style.crunch.filter(|c| c.on(day)) {
        crunch(rng, policy, p, day, c, out);
    }
    for t in 0..between(rng, style.tasks) {
        let Some((use_case, exploration)) = pick_use_case(rng, policy, p) else { return };
        let style = if pilot_cases.contains(&use_case) { usual.under_pilot() } else { usual };
        let Some(model) = model_for(policy, &use_case, style.dear_model) else { continue };
        let template = if rng.random_bool(style.template) { template_for(policy, &use_case) } else { None };
        let task = format!("{}-d{:02}-t{t}", p.user, day + 1);
        let n = u32::from(day) * 10 + t;
        for _ in 0..between(rng, style.calls) {
            let mut prompt = match &same_prompt {
                Some(s) => s.clone(),
                None => {
                    let words = between(rng, style.words);
                    text::prompt(rng, &use_case, n, words)
                }
            };
            if style.leak > 0.0 && rng.random_bool(style.leak) {
                prompt.push('\n');
                prompt.push_str(&text::leak(rng));
            }
            out.push(Action::Call(Call {
                user: p.user.clone(),
                use_case: use_case.clone(),
                system: system.clone().or_else(|| template.as_deref().map(|t| text::instructions(t, &p.user))),
                template: template.clone(),
                task: task.clone(),
                model: model.clone(),
                format: format_of(policy, &model),
                stream: rng.random_bool(style.stream),
                prompt,
                max_tokens: rng.random_range(200..=600),
            }));
        }
        // Explorers learn something worth keeping about one task in three.
        if exploration && !rng.random_bool(1.0 / 3.0) {
            continue;
        }
        let hours = policy.use_cases.get(&use_case).and_then(|u| u.outcome_hours).unwrap_or(0.25);
        claims.push(Action::Claim(Claim {
            user: p.user.clone(),
            task,
            use_case: use_case.clone(),
            kind: outcome_kind(&use_case, exploration).into(),
            value_hours: hours,
            quality: Some(
                u8::try_from(between(rng, (u32::from(style.quality.0), u32::from(style.quality.1)))).unwrap_or(3),
            ),
            escalated: rng.random_bool(style.escalate),
            genuine: true,
        }));
    }
    for f in 0..style.fake_claims {
        let Some(use_case) = p.use_cases.first() else { break };
        let hours = policy.use_cases.get(use_case).and_then(|u| u.outcome_hours).unwrap_or(0.25);
        claims.push(Action::Claim(Claim {
            user: p.user.clone(),
            task: format!("{}-d{:02}-f{f}", p.user, day + 1),
            use_case: use_case.clone(),
            kind: outcome_kind(use_case, false).into(),
            value_hours: hours * 4.0,
            quality: Some(5),
            escalated: false,
            genuine: false,
        }));
    }
    // At the end of each week of a pilot, most of its cohort answers.
    if let Some((pilot, from)) = piloted
        && (day - from) % 7 == 4
        && rng.random_bool(0.7)
    {
        claims.push(Action::Feedback(feedback(rng, p, pilot)));
    }
}

/// What someone in a pilot says about it: honest people find an
/// efficiency score mostly motivating; gaming ones, whose tricks it
/// exposes, unfair.
fn feedback(rng: &mut StdRng, p: &Person, pilot: &str) -> Feedback {
    let about = if rng.random_bool(0.7) { "score" } else { "leaderboard" };
    let (answer, comment) = match rng.random_range(0..10) {
        _ if p.persona.gaming() => ("unfair", Some("My numbers look worse than the work I did.")),
        0..=5 => ("motivating", None),
        6..=7 => ("confusing", Some("I could not tell which of my calls counted against me.")),
        _ => ("unfair", Some("Long reviews of risky changes cost more and now score lower.")),
    };
    Feedback { user: p.user.clone(), pilot: pilot.to_string(), about, answer, comment }
}

/// One day of the plan: `work` says whether it is a working day (the
/// others are quiet). Each person's day is drawn from a stream of its own,
/// so a seed plans the same day whatever else changes in the plan, and a
/// day can be planned without the rest of the month (the demo plans each
/// as it comes: a crunch day's prompts are large).
pub fn day(company: &Company, policy: &Policy, seed: u64, index: u16, work: bool) -> Day {
    let mut calls = Vec::new();
    let mut claims = Vec::new();
    if work {
        for (i, p) in company.people.iter().enumerate() {
            let stream = seed ^ (u64::from(index) << 32) ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = StdRng::seed_from_u64(stream);
            person_day(&mut rng, policy, p, index, &mut calls, &mut claims);
        }
    }
    calls.extend(claims);
    Day { index, actions: calls }
}

/// The month: `working[d]` says whether day `d` is a working day.
pub fn month(company: &Company, policy: &Policy, seed: u64, working: &[bool]) -> Vec<Day> {
    working
        .iter()
        .enumerate()
        .map(|(d, w)| day(company, policy, seed, u16::try_from(d).unwrap_or(u16::MAX), *w))
        .collect()
}
