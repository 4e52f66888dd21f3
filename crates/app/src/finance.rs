//! What finance reads together for a period: the chargeback, its spend per
//! team, and spend per outcome over time for the org and each team — from
//! the same reports as `/api/v1/reports/*`, under the same rules
//! (`access::report_scope`: members are refused; a manager sees their own
//! team; teams smaller than `min_group_size` have no program-health series
//! but for governance and admins).

use crate::App;
use crate::access::{may_reconcile, report_scope};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::reports::health::{bucket, input};
use crate::reports::{ChargebackReport, Format, chargeback_report};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tokenwise_core::Nanos;
use tokenwise_reports::Chargeback;
use tokenwise_reports::health::{self, Bucket, Input, SpendPoint};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FinanceRequest {
    /// `YYYY-MM`; the current month by default.
    pub period: Option<String>,
    /// `week` (default) or `day`.
    pub bucket: Option<String>,
}

/// One team's spend over the period, from the chargeback's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamSpend {
    pub team: String,
    pub team_name: String,
    pub calls: u64,
    pub cost: Nanos,
    pub outcomes: u64,
}

/// Spend per outcome over time, of the org or one team.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeSeries {
    /// `org`, or a team id.
    pub team: String,
    pub name: String,
    pub points: Vec<CostPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostPoint {
    /// The step's first day.
    pub from: Date,
    pub spend: Nanos,
    /// Outcomes reported in the step and not rejected.
    pub outcomes: u64,
    /// None when nothing was counted.
    pub per_outcome: Option<Nanos>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FinanceOverview {
    pub period: String,
    /// The one team shown (a manager's); None: every team.
    pub team: Option<String>,
    pub chargeback: Chargeback,
    /// Most spend first.
    pub by_team: Vec<TeamSpend>,
    /// The org (or the manager's team) first, then each team; empty when the
    /// caller may not see program health of the team.
    pub spend_per_outcome: Vec<OutcomeSeries>,
    pub first_day: Date,
    pub days: u16,
    /// Whether the caller may reconcile a provider's export (finance,
    /// governance, admins: a bill is the whole org's).
    pub may_reconcile: bool,
}

fn points(raw: &[SpendPoint]) -> AppResult<Vec<CostPoint>> {
    let money = |t: &str| Nanos::parse_usd(t).map_err(|e| AppError::internal(e.to_string()));
    raw.iter()
        .map(|p| {
            Ok(CostPoint {
                from: p.from.parse().map_err(|e: jiff::Error| AppError::internal(e.to_string()))?,
                spend: money(&p.spend_usd)?,
                outcomes: p.outcomes,
                per_outcome: p.cost_per_outcome_usd.as_deref().map(money).transpose()?,
            })
        })
        .collect()
}

/// The chargeback's rows summed per team, most spend first.
pub fn by_team(c: &Chargeback) -> Vec<TeamSpend> {
    let mut teams: BTreeMap<&str, TeamSpend> = BTreeMap::new();
    for r in &c.rows {
        let t = teams.entry(&r.team).or_insert_with(|| TeamSpend {
            team: r.team.clone(),
            team_name: r.team_name.clone(),
            calls: 0,
            cost: Nanos::ZERO,
            outcomes: 0,
        });
        t.calls += r.calls;
        t.cost = t.cost.saturating_add(Nanos(r.cost_nanos));
        t.outcomes += r.outcomes;
    }
    let mut out: Vec<TeamSpend> = teams.into_values().collect();
    out.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.team.cmp(&b.team)));
    out
}

/// The facts of one team, cut from every team's.
fn of_team(all: &Input, team: &str) -> Input {
    Input {
        activity: all.activity.iter().filter(|a| a.team == team).cloned().collect(),
        outcomes: all.outcomes.iter().filter(|o| o.team == team).cloned().collect(),
        tasks: Vec::new(),
        ..all.clone()
    }
}

impl App {
    pub async fn finance_overview(&self, caller: &Caller, r: FinanceRequest) -> AppResult<FinanceOverview> {
        let team = report_scope(&caller.user)?;
        let step: Bucket = bucket(r.bucket.as_deref())?;
        let period = self.report_period(r.period.as_deref())?;
        let store = self.store.as_ref();
        let ChargebackReport::Json(chargeback) =
            chargeback_report(store, &self.policy, &period, team.as_deref(), Format::Json).await?
        else {
            return Err(AppError::internal("the chargeback came back as CSV"));
        };
        let facts = input(store, &self.policy, &period, team.as_deref(), step).await?;
        let mut spend_per_outcome = Vec::new();
        if let Ok(privileged) = self.health_of(caller, team.as_deref()) {
            let whole = team.clone().unwrap_or_else(|| health::ORG.to_string());
            let name = team.as_deref().map_or_else(|| self.policy.org.name.clone(), |t| self.team_name(t));
            spend_per_outcome.push(OutcomeSeries {
                team: whole,
                name,
                points: points(&health::health(&facts).spend_per_outcome)?,
            });
            if team.is_none() {
                let min = self.policy.scoring.min_group_size as usize;
                for (id, _) in self.policy.teams.iter().filter(|(id, _)| {
                    privileged || self.policy.users.values().filter(|u| &u.team == *id).count() >= min
                }) {
                    let h = health::health(&of_team(&facts, id));
                    spend_per_outcome.push(OutcomeSeries {
                        team: id.clone(),
                        name: self.team_name(id),
                        points: points(&h.spend_per_outcome)?,
                    });
                }
            }
        }
        Ok(FinanceOverview {
            period: period.label.clone(),
            team,
            by_team: by_team(&chargeback),
            chargeback,
            spend_per_outcome,
            first_day: facts.first_day,
            days: facts.days,
            may_reconcile: may_reconcile(&caller.user).is_ok(),
        })
    }

    fn team_name(&self, team: &str) -> String {
        self.policy.teams.get(team).map_or_else(|| team.to_string(), |t| t.name.clone())
    }
}
