//! Sends a planned day through the gateway and the API as its people and
//! their managers would: calls in each tool's wire format (streamed or
//! not), then outcomes claimed and decided, appeals and exception asks.
//! What came back — refusals, nudges, costs — is tallied for the report.

use super::world::World;
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokenwise_simulator::{Action, Call, Claim, Company, Day, Feedback, Format};

/// People working at once: enough to batch the ledger's commits, few
/// enough not to crowd two cores.
const IN_FLIGHT: usize = 16;

/// What the month's traffic got back.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub requests: u64,
    /// HTTP status → count, for model calls.
    pub statuses: BTreeMap<u16, u64>,
    /// Answers that carried advice (`x-tokenwise-nudge`), by person.
    pub nudges: BTreeMap<String, u64>,
    pub outcomes_validated: BTreeMap<String, u64>,
    pub outcomes_rejected: BTreeMap<String, u64>,
    pub appeals: u64,
    pub exceptions_asked: u64,
    /// Answers to a pilot's question.
    pub feedback: u64,
}

/// How one call went.
struct Answer {
    user: String,
    /// The call again, when a budget refused it (it may be sent again);
    /// otherwise its prompt — up to hundreds of kilobytes — is not copied.
    refused: Option<Call>,
    status: u16,
    nudged: bool,
}

fn body(c: &Call) -> (&'static str, Value) {
    let user = json!({"role": "user", "content": c.prompt});
    match c.format {
        Format::OpenAi => {
            let messages = match &c.system {
                Some(s) => json!([{"role": "system", "content": s}, user]),
                None => json!([user]),
            };
            (
                "/v1/chat/completions",
                json!({"model": c.model, "messages": messages, "max_tokens": c.max_tokens, "stream": c.stream}),
            )
        }
        Format::Anthropic => {
            let mut b = json!({"model": c.model, "messages": [user], "max_tokens": c.max_tokens, "stream": c.stream});
            if let Some(s) = &c.system {
                // Marked for caching, as Claude Code marks its system prompt.
                b["system"] = json!([{"type": "text", "text": s, "cache_control": {"type": "ephemeral"}}]);
            }
            ("/v1/messages", b)
        }
    }
}

async fn send(w: &World, c: &Call) -> anyhow::Result<Answer> {
    let key = w.keys.get(&c.user).context("a person without a key")?;
    let (path, payload) = body(c);
    let mut req = w
        .http
        .post(format!("{}{path}", w.base))
        .bearer_auth(key)
        .header("x-tokenwise-use-case", &c.use_case)
        .header("x-tokenwise-task", &c.task)
        .json(&payload);
    if let Some(t) = &c.template {
        req = req.header("x-tokenwise-template", t);
    }
    let r = req.send().await.context("the gateway did not answer")?;
    let status = r.status().as_u16();
    let mut nudged = r.headers().contains_key("x-tokenwise-nudge");
    let text = r.text().await.unwrap_or_default();
    // A stream's advice comes as an SSE comment before its last frame.
    nudged |= text.contains(": x-tokenwise-nudge=");
    Ok(Answer { user: c.user.clone(), refused: (status == 402).then(|| c.clone()), status, nudged })
}

