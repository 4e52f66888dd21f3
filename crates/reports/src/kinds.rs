//! The kinds of tokens a provider bills at different rates. The ledger
//! keeps usage in the OpenTelemetry convention (input includes cached
//! tokens, output includes reasoning); reports split it into disjoint
//! kinds so that cached tokens are never compared with, or priced as,
//! fresh ones — the trap behind dashboards off by large factors.

use serde::Serialize;
use tokenwise_core::{PricePerMtok, Rates, TokenUsage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Input billed at the plain input rate (not read from or written to a cache).
    Input,
    /// Input read from the provider's prompt cache.
    CachedInput,
    /// Input written to the provider's prompt cache.
    CacheWrite,
    /// Output that is not reasoning.
    Output,
    /// Reasoning output, where the provider prices or reports it apart.
    Reasoning,
}

impl TokenKind {
    pub const ALL: [TokenKind; 5] =
        [TokenKind::Input, TokenKind::CachedInput, TokenKind::CacheWrite, TokenKind::Output, TokenKind::Reasoning];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Input => "input",
            TokenKind::CachedInput => "cached_input",
            TokenKind::CacheWrite => "cache_write",
            TokenKind::Output => "output",
            TokenKind::Reasoning => "reasoning",
        }
    }

    pub fn parse(s: &str) -> Option<TokenKind> {
        TokenKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// In words, for descriptions.
    pub fn words(self) -> &'static str {
        match self {
            TokenKind::Input => "input tokens",
            TokenKind::CachedInput => "cached input tokens",
            TokenKind::CacheWrite => "cache write tokens",
            TokenKind::Output => "output tokens",
            TokenKind::Reasoning => "reasoning tokens",
        }
    }

    pub fn rate(self, r: &Rates) -> PricePerMtok {
        match self {
            TokenKind::Input => r.input,
            TokenKind::CachedInput => r.cached_read,
            TokenKind::CacheWrite => r.cache_write,
            TokenKind::Output => r.output,
            TokenKind::Reasoning => r.reasoning,
        }
    }

    /// The kind providers report it under: their usage exports count
    /// reasoning inside output.
    pub fn as_reported(self) -> TokenKind {
        match self {
            TokenKind::Reasoning => TokenKind::Output,
            k => k,
        }
    }
}

/// Usage as disjoint kinds, in [`TokenKind::ALL`] order; they sum to the
/// call's total tokens.
pub fn split(u: &TokenUsage) -> [(TokenKind, u64); 5] {
    [
        (TokenKind::Input, u.uncached_input()),
        (TokenKind::CachedInput, u.cached_read),
        (TokenKind::CacheWrite, u.cache_write),
        (TokenKind::Output, u.plain_output()),
        (TokenKind::Reasoning, u.reasoning),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_disjoint_and_sum_to_the_total() {
        let u = TokenUsage { input: 1_000, output: 300, cached_read: 600, cache_write: 100, reasoning: 200 };
        let parts = split(&u);
        assert_eq!(parts.iter().map(|(_, n)| n).sum::<u64>(), u.total());
        assert_eq!(parts[0], (TokenKind::Input, 300));
        assert_eq!(parts[3], (TokenKind::Output, 100));
        assert_eq!(TokenKind::parse("cached_input"), Some(TokenKind::CachedInput));
        assert_eq!(TokenKind::Reasoning.as_reported(), TokenKind::Output);
    }
}
