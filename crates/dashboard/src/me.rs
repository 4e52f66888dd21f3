//! `/me`: an employee's month — spend, each task's cost in plain words
//! beside the usual, the score with its breakdown and rules version,
//! badges, budgets, pending outcomes and appeals, and the one-click
//! feedback question on the scorecard. A pilot's cohort sees it as the
//! pilot shows it: its reward model and rules, its board's reach, badges
//! on or off.

use crate::Dash;
use crate::error::PageError;
use crate::forms::Posted;
use crate::money::{delta, percent, times, usd};
use crate::page::render;
use crate::viewer::Viewer;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tokenwise_app::appeals::AppealFilter;
use tokenwise_app::budgets::EnvelopeView;
use tokenwise_app::feedback::FeedbackAnswer;
use tokenwise_app::month::{SpendOf, TaskCost};
use tokenwise_app::outcomes::{OutcomeFilter, OutcomeView};
use tokenwise_app::scores::ScoresRequest;
use tokenwise_core::Nanos;

#[derive(Debug, Default, Deserialize)]
pub struct MonthQuery {
    #[serde(default)]
    pub period: Option<String>,
    /// Set after the feedback form was sent, to thank the reader.
    #[serde(default)]
    pub thanks: Option<String>,
}

/// An envelope as the page shows it.
#[derive(Debug, Serialize)]
pub struct BudgetLine {
    pub scope: String,
    pub budget: String,
    pub spent: String,
    pub limit: String,
    pub remaining: String,
    pub percent: i64,
    pub projected: String,
    pub exceeds: bool,
    pub enforcement: &'static str,
}

pub fn budget_line(e: &EnvelopeView) -> BudgetLine {
    let spent = Nanos(e.captured_nanos.saturating_add(e.held_nanos));
    let limit = Nanos(e.limit_nanos);
    let projected = Nanos::parse_usd(&e.forecast.projected_usd).unwrap_or(spent);
    BudgetLine {
        scope: e.scope.clone(),
        budget: e.budget.clone(),
        spent: usd(spent),
        limit: usd(limit),
        remaining: usd(limit.saturating_sub(spent)),
        percent: percent(spent, limit),
        projected: usd(projected),
        exceeds: e.forecast.exceeds_limit,
        enforcement: e.enforcement,
    }
}

/// An outcome as the pages show it: its value in dollars, its kind in words.
pub fn outcome_line(o: &OutcomeView) -> serde_json::Value {
    let value = Nanos::parse_usd(&o.value_usd).map(usd).unwrap_or_else(|_| o.value_usd.clone());
    serde_json::json!({
        "id": o.id, "user": o.user, "task": o.task, "kind": o.kind.replace('_', " "), "use_case": o.use_case,
        "value": value, "hours": o.value_hours, "evidence": o.evidence, "quality": o.quality,
        "status": o.status.as_str(), "metered": o.metered, "signed": o.signed,
        "reported": o.reported_at.strftime("%b %-d").to_string(),
    })
}

/// Tasks listed on the page, newest first, of the most recent read.
const TASKS_SHOWN: usize = 12;
const TASKS_COUNTED: u32 = 500;

/// A task as the page says it, in plain words.
#[derive(Debug, Serialize)]
pub struct TaskLine {
    pub task: String,
    pub sentence: String,
    pub cost: String,
    pub usual: Option<String>,
    pub delta: Option<String>,
    /// `up` (above the usual), `down` or `even`.
    pub direction: &'static str,
    pub template: Option<String>,
    pub suggestion: Option<String>,
    pub calls: u64,
    pub when: String,
}

