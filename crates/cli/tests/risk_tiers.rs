//! Risk tiers against the real binary: a high-risk use case's replies are
//! scanned with output scanning off; its calls are covered only by budget
//! exceptions governance approved (or none, when its tier says so); and
//! `check-config` refuses a use case looser than its tier's floor, naming
//! the file, the line and the fix.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Client, Gateway, bin};

/// An AWS access key id of the right shape.
const AWS_KEY: &str = "AKIAZ3MQ7RTXK4PLW2QD";

fn chat(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 5, "messages": [{"role": "user", "content": text}]})
}

/// The reply's text, JSON or streamed (OpenAI chat).
fn reply_text(body: &str, stream: bool) -> String {
    if !stream {
        let v: Value = serde_json::from_str(body).unwrap();
        return v["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| v.pointer("/choices/0/delta/content").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// The subjects of the `dlp.output` audit entries (polled: the auditor
/// writes in batches).
async fn output_audits(db: &std::path::Path, want: usize) -> Vec<String> {
    let mut subjects = Vec::new();
    for _ in 0..100 {
        let c = rusqlite::Connection::open(db).unwrap();
        let mut st = c.prepare("SELECT subject FROM audit_log WHERE action = 'dlp.output' ORDER BY seq").unwrap();
        subjects = st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect();
        if subjects.len() >= want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    subjects
}

#[tokio::test]
async fn a_high_risk_use_cases_replies_are_scanned_even_with_output_scanning_off() {
    let g = Gateway::start_with(|s| s.replacen("scan_output = true\n", "scan_output = false\n", 1));
    // Chen may use both: code review is medium risk, incident triage high.
    let review = Client::new(&g, g.key("chen.wei", Some("code-review")));
    let triage = Client::new(&g, g.key("chen.wei", Some("incident-triage")));
    let note = format!("the leaked key is {AWS_KEY}");
    // The mock echoes the header as its reply, streamed in 3-byte pieces.
    let headers = [("x-mock-echo", "header:x-mock-note"), ("x-mock-note", note.as_str()), ("x-mock-chunk-bytes", "3")];
    let mut masked = Vec::new();
    let mut passed = Vec::new();
    for stream in [false, true] {
        let a = review.post("/v1/chat/completions", chat("gpt-4.1", "hi", stream), &headers).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(reply_text(&a.body, stream), note, "medium risk, scanning off: as the model said it");
        passed.push(a.request_id());
        let a = triage.post("/v1/chat/completions", chat("acme-llama-70b", "hi", stream), &headers).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(!a.body.contains("AKIA"), "stream={stream}: {}", a.body);
        assert_eq!(reply_text(&a.body, stream), "the leaked key is [AWS_ACCESS_KEY]", "stream={stream}");
        masked.push(a.request_id());
    }
    // The masked replies are audited; the others were never scanned.
    let audited = output_audits(&g.db, masked.len()).await;
    for id in &masked {
        assert!(audited.contains(id), "{id} in {audited:?}");
    }
    for id in &passed {
        assert!(!audited.contains(id), "{id} was not scanned");
    }
}

/// A policy whose per-person daily budget refuses any call.
fn broke(s: String) -> String {
    s.replace("limit_usd = \"20\"", "limit_usd = \"0.000001\"")
}

fn ask(scope: &str) -> Value {
    json!({"scope": scope, "reason_code": "incident-response", "justification": "Sev-1 incident, the on-call agent needs room",
           "duration_hours": 2, "cap_usd": "1"})
}

async fn call(c: &Client, model: &str) -> support::Answer {
    c.post("/v1/chat/completions", chat(model, "hi", false), &[]).await
}

fn message(a: &support::Answer) -> String {
    a.json()["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_high_risk_use_case_is_covered_only_by_exceptions_governance_approved() {
    let g = Gateway::start_with(broke);
    let review = Client::new(&g, g.key("chen.wei", Some("code-review")));
    let triage = Client::new(&g, g.key("chen.wei", Some("incident-triage")));
    let amara = Client::new(&g, g.key("amara.okafor", None)); // chen's manager
    let hugo = Client::new(&g, g.key("hugo.martin", None)); // an admin
    let omar = Client::new(&g, g.key("omar.haddad", None)); // governance
    let a = call(&review, "gpt-4.1").await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert!(message(&a).contains("Ask your manager for an exception"), "{}", a.body);
    let a = call(&triage, "acme-llama-70b").await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert!(
        message(&a).contains(
            "Use case `incident-triage` is of risk tier `high`: only an exception approved by governance covers it"
        ),
        "{}",
        a.body
    );

    // His manager approves an exception for him: it covers his code reviews,
    // not his incident triage.
    let mine = review.post("/api/v1/exceptions", ask("user:chen.wei"), &[]).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let mine = mine.json()["id"].as_str().unwrap().to_string();
    let a = amara.post(&format!("/api/v1/exceptions/{mine}/approve"), json!({}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = call(&review, "gpt-4.1").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(review.event(&a.request_id()).await["exception_id"], json!(mine));
    assert_eq!(call(&triage, "acme-llama-70b").await.status, 402, "a manager's exception does not cover high risk");

    // One for the use case itself: neither his manager nor an admin may
    // approve it, governance may, and then it covers the call.
    let uc = triage.post("/api/v1/exceptions", ask("use_case:incident-triage"), &[]).await;
    assert_eq!(uc.status, 200, "{}", uc.body);
    let uc = uc.json()["id"].as_str().unwrap().to_string();
    for (who, c) in [("manager", &amara), ("admin", &hugo)] {
        let a = c.post(&format!("/api/v1/exceptions/{uc}/approve"), json!({}), &[]).await;
        assert_eq!(a.status, 403, "{who}: {}", a.body);
        assert!(message(&a).contains("are decided by governance only, as its risk tier `high` requires"), "{}", a.body);
        assert!(message(&a).contains("`omar.haddad`") && !message(&a).contains("hugo.martin"), "{}", a.body);
    }
    let a = omar.post(&format!("/api/v1/exceptions/{uc}/approve"), json!({}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = call(&triage, "acme-llama-70b").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(triage.event(&a.request_id()).await["exception_id"], json!(uc));
}

#[tokio::test]
async fn a_tier_allowing_no_exception_is_covered_by_none() {
    let g = Gateway::start_with(|s| broke(s).replace("exceptions = \"governance\"", "exceptions = \"none\""));
    let triage = Client::new(&g, g.key("chen.wei", Some("incident-triage")));
    let omar = Client::new(&g, g.key("omar.haddad", None));
    let a = triage.post("/api/v1/exceptions", ask("use_case:incident-triage"), &[]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(message(&a), "use case `incident-triage` is of risk tier `high`, which allows no budget exception");
    // Even governance's exception for him does not cover it.
    let mine = triage.post("/api/v1/exceptions", ask("user:chen.wei"), &[]).await;
    let mine = mine.json()["id"].as_str().unwrap().to_string();
    assert_eq!(omar.post(&format!("/api/v1/exceptions/{mine}/approve"), json!({}), &[]).await.status, 200);
    let a = triage.post("/v1/chat/completions", chat("acme-llama-70b", "hi", false), &[]).await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert!(message(&a).contains("which allows no exception: wait for the next period"), "{}", a.body);
}

/// `check-config` on the example with `edit` applied: its failure output.
fn refused(edit: impl Fn(String) -> String) -> String {
    let dir = tempfile::tempdir().unwrap();
    let policy = support::policy_copy(dir.path(), edit);
    let out = bin().args(["check-config", policy.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success(), "{}", support::text(&out));
    support::text(&out)
}

/// `acme.toml:LINE:` for the first line holding `needle` from the line
/// that starts with `after`, in the edited example.
fn at(src: &str, after: &str, needle: &str) -> String {
    let start = src.find(after).unwrap();
    let line = src[..start].lines().count() + src[start..].lines().position(|l| l.contains(needle)).unwrap() + 1;
    format!("acme.toml:{line}:")
}

#[test]
fn check_config_refuses_a_use_case_looser_than_its_tier() {
    let acme = std::fs::read_to_string(support::repo().join("examples/acme.toml")).unwrap();
    // Prompts kept in full by a high-risk use case.
    let full = |s: String| s.replace("prompts = \"redacted\", days = 90", "prompts = \"full\", days = 90");
    let t = refused(full);
    assert!(t.contains("use case `contract-review` keeps prompts `full`, but risk tier `high` allows only"), "{t}");
    assert!(
        t.contains("set `retention = { prompts = \"redacted\", days = 90 }` on [use_cases.contract-review]"),
        "{t}"
    );
    assert!(t.contains(&at(&full(acme.clone()), "[use_cases.contract-review]", "retention =")), "{t}");
    // A high-risk use case open to everyone.
    let open = |s: String| s.replace("{ teams = [\"risk\", \"platform\"] }", "\"everyone\"");
    let t = refused(open);
    assert!(t.contains("use case `incident-triage` is available to everyone, but risk tier `high`"), "{t}");
    assert!(t.contains("available_to = { teams = [\"risk\"] }"), "{t}");
    assert!(t.contains(&at(&open(acme.clone()), "[use_cases.incident-triage]", "available_to =")), "{t}");
    // An audit trail required, and a high-risk use case keeping nothing.
    let trail = |s: String| s.replace("prompts = [\"none\", \"redacted\"]", "prompts = [\"redacted\"]");
    let t = refused(trail);
    assert!(
        t.contains("use case `finance-narrative` keeps no prompts, but risk tier `high` allows only [\"redacted\"]"),
        "{t}"
    );
    assert!(t.contains(&at(&trail(acme.clone()), "[use_cases.finance-narrative]", "risk_tier")), "{t}");
    // And a top-level retention `days` nobody's prompts are kept for.
    let days =
        |s: String| s.replace("[retention]\nprompts = \"none\"\n", "[retention]\nprompts = \"none\"\ndays = 30\n");
    let t = refused(days);
    assert!(t.contains("`days` does nothing: no use case keeps prompts"), "{t}");
    assert!(t.contains(&at(&days(acme), "[retention]", "days = 30")), "{t}");
}
