//! A FOCUS dataset (CSV) as an export: its Usage rows' `ChargePeriodStart`
//! (the UTC day), `BilledCost`, and tokens from `ConsumedQuantity` when
//! `ConsumedUnit` counts tokens. The model is `x_Model` when present (as
//! tokenwise writes it), else the `SkuId` before a `/`, else `ResourceName`;
//! the kind is `x_TokenKind`, else the `SkuId` after a `/`.

use super::{ANY_MODEL, Export, ProviderLine};
use crate::ReportError;
use crate::decimal::parse_amount;
use crate::kinds::TokenKind;
use jiff::Timestamp;
use std::collections::HashMap;

pub fn read(text: &str) -> Result<Export, ReportError> {
    let records = crate::csv::parse(text.trim_start_matches('\u{feff}'))
        .map_err(|e| ReportError::new(format!("the FOCUS file is not CSV: {e}")))?;
    let Some((header, rows)) = records.split_first() else {
        return Err(ReportError::new("the FOCUS file is empty"));
    };
    let at: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h.trim(), i)).collect();
    for required in ["ChargePeriodStart", "BilledCost", "ChargeCategory"] {
        if !at.contains_key(required) {
            return Err(ReportError::new(format!("the FOCUS file has no `{required}` column")));
        }
    }
    let mut export = Export::default();
    for (n, row) in rows.iter().enumerate() {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        let get = |c: &str| at.get(c).and_then(|i| row.get(*i)).map(|s| s.trim()).filter(|s| !s.is_empty());
        if get("ChargeCategory") != Some("Usage") {
            export.skipped += 1;
            continue;
        }
        let line = n + 2;
        let start = get("ChargePeriodStart").unwrap_or_default();
        let t: Timestamp =
            start.parse().map_err(|e| ReportError::new(format!("line {line}: ChargePeriodStart `{start}`: {e}")))?;
        let cost = parse_amount(get("BilledCost").unwrap_or("0"), 0)
            .map_err(|e| ReportError::new(format!("line {line}: BilledCost: {e}")))?;
        let sku = get("SkuId").and_then(|s| s.split_once('/'));
        let model = get("x_Model").or(sku.map(|s| s.0)).or(get("ResourceName")).unwrap_or(ANY_MODEL).to_string();
        let kind = get("x_TokenKind").or(sku.map(|s| s.1)).and_then(TokenKind::parse);
        let tokens = match (get("ConsumedUnit"), get("ConsumedQuantity")) {
            (Some(unit), Some(q)) if unit.to_ascii_lowercase().contains("token") => {
                let whole = q.split('.').next().unwrap_or("0");
                Some(
                    whole
                        .parse::<u64>()
                        .map_err(|_| ReportError::new(format!("line {line}: ConsumedQuantity `{q}`")))?,
                )
            }
            _ => None,
        };
        let day = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        export.lines.push(ProviderLine { day, model, kind, tokens, cost: Some(cost) });
    }
    Ok(export)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_rows_are_read_and_the_rest_skipped() {
        let csv = "ChargeCategory,ChargePeriodStart,BilledCost,ConsumedQuantity,ConsumedUnit,SkuId\r\n\
                   Usage,2026-11-07T00:00:00Z,0.000123450,1500,Tokens,m/cached_input\r\n\
                   Tax,2026-11-07T00:00:00Z,1.00,,,\r\n";
        let e = read(csv).unwrap();
        assert_eq!(e.lines.len(), 1);
        assert_eq!(e.skipped, 1);
        let l = &e.lines[0];
        assert_eq!((l.model.as_str(), l.kind, l.tokens), ("m", Some(TokenKind::CachedInput), Some(1500)));
        assert_eq!(l.cost, Some(tokenwise_core::Nanos(123_450)));
        assert!(read("a,b\r\n1,2\r\n").unwrap_err().0.contains("ChargePeriodStart"));
    }
}
