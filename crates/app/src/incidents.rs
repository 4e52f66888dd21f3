//! Incident reviews: governance records what went wrong — linked anomaly
//! flags and events, the root cause, the actions taken — and follows it
//! from open to mitigated to closed, each step audited. A listing shows
//! each incident's effect: the linked people's daily spend for the days
//! before and after it happened, from the model rollup.

use crate::App;
use crate::access::Sight;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use tokenwise_anomalies::facts::DAY_US;
use tokenwise_core::Nanos;
use tokenwise_ledger::{AuditAction, AuditDraft, Incident, from_micros, to_micros};
use tokenwise_policy::Role;

tokenwise_core::named_enum!(
    /// Why it happened.
    RootCause, "root cause", {
        /// The incentive rewarded the wrong thing.
        RewardModelFlaw => "reward_model_flaw",
        UnclearPolicy => "unclear_policy",
        /// The sanctioned tool was hard to use, so people worked around it.
        PoorExperience => "poor_experience",
        Misuse => "misuse",
        Other => "other",
    }
);

tokenwise_core::named_enum!(
    IncidentStatus, "incident status", {
        Open => "open",
        Mitigated => "mitigated",
        Closed => "closed",
    }
);

const MAX_LINKS: usize = 200;
const MAX_TEXT: usize = 4_000;
/// The most actions one request may add.
const MAX_ACTIONS: usize = 100;
/// Days of spend shown on each side of an incident, unless asked otherwise.
const EFFECT_DAYS: u32 = 7;

/// `POST /api/v1/incidents`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    pub title: String,
    pub category: RootCause,
    #[serde(default)]
    pub summary: Option<String>,
    /// Anomaly ids (`anm_…`).
    #[serde(default)]
    pub anomalies: Vec<String>,
    /// Usage event ids.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub status: Option<IncidentStatus>,
    /// When it happened; by default the earliest linked flag or event.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<Timestamp>,
}

/// `PATCH /api/v1/incidents/{id}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentChange {
    #[serde(default)]
    pub status: Option<IncidentStatus>,
    /// Actions taken, added to the record.
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `GET /api/v1/incidents?days=`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentsRequest {
    /// Days of spend before and after each incident (default 7, at most 90).
    pub days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Action {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub by: String,
    pub text: String,
}

/// What an incident records besides its columns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Body {
    pub summary: Option<String>,
    pub anomalies: Vec<String>,
    pub events: Vec<String>,
    /// The people the linked flags and events are about.
    pub subjects: Vec<String>,
    pub actions: Vec<Action>,
    /// Status changes and notes, oldest first.
    pub history: Vec<Action>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentView {
    pub id: String,
    pub title: String,
    pub category: String,
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Timestamp,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    #[serde(flatten)]
    pub body: Body,
    /// Filled in listings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effects: Option<Effects>,
}

/// The linked people's spend around the incident.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Effects {
    pub days: u32,
    /// Spend per day, the `days` days before the incident's day, oldest first.
    pub daily_before_usd: Vec<String>,
    /// From the incident's day on.
    pub daily_after_usd: Vec<String>,
    pub spend_before_usd: String,
    pub spend_after_usd: String,
    /// After over before, when there was spend before.
    pub change: Option<f64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<IncidentView>,
}

fn text(what: &str, t: &str) -> AppResult<String> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > MAX_TEXT {
        return Err(AppError::invalid(format!("`{what}` needs 1 to {MAX_TEXT} characters")).with_field("param", what));
    }
    Ok(t.to_string())
}

fn view(i: &Incident) -> AppResult<IncidentView> {
    let body: Body =
        serde_json::from_str(&i.body).map_err(|e| AppError::internal(format!("incident {}: {e}", i.id)))?;
    Ok(IncidentView {
        id: i.id.clone(),
        title: i.title.clone(),
        category: i.category.clone(),
        status: i.status.clone(),
        occurred_at: i.occurred_at,
        created_by: i.created_by.clone(),
        created_at: i.created_at,
        updated_at: i.updated_at,
        body,
        effects: None,
    })
}

fn oversee(caller: &Caller) -> AppResult<()> {
    if matches!(caller.user.role, Role::Governance | Role::Admin) {
        Ok(())
    } else {
        Err(AppError::denied("incidents are recorded by governance and admins"))
    }
}

impl App {
    /// The linked flags and events, checked to exist: (their people, the
    /// earliest time among them).
    async fn links(&self, n: &NewIncident) -> AppResult<(BTreeSet<String>, Option<Timestamp>)> {
        if n.actions.len() > MAX_ACTIONS {
            return Err(
                AppError::invalid(format!("actions: at most {MAX_ACTIONS} at once")).with_field("param", "actions")
            );
        }
        if n.anomalies.len() + n.events.len() > MAX_LINKS {
            return Err(AppError::invalid(format!("link at most {MAX_LINKS} anomalies and events")));
        }
        let (mut people, mut first) = (BTreeSet::new(), None::<Timestamp>);
        for id in &n.anomalies {
            let a = self.store.get_anomaly(id).await?.ok_or_else(|| AppError::invalid(format!("no anomaly `{id}`")))?;
            people.insert(a.user_id);
            first = Some(first.map_or(a.first_seen, |f| f.min(a.first_seen)));
        }
        for id in &n.events {
            let e = self.store.event(id).await?.ok_or_else(|| AppError::invalid(format!("no usage event `{id}`")))?;
            people.insert(e.user_id);
            first = Some(first.map_or(e.ts, |f| f.min(e.ts)));
        }
        Ok((people, first))
    }

