//! Anomalies: a detection pass reads a period's facts (`facts`), runs the
//! pure detectors (`tokenwise-anomalies`), looks up the few events each
//! finding cites, and keeps every finding under its stable id, so running
//! it again updates rather than duplicates. Who sees which flag is decided
//! here: governance and admins all, managers their team's, people their
//! own. A flag whose appeal was upheld is suppressed: listed to nobody but
//! governance asking for it, never alerted, never on a score.

pub mod facts;

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::scores::Period;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokenwise_anomalies::{Finding, Lookup, Thresholds};
use tokenwise_ledger::store::anomalies::EvidenceQuery;
use tokenwise_ledger::{AnomalyRecord, AuditAction, AuditDraft, Store};
use tokenwise_policy::{Policy, Role, User};

/// Findings whose events are looked up per pass (the most severe first);
/// the rest keep their numbers and counts.
const MAX_LOOKUPS: usize = 500;

/// `GET /api/v1/anomalies?period=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnomaliesRequest {
    /// `YYYY-MM`; the current month if absent.
    pub period: Option<String>,
    /// Governance and admins may list suppressed flags too.
    #[serde(default)]
    pub include_suppressed: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnomalyList {
    pub period: String,
    pub anomalies: Vec<AnomalyView>,
    /// Flags the caller may see that an upheld appeal suppressed.
    pub suppressed: usize,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnomalyView {
    pub id: String,
    pub detector: String,
    /// `user:ID`.
    pub subject: String,
    pub user: String,
    pub team: Option<String>,
    pub use_case: Option<String>,
    pub window: String,
    pub severity: String,
    pub explanation: String,
    #[schema(value_type = Object)]
    pub evidence: Value,
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: Timestamp,
    /// `open`, `upheld` or `dismissed` once the subject appealed.
    pub appeal: Option<String>,
    pub suppressed: bool,
    /// The subject may appeal it (`POST /api/v1/appeals` with `anomaly:ID`).
    pub appeal_as: String,
}

impl From<&AnomalyRecord> for AnomalyView {
    fn from(a: &AnomalyRecord) -> AnomalyView {
        AnomalyView {
            id: a.id.clone(),
            detector: a.detector.clone(),
            subject: a.subject.clone(),
            user: a.user_id.clone(),
            team: a.team_id.clone(),
            use_case: a.use_case.clone(),
            window: a.window.clone(),
            severity: a.severity.clone(),
            explanation: a.explanation.clone(),
            evidence: serde_json::from_str(&a.evidence).unwrap_or(Value::Null),
            first_seen: a.first_seen,
            last_seen: a.last_seen,
            appeal: a.appeal.clone(),
            suppressed: a.suppressed(),
            appeal_as: format!("anomaly:{}", a.id),
        }
    }
}

/// Whether `who` may see a flag about `user`: governance and admins all,
/// a manager their team's people, anyone their own.
pub fn sees(policy: &Policy, who: &User, user: &str) -> bool {
    match who.role {
        Role::Governance | Role::Admin => true,
        Role::Manager => who.id == user || policy.users.get(user).is_some_and(|u| u.team == who.team),
        Role::Member | Role::Finance => who.id == user,
    }
}

fn record(f: &Finding, period: &str, now: Timestamp) -> AppResult<AnomalyRecord> {
    let evidence = serde_json::to_string(&f.evidence).map_err(|e| AppError::internal(e.to_string()))?;
    Ok(AnomalyRecord {
        id: f.id.clone(),
        detector: f.detector.as_str().to_string(),
        subject: f.subject.clone(),
        user_id: f.user.clone(),
        team_id: f.team.clone(),
        use_case: f.use_case.clone(),
        period: period.to_string(),
        window: f.window.clone(),
        severity: f.severity.as_str().to_string(),
        explanation: f.explanation.clone(),
        evidence,
        first_seen: now,
        last_seen: now,
        alerted_at: None,
        appeal: None,
    })
}

async fn cite(store: &dyn Store, l: &Lookup) -> AppResult<Vec<String>> {
    let q = EvidenceQuery {
        user_id: l.user.clone(),
        from_us: l.from_us,
        to_us: l.to_us,
        use_case: l.use_case.clone(),
        model: l.model.clone(),
        prompt_hash: l.prompt_hash.clone(),
        band: None,
        dlp: l.dlp,
        limit: u32::try_from(tokenwise_anomalies::finding::MAX_IDS).unwrap_or(20),
    };
    Ok(store.evidence(&q).await?.into_iter().map(|e| e.id).collect())
}

/// One detection pass over a period: the findings are kept (new ids
/// inserted, known ones updated) and every flag of the period returned.
pub async fn detect(
    store: &dyn Store,
    policy: &Policy,
    t: &Thresholds,
    period: &Period,
    now: Timestamp,
) -> AppResult<Vec<AnomalyRecord>> {
    let facts = facts::read(store, policy, t, period, now).await?;
    let mut found = tokenwise_anomalies::detect(&facts, t);
    for f in found.iter_mut().take(MAX_LOOKUPS) {
        if let Some(l) = &f.lookup {
            f.evidence.event_ids = cite(store, l).await?;
        }
    }
    let rows = found.iter().map(|f| record(f, &period.label, now)).collect::<AppResult<Vec<_>>>()?;
    store.keep_anomalies(&rows).await?;
    Ok(store.anomalies(&period.label).await?)
}

impl App {
    fn anomaly_period(&self, label: Option<&str>) -> AppResult<Period> {
        match label {
            Some(l) => Period::parse(&self.policy, l),
            None => Ok(Period::containing(&self.policy, self.clock.now())),
        }
    }

    /// Runs a detection pass over the period and lists the flags the
    /// caller may see, most severe first.
    pub async fn anomalies(&self, caller: &Caller, r: AnomaliesRequest) -> AppResult<AnomalyList> {
        let period = self.anomaly_period(r.period.as_deref())?;
        let all = detect(self.store.as_ref(), &self.policy, &self.policy.anomalies, &period, self.clock.now()).await?;
        let visible: Vec<&AnomalyRecord> =
            all.iter().filter(|a| sees(&self.policy, &caller.user, &a.user_id)).collect();
        let suppressed = visible.iter().filter(|a| a.suppressed()).count();
        let oversees = matches!(caller.user.role, Role::Governance | Role::Admin);
        let mut anomalies: Vec<AnomalyView> = visible
            .into_iter()
            .filter(|a| !a.suppressed() || (r.include_suppressed && oversees))
            .map(AnomalyView::from)
            .collect();
        let rank = |s: &str| match s {
            "high" => 0,
            "medium" => 1,
            _ => 2,
        };
        anomalies
            .sort_by(|a, b| (rank(&a.severity), &a.first_seen, &a.id).cmp(&(rank(&b.severity), &b.first_seen, &b.id)));
        Ok(AnomalyList { period: period.label, anomalies, suppressed })
    }

    /// The period's flags not yet announced nor suppressed, each claimed
    /// for this caller only (once across replicas): what to send as alerts.
    pub async fn claim_anomaly_alerts(&self, period: &str) -> AppResult<Vec<Value>> {
        let now = self.clock.now();
        let mut out = Vec::new();
        for a in self.store.anomalies(period).await? {
            if a.alerted_at.is_some() || a.suppressed() || !self.store.claim_anomaly_alert(&a.id, now).await? {
                continue;
            }
            out.push(json!({
                "type": "anomaly.detected",
                "id": a.id,
                "detector": a.detector,
                "subject": a.subject,
                "team": a.team_id,
                "use_case": a.use_case,
                "period": a.period,
                "window": a.window,
                "severity": a.severity,
                "explanation": a.explanation,
                "at": now,
            }));
        }
        Ok(out)
    }

    pub async fn audit_anomaly_alert(&self, alert: &Value, delivered: bool) {
        let id = alert.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let details = json!({"delivered": delivered, "alert": alert});
        self.auditor.submit(AuditDraft::new("system", AuditAction::AnomalyAlert, &id, details)).await;
    }

    /// A background pass over the current period (the server runs it every
    /// `scan_minutes`); the flags it keeps are alerted by the caller.
    pub async fn scan_anomalies(&self) -> AppResult<String> {
        let period = Period::containing(&self.policy, self.clock.now());
        detect(self.store.as_ref(), &self.policy, &self.policy.anomalies, &period, self.clock.now()).await?;
        Ok(period.label)
    }
}
