//! `POST /api/v1/check`: the gateway's question without the model call.
//! Same body and headers as a chat request (OpenAI or Anthropic shape);
//! answers what the policy would decide, why, what was found and where,
//! the model the call would go to, and what it would cost at most.

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Code};
use crate::meta::{self, MetaHeaders};
use crate::routing::{chat_api, default_output, format_of, reachable_formats, route};
use serde_json::{Value, json};
use tokenwise_core::TokenUsage;
use tokenwise_policy::ModelKind;
use tokenwise_policy::decision::{Verdict, decide};

/// The answer when the call would be refused before any scan: the policy
/// says no to the use case or the model.
fn refused(use_case: &str, requested: &str, reason: String, nudge: Value, suggested: Value, extra: Value) -> Value {
    let mut v = json!({
        "decision": "block", "reasons": [reason], "nudge": nudge, "use_case": use_case,
        "requested_model": requested, "model": null, "suggested_model": suggested,
        "data_class": null, "findings": [], "estimate": null,
    });
    if let (Some(o), Value::Object(more)) = (v.as_object_mut(), extra) {
        o.extend(more);
    }
    v
}

impl App {
    pub async fn check(&self, caller: &Caller, headers: &MetaHeaders<'_>, body: &[u8]) -> AppResult<Value> {
        let req: Value =
            serde_json::from_slice(body).map_err(|e| AppError::invalid(format!("the body is not valid JSON: {e}")))?;
        let requested = req
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| AppError::invalid("`model` is required"))?
            .to_string();
        let policy = &self.policy;
        // Check as if the client used the endpoint of the model's own format.
        let format = format_of(policy, &requested);
        let api = chat_api(format);
        let prompt = tokenwise_wire::walk(api, &req).map_err(|e| AppError::invalid(e.to_string()))?;
        let meta = meta::claimed(policy, caller, headers)?;
        let uc = &meta.use_case.id;
        // The gateway's first refusal: a use case the caller may not use.
        if let Some(r) = policy.use_case_refusal(&caller.user, meta.use_case) {
            let suggested = json!(r.instead.map(|u| &u.default_model));
            let extra = json!({"suggested_use_case": r.instead.map(|u| &u.id)});
            return Ok(refused(uc, &requested, r.message, json!(r.nudge), suggested, extra));
        }
        let ts = self.clock.now();
        let (model, _) = match route(policy, meta.use_case, &requested, ModelKind::Chat, format, ts) {
            Ok(r) => r,
            Err(e) if e.code == Code::PolicyViolation => {
                let (nudge, suggested) = (json!(e.message), json!(meta.use_case.default_model));
                return Ok(refused(uc, &requested, e.message, nudge, suggested, Value::Null));
            }
            Err(e) => return Err(e),
        };
        let inspection = self.guard.inspect(policy, &prompt.slots);
        let formats = reachable_formats(format, tokenwise_wire::translate::translatable(&req));
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
        let input = crate::tokenize::count_prompt_off_thread(prompt.texts(), true).await;
        // The same limit the gateway would hold for (and send upstream).
        let max_output = tokenwise_wire::output_bound(api, &req).total(default_output(target));
        let estimate = target.price_at(ts).map(|p| {
            let cost = TokenUsage { input, output: max_output, ..Default::default() }.cost(&p.rates);
            json!({"input_tokens": input, "max_output_tokens": max_output, "cost_nanos": cost.0,
                   "cost_usd": cost.to_usd_string(), "price_version": p.id})
        });
        Ok(json!({
            "decision": decision.name(),
            "reasons": decision.reasons,
            "nudge": decision.nudge,
            "use_case": uc,
            "requested_model": requested,
            "model": target.id,
            "suggested_model": suggested,
            "data_class": policy.class_name(decision.data_class),
            "findings": inspection.located(policy, &prompt.slots),
            "estimate": estimate,
        }))
    }
}
