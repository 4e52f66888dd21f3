//! The dataset checked against the FOCUS specification's own rules,
//! written down here independently of [`COLUMNS`].

use super::*;
use crate::chargeback::Named;
use crate::chargeback::tests::line;
use crate::decimal::parse_amount;
use proptest::prelude::*;
use tokenwise_core::{PricePerMtok, TokenUsage};

/// FOCUS 1.2's mandatory columns, 1.3's two provider columns, and the
/// conditional ones this dataset carries, with whether they may be null.
const SPEC: &[(&str, &str, bool)] = &[
    ("BilledCost", "decimal", false),
    ("BillingAccountId", "string", false),
    ("BillingAccountName", "string", false),
    ("BillingCurrency", "currency", false),
    ("BillingPeriodEnd", "datetime", false),
    ("BillingPeriodStart", "datetime", false),
    ("ChargeCategory", "string", false),
    ("ChargeClass", "string", true),
    ("ChargeDescription", "string", false),
    ("ChargePeriodEnd", "datetime", false),
    ("ChargePeriodStart", "datetime", false),
    ("ContractedCost", "decimal", false),
    ("EffectiveCost", "decimal", false),
    ("InvoiceIssuerName", "string", false),
    ("ListCost", "decimal", false),
    ("PricingQuantity", "decimal", false),
    ("PricingUnit", "string", false),
    ("ProviderName", "string", false),
    ("PublisherName", "string", false),
    ("ServiceCategory", "string", false),
    ("ServiceName", "string", false),
    ("ServiceProviderName", "string", false),
    ("HostProviderName", "string", false),
    ("ConsumedQuantity", "decimal", false),
    ("ConsumedUnit", "string", false),
    ("SubAccountId", "string", false),
    ("SubAccountName", "string", false),
    ("SkuId", "string", false),
    ("Tags", "json", false),
];

const SERVICE_CATEGORIES: &[&str] = &[
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
];

fn is_decimal(v: &str) -> bool {
    let v = v.strip_prefix('-').unwrap_or(v);
    let (i, f) = v.split_once('.').unwrap_or((v, "0"));
    !i.is_empty() && !f.is_empty() && i.chars().chain(f.chars()).all(|c| c.is_ascii_digit())
}

fn is_datetime(v: &str) -> bool {
    // YYYY-MM-DDTHH:mm:ssZ, and a real instant.
    v.len() == 20 && v.as_bytes()[10] == b'T' && v.ends_with('Z') && v.parse::<Timestamp>().is_ok()
}

/// Every rule above, on a CSV dataset; returns its rows as maps.
pub(crate) fn check_dataset(csv: &str) -> Vec<BTreeMap<String, String>> {
    let records = crate::csv::parse(csv).unwrap();
    let header = &records[0];
    for (name, _, _) in SPEC {
        assert!(header.iter().any(|h| h == name), "column {name} is missing");
    }
    for h in header {
        let known = SPEC.iter().any(|(n, _, _)| n == h) || h.starts_with("x_") || h == "Tags";
        assert!(known, "column {h} is neither FOCUS nor prefixed x_");
    }
    let rows: Vec<BTreeMap<String, String>> =
        records[1..].iter().map(|r| header.iter().cloned().zip(r.iter().cloned()).collect()).collect();
    for row in &rows {
        assert_eq!(row.len(), header.len());
        for (name, kind, nullable) in SPEC {
            let v = &row[*name];
            if v.is_empty() {
                assert!(nullable, "{name} is null in {row:?}");
                continue;
            }
            match *kind {
                "decimal" => assert!(is_decimal(v), "{name} = {v:?} is not a FOCUS decimal"),
                "datetime" => assert!(is_datetime(v), "{name} = {v:?} is not YYYY-MM-DDTHH:mm:ssZ"),
                "currency" => assert!(v.len() == 3 && v.chars().all(|c| c.is_ascii_uppercase()), "{v}"),
                "json" => assert!(serde_json::from_str::<serde_json::Value>(v).unwrap().is_object(), "{v}"),
                _ => {}
            }
        }
        assert!(["Usage", "Purchase", "Tax", "Credit", "Adjustment"].contains(&row["ChargeCategory"].as_str()));
        assert!(row["ChargeClass"].is_empty() || row["ChargeClass"] == "Correction");
        assert!(SERVICE_CATEGORIES.contains(&row["ServiceCategory"].as_str()));
        // Start inclusive, end exclusive, inside the billing period.
        assert!(row["ChargePeriodStart"] < row["ChargePeriodEnd"]);
        assert!(row["BillingPeriodStart"] <= row["ChargePeriodStart"]);
        assert!(row["ChargePeriodEnd"] <= row["BillingPeriodEnd"]);
        // Usage rows have a positive quantity; one price per row.
        assert!(parse_amount(&row["ConsumedQuantity"], 0).unwrap().0 > 0);
        for cost in ["EffectiveCost", "ListCost", "ContractedCost"] {
            assert_eq!(row[cost], row["BilledCost"]);
        }
        for x in row.keys().filter(|k| k.starts_with("x_")) {
            assert!(x[2..].chars().all(|c| c.is_ascii_alphanumeric()), "{x}");
        }
    }
    rows
}

