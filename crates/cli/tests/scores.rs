//! Scores through the API and the CLI against the real binary: the
//! contract's score JSON, every model, who sees what, and a period that
//! scores the same from the API, from the CLI and a second time.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Client, Gateway, bin, text};

async fn call(g: &Gateway, user: &str, use_case: &str, prompt: &str) {
    let c = Client::new(g, g.key(user, Some(use_case)));
    let body = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": prompt}]});
    let a = c.post("/v1/chat/completions", body, &[("x-tokenwise-template", "support-refund@3")]).await;
    assert!(a.status == 200 || a.status == 403, "{}", a.body);
}

fn subjects(board: &Value) -> Vec<String> {
    board["scores"].as_array().unwrap().iter().map(|s| s["subject"].as_str().unwrap().to_string()).collect()
}

fn cli_board(g: &Gateway, extra: &[&str]) -> Value {
    let db = g.database();
    let mut args =
        vec!["score", "--config", g.policy.to_str().unwrap(), "--database", &db, "--period", "2026-11", "--json"];
    args.extend(extra);
    let out = bin().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_month_scores_in_the_contract_shape_for_whoever_may_see_it() {
    let g = Gateway::start_manual(|s| s);
    g.set_clock("2026-11-10T10:00:00Z").await;
    for user in ["ivan.petrov", "jade.nguyen", "kofi.mensah"] {
        call(&g, user, "support-reply", "Where is my refund for order 1042?").await;
    }
    // A blocked attempt: a card number to a model not cleared for it.
    call(&g, "ivan.petrov", "support-reply", "Refund card 4111 1111 1111 1111").await;

    let governance = Client::new(&g, g.key("omar.haddad", None));
    let a = governance.get("/api/v1/scores?period=2026-11").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let board = a.json();
    assert_eq!(board["model"], "balanced");
    assert_eq!(board["period"], "2026-11");
    assert!(board["rules_version"].as_str().unwrap().starts_with("s2-"));
    for s in board["scores"].as_array().unwrap() {
        for field in ["subject", "rank", "score", "efficiency", "quality", "compliance", "breakdown", "badges"] {
            assert!(s.get(field).is_some(), "{field} missing in {s}");
        }
        assert!((0.0..=100.0).contains(&s["score"].as_f64().unwrap()));
    }
    let all = subjects(&board);
    assert!(all.contains(&"user:ivan.petrov".to_string()) && all.contains(&"team:support".to_string()), "{all:?}");
    let ivan = board["scores"].as_array().unwrap().iter().find(|s| s["subject"] == "user:ivan.petrov").unwrap();
    let compliance = ivan["breakdown"].as_array().unwrap().iter().find(|l| l["axis"] == "compliance").unwrap();
    assert!(compliance["fact"].as_str().unwrap().starts_with("1 blocked"), "{compliance}");

    // The CLI scores the same month the same way, and again identically.
    let from_cli = cli_board(&g, &[]);
    assert_eq!(from_cli, board);
    assert_eq!(cli_board(&g, &[]), from_cli);

    // Every model, in the same shape.
    for model in ["raw_tokens", "efficiency", "outcome", "compliance_weighted", "team", "balanced"] {
        let b = governance.get(&format!("/api/v1/scores?period=2026-11&model={model}")).await.json();
        assert_eq!(b["model"], model);
        assert_eq!(subjects(&b).len(), all.len());
    }

    // A member sees their own score, and not a team of three (under min_group_size 5).
    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    let own = ivan.get("/api/v1/scores?period=2026-11").await.json();
    assert_eq!(subjects(&own), vec!["user:ivan.petrov"]);
    // The comparison is for governance.
    assert_eq!(ivan.get("/api/v1/scores/compare?period=2026-11").await.status, 403);
    let c = governance.get("/api/v1/scores/compare?period=2026-11").await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json()["models"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn bad_periods_and_models_are_refused_clearly() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("omar.haddad", None));
    for (query, says) in [
        ("period=2026-13", "must be a month written YYYY-MM"),
        ("period=november", "must be a month written YYYY-MM"),
        ("period=2026-11&model=most_tokens", "unknown reward model `most_tokens`"),
        ("period=2026-11&colour=red", "unknown field"),
    ] {
        let a = c.get(&format!("/api/v1/scores?{query}")).await;
        assert_eq!(a.status, 400, "{query}: {}", a.body);
        assert_eq!(a.json()["error"]["code"], "invalid_request");
        assert!(a.body.contains(says), "{query}: {}", a.body);
    }
    let out = bin()
        .args(["score", "--config", g.policy.to_str().unwrap(), "--database", &g.database(), "--period", "11/2026"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("must be a month written YYYY-MM"), "{}", text(&out));
}

async fn worked(g: &Gateway, c: &Client, task: &str, prompt: &str) {
    let body = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": prompt}]});
    let a = c.post("/v1/chat/completions", body, &[("x-tokenwise-task", task)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let _ = g;
}

async fn report(c: &Client, user: &str, task: &str) -> String {
    let body = json!({"task": task, "user": user, "use_case": "support-reply", "kind": "ticket_resolved",
                      "value_hours": 0.25, "evidence": format!("ZD-{task}"), "quality": 4});
    let a = c.post("/api/v1/outcomes", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn validated_outcomes_make_the_score_and_earn_a_badge_once() {
    let mut g = Gateway::start_manual(|s| s);
    g.set_clock("2026-11-10T10:00:00Z").await;
    let manager = Client::new(&g, g.key("lucia.fernandez", None));
    // Ivan: two tickets, a short call each.
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let mut ids = Vec::new();
    for t in ["T-1", "T-2"] {
        worked(&g, &ivan, t, "Where is my refund?").await;
        ids.push(report(&ivan, "ivan.petrov", t).await);
    }
    // Jade: one ticket, six padded calls.
    let jade = Client::new(&g, g.key("jade.nguyen", Some("support-reply")));
    let padding = "Please consider every detail of this ticket thread again. ".repeat(200);
    for _ in 0..6 {
        worked(&g, &jade, "T-3", &padding).await;
    }
    ids.push(report(&jade, "jade.nguyen", "T-3").await);
    // Kofi: claims a ticket with no call behind it.
    let kofi = Client::new(&g, g.key("kofi.mensah", Some("support-reply")));
    worked(&g, &kofi, "T-9", "Hello").await;
    let claimed = report(&kofi, "kofi.mensah", "T-4").await;
    for id in ids.iter().chain([&claimed]) {
        let a = manager
            .post(&format!("/api/v1/outcomes/{id}/validate"), json!({"decision": "validated", "quality": 5}), &[])
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }

    let governance = Client::new(&g, g.key("omar.haddad", None));
    let board = governance.get("/api/v1/scores?period=2026-11").await.json();
    let of = |who: &str| board["scores"].as_array().unwrap().iter().find(|s| s["subject"] == who).unwrap().clone();
    let (i, j, k) = (of("user:ivan.petrov"), of("user:jade.nguyen"), of("user:kofi.mensah"));
    assert_eq!(i["rank"], 1, "{board}");
    assert!(i["efficiency"].as_f64().unwrap() > j["efficiency"].as_f64().unwrap(), "{i} {j}");
    assert!(i["score"].as_f64().unwrap() > j["score"].as_f64().unwrap());
    assert_eq!(k["efficiency"], 0.0, "an outcome with no metered call earns nothing: {k}");
    assert_eq!(k["score"], 0.0);
    let eff = i["breakdown"].as_array().unwrap().iter().find(|l| l["axis"] == "efficiency").unwrap();
    assert!(eff["rule"].as_str().unwrap().contains("baseline cost / spend"), "{eff}");
    assert!(i["badges"].as_array().unwrap().contains(&json!("first_validated_outcome")), "{i}");

    // Asked again: the same board, the badge given once.
    let again = governance.get("/api/v1/scores?period=2026-11").await.json();
    assert_eq!(again, board);
    let outcome = governance.get("/api/v1/scores?period=2026-11&model=outcome").await.json();
    let top = &outcome["scores"][0];
    assert_eq!(top["subject"], "user:ivan.petrov", "two validated tickets are worth the most: {outcome}");

    // Governance changes the rules: a new version, other figures; the
    // month still scores exactly as before under the version it had.
    let v1 = board["rules_version"].as_str().unwrap().to_string();
    let policy = std::fs::read_to_string(&g.policy).unwrap().replace("team_share = 0.65", "team_share = 0.6");
    std::fs::write(&g.policy, policy).unwrap();
    g.restart();
    g.set_clock("2026-11-12T10:00:00Z").await;
    let governance = Client::new(&g, g.key("omar.haddad", None));
    let now = governance.get("/api/v1/scores?period=2026-11").await.json();
    assert_ne!(now["rules_version"], board["rules_version"]);
    assert_ne!(now["scores"], board["scores"]);
    let then = governance.get(&format!("/api/v1/scores?period=2026-11&rules_version={v1}")).await.json();
    assert_eq!(then, board);
    let from_cli = cli_board(&g, &["--rules-version", &v1]);
    assert_eq!(from_cli, board);
    assert_eq!(governance.get("/api/v1/scores?period=2026-11&rules_version=s2-0000000000").await.status, 404);
    let other = governance.get("/api/v1/scores?period=2026-11&rules_version=s0-0000000000").await;
    assert_eq!(other.status, 400, "{}", other.body);
    assert!(other.body.contains("this build computes `s2`"), "{}", other.body);
}

/// A team's tranche unlocks on its real results: validated hours and
/// efficiency from the month's scores, when the clock moves.
#[tokio::test]
async fn a_tranche_unlocks_when_the_teams_scores_earn_it() {
    let g = Gateway::start_manual(|s| s);
    g.set_clock("2026-11-10T10:00:00Z").await;
    let governance = Client::new(&g, g.key("omar.haddad", None));
    let tranche = |budgets: &Value| {
        budgets["envelopes"].as_array().unwrap().iter().find(|e| e["budget"] == "platform-monthly").unwrap()["tranches"]
            [0]
        .clone()
    };
    let chen = Client::new(&g, g.key("chen.wei", Some("code-review")));
    let body = json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "Review this diff"}]});
    assert_eq!(chen.post("/v1/chat/completions", body, &[("x-tokenwise-task", "PR-7")]).await.status, 200);
    g.advance(1.0).await;
    assert_eq!(tranche(&governance.get("/api/v1/budgets").await.json())["unlocked"], false, "no results yet");

    // 130 validated hours of reviews, for a few cents of calls.
    let body = json!({"task": "PR-7", "user": "chen.wei", "use_case": "code-review", "kind": "pr_merged",
                      "value_hours": 130, "evidence": "PR-7"});
    let id = chen.post("/api/v1/outcomes", body, &[]).await.json()["id"].as_str().unwrap().to_string();
    g.advance(1.0).await;
    assert_eq!(tranche(&governance.get("/api/v1/budgets").await.json())["unlocked"], false, "pending is not validated");
    let amara = Client::new(&g, g.key("amara.okafor", None));
    let a = amara.post(&format!("/api/v1/outcomes/{id}/validate"), json!({"decision": "validated"}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    g.advance(1.0).await;
    let budgets = governance.get("/api/v1/budgets").await.json();
    assert_eq!(tranche(&budgets)["unlocked"], true, "{budgets}");
    let envelope = budgets["envelopes"].as_array().unwrap().iter().find(|e| e["budget"] == "platform-monthly").unwrap();
    assert_eq!(envelope["limit_usd"], "15000.00", "12000 + the 3000 tranche: {envelope}");
}

/// Exploration is scored on learning outcomes: a template created in the
/// sandbox counts; operational work claimed from the sandbox does not, and
/// the breakdown says why.
#[tokio::test]
async fn the_sandbox_earns_on_templates_created_not_on_operational_claims() {
    let g = Gateway::start_manual(|s| s);
    g.set_clock("2026-11-10T10:00:00Z").await;
    let chen = Client::new(&g, g.key("chen.wei", Some("code-sandbox")));
    let amara = Client::new(&g, g.key("amara.okafor", None));
    let mut ids = Vec::new();
    for (task, kind) in [("EXP-1", "template_created"), ("EXP-2", "ticket_resolved")] {
        worked(&g, &chen, task, "Sketch a prompt that triages build failures").await;
        let body = json!({"task": task, "user": "chen.wei", "use_case": "code-sandbox", "kind": kind,
                          "value_hours": 0.5, "evidence": task});
        let a = chen.post("/api/v1/outcomes", body, &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
        ids.push(a.json()["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let a = amara.post(&format!("/api/v1/outcomes/{id}/validate"), json!({"decision": "validated"}), &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let governance = Client::new(&g, g.key("omar.haddad", None));
    let board = governance.get("/api/v1/scores?period=2026-11&model=efficiency").await.json();
    let chen = board["scores"].as_array().unwrap().iter().find(|s| s["subject"] == "user:chen.wei").unwrap().clone();
    assert!(chen["efficiency"].as_f64().unwrap() > 0.0, "the template created counts: {chen}");
    let facts: Vec<&str> = chen["breakdown"].as_array().unwrap().iter().filter_map(|l| l["fact"].as_str()).collect();
    assert!(
        facts.iter().any(|f| f.starts_with("1 outcomes of a kind their use case's track does not score")),
        "{facts:?}"
    );
    assert!(facts.iter().any(|f| f.starts_with("1 validated")), "only the learning outcome is counted: {facts:?}");
}
