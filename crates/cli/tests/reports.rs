//! Reports against the real binary with real gateway traffic through the
//! mock provider: chargeback as JSON, CSV and FOCUS (API and CLI agree, and
//! add up to the ledger to the nano-dollar), who may read what, program
//! health, and reconciliation of a provider export that matches the ledger
//! and of one with a planted drift.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use support::{Client, Gateway, bin, text, usd_nanos};

/// A chat call; a prompt `SYSTEM || QUESTION` sends a system message (the
/// part the mock reports as cached once seen) before the question.
async fn call(g: &Gateway, user: &str, use_case: &str, model: &str, prompt: &str, headers: &[(&str, &str)]) {
    let c = Client::new(g, g.key(user, Some(use_case)));
    let messages = match prompt.split_once(" || ") {
        Some((system, question)) => {
            json!([{"role": "system", "content": system}, {"role": "user", "content": question}])
        }
        None => json!([{"role": "user", "content": prompt}]),
    };
    let a = if model.starts_with("claude") {
        let body = json!({"model": model, "max_tokens": 256, "messages": messages});
        c.post("/v1/messages", body, headers).await
    } else {
        c.post("/v1/chat/completions", json!({"model": model, "messages": messages}), headers).await
    };
    assert_eq!(a.status, 200, "{}", a.body);
}

