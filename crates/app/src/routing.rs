//! Which model serves a request, and how much it may generate: the model
//! must exist, be allowed for the use case, suit the endpoint, speak the
//! endpoint's wire format, and have a price in effect; the output bound is
//! the field the upstream obeys, times its choices.

use crate::budgets::DEFAULT_MAX_OUTPUT;
use crate::error::{AppError, AppResult};
use jiff::Timestamp;
use tokenwise_policy::{Model, ModelKind, Policy, PriceVersion, UseCase, WireFormat};
use tokenwise_wire::{Api, OutputBound};

/// The model and the price version a request is metered at.
pub fn route<'p>(
    policy: &'p Policy,
    use_case: &UseCase,
    requested: &str,
    kind: ModelKind,
    format: WireFormat,
    at: Timestamp,
) -> AppResult<(&'p Model, &'p PriceVersion)> {
    let allowed = || use_case.allowed_models.join(", ");
    let Some(model) = policy.models.get(requested) else {
        return Err(AppError::invalid(format!(
            "unknown model `{requested}`; use case `{}` may use: {} (default `{}`)",
            use_case.id,
            allowed(),
            use_case.default_model
        )));
    };
    if !use_case.allowed_models.iter().any(|m| m == requested) {
        return Err(AppError::denied(format!(
            "model `{requested}` is not allowed for use case `{}`; use one of: {} (default `{}`)",
            use_case.id,
            allowed(),
            use_case.default_model
        )));
    }
    if model.kind != kind {
        let want = match kind {
            ModelKind::Chat => "a chat model",
            ModelKind::Embedding => "an embedding model",
        };
        return Err(AppError::invalid(format!("`{requested}` is not {want}")));
    }
    let upstream_format = policy.upstreams.get(&model.upstream).map(|u| u.format);
    if upstream_format != Some(format) {
        let endpoint = match upstream_format {
            Some(WireFormat::Anthropic) => "POST /v1/messages (the Anthropic format)",
            _ => "POST /v1/chat/completions (the OpenAI format)",
        };
        return Err(AppError::invalid(format!("model `{requested}` is served through {endpoint}")));
    }
    let Some(price) = model.price_at(at) else {
        return Err(AppError::denied(format!(
            "model `{requested}` has no price in effect yet, so it cannot be metered"
        )));
    };
    Ok((model, price))
}

/// The wire format of the upstream serving a model (OpenAI when unknown).
pub fn format_of(policy: &Policy, model: &str) -> WireFormat {
    policy.models.get(model).and_then(|m| policy.upstreams.get(&m.upstream)).map_or(WireFormat::Openai, |u| u.format)
}

/// The request format a chat client of a wire format speaks.
pub fn chat_api(format: WireFormat) -> Api {
    match format {
        WireFormat::Openai => Api::OpenAiChat,
        WireFormat::Anthropic => Api::AnthropicMessages,
    }
}

/// The wire formats a request can reach: the client's own, and for a
/// translatable OpenAI chat request the Anthropic format too.
pub fn reachable_formats(client: WireFormat, translatable: bool) -> &'static [WireFormat] {
    match (client, translatable) {
        (WireFormat::Openai, true) => &[WireFormat::Openai, WireFormat::Anthropic],
        (WireFormat::Openai, false) => &[WireFormat::Openai],
        (WireFormat::Anthropic, _) => &[WireFormat::Anthropic],
    }
}

/// The output limit assumed when a request sets none.
pub fn default_output(model: &Model) -> u64 {
    model.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT).min(DEFAULT_MAX_OUTPUT)
}

/// The most output the call may produce, per choice and in all. With
/// `enforce` (a hard budget in play) and no limit in the request, the
/// default is written into the field the upstream obeys, so the hold is a
/// real bound.
pub fn output_limit(req: &mut serde_json::Value, api: Api, model: &Model, enforce: bool) -> OutputBound {
    let asked = tokenwise_wire::output_bound(api, req);
    if asked.per_choice.is_some() {
        return asked;
    }
    let n = default_output(model);
    if enforce && let Some(field) = tokenwise_wire::output_field(api, req, model.reasoning) {
        req[field] = serde_json::Value::from(n);
    }
    OutputBound { per_choice: Some(n), ..asked }
}
