//! Who may do what, end to end against the real binary: a use case is only
//! what its caller may use (keys, headers, model lists, the pre-flight
//! check), nobody decides an exception that benefits themselves, and a
//! budget refusal carries its figures as fields, not only as text.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::{Gateway, text};

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn request_id(&self) -> String {
        self.headers["x-tokenwise-request-id"].to_str().unwrap().to_string()
    }

    fn header(&self, name: &str) -> String {
        self.headers.get(name).unwrap_or_else(|| panic!("no {name}: {}", self.body)).to_str().unwrap().to_string()
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    fn new(g: &Gateway, key: String) -> Client {
        tokenwise_server::install_crypto();
        Client { http: reqwest::Client::new(), base: g.url.clone(), key }
    }

    async fn send(&self, req: reqwest::RequestBuilder, headers: &[(&str, &str)]) -> Answer {
        let mut req = req.bearer_auth(&self.key);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        Answer { status, headers, body: r.json().await.unwrap_or(Value::Null) }
    }

    async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Answer {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body), headers).await
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)), headers).await
    }
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": text}]})
}

const CODE_REVIEW: (&str, &str) = ("x-tokenwise-use-case", "code-review");
/// Jade (support) may use these, and nothing else.
const JADES: [&str; 3] = ["kb-search", "support-reply", "ticket-summary"];

/// A 403 that refuses `code-review` to jade.nguyen and points her to one of
/// her own use cases, in the message, the nudge header and the fields.
fn assert_refused_code_review(a: &Answer) {
    assert_eq!(a.status, 403, "{}", a.body);
    let e = &a.body["error"];
    assert_eq!(e["code"], "policy_violation");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("`jade.nguyen` (team `support`) may not use use case `code-review`"), "{msg}");
    assert_eq!(e["use_case"], "code-review");
    let instead = e["suggested_use_case"].as_str().unwrap();
    assert!(JADES.contains(&instead), "{instead}");
    assert!(msg.contains(&format!("use `{instead}` instead")), "{msg}");
    assert!(a.header("x-tokenwise-nudge").starts_with(&format!("use `{instead}` instead")));
}

