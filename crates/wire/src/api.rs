//! The request formats the gateway reads.

/// One API's request format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI `POST /v1/chat/completions`.
    OpenAiChat,
    /// OpenAI `POST /v1/embeddings`.
    OpenAiEmbeddings,
    /// Anthropic `POST /v1/messages`.
    AnthropicMessages,
    /// OpenAI `POST /v1/responses`.
    OpenAiResponses,
}

/// The `anthropic-version` header Anthropic's API requires, sent when a
/// client sends none.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
