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
use crate::access::may_oversee;
use crate::anomalies::{AnomaliesRequest, AnomalyList};
use crate::appeals::{AppealFilter, AppealList};
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

/// Governance's desk for a period: every flag (suppressed ones too), the
/// incidents, the appeals, and which incidents each flag is linked to.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub period: String,
    pub anomalies: AnomalyList,
    pub incidents: IncidentList,
    pub appeals: AppealList,
    /// Anomaly id → the incidents that link it.
    pub incidents_by_anomaly: BTreeMap<String, Vec<String>>,
}

impl App {
    pub async fn governance_overview(&self, caller: &Caller, r: OverviewRequest) -> AppResult<Overview> {
        may_oversee(&caller.user)?;
        let anomalies =
            self.anomalies(caller, AnomaliesRequest { period: r.period.clone(), include_suppressed: true }).await?;
        let incidents = self.incidents(caller, IncidentsRequest::default()).await?;
        let appeals = self.appeals(caller, AppealFilter::default()).await?;
        let mut incidents_by_anomaly: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in &incidents.incidents {
            for a in &i.body.anomalies {
                incidents_by_anomaly.entry(a.clone()).or_default().push(i.id.clone());
            }
        }
        Ok(Overview { period: anomalies.period.clone(), anomalies, incidents, appeals, incidents_by_anomaly })
    }
}