    pub async fn open_incident(&self, caller: &Caller, n: NewIncident) -> AppResult<IncidentView> {
        oversee(caller)?;
        let title = text("title", &n.title)?;
        let summary = n.summary.as_deref().map(|s| text("summary", s)).transpose()?;
        let (people, first) = self.links(&n).await?;
        let now = from_micros(to_micros(self.clock.now()));
        let by = &caller.user.id;
        let actions = n
            .actions
            .iter()
            .map(|a| Ok(Action { at: now, by: by.clone(), text: text("actions", a)? }))
            .collect::<AppResult<_>>()?;
        let status = n.status.unwrap_or(IncidentStatus::Open);
        let body = Body {
            summary,
            anomalies: n.anomalies.clone(),
            events: n.events.clone(),
            subjects: people.into_iter().collect(),
            actions,
            history: vec![Action { at: now, by: by.clone(), text: format!("opened as {status}") }],
        };
        let incident = Incident {
            id: Incident::new_id(),
            title,
            category: n.category.as_str().to_string(),
            status: status.as_str().to_string(),
            occurred_at: n.occurred_at.or(first).unwrap_or(now),
            created_by: by.clone(),
            created_at: now,
            updated_at: now,
            body: serde_json::to_string(&body).map_err(|e| AppError::internal(e.to_string()))?,
        };
        self.store.insert_incident(&incident).await?;
        let details = json!({"title": incident.title, "category": incident.category, "status": incident.status,
                             "anomalies": body.anomalies, "events": body.events, "subjects": body.subjects});
        self.auditor.submit(AuditDraft::new(by, AuditAction::IncidentOpen, &incident.id, details)).await;
        view(&incident)
    }

    pub async fn change_incident(&self, caller: &Caller, id: &str, c: IncidentChange) -> AppResult<IncidentView> {
        oversee(caller)?;
        let mut i =
            self.store.get_incident(id).await?.ok_or_else(|| AppError::not_found(format!("no incident `{id}`")))?;
        let mut body: Body = serde_json::from_str(&i.body).map_err(|e| AppError::internal(e.to_string()))?;
        let now = from_micros(to_micros(self.clock.now()));
        let by = caller.user.id.clone();
        if c.actions.len() > MAX_ACTIONS {
            return Err(
                AppError::invalid(format!("actions: at most {MAX_ACTIONS} at once")).with_field("param", "actions")
            );
        }
        for a in &c.actions {
            body.actions.push(Action { at: now, by: by.clone(), text: text("actions", a)? });
        }
        let note = c.note.as_deref().map(|n| text("note", n)).transpose()?;
        if let Some(s) = c.status {
            let moved = format!("{} → {s}", i.status);
            body.history.push(Action {
                at: now,
                by: by.clone(),
                text: note.clone().map_or(moved.clone(), |n| format!("{moved}: {n}")),
            });
            i.status = s.as_str().to_string();
        } else if let Some(n) = &note {
            body.history.push(Action { at: now, by: by.clone(), text: n.clone() });
        }
        i.body = serde_json::to_string(&body).map_err(|e| AppError::internal(e.to_string()))?;
        i.updated_at = now;
        if !self.store.update_incident(&i).await? {
            return Err(AppError::not_found(format!("no incident `{id}`")));
        }
        let details = json!({"status": i.status, "actions_added": c.actions, "note": note});
        self.auditor.submit(AuditDraft::new(&by, AuditAction::IncidentUpdate, &i.id, details)).await;
        view(&i)
    }

    /// Incidents the caller may see (any linked person visible to them;
    /// governance, admins and finance all), newest first, with their effects.
    pub async fn incidents(&self, caller: &Caller, r: IncidentsRequest) -> AppResult<IncidentList> {
        let days = r.days.unwrap_or(EFFECT_DAYS);
        if !(1..=90).contains(&days) {
            return Err(AppError::invalid("days must be from 1 to 90"));
        }
        let sight = Sight::of(&caller.user);
        let mut out = Vec::new();
        for i in self.store.incidents(500).await? {
            let mut v = view(&i)?;
            if !(sight == Sight::All || v.body.subjects.iter().any(|u| sight.sees_user(&self.policy, u))) {
                continue;
            }
            v.effects = Some(self.effects(&v.body.subjects, i.occurred_at, days).await?);
            out.push(v);
        }
        Ok(IncidentList { incidents: out })
    }

    async fn effects(&self, people: &[String], at: Timestamp, days: u32) -> AppResult<Effects> {
        let day = to_micros(at).div_euclid(DAY_US);
        let n = i64::from(days);
        let mut per_day: BTreeMap<i64, i64> = BTreeMap::new();
        for r in self.store.model_days(day - n, day + n).await? {
            if people.contains(&r.user_id) {
                let sum = per_day.entry(r.day).or_default();
                *sum = sum.saturating_add(r.cost.0);
            }
        }
        let series =
            |from: i64, to: i64| (from..to).map(|d| per_day.get(&d).copied().unwrap_or(0)).collect::<Vec<i64>>();
        let (before, after) = (series(day - n, day), series(day, day + n));
        let (b, a): (i64, i64) = (before.iter().sum(), after.iter().sum());
        let usd = |v: &[i64]| v.iter().map(|x| Nanos(*x).to_usd_string()).collect::<Vec<_>>();
        #[allow(clippy::cast_precision_loss)]
        let change = (b > 0).then(|| ((a as f64 / b as f64) * 1000.0).round() / 1000.0);
        Ok(Effects {
            days,
            daily_before_usd: usd(&before),
            daily_after_usd: usd(&after),
            spend_before_usd: Nanos(b).to_usd_string(),
            spend_after_usd: Nanos(a).to_usd_string(),
            change,
        })
    }
}
