//! Reading the ledger's usage events: newest first, filtered by person,
//! team, time, request id or task, within what the caller may see. A
//! streamed call's cost, known only at its end, is read here by its
//! request id.

use crate::App;
use crate::access::Sight;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokenwise_ledger::{EventQuery, UsageEvent};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// What a caller asks for (`GET /api/v1/events?…`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsRequest {
    pub user: Option<String>,
    pub team: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    pub request_id: Option<String>,
    pub task: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventsPage {
    /// Each event as stored, with its cost as `cost_nanos` and `cost_usd`.
    #[schema(value_type = Vec<EventView>)]
    pub events: Vec<Value>,
}

/// The schema of an event as [`event_json`] shows it: the ledger's
/// [`UsageEvent`] with `cost` replaced by `cost_nanos` and `cost_usd`.
/// Built from `UsageEvent`'s own schema so the two cannot drift apart.
#[derive(Debug)]
pub struct EventView;

impl utoipa::PartialSchema for EventView {
    fn schema() -> RefOr<Schema> {
        let mut s = <UsageEvent as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(o)) = &mut s {
            o.properties.remove("cost");
            o.required.retain(|r| r != "cost");
            let nanos = ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)));
            let usd = ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The cost in US dollars, exact (e.g. `0.000123`)."));
            o.properties.insert("cost_nanos".into(), nanos.description(Some("The cost in nano-dollars.")).into());
            o.properties.insert("cost_usd".into(), usd.into());
            o.required.extend(["cost_nanos".to_string(), "cost_usd".to_string()]);
        }
        s
    }
}

impl utoipa::ToSchema for EventView {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <UsageEvent as utoipa::ToSchema>::schemas(schemas);
    }
}

fn time(name: &str, v: Option<&str>) -> AppResult<Option<Timestamp>> {
    v.map(|s| {
        s.parse::<Timestamp>()
            .map_err(|_| AppError::invalid(format!("`{name}` must be an RFC 3339 time such as 2026-11-01T00:00:00Z")))
    })
    .transpose()
}

/// An event as the API shows it: money both exact (nano-dollars) and as a
/// decimal string.
pub fn event_json(e: &UsageEvent) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("cost_nanos".into(), json!(e.cost.0));
        o.insert("cost_usd".into(), json!(e.cost.to_usd_string()));
        o.remove("cost");
    }
    v
}

impl App {
    pub async fn events(&self, caller: &Caller, r: EventsRequest) -> AppResult<EventsPage> {
        let mut q = EventQuery {
            user_id: r.user.clone(),
            team_id: r.team.clone(),
            request_id: r.request_id,
            task: r.task,
            from: time("from", r.from.as_deref())?,
            to: time("to", r.to.as_deref())?,
            limit: r.limit.unwrap_or(100),
        };
        let denied = |what: &str| AppError::denied(format!("your role may not read {what}"));
        match Sight::of(&caller.user) {
            Sight::All => {}
            Sight::Own(me) => {
                if r.user.as_ref().is_some_and(|u| *u != me) {
                    return Err(denied("another person's events"));
                }
                if r.team.is_some() {
                    return Err(denied("a team's events"));
                }
                q.user_id = Some(me);
            }
            Sight::Team(team) => {
                if r.team.as_ref().is_some_and(|t| *t != team) {
                    return Err(denied("another team's events"));
                }
                if r.user.as_ref().is_some_and(|u| self.policy.users.get(u).is_none_or(|x| x.team != team)) {
                    return Err(denied("events of people outside your team"));
                }
                q.team_id = Some(team);
            }
        }
        let events = self.store.events(&q).await?;
        Ok(EventsPage { events: events.iter().map(event_json).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenwise_ledger::EventSource;

    /// The document's event schema names exactly the fields `event_json`
    /// writes, and requires those that are never absent.
    #[test]
    fn the_event_schema_is_what_the_api_writes() {
        let e =
            UsageEvent::builder("r1", Timestamp::UNIX_EPOCH, EventSource::Gateway, "ivan", "support", "m", "p").build();
        let written: std::collections::BTreeSet<String> = event_json(&e).as_object().unwrap().keys().cloned().collect();
        let schema = serde_json::to_value(<EventView as utoipa::PartialSchema>::schema()).unwrap();
        let described: std::collections::BTreeSet<String> =
            schema["properties"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(written, described);
        for field in schema["required"].as_array().unwrap() {
            assert!(written.contains(field.as_str().unwrap()), "{field}");
        }
        assert!(!described.contains("cost"));
    }
}