/// Rows of the audit log with this action and subject (the auditor writes
/// in the background: waits up to 5 s for one).
async fn audited(g: &Gateway, action: &str, subject: &str) -> Vec<Value> {
    for _ in 0..50 {
        let conn = rusqlite::Connection::open(&g.db).unwrap();
        let rows: Vec<Value> = conn
            .prepare("SELECT details FROM audit_log WHERE action = ?1 AND subject = ?2 ORDER BY seq")
            .unwrap()
            .query_map([action, subject], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
            .collect();
        if !rows.is_empty() {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn a_header_claiming_a_use_case_its_user_may_not_use_is_refused_recorded_and_audited() {
    let g = Gateway::start();
    let jade = Client::new(&g, g.key("jade.nguyen", Some("support-reply")));
    let omar = Client::new(&g, g.key("omar.haddad", None));
    // GPT-4.1 is allowed for code review, so only the claim is wrong.
    let a = jade.post("/v1/chat/completions", chat("gpt-4.1", "Review this diff"), &[CODE_REVIEW]).await;
    assert_refused_code_review(&a);
    let id = a.request_id();
    let rows = omar.get(&format!("/api/v1/events?request_id={id}"), &[]).await.body;
    let row = &rows["events"][0];
    assert_eq!((&row["decision"], &row["status"]), (&json!("block"), &json!("blocked")), "{rows}");
    assert_eq!((&row["use_case"], &row["user_id"]), (&json!("code-review"), &json!("jade.nguyen")));
    assert_eq!(row["cost_nanos"], 0);
    let audit = audited(&g, "policy.decision", &id).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["decision"], "block");
    assert!(audit[0]["reasons"][0].as_str().unwrap().contains("may not use use case `code-review`"));

    // The same through the Anthropic format.
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    assert_refused_code_review(&jade.post("/v1/messages", body, &[CODE_REVIEW]).await);
    // Her own use case still works, with the same key.
    let ok = jade.post("/v1/chat/completions", chat("gpt-4.1-mini", "Where is my refund?"), &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn a_key_for_a_use_case_its_user_may_not_use_is_not_created_and_an_old_one_stops_working() {
    // Code review open to everyone: jade's key for it is made.
    let mut g = Gateway::start_with(|s| {
        s.replacen("available_to = { teams = [\"platform\", \"data\"] }", "available_to = \"everyone\"", 1)
    });
    let old = Client::new(&g, g.key("jade.nguyen", Some("code-review")));
    let a = old.post("/v1/chat/completions", chat("gpt-4.1", "Review this diff"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Then the policy narrows it to the engineering teams.
    let narrowed = std::fs::read_to_string(&g.policy).unwrap().replacen(
        "available_to = \"everyone\"",
        "available_to = { teams = [\"platform\", \"data\"] }",
        1,
    );
    std::fs::write(&g.policy, narrowed).unwrap();
    let out = g.keys(&["create", "--user", "jade.nguyen", "--use-case", "code-review"]);
    assert!(!out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("`jade.nguyen` (team `support`) may not use use case `code-review`"), "{t}");
    assert!(t.contains("it is available to teams data, platform"), "{t}");
    assert!(JADES.iter().any(|u| t.contains(&format!("use `{u}` instead"))), "{t}");
    assert!(out.stdout.is_empty(), "no key is printed");
    let listed = String::from_utf8(g.keys(&["list", "--user", "jade.nguyen"]).stdout).unwrap();
    assert_eq!(listed.lines().count(), 1, "only the key made before: {listed}");
    // People the use case is for still get keys for it.
    g.key("chen.wei", Some("code-review"));

    // The key made before no longer works for it.
    g.restart();
    let old = Client { base: g.url.clone(), ..old };
    assert_refused_code_review(&old.post("/v1/chat/completions", chat("gpt-4.1", "Review"), &[]).await);
}

#[tokio::test]
async fn models_and_the_check_show_only_use_cases_the_caller_may_use() {
    let g = Gateway::start();
    let jade = Client::new(&g, g.key("jade.nguyen", None));
    let ids = |a: &Answer| -> Vec<String> {
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
    };
    // Her use cases' models, not the o4-mini, gpt-4.1 or on-premises models of others.
    let all = jade.get("/v1/models", &[]).await;
    assert_eq!(ids(&all), ["claude-haiku-4-5", "claude-sonnet-4-5", "gpt-4.1-mini", "text-embedding-3-small"]);
    assert_refused_code_review(&jade.get("/v1/models", &[CODE_REVIEW]).await);
    let support = jade.get("/v1/models", &[("x-tokenwise-use-case", "ticket-summary")]).await;
    assert_eq!(ids(&support), ["claude-haiku-4-5", "gpt-4.1-mini"]);

    // The pre-flight check answers as the gateway would: blocked, with a
    // use case she may use.
    let a = jade.post("/api/v1/check", chat("claude-sonnet-4-5", "Review this diff"), &[CODE_REVIEW]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["decision"], "block", "{}", a.body);
    let instead = a.body["suggested_use_case"].as_str().unwrap();
    assert!(JADES.contains(&instead), "{}", a.body);
    assert!(a.body["nudge"].as_str().unwrap().starts_with(&format!("use `{instead}` instead")), "{}", a.body);
    assert!(a.body["reasons"][0].as_str().unwrap().contains("may not use use case `code-review`"), "{}", a.body);
    let chen = Client::new(&g, g.key("chen.wei", None));
    let a = chen.post("/api/v1/check", chat("claude-sonnet-4-5", "Review this diff"), &[CODE_REVIEW]).await;
    assert_eq!(a.body["decision"], "allow", "{}", a.body);
}

async fn ask(c: &Client, scope: &str) -> String {
    let body = json!({"scope": scope, "reason_code": "customer-escalation",
                      "justification": "Escalated enterprise ticket needs several drafts today",
                      "duration_hours": 4, "cap_usd": "5.00"});
    let a = c.post("/api/v1/exceptions", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["id"].as_str().unwrap().to_string()
}

async fn decide(c: &Client, id: &str, verb: &str) -> Answer {
    c.post(&format!("/api/v1/exceptions/{id}/{verb}"), json!({}), &[]).await
}

#[tokio::test]
async fn nobody_decides_an_exception_that_benefits_themselves() {
    let g = Gateway::start();
    let key = |user: &str| Client::new(&g, g.key(user, None));
    let (ivan, lucia, omar, priya, hugo) =
        (key("ivan.petrov"), key("lucia.fernandez"), key("omar.haddad"), key("priya.nair"), key("hugo.martin"));

    // A report asks for more room for his manager; she may not grant it to herself.
    let id = ask(&ivan, "user:lucia.fernandez").await;
    for verb in ["approve", "deny"] {
        let a = decide(&lucia, &id, verb).await;
        assert_eq!((a.status, a.body["error"]["code"].as_str()), (403, Some("policy_violation")), "{}", a.body);
        let msg = a.body["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with("nobody decides an exception for themselves"), "{msg}");
        assert!(msg.contains("`omar.haddad`") && msg.contains("`priya.nair`"), "who may: {msg}");
        assert!(!msg.contains("`lucia.fernandez`"), "{msg}");
    }
    let a = decide(&omar, &id, "approve").await;
    assert_eq!((a.status, &a.body["status"]), (200, &json!("approved")), "{}", a.body);
    assert_eq!(a.body["decided_by"], "omar.haddad");
    let lucias = id;

    // Governance neither: a colleague asks for Omar, Omar may not decide.
    let id = ask(&priya, "user:omar.haddad").await;
    for verb in ["approve", "deny"] {
        let a = decide(&omar, &id, verb).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let msg = a.body["error"]["message"].as_str().unwrap();
        // Named: the admin; not Omar, nor Priya, who asked.
        assert!(msg.contains("`hugo.martin`"), "{msg}");
        assert!(!msg.contains("`omar.haddad`") && !msg.contains("`priya.nair`"), "{msg}");
    }
    // Nor the one who asked; an admin may.
    assert_eq!(decide(&priya, &id, "approve").await.status, 403);
    let a = decide(&hugo, &id, "deny").await;
    assert_eq!((a.status, &a.body["status"]), (200, &json!("denied")), "{}", a.body);
    // Only the decisions that were allowed are in the audit log.
    assert_eq!(audited(&g, "exception.approve", &lucias).await.len(), 1);
    assert_eq!(audited(&g, "exception.deny", &id).await.len(), 1);
}

#[tokio::test]
async fn a_budget_refusal_names_its_figures_as_fields() {
    // A daily allowance of a thousandth of a cent: the first call's hold exceeds it.
    let g = Gateway::start_with(|s| s.replace("limit_usd = \"20\"", "limit_usd = \"0.00001\""));
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let today = || jiff::Timestamp::now().to_zoned_datetime(berlin.clone()).date();
    let before = today();
    let a = ivan.post("/v1/chat/completions", chat("gpt-4.1-mini", "Where is my refund?"), &[]).await;
    let after = today();
    assert_eq!(a.status, 402, "{}", a.body);
    let e = &a.body["error"];
    assert_eq!((&e["type"], &e["code"]), (&json!("billing_error"), &json!("budget_exceeded")), "{e}");
    assert_eq!(e["budget"], "per-person-daily");
    assert_eq!(e["scope"], "user:ivan.petrov");
    let period = e["period"].as_str().unwrap();
    assert!([before.to_string(), after.to_string()].contains(&period.to_string()), "{period}");
    // Exact decimal strings: what is left is the whole allowance, and the
    // figures agree with the header and the message.
    assert_eq!(e["remaining_usd"], "0.00001");
    assert_eq!(a.header("x-tokenwise-budget-remaining-usd"), "0.00001");
    let needed = e["needed_usd"].as_str().unwrap();
    let nanos = tokenwise_core::Nanos::parse_usd(needed).unwrap();
    assert_eq!(nanos.to_usd_string(), needed, "exact, canonical");
    assert!(nanos > tokenwise_core::Nanos::parse_usd("0.00001").unwrap(), "{needed}");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains(&format!("may cost up to ${needed}")) && msg.contains(&format!("from {period}")), "{msg}");
}
