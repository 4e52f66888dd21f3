//! `POST /api/v1/check`: the gateway's question without the model call.
//! Same body and headers as a chat request (OpenAI or Anthropic shape);
//! answers what the policy would decide, why, what was found and where,
//! the model the call would go to, and what it would cost at most.

use crate::error::{ApiError, Code};
use crate::{AppState, auth, meta};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use tokenwise_core::TokenUsage;
use tokenwise_policy::decision::{Verdict, decide};
use tokenwise_policy::{ModelKind, WireFormat};
use tokenwise_wire::Api;

pub async fn check(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match run(&state, &headers, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let body = crate::gateway::body_or_error(body, state.policy.server.max_request_bytes)?;
    let caller = auth::authenticate(&state.policy, state.store.as_ref(), headers).await?;
    let req: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("the body is not valid JSON: {e}")))?;
    let requested =
        req.get("model").and_then(Value::as_str).ok_or_else(|| ApiError::invalid("`model` is required"))?.to_string();
    let policy = &state.policy;
    // Check as if the client used the endpoint of the model's own format.
    let format = policy
        .models
        .get(&requested)
        .and_then(|m| policy.upstreams.get(&m.upstream))
        .map_or(WireFormat::Openai, |u| u.format);
    let api = match format {
        WireFormat::Openai => Api::OpenAiChat,
        WireFormat::Anthropic => Api::AnthropicMessages,
    };
    let prompt = tokenwise_wire::walk(api, &req).map_err(|e| ApiError::invalid(e.to_string()))?;
    let slots = &prompt.slots;
    let meta = meta::claimed(policy, &caller, headers)?;
    // The gateway's first refusal: a use case the caller may not use.
    if let Some(r) = policy.use_case_refusal(&caller.user, meta.use_case) {
        return Ok(json!({
            "decision": "block", "reasons": [r.message], "nudge": r.nudge,
            "use_case": meta.use_case.id, "suggested_use_case": r.instead.map(|u| &u.id),
            "requested_model": requested, "model": null, "suggested_model": r.instead.map(|u| &u.default_model),
            "data_class": null, "findings": [], "estimate": null,
        }));
    }
    let ts = Timestamp::now();
    let (model, _) = match crate::gateway::route(policy, meta.use_case, &requested, ModelKind::Chat, format, ts) {
        Ok(r) => r,
        Err(e) if e.code == Code::PolicyViolation => {
            return Ok(json!({
                "decision": "block", "reasons": [e.message], "nudge": e.message,
                "use_case": meta.use_case.id, "requested_model": requested, "model": null,
                "suggested_model": meta.use_case.default_model, "data_class": null, "findings": [], "estimate": null,
            }));
        }
        Err(e) => return Err(e),
    };
    let inspection = state.guard.inspect(policy, slots);
    let formats = crate::gateway::reachable_formats(format, tokenwise_wire::translate::translatable(&req));
    let decision = decide(policy, meta.use_case, model, formats, &inspection.classified, ts);
    let target = match &decision.verdict {
        Verdict::Reroute { to } => policy.models.get(to).unwrap_or(model),
        _ => model,
    };
    let suggested = match &decision.verdict {
        Verdict::Reroute { to } => Some(to.clone()),
        Verdict::Block => {
            policy.models_cleared_for(meta.use_case, decision.data_class, ts).first().map(|m| m.id.clone())
        }
        _ => None,
    };
    let findings: Vec<Value> = slots
        .iter()
        .zip(&inspection.per_slot)
        .flat_map(|(slot, found)| {
            found.iter().map(move |(f, class)| {
                json!({"kind": f.kind.as_str(), "start": f.start, "end": f.end,
                       "class": policy.class_name(*class), "location": slot.pointer})
            })
        })
        .collect();
    let input = crate::tokenize::count_prompt_off_thread(prompt.texts(), true).await;
    // The same limit the gateway would hold for (and send upstream).
    let max_output = tokenwise_wire::output_bound(api, &req).total(crate::gateway::default_output(target));
    let estimate = target.price_at(ts).map(|p| {
        let cost = TokenUsage { input, output: max_output, ..Default::default() }.cost(&p.rates);
        json!({"input_tokens": input, "max_output_tokens": max_output, "cost_nanos": cost.0,
               "cost_usd": cost.to_usd_string(), "price_version": p.id})
    });
    Ok(json!({
        "decision": decision.name(),
        "reasons": decision.reasons,
        "nudge": decision.nudge,
        "use_case": meta.use_case.id,
        "requested_model": requested,
        "model": target.id,
        "suggested_model": suggested,
        "data_class": policy.class_name(decision.data_class),
        "findings": findings,
        "estimate": estimate,
    }))
}
