//! What differs between the gateway's endpoints: the operation recorded,
//! the model kind and wire format they serve, the request format they
//! read, the upstream path, and what each reads from (and adjusts in) a
//! request body.

use serde_json::{Value, json};
use tokenwise_app::AppError;
use tokenwise_ledger::Operation;
use tokenwise_policy::{ModelKind, WireFormat};
use tokenwise_wire::{Api, Dialect, Prompt};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint {
    pub operation: Operation,
    pub kind: ModelKind,
    pub format: WireFormat,
    /// The request format, for reading what it carries.
    pub api: Api,
    /// Appended to the upstream's base URL.
    pub path: &'static str,
    /// Whether the provider answers a count of the prompt's tokens rather
    /// than calling a model: nothing is held, metered or billed.
    pub count_only: bool,
}

/// What an endpoint reads from a request body.
#[derive(Debug)]
pub(crate) struct Shaped {
    /// Everything the upstream will receive: the texts and where they are
    /// in the body (scanned, hashed, masked in place when the policy says
    /// so, used for estimates), and the bytes that are not text.
    pub prompt: Prompt,
    pub stream: bool,
    pub dialect: Dialect,
    /// Whether the request could be translated to the other wire format,
    /// so a reroute may pick a model that speaks it.
    pub translatable: bool,
}

pub(crate) const CHAT: Endpoint = Endpoint {
    operation: Operation::ChatCompletions,
    kind: ModelKind::Chat,
    format: WireFormat::Openai,
    api: Api::OpenAiChat,
    path: "/chat/completions",
    count_only: false,
};

pub(crate) const EMBEDDINGS: Endpoint = Endpoint {
    operation: Operation::Embeddings,
    kind: ModelKind::Embedding,
    format: WireFormat::Openai,
    api: Api::OpenAiEmbeddings,
    path: "/embeddings",
    count_only: false,
};

pub(crate) const MESSAGES: Endpoint = Endpoint {
    operation: Operation::Messages,
    kind: ModelKind::Chat,
    format: WireFormat::Anthropic,
    api: Api::AnthropicMessages,
    path: "/v1/messages",
    count_only: false,
};

/// Anthropic's token count (`/v1/messages/count_tokens`): a messages
/// request without `max_tokens`, routed and scanned exactly as one (the
/// provider receives every text), then answered with the provider's
/// `{"input_tokens": N}` at no cost.
pub(crate) const COUNT_TOKENS: Endpoint = Endpoint {
    operation: Operation::CountTokens,
    kind: ModelKind::Chat,
    format: WireFormat::Anthropic,
    api: Api::AnthropicMessages,
    path: "/v1/messages/count_tokens",
    count_only: true,
};

/// The OpenAI Responses API. Its requests are never translated (the
/// Anthropic format has no counterpart for its items), so a reroute stays
/// among OpenAI-format models.
pub(crate) const RESPONSES: Endpoint = Endpoint {
    operation: Operation::Responses,
    kind: ModelKind::Chat,
    format: WireFormat::Openai,
    api: Api::OpenAiResponses,
    path: "/responses",
    count_only: false,
};

impl Endpoint {
    /// Reads what the request carries (refusing what cannot be read: it
    /// would go upstream unscanned) and prepares it for metering.
    pub fn shape(&self, req: &mut Value) -> Result<Shaped, AppError> {
        tokenwise_wire::validate(self.api, req)
            .map_err(|e| AppError::invalid(e.to_string()).with_field("param", e.field.clone()))?;
        let prompt = tokenwise_wire::walk(self.api, req).map_err(|e| AppError::invalid(e.to_string()))?;
        let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let (dialect, translatable) = match self.api {
            Api::OpenAiChat => {
                let client_wants_usage =
                    req.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
                if stream {
                    always_meter(req);
                }
                (Dialect::OpenAiChat { client_wants_usage }, tokenwise_wire::translate::translatable(req))
            }
            Api::OpenAiEmbeddings => (Dialect::OpenAiEmbeddings, false),
            Api::AnthropicMessages => (Dialect::Anthropic, false),
            // Responses streams always end with usage in `response.completed`.
            Api::OpenAiResponses => (Dialect::OpenAiResponses, false),
        };
        Ok(Shaped { prompt, stream: stream && self.api != Api::OpenAiEmbeddings, dialect, translatable })
    }
}

/// Streams are always metered: ask for the usage chunk; it is withheld
/// from clients that did not ask for it.
fn always_meter(req: &mut Value) {
    match req.get_mut("stream_options").and_then(Value::as_object_mut) {
        Some(o) => {
            o.insert("include_usage".into(), Value::Bool(true));
        }
        None => req["stream_options"] = json!({"include_usage": true}),
    }
}