fn rates() -> BTreeMap<String, Rates> {
    let r = Rates::with_defaults(
        PricePerMtok(3_000_000_000),
        PricePerMtok(15_000_000_000),
        Some(PricePerMtok(300_000_000)),
        Some(PricePerMtok(3_750_000_000)),
        None,
    );
    BTreeMap::from([("m@v1".to_string(), r)])
}

fn periods() -> Periods {
    let t = |s: &str| s.parse::<Timestamp>().unwrap();
    let edges = vec![
        t("2026-10-31T23:00:00Z"),
        t("2026-11-01T00:00:00Z"),
        t("2026-11-02T00:00:00Z"),
        t("2026-11-30T23:00:00Z"),
    ];
    Periods { start: edges[0], end: edges[3], edges }
}

fn directory() -> Directory {
    Directory {
        org: "Acme Corp".into(),
        teams: BTreeMap::from([(
            "support".into(),
            Named { name: "Customer Support".into(), cost_centre: "CC-2300".into() },
        )]),
        projects: BTreeMap::new(),
    }
}

#[test]
fn every_mandatory_column_is_there_with_its_type_and_values() {
    let mut a = line(1, "support", None, "reply", "m", 12_345_678);
    a.price_version = "m@v1".into();
    a.usage = TokenUsage { input: 5_000, output: 900, cached_read: 3_000, cache_write: 500, reasoning: 0 };
    a.template = Some("reply@1".into());
    let b = line(0, "support", Some("atlas"), "reply", "other", 77);
    let outcomes = [OutcomeCount {
        bucket: 1,
        team: "support".into(),
        use_case: "reply".into(),
        template: Some("reply@1".into()),
        count: 4,
    }];
    let rows = rows(&periods(), &[a, b], &outcomes, &rates(), &directory());
    let csv = to_csv(&rows);
    let checked = check_dataset(&csv);
    // Four kinds of the first line, three of the second.
    assert_eq!(checked.len(), 7);
    let first = &checked[0];
    assert_eq!(first["BillingAccountId"], "acme-corp");
    assert_eq!(first["BillingPeriodStart"], "2026-10-31T23:00:00Z");
    assert_eq!(first["ChargePeriodStart"], "2026-11-01T00:00:00Z");
    assert_eq!(first["SkuId"], "m/input");
    assert_eq!(first["PricingUnit"], "1000000 Tokens");
    assert_eq!(first["PricingQuantity"], "0.001500");
    assert_eq!(first["x_OutcomeCount"], "4");
    let tags: serde_json::Value = serde_json::from_str(&first["Tags"]).unwrap();
    assert_eq!(tags["tokenwise/cost_centre"], "CC-2300");
    assert_eq!(tags["tokenwise/template"], "reply@1");
    let sum: i64 = checked.iter().map(|r| parse_amount(&r["BilledCost"], 0).unwrap().0).sum();
    assert_eq!(sum, 12_345_678 + 77);
    // Cached tokens are priced at their own rate: 3,000 cached cost less than 1,500 fresh.
    let cost_of =
        |sku: &str| checked.iter().find(|r| r["SkuId"] == sku).map(|r| parse_amount(&r["BilledCost"], 0).unwrap().0);
    assert!(cost_of("m/cached_input").unwrap() < cost_of("m/input").unwrap());
    // The second line's price version is unknown: split by tokens.
    assert_eq!(checked[4]["ChargePeriodStart"], "2026-10-31T23:00:00Z");
    assert_eq!(checked[4]["ChargePeriodEnd"], "2026-11-01T00:00:00Z");
}

proptest! {
    #[test]
    fn the_dataset_total_is_the_ledger_total_to_the_nano_dollar(
        lines in proptest::collection::vec((0usize..3, 0u64..2_000_000, 0u64..100, 0u64..100, 0u64..50_000, 0i64..9_000_000_000), 1..20)
    ) {
        let ledger: Vec<UsageLine> = lines.iter().map(|(b, input, cached_pct, write_pct, output, cost)| {
            let mut l = line(*b, "support", None, "reply", "m", *cost);
            l.price_version = if b % 2 == 0 { "m@v1".into() } else { "gone".into() };
            let cached = input * cached_pct / 100;
            let write = (input - cached) * write_pct / 100;
            l.usage = TokenUsage { input: *input, output: *output, cached_read: cached, cache_write: write, reasoning: output / 3 };
            l
        }).collect();
        let total: i64 = ledger.iter().map(|l| l.cost.0).sum();
        let rows = rows(&periods(), &ledger, &[], &rates(), &directory());
        let billed = COLUMNS.iter().position(|c| c.name == "BilledCost").unwrap();
        let sum: i64 = rows.iter().map(|r| parse_amount(r[billed].as_deref().unwrap(), 0).unwrap().0).sum();
        prop_assert_eq!(sum, total);
    }
}
