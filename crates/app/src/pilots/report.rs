//! `tokenwise report pilot` and `GET /api/v1/reports/pilots/{id}`: the
//! pilot, what it did to behaviour (cohort against control, before against
//! during, per week; the effect with its interval; the guard metrics), and
//! the feedback with its comments. Governance and admins only: comments
//! are theirs to read.

use super::facts::{self, Span};
use super::{PilotView, WEEK, decision_of, named, view, weeks_between, window};
use crate::App;
use crate::access::may_oversee;
use crate::auth::Caller;
use crate::error::AppResult;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokenwise_ledger::Store;
/// How sure the report is that a guard worsened past its threshold.
pub use tokenwise_pilots::GuardLevel;
use tokenwise_pilots::{Guards, Input, PilotReport};
use tokenwise_policy::{Pilot, Policy};

/// Bootstrap draws behind each interval.
pub const RESAMPLES: u32 = 2_000;

/// The pilot and its report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PilotReportView {
    pub pilot: PilotView,
    pub report: PilotReport,
}

fn span(policy: &Policy, p: &Pilot, now: Timestamp) -> Span {
    let (start, end) = window(policy, p);
    let back = SignedDuration::from_secs(WEEK.as_secs() * i64::from(p.baseline_weeks));
    let from = start.saturating_sub(back).unwrap_or(start);
    Span { from, start, to: end.min(now).max(start), weeks_before: p.baseline_weeks }
}

fn day(policy: &Policy, t: Timestamp) -> Date {
    t.to_zoned_datetime(policy.org.time_zone.clone()).date()
}

fn input(policy: &Policy, p: &Pilot, span: &Span) -> Input {
    let weeks_during = weeks_between(span.start, span.to);
    let first = -i64::from(span.weeks_before);
    let week_starts = (first..i64::from(weeks_during))
        .map(|w| {
            let at = span.start.saturating_add(SignedDuration::from_secs(WEEK.as_secs() * w)).unwrap_or(span.start);
            day(policy, at).to_string()
        })
        .collect();
    let g = p.guards;
    Input {
        pilot: p.id.clone(),
        weeks_before: span.weeks_before,
        weeks_during,
        week_starts,
        cohort: p.cohort.iter().cloned().collect(),
        control: p.control.iter().cloned().collect(),
        rows: Vec::new(),
        feedback: Vec::new(),
        guards: Guards {
            token_burn: g.token_burn,
            template_drift: g.template_drift,
            exceptions: g.exceptions,
            quality: g.quality,
        },
        resamples: RESAMPLES,
    }
}

/// Pilot `id`'s report as of `now` (or its end, when it is over), read
/// from the ledger (what the API answers governance, and the CLI prints).
pub async fn report(store: &dyn Store, policy: &Policy, id: &str, now: Timestamp) -> AppResult<PilotReportView> {
    let p = named(policy, id)?;
    let pilot = view(policy, p, decision_of(store, id).await?, now);
    let span = span(policy, p, now);
    let mut input = input(policy, p, &span);
    input.rows = facts::rows(store, policy, p, &span).await?;
    input.feedback = facts::answers(store, p, &span).await?;
    Ok(PilotReportView { pilot, report: tokenwise_pilots::build(&input) })
}

impl App {
    /// The pilot's report, for governance and admins (it carries comments).
    pub async fn pilot_report(&self, caller: &Caller, id: &str) -> AppResult<PilotReportView> {
        may_oversee(&caller.user)?;
        report(self.store.as_ref(), &self.policy, id, self.clock.now()).await
    }
}
