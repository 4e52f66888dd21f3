//! What governance oversees, gathered for its views: the period's flags
//! with the incidents opened from them and the appeals to decide
//! (`overview`), the policy's decisions on prompts counted by kind and use
//! case (`violations`), the audit log with its verification (`audit`), and
//! the policy file in force (`policy`). Each asks [`may_oversee`] first, so
//! anyone else is refused rather than shown an empty page; the pieces come
//! from the same services as the JSON API.

pub mod audit;
pub mod policy;
pub mod violations;

use crate::App;
use crate::access::{may_oversee, why_not_decide_appeal};
use crate::anomalies::{AnomaliesRequest, AnomalyList};
use crate::appeals::{AppealFilter, AppealView};
use crate::auth::Caller;
use crate::error::AppResult;
use crate::incidents::{IncidentList, IncidentsRequest};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The period shown; the current month by default.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OverviewRequest {
    pub period: Option<String>,
}

/// An appeal, and why the caller may not decide it (None: they may, and
/// it is open).
#[derive(Debug, Clone, Serialize)]
pub struct AppealRow {
    #[serde(flatten)]
    pub appeal: AppealView,
    pub why_not: Option<String>,
}

/// Governance's desk for a period: every flag (suppressed ones too), the
/// incidents, the appeals, and which incidents each flag is linked to.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub period: String,
    pub anomalies: AnomalyList,
    pub incidents: IncidentList,
    /// Newest first, each with whether the caller may decide it.
    pub appeals: Vec<AppealRow>,
    /// Anomaly id → the incidents that link it.
    pub incidents_by_anomaly: BTreeMap<String, Vec<String>>,
}

impl App {
    pub async fn governance_overview(&self, caller: &Caller, r: OverviewRequest) -> AppResult<Overview> {
        may_oversee(&caller.user)?;
        let anomalies =
            self.anomalies(caller, AnomaliesRequest { period: r.period.clone(), include_suppressed: true }).await?;
        let incidents = self.incidents(caller, IncidentsRequest::default()).await?;
        let mut appeals = Vec::new();
        for appeal in self.appeals(caller, AppealFilter::default()).await?.appeals {
            let why_not = self.why_not_rule(caller, &appeal).await?;
            appeals.push(AppealRow { appeal, why_not });
        }
        let mut incidents_by_anomaly: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in &incidents.incidents {
            for a in &i.body.anomalies {
                incidents_by_anomaly.entry(a.clone()).or_default().push(i.id.clone());
            }
        }
        Ok(Overview { period: anomalies.period.clone(), anomalies, incidents, appeals, incidents_by_anomaly })
    }
}

impl App {
    /// Why the caller may not decide `appeal` (the rule `decide_appeal`
    /// applies), or that it is decided already; None when they may.
    async fn why_not_rule(&self, caller: &Caller, appeal: &AppealView) -> AppResult<Option<String>> {
        if appeal.status != tokenwise_ledger::AppealStatus::Open {
            return Ok(Some(format!("decided: {}", appeal.status)));
        }
        let decided_by = match appeal.subject.strip_prefix("outcome:") {
            Some(id) => self.store.get_outcome(id).await?.and_then(|o| o.decided_by),
            None => None,
        };
        Ok(why_not_decide_appeal(&self.policy, &caller.user, &appeal.appellant, decided_by.as_deref()))
    }
}
