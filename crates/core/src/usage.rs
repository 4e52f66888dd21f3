//! Token counts by kind, and what they cost at a set of rates.

use crate::money::{Nanos, PricePerMtok, cost_of};
use serde::{Deserialize, Serialize};

/// Tokens of one call, in the OpenTelemetry GenAI convention:
/// `input` counts *all* prompt tokens, including those read from or written
/// to the provider's cache; `output` counts all generated tokens, including
/// reasoning. The cache and reasoning counts are the subsets billed at their
/// own rates. (OpenAI reports this way; Anthropic reports cache tokens apart
/// from `input_tokens`, and the gateway adds them in.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    #[serde(default)]
    pub cached_read: u64,
    #[serde(default)]
    pub cache_write: u64,
    #[serde(default)]
    pub reasoning: u64,
}

/// Rates for one model at one price version, per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub input: PricePerMtok,
    pub output: PricePerMtok,
    pub cached_read: PricePerMtok,
    pub cache_write: PricePerMtok,
    pub reasoning: PricePerMtok,
}

impl Rates {
    /// Rates from a price list that may leave some out: a provider without
    /// a cache price bills cached tokens as input, and reasoning tokens
    /// are billed as output unless priced apart.
    pub fn with_defaults(
        input: PricePerMtok,
        output: PricePerMtok,
        cached_read: Option<PricePerMtok>,
        cache_write: Option<PricePerMtok>,
        reasoning: Option<PricePerMtok>,
    ) -> Rates {
        Rates {
            input,
            output,
            cached_read: cached_read.unwrap_or(input),
            cache_write: cache_write.unwrap_or(input),
            reasoning: reasoning.unwrap_or(output),
        }
    }
}

impl TokenUsage {
    /// Input tokens billed at the plain input rate.
    pub fn uncached_input(&self) -> u64 {
        self.input.saturating_sub(self.cached_read).saturating_sub(self.cache_write)
    }

    /// Output tokens billed at the plain output rate.
    pub fn plain_output(&self) -> u64 {
        self.output.saturating_sub(self.reasoning)
    }

    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }

    /// Cost at `rates`: each kind of token at its own rate, rounded once.
    pub fn cost(&self, rates: &Rates) -> Nanos {
        cost_of(&[
            (self.uncached_input(), rates.input),
            (self.cached_read, rates.cached_read),
            (self.cache_write, rates.cache_write),
            (self.plain_output(), rates.output),
            (self.reasoning, rates.reasoning),
        ])
    }

    pub fn saturating_add(&self, other: &TokenUsage) -> TokenUsage {
        TokenUsage {
            input: self.input.saturating_add(other.input),
            output: self.output.saturating_add(other.output),
            cached_read: self.cached_read.saturating_add(other.cached_read),
            cache_write: self.cache_write.saturating_add(other.cache_write),
            reasoning: self.reasoning.saturating_add(other.reasoning),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rates() -> Rates {
        Rates {
            input: PricePerMtok(3_000_000_000),       // $3 / Mtok
            output: PricePerMtok(15_000_000_000),     // $15 / Mtok
            cached_read: PricePerMtok(300_000_000),   // $0.30 / Mtok
            cache_write: PricePerMtok(3_750_000_000), // $3.75 / Mtok
            reasoning: PricePerMtok(15_000_000_000),
        }
    }

    #[test]
    fn cached_tokens_are_billed_at_their_own_rate() {
        let all_fresh = TokenUsage { input: 1_000_000, output: 0, ..Default::default() };
        let mostly_cached = TokenUsage { input: 1_000_000, cached_read: 900_000, ..Default::default() };
        assert_eq!(all_fresh.cost(&rates()), Nanos(3_000_000_000));
        // 100k fresh at $3/M + 900k cached at $0.30/M = $0.30 + $0.27
        assert_eq!(mostly_cached.cost(&rates()), Nanos(570_000_000));
    }

    #[test]
    fn reasoning_is_part_of_output_not_added_twice() {
        let mut r = rates();
        r.reasoning = PricePerMtok(60_000_000_000);
        let u = TokenUsage { input: 0, output: 1_000, reasoning: 400, ..Default::default() };
        // 600 plain at $15/M + 400 reasoning at $60/M
        assert_eq!(u.cost(&r), Nanos(9_000_000 + 24_000_000));
    }

    proptest! {
        #[test]
        fn more_tokens_never_cost_less(input in 0u64..5_000_000, extra in 0u64..5_000_000, output in 0u64..1_000_000, cached_frac in 0u64..=100) {
            let cached = input * cached_frac / 100;
            let a = TokenUsage { input, output, cached_read: cached, ..Default::default() };
            let b = TokenUsage { input: input + extra, output, cached_read: cached, ..Default::default() };
            prop_assert!(a.cost(&rates()) <= b.cost(&rates()));
        }
    }
}
