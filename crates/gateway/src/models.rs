//! `GET /v1/models`: the models this key may use — those of its use case
//! (from the header or the key's default; refused if its person may not
//! use it), else those of every use case its person may use — in the
//! OpenAI shape, or the Anthropic one when the Anthropic SDK asks.

use crate::Gateway;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokenwise_app::meta;
use tokenwise_http::{ApiError, Authed, headers};
use tokenwise_policy::Model;

pub(crate) async fn list(
    State(g): State<Gateway>,
    Authed(caller): Authed,
    hs: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let policy = &g.app.policy;
    let said = headers::meta(&hs)?;
    let mut ids: Vec<&String> = if said.use_case.is_some() || caller.key.use_case.is_some() {
        meta::resolve(policy, &caller, &said)?.use_case.allowed_models.iter().collect()
    } else {
        policy.use_cases_for(&caller.user).flat_map(|u| u.allowed_models.iter()).collect()
    };
    ids.sort();
    ids.dedup();
    let models: Vec<&Model> = ids.into_iter().filter_map(|id| policy.models.get(id)).collect();
    Ok(Json(if hs.contains_key("anthropic-version") { anthropic(&models) } else { openai(&models) }))
}

fn openai(models: &[&Model]) -> Value {
    let data: Vec<Value> =
        models.iter().map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": m.upstream})).collect();
    json!({"object": "list", "data": data})
}

fn anthropic(models: &[&Model]) -> Value {
    let data: Vec<Value> = models
        .iter()
        .map(|m| json!({"type": "model", "id": m.id, "display_name": m.id, "created_at": "1970-01-01T00:00:00Z"}))
        .collect();
    json!({"data": data, "has_more": false, "first_id": models.first().map(|m| &m.id), "last_id": models.last().map(|m| &m.id)})
}
