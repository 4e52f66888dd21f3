//! `POST /api/v1/check`: the gateway's question without the model call.
//! Same body and headers as a chat request (OpenAI or Anthropic shape);
//! answers what the policy would decide, why, what was found and where,
//! the model the call would go to, and what it would cost at most.

use crate::App;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, Code};
use crate::guard::Located;
use crate::meta::{self, MetaHeaders};
use crate::routing::{chat_api, default_output, format_of, reachable_formats, route};
use serde::Serialize;
use serde_json::Value;
use tokenwise_core::TokenUsage;
use tokenwise_policy::ModelKind;
use tokenwise_policy::decision::{Verdict, decide};

/// What `/check` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckAnswer {
    /// `allow`, `redact`, `reroute` or `block`.
    #[schema(value_type = tokenwise_core::Decision)]
    pub decision: &'static str,
    pub reasons: Vec<String>,
    pub nudge: Option<String>,
    pub use_case: String,
    /// A use case the caller may use, when they may not use this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_use_case: Option<String>,
    pub requested_model: String,
    /// The model the call would go to (None when refused before routing).
    pub model: Option<String>,
    pub suggested_model: Option<String>,
    pub data_class: Option<String>,
    /// Each finding with its kind, offsets, class and location in the body.
    pub findings: Vec<Located>,
    pub estimate: Option<Estimate>,
}

/// The most the call could cost: its input counted, its output bound.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Estimate {
    pub input_tokens: u64,
    pub max_output_tokens: u64,
    pub cost_nanos: i64,
    pub cost_usd: String,
    pub price_version: String,
}

impl CheckAnswer {
    /// Refused before any scan: the policy says no to the use case or model.
    fn refused(
        use_case: &str,
        requested: &str,
        reason: String,
        nudge: String,
        suggested: Option<String>,
    ) -> CheckAnswer {
        CheckAnswer {
            decision: "block",
            reasons: vec![reason],
            nudge: Some(nudge),
            use_case: use_case.to_string(),
            suggested_use_case: None,
            requested_model: requested.to_string(),
            model: None,
            suggested_model: suggested,
            data_class: None,
            findings: Vec::new(),
            estimate: None,
        }
    }
}

impl App {
    pub async fn check(&self, caller: &Caller, headers: &MetaHeaders<'_>, body: &[u8]) -> AppResult<CheckAnswer> {
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
            let suggested = r.instead.map(|u| u.default_model.clone());
            let mut answer = CheckAnswer::refused(uc, &requested, r.message, r.nudge, suggested);
            answer.suggested_use_case = r.instead.map(|u| u.id.clone());
            return Ok(answer);
        }
        let ts = self.clock.now();
        let (model, _) = match route(policy, meta.use_case, &requested, ModelKind::Chat, format, ts) {
            Ok(r) => r,
            Err(e) if e.code == Code::PolicyViolation => {
                let suggested = Some(meta.use_case.default_model.clone());
                return Ok(CheckAnswer::refused(uc, &requested, e.message.clone(), e.message.clone(), suggested));
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
            Estimate {
                input_tokens: input,
                max_output_tokens: max_output,
                cost_nanos: cost.0,
                cost_usd: cost.to_usd_string(),
                price_version: p.id.clone(),
            }
        });
        Ok(CheckAnswer {
            decision: decision.name(),
            reasons: decision.reasons.clone(),
            nudge: decision.nudge.clone(),
            use_case: uc.clone(),
            suggested_use_case: None,
            requested_model: requested,
            model: Some(target.id.clone()),
            suggested_model: suggested,
            data_class: Some(policy.class_name(decision.data_class).to_string()),
            findings: inspection.located(policy, &prompt.slots),
            estimate,
        })
    }
}