/// Sends the day's calls, IN_FLIGHT people at a time — each person's calls
/// one after another, as one person works, so what each call's task has
/// cost so far (and any nudge, and what the provider's cache served) is the
/// same on every run — then its claims in order.
pub async fn day(w: &Arc<World>, company: &Company, day: &Day, tally: &mut Tally) -> anyhow::Result<()> {
    let mut tasks_calls: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    for a in &day.actions {
        if let Action::Call(c) = a {
            tasks_calls.entry(c.user.clone()).or_default().push(c.clone());
        }
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for calls in tasks_calls.into_values() {
        let (w, gate) = (w.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let mut answers = Vec::with_capacity(calls.len());
            for c in &calls {
                answers.push(send(&w, c).await?);
            }
            Ok::<Vec<Answer>, anyhow::Error>(answers)
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = tasks.join_next().await {
        answers.extend(done.context("a call task failed")??);
    }
    let mut refused: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    for a in answers {
        count(tally, &a);
        if let Some(c) = a.refused {
            refused.entry(a.user).or_default().push(c);
        }
    }
    // Refused for want of budget, an abuser asks for an exception, gets it
    // approved, and sends the refused calls again.
    for (user, calls) in refused {
        if company.person(&user).is_some_and(|p| p.persona.style().exceptions) {
            ask_exception(w, &user, day.index).await?;
            tally.exceptions_asked += 1;
            for c in &calls {
                let a = send(w, c).await?;
                count(tally, &a);
            }
        }
    }
    for a in &day.actions {
        match a {
            Action::Claim(c) => claim(w, company, c, tally).await?,
            Action::Feedback(f) => feedback(w, f, tally).await?,
            Action::Call(_) => {}
        }
    }
    Ok(())
}

/// Someone in a pilot's cohort answers its question.
async fn feedback(w: &World, f: &Feedback, tally: &mut Tally) -> anyhow::Result<()> {
    let Some(key) = w.keys.get(&f.user) else { return Ok(()) };
    let body = json!({"pilot": f.pilot, "answer": f.answer, "about": f.about, "comment": f.comment});
    post(w, key, "/api/v1/feedback", body).await?;
    tally.feedback += 1;
    Ok(())
}

fn count(tally: &mut Tally, a: &Answer) {
    tally.requests += 1;
    *tally.statuses.entry(a.status).or_default() += 1;
    if a.nudged {
        *tally.nudges.entry(a.user.clone()).or_default() += 1;
    }
}

async fn post(w: &World, key: &str, path: &str, body: Value) -> anyhow::Result<Value> {
    let r = w.http.post(format!("{}{path}", w.base)).bearer_auth(key).json(&body).send().await?;
    let status = r.status();
    let v: Value = r.json().await.with_context(|| format!("{path} did not answer JSON"))?;
    anyhow::ensure!(status.is_success(), "{path}: {status} {v}");
    Ok(v)
}

/// The person claims the outcome; their validator validates it if the
/// work was real, else rejects it — and a rejected person appeals once.
async fn claim(w: &World, company: &Company, c: &Claim, tally: &mut Tally) -> anyhow::Result<()> {
    let (Some(key), Some(person)) = (w.keys.get(&c.user), company.person(&c.user)) else { return Ok(()) };
    let receipt = post(
        w,
        key,
        "/api/v1/outcomes",
        json!({"task": c.task, "user": c.user, "use_case": c.use_case, "kind": c.kind, "value_hours": c.value_hours,
               "evidence": format!("sim:{}", c.task), "quality": c.quality, "escalated": c.escalated}),
    )
    .await?;
    let id = receipt["id"].as_str().context("an outcome without an id")?.to_string();
    let validator = w.keys.get(&person.validator).context("a validator without a key")?;
    let decision = if c.genuine { "validated" } else { "rejected" };
    let mut ruling = json!({"decision": decision});
    if c.genuine
        && let Some(q) = c.quality
    {
        ruling["quality"] = json!(q);
    }
    post(w, validator, &format!("/api/v1/outcomes/{id}/validate"), ruling).await?;
    if c.genuine {
        *tally.outcomes_validated.entry(c.user.clone()).or_default() += 1;
        return Ok(());
    }
    let rejected = tally.outcomes_rejected.entry(c.user.clone()).or_default();
    *rejected += 1;
    if *rejected == 1 {
        let appeal = post(
            w,
            key,
            "/api/v1/appeals",
            json!({"subject": format!("outcome:{id}"), "comment": "I did this work; the ticket was closed by me."}),
        )
        .await?;
        let appeal_id = appeal["id"].as_str().context("an appeal without an id")?;
        post(
            w,
            &w.governance,
            &format!("/api/v1/appeals/{appeal_id}/decide"),
            json!({"decision": "dismissed", "comment": "No metered work and no ticket history behind this claim."}),
        )
        .await?;
        tally.appeals += 1;
    }
    Ok(())
}

/// Refused for want of budget, the person asks for an exception; their
/// manager approves it.
async fn ask_exception(w: &World, user: &str, day: u16) -> anyhow::Result<()> {
    let key = w.keys.get(user).context("a person without a key")?;
    let ask = json!({"scope": format!("user:{user}"), "reason_code": "customer-escalation",
                     "justification": format!("Escalated customer work on day {}, needs more room today.", day + 1),
                     "duration_days": 1, "cap_usd": "40"});
    let asked = post(w, key, "/api/v1/exceptions", ask).await?;
    let id = asked["id"].as_str().context("an exception without an id")?.to_string();
    let manager = w.policy.users.get(user).and_then(|u| w.policy.teams.get(&u.team)).map(|t| t.manager.clone());
    if let Some(m) = manager.and_then(|m| w.keys.get(&m)) {
        post(w, m, &format!("/api/v1/exceptions/{id}/approve"), json!({})).await?;
    }
    Ok(())
}