/// Two UTC days of calls by three teams, one project, two providers, a
/// repeated long prompt (the mock reports cached tokens for it), and an
/// outcome.
async fn traffic(g: &Gateway) {
    let long = "Our refund policy: ".to_string() + &"items may be returned within 30 days. ".repeat(40);
    g.set_clock("2026-11-10T10:00:00Z").await;
    for user in ["ivan.petrov", "jade.nguyen"] {
        let t = [("x-tokenwise-template", "support-refund@3"), ("x-tokenwise-task", "T-1")];
        call(g, user, "support-reply", "gpt-4.1-mini", &format!("{long} || Where is order 1042?"), &t).await;
        call(g, user, "support-reply", "gpt-4.1-mini", &format!("{long} || And order 1043?"), &t).await;
    }
    // The same prompt built separately by support and data, with no template.
    let same = "Summarise the customer's last three tickets in two lines.";
    call(g, "jade.nguyen", "support-reply", "gpt-4.1-mini", same, &[("x-tokenwise-task", "S-9")]).await;
    let data = [("x-tokenwise-project", "helios"), ("x-tokenwise-task", "D-1")];
    call(g, "xin.zhao", "code-sandbox", "gpt-4.1-mini", same, &data).await;
    call(g, "paula.costa", "sales-outreach", "claude-haiku-4-5", "Draft a first-call email.", &[]).await;
    let ivan = Client::new(g, g.key("ivan.petrov", None));
    let outcome = json!({"task": "T-1", "user": "ivan.petrov", "use_case": "support-reply",
        "kind": "ticket_resolved", "value_hours": 0.5, "evidence": "TICKET-1042"});
    let a = ivan.post("/api/v1/outcomes", outcome, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    g.set_clock("2026-11-11T09:00:00Z").await;
    call(g, "ivan.petrov", "support-reply", "gpt-4.1-mini", &format!("{long} || And order 1044?"), &[]).await;
    call(g, "xin.zhao", "code-sandbox", "gpt-4.1-mini", "Explain this stack trace.", &data[..1]).await;
}

/// Every event of November, as governance reads them.
async fn events(g: &Gateway) -> Vec<Value> {
    let gov = Client::new(g, g.key("omar.haddad", None));
    let a = gov.get("/api/v1/events?from=2026-10-31T23:00:00Z&to=2026-11-30T23:00:00Z&limit=1000").await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["events"].as_array().unwrap().clone()
}

fn csv(body: &str) -> Vec<BTreeMap<String, String>> {
    let records = tokenwise_reports::csv::parse(body).unwrap();
    let header = records[0].clone();
    records[1..].iter().map(|r| header.iter().cloned().zip(r.iter().cloned()).collect()).collect()
}

fn cli_report(g: &Gateway, args: &[&str]) -> std::process::Output {
    let db = g.database();
    bin()
        .args(["report"])
        .args(args)
        .args(["--config", g.policy.to_str().unwrap(), "--database", &db])
        .output()
        .unwrap()
}

#[tokio::test]
async fn chargeback_in_json_csv_and_focus_adds_up_to_the_ledger() {
    let g = Gateway::start_manual(|s| s);
    traffic(&g).await;
    let ledger: i64 = events(&g).await.iter().map(|e| e["cost_nanos"].as_i64().unwrap()).sum();
    assert!(ledger > 0);

    let finance = Client::new(&g, g.key("carl.johansson", None));
    let a = finance.get("/api/v1/reports/chargeback?period=2026-11").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let c = a.json();
    assert_eq!(c["totals"]["cost_nanos"], ledger, "{c}");
    assert_eq!(c["totals"]["outcomes"], 1);
    let rows = c["rows"].as_array().unwrap();
    let helios = rows.iter().find(|r| r["project"] == "helios").unwrap();
    // The project's own cost centre, not its team's (CC-4300).
    assert_eq!((helios["team"].as_str(), helios["cost_centre"].as_str()), (Some("data"), Some("CC-4310")));
    let support = rows.iter().find(|r| r["team"] == "support").unwrap();
    assert_eq!((support["outcomes"].as_u64(), support["cost_centre"].as_str()), (Some(1), Some("CC-2300")));
    assert!(support["cached_input_tokens"].as_u64().unwrap() > 0, "the repeated prompt was read from cache: {support}");

    // CSV: the same rows, exact money.
    let a = finance.get("/api/v1/reports/chargeback?period=2026-11&format=csv").await;
    assert_eq!(a.status, 200);
    assert!(a.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let api_csv = a.body.clone();
    let rows = csv(&api_csv);
    assert_eq!(rows.len(), c["rows"].as_array().unwrap().len());
    assert_eq!(rows.iter().map(|r| usd_nanos(&r["cost_usd"])).sum::<i64>(), ledger);

    // FOCUS: every mandatory column, and the total to the nano-dollar.
    let a = finance.get("/api/v1/reports/chargeback?period=2026-11&format=focus").await;
    assert_eq!(a.status, 200);
    let api_focus = a.body.clone();
    let focus = csv(&api_focus);
    for column in [
        "BilledCost",
        "BillingAccountId",
        "BillingAccountName",
        "BillingCurrency",
        "BillingPeriodEnd",
        "BillingPeriodStart",
        "ChargeCategory",
        "ChargeClass",
        "ChargeDescription",
        "ChargePeriodEnd",
        "ChargePeriodStart",
        "ContractedCost",
        "EffectiveCost",
        "InvoiceIssuerName",
        "ListCost",
        "PricingQuantity",
        "PricingUnit",
        "ProviderName",
        "PublisherName",
        "ServiceCategory",
        "ServiceName",
        "ServiceProviderName",
        "HostProviderName",
        "ConsumedQuantity",
        "ConsumedUnit",
        "SubAccountId",
        "SubAccountName",
        "SkuId",
        "Tags",
        "x_UseCase",
        "x_Template",
        "x_OutcomeCount",
    ] {
        assert!(focus[0].contains_key(column), "{column} missing");
    }
    assert_eq!(
        focus.iter().map(|r| tokenwise_reports::decimal::parse_amount(&r["BilledCost"], 0).unwrap().0).sum::<i64>(),
        ledger
    );
    assert_eq!(focus.iter().map(|r| r["x_OutcomeCount"].parse::<u64>().unwrap()).sum::<u64>(), 1);
    assert!(focus.iter().all(|r| r["BillingPeriodStart"] == "2026-10-31T23:00:00Z" && r["ChargeCategory"] == "Usage"));
    assert!(focus.iter().any(|r| r["SkuId"] == "gpt-4.1-mini/cached_input"));
    let days: std::collections::BTreeSet<&str> = focus.iter().map(|r| r["ChargePeriodStart"].as_str()).collect();
    assert_eq!(days.into_iter().collect::<Vec<_>>(), vec!["2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z"]);

    // The CLI writes the same files.
    let out = cli_report(&g, &["chargeback", "--period", "2026-11", "--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), api_csv);
    let out = cli_report(&g, &["chargeback", "--period", "2026-11", "--format", "focus"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), api_focus);
    let out = cli_report(&g, &["chargeback", "--period", "2026-13", "--format", "csv"]);
    assert!(!out.status.success() && text(&out).contains("YYYY-MM"), "{}", text(&out));

    // Who may read what: a manager their own team; a member nothing.
    let lucia = Client::new(&g, g.key("lucia.fernandez", None));
    let mine = lucia.get("/api/v1/reports/chargeback?period=2026-11").await.json();
    let teams: Vec<&str> = mine["rows"].as_array().unwrap().iter().map(|r| r["team"].as_str().unwrap()).collect();
    assert!(!teams.is_empty() && teams.iter().all(|t| *t == "support"), "{teams:?}");
    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    let a = ivan.get("/api/v1/reports/chargeback?period=2026-11").await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "policy_violation");
    assert_eq!(ivan.get("/api/v1/reports/health?period=2026-11").await.status, 403);
    assert_eq!(finance.get("/api/v1/reports/chargeback?period=2026-11&format=pdf").await.status, 400);
}

#[tokio::test]
async fn program_health_shows_adoption_adherence_and_duplicate_builds() {
    let g = Gateway::start_manual(|s| s);
    traffic(&g).await;
    let gov = Client::new(&g, g.key("omar.haddad", None));
    let a = gov.get("/api/v1/reports/health?period=2026-11&bucket=day").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let h = a.json();
    assert_eq!(h["bucket"], "day");
    let points = h["spend_per_outcome"].as_array().unwrap();
    assert_eq!(points.len(), 30);
    let tenth = points.iter().find(|p| p["from"] == "2026-11-10").unwrap();
    assert_eq!(tenth["outcomes"], 1);
    assert_eq!(tenth["cost_per_outcome_usd"], tenth["spend_usd"]);
    let support = h["adoption"].as_array().unwrap().iter().find(|r| r["team"] == "support").unwrap();
    assert_eq!((support["people"].as_u64(), support["active_people"].as_u64()), (Some(8), Some(2)));
    let org = &h["adherence"][0];
    assert_eq!(org["team"], "org");
    assert_eq!(org["calls"], 9);
    assert_eq!(org["approved_template_calls"], 4, "{org}");
    let dup = h["duplicate_builds"].as_array().unwrap();
    let same: Vec<&Value> = dup.iter().filter(|d| d["signal"] == "same_prompt").collect();
    assert_eq!(same.len(), 1, "{dup:?}");
    assert_eq!(same[0]["teams"], json!(["data", "support"]));
    assert!(h["definitions"].as_array().unwrap().len() >= 5);

    // The CLI prints the same report (governance's view).
    let out = cli_report(&g, &["health", "--period", "2026-11", "--bucket", "day"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), h);

    // A manager sees their own team only.
    let ravi = Client::new(&g, g.key("ravi.iyer", None));
    let mine = ravi.get("/api/v1/reports/health?period=2026-11").await.json();
    let teams: Vec<&str> = mine["adoption"].as_array().unwrap().iter().map(|r| r["team"].as_str().unwrap()).collect();
    assert_eq!(teams, vec!["org", "data"]);
}

/// What OpenAI's usage endpoint would say about the ledger's OpenAI calls,
/// grouped by model per UTC day, under the dated model name; `extra_cached`
/// more cached tokens on 2026-11-11.
fn openai_export(events: &[Value], extra_cached: u64) -> Value {
    let mut days: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for e in events.iter().filter(|e| e["provider"] == "openai") {
        let day = e["ts"].as_str().unwrap()[..10].to_string();
        let u = &e["usage"];
        let d = days.entry(day).or_default();
        d[0] += u["input"].as_u64().unwrap();
        d[1] += u["cached_read"].as_u64().unwrap();
        d[2] += u["output"].as_u64().unwrap();
    }
    let buckets: Vec<Value> = days
        .into_iter()
        .map(|(day, [input, cached, output])| {
            let planted = if day == "2026-11-11" { extra_cached } else { 0 };
            let start = format!("{day}T00:00:00Z").parse::<jiff::Timestamp>().unwrap().as_second();
            json!({"object": "bucket", "start_time": start, "end_time": start + 86_400, "results": [{
                "object": "organization.usage.completions.result", "model": "gpt-4.1-mini-2025-04-14",
                "input_tokens": input + planted, "input_cached_tokens": cached + planted, "output_tokens": output,
                "num_model_requests": 1, "project_id": null, "user_id": null, "api_key_id": null, "batch": null}]})
        })
        .collect();
    json!({"object": "page", "data": buckets, "has_more": false, "next_page": null})
}

#[tokio::test]
async fn reconciliation_finds_a_planted_drift_and_passes_a_matching_export() {
    let g = Gateway::start_manual(|s| s);
    traffic(&g).await;
    let events = events(&g).await;
    let finance = Client::new(&g, g.key("dana.levi", None));

    let matching = openai_export(&events, 0);
    let a = finance.post("/api/v1/reports/reconciliation", json!({"format": "openai", "export": matching}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let r = a.json();
    assert_eq!(r["reconciled"], true, "{r}");
    assert_eq!((r["from"].as_str(), r["to"].as_str()), (Some("2026-11-10"), Some("2026-11-12")));
    assert_eq!(r["lines"], json!([]));
    assert_eq!(r["unknown_models"], json!([]));

    let planted = openai_export(&events, 5_000);
    let a = finance.post("/api/v1/reports/reconciliation", json!({"format": "openai", "export": planted}), &[]).await;
    let r = a.json();
    assert_eq!(r["reconciled"], false);
    assert_eq!(r["flagged_days"], json!(["2026-11-11"]));
    let flagged: Vec<&Value> = r["lines"].as_array().unwrap().iter().filter(|l| l["flagged"] == true).collect();
    assert_eq!(flagged.len(), 1, "{r}");
    assert_eq!(flagged[0]["model"], "gpt-4.1-mini");
    assert_eq!(flagged[0]["kind"], "cached_input");
    assert_eq!(flagged[0]["token_drift"], 5_000);

    // The CLI reads the file and says so by its exit status.
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (dir.path().join("usage.json"), dir.path().join("drift.json"));
    std::fs::write(&good, matching.to_string()).unwrap();
    std::fs::write(&bad, planted.to_string()).unwrap();
    let out = cli_report(&g, &["reconcile", good.to_str().unwrap(), "--format", "openai"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("reconciled"), "{}", text(&out));
    let out = cli_report(&g, &["reconcile", bad.to_str().unwrap(), "--format", "openai", "--period", "2026-11"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("FLAGGED") && text(&out).contains("2026-11-11"), "{}", text(&out));
    // A looser tolerance lets it pass.
    let out = cli_report(&g, &["reconcile", bad.to_str().unwrap(), "--format", "openai", "--tolerance-percent", "100"]);
    assert!(out.status.success(), "{}", text(&out));

    // Our own FOCUS export reconciles with the ledger exactly.
    let focus = finance.get("/api/v1/reports/chargeback?period=2026-11&format=focus").await.body;
    let a = finance
        .post(
            "/api/v1/reports/reconciliation",
            json!({"format": "focus", "export": focus, "tolerance_percent": 0}),
            &[],
        )
        .await;
    let r = a.json();
    assert_eq!(r["reconciled"], true, "{r}");
    assert_eq!(r["provider_cost_usd"], r["ledger_cost_usd"]);

    // Managers may not reconcile the org's bill; a bad export is a 400.
    let lucia = Client::new(&g, g.key("lucia.fernandez", None));
    let a =
        lucia.post("/api/v1/reports/reconciliation", json!({"format": "openai", "export": {"data": []}}), &[]).await;
    assert_eq!(a.status, 403);
    let a = finance.post("/api/v1/reports/reconciliation", json!({"format": "openai", "export": [1]}), &[]).await;
    assert_eq!(a.status, 400, "{}", a.body);
}
