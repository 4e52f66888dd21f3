//! Prices imported from LiteLLM's public `model_prices_and_context_window.json`
//! (per-token prices such as `input_cost_per_token: 1.5e-07`). Converted
//! exactly to dollars per million tokens; see `PricePerMtok`.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tokenwise_core::{PricePerMtok, Rates};

/// One priced entry of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedPrice {
    pub rates: Rates,
    pub max_output_tokens: Option<u64>,
}

/// Parses the whole table. Entries without an input price (images, audio,
/// the `sample_spec` documentation entry) are skipped; an entry with a
/// malformed price is an error naming it.
pub fn parse_litellm(json: &str) -> Result<BTreeMap<String, ImportedPrice>, String> {
    let root: Map<String, Value> = serde_json::from_str(json).map_err(|e| format!("not a LiteLLM price table: {e}"))?;
    let mut out = BTreeMap::new();
    for (name, entry) in &root {
        if name == "sample_spec" {
            continue;
        }
        let Some(obj) = entry.as_object() else { continue };
        if !obj.contains_key("input_cost_per_token") {
            continue;
        }
        out.insert(name.clone(), entry_rates(name, obj)?);
    }
    Ok(out)
}

fn entry_rates(name: &str, obj: &Map<String, Value>) -> Result<ImportedPrice, String> {
    let price = |field: &str| -> Result<Option<PricePerMtok>, String> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                let v = n.as_f64().ok_or_else(|| format!("`{name}`.{field} is not a number"))?;
                PricePerMtok::from_usd_per_token_f64(v).map(Some).map_err(|e| format!("`{name}`.{field}: {e}"))
            }
            Some(other) => Err(format!("`{name}`.{field} is not a number: {other}")),
        }
    };
    let input = price("input_cost_per_token")?.unwrap_or_default();
    let output = price("output_cost_per_token")?.unwrap_or_default();
    let rates = Rates::with_defaults(
        input,
        output,
        price("cache_read_input_token_cost")?,
        price("cache_creation_input_token_cost")?,
        price("output_cost_per_reasoning_token")?,
    );
    Ok(ImportedPrice { rates, max_output_tokens: obj.get("max_output_tokens").and_then(Value::as_u64) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_per_token_prices_exactly() {
        let json = r#"{
            "sample_spec": {"input_cost_per_token": 0},
            "gpt-4o-mini": {"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07,
                            "cache_read_input_token_cost": 7.5e-08, "litellm_provider": "openai", "mode": "chat"},
            "dall-e-3": {"output_cost_per_pixel": 0.0}
        }"#;
        let table = parse_litellm(json).unwrap();
        assert_eq!(table.len(), 1);
        let p = &table["gpt-4o-mini"];
        assert_eq!(p.rates.input, PricePerMtok(150_000_000));
        assert_eq!(p.rates.output, PricePerMtok(600_000_000));
        assert_eq!(p.rates.cached_read, PricePerMtok(75_000_000));
        assert_eq!(p.rates.cache_write, p.rates.input);
        assert_eq!(p.rates.reasoning, p.rates.output);
    }

    #[test]
    fn a_bad_price_names_the_entry() {
        let err = parse_litellm(r#"{"m": {"input_cost_per_token": "cheap"}}"#).unwrap_err();
        assert!(err.contains("`m`.input_cost_per_token"), "{err}");
    }
}