/// "This support-reply task cost $0.41, 9× the usual for template
/// support-reply@2 ($0.045)."
pub fn task_line(t: &TaskCost) -> TaskLine {
    let kind = t.use_case.as_deref().unwrap_or("untagged");
    let calls = if t.calls == 1 { "1 call".to_string() } else { format!("{} calls", t.calls) };
    let (sentence, direction) = match (t.usual, &t.usual_of) {
        (Some(u), Some(of)) => {
            let dir = if t.cost > u {
                "up"
            } else if t.cost < u {
                "down"
            } else {
                "even"
            };
            (
                format!(
                    "This {kind} task cost {} over {calls}, {} the usual for {of} ({}).",
                    usd(t.cost),
                    times(t.cost, u),
                    usd(u)
                ),
                dir,
            )
        }
        _ => {
            (format!("This {kind} task cost {} over {calls}; there is no usual for its kind yet.", usd(t.cost)), "even")
        }
    };
    let suggestion = t.suggested.as_ref().map(|k| {
        let usual = t.suggested_usual.map(|m| format!(": it usually costs {}", usd(m))).unwrap_or_default();
        format!("Try the approved template {k}{usual}.")
    });
    TaskLine {
        task: t.task.clone(),
        sentence,
        cost: usd(t.cost),
        usual: t.usual.map(usd),
        delta: t.usual.map(|u| delta(t.cost.saturating_sub(u))),
        direction,
        template: t.template.clone(),
        suggestion,
        calls: t.calls,
        when: t.last_call.strftime("%b %-d, %H:%M UTC").to_string(),
    }
}

/// `GET /me`.
pub async fn page(
    State(dash): State<Dash>,
    viewer: Viewer,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let app = &dash.app;
    let c = &viewer.caller;
    let me = format!("user:{}", c.user.id);
    let board = app.scores(c, ScoresRequest { period: q.period.clone(), ..ScoresRequest::default() }).await?;
    let score = board.scores.iter().find(|s| s.subject == me).cloned();
    let spend = app.daily_spend(c, &SpendOf::User(c.user.id.clone()), Some(&board.period)).await?;
    let tasks = app.task_costs(c, &c.user.id, Some(&board.period), TASKS_COUNTED).await?;
    let task_count = tasks.len();
    let tasks = &tasks[..tasks.len().min(TASKS_SHOWN)];
    let tasks: Vec<TaskLine> = tasks.iter().map(task_line).collect();
    let above = tasks.iter().filter(|t| t.direction == "up").count();
    let budgets = app.budgets(c).await?;
    let mine: Vec<BudgetLine> = budgets.envelopes.iter().filter(|e| e.scope == me).map(budget_line).collect();
    let pending = app
        .outcomes(
            c,
            OutcomeFilter { status: Some("pending".into()), user: Some(c.user.id.clone()), ..OutcomeFilter::default() },
        )
        .await?;
    let appeals = app.appeals(c, AppealFilter::default()).await?;
    let appeals: Vec<_> = appeals.appeals.into_iter().filter(|a| a.appellant == c.user.id).collect();
    // What this person is shown now: the pilot's design while one runs
    // with them in its cohort (the scores above already follow it).
    let shown = app.shown_to(&c.user.id).await?;
    let asking: Vec<serde_json::Value> = shown
        .pilot
        .iter()
        .map(|p| serde_json::json!({"id": p, "reward_model": shown.model.as_str(), "rules_version": shown.rules_version}))
        .collect();
    let rank_among = match shown.board {
        Some(tokenwise_policy::Visibility::Private) => None,
        Some(tokenwise_policy::Visibility::Team) => Some("your team"),
        _ => Some("everyone scored this month"),
    };
    let ctx = serde_json::json!({
        "period": board.period,
        "model": board.model.as_str(),
        "rules_version": board.rules_version,
        "score": score,
        "spend": usd(spend.total),
        "calls": spend.calls,
        "chart": crate::chart::daily(&app.policy, &spend, "my-spend", "My spend per day"),
        "tasks": tasks,
        "task_count": task_count,
        "task_count_capped": task_count >= TASKS_COUNTED as usize,
        "above": above,
        "budgets": mine,
        "pending": pending.outcomes.iter().map(outcome_line).collect::<Vec<_>>(),
        "appeals": appeals,
        "thanks": q.thanks.is_some(),
        "pilots": asking,
        "pilot": board.pilot,
        "badges_shown": shown.badges,
        "rank_among": rank_among,
        "subjects": tokenwise_app::feedback::SUBJECTS,
    });
    render(&viewer, "/me", "me.html", ctx)
}

/// `POST /me/feedback`: a pilot's one-click question, from its cohort.
pub async fn feedback(State(dash): State<Dash>, posted: Posted<FeedbackAnswer>) -> Result<Response, PageError> {
    dash.app.give_feedback(&posted.viewer.caller, posted.form).await?;
    Ok(Redirect::to("/me?thanks=1#feedback").into_response())
}
