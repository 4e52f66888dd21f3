//! The DLP allowlist end to end: Claude Code's system prompt carries
//! `noreply@anthropic.com`, which examples/acme.toml allows, so the agent
//! works in `code-sandbox` (metered, no finding, the suppression audited),
//! while a real address in the same request is still caught.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::{Client, Gateway, bin, repo};

/// An Anthropic Messages request as Claude Code sends it, in short.
fn agent_request(address: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": [{"type": "text", "text": format!(
            "You are Claude Code. When you commit, end the message with\n\nCo-Authored-By: Claude <{address}>")}],
        "messages": [{"role": "user", "content": "Add a --verbose flag to the CLI."}]
    })
}

/// The `policy.decision` audit entry of a request (written asynchronously).
async fn decision_audit(g: &Gateway, request_id: &str) -> Value {
    for _ in 0..100 {
        let conn = rusqlite::Connection::open(&g.db).unwrap();
        let details: Option<String> = conn
            .query_row(
                "SELECT details FROM audit_log WHERE action = 'policy.decision' AND subject = ?1",
                [request_id],
                |r| r.get(0),
            )
            .ok();
        if let Some(d) = details {
            return serde_json::from_str(&d).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no policy.decision audit entry for {request_id}");
}

#[tokio::test]
async fn claude_codes_no_reply_address_is_allowed_in_code_sandbox_and_audited() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ben.carter", Some("code-sandbox")));

    let a = c.post("/v1/messages", agent_request("noreply@anthropic.com"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let usage = a.json()["usage"].clone();
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["status"], "ok");
    assert_eq!(row["decision"], "allow");
    assert_eq!(row["use_case"], "code-sandbox");
    assert_eq!(row["findings"], json!({}), "the allowed address is no finding: {row}");
    assert_eq!(row["usage"]["input"], usage["input_tokens"], "metered exactly: {row}");
    assert_eq!(row["usage"]["output"], usage["output_tokens"], "metered exactly: {row}");
    let audit = decision_audit(&g, &a.request_id()).await;
    assert_eq!(audit["decision"], "allow");
    assert_eq!(audit["allowed"], json!({"email": 1}), "{audit}");
    assert_eq!(audit["findings"], json!({}));
    assert!(!audit.to_string().contains("noreply@"), "never the text: {audit}");

    // The same request with a person's address is caught as before.
    let a = c.post("/v1/messages", agent_request("jane.doe@gmail.com"), &[]).await;
    assert_ne!(a.status, 200, "{}", a.body);
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["decision"], "block");
    assert_eq!(row["findings"], json!({"email": 1}));
    let audit = decision_audit(&g, &a.request_id()).await;
    assert_eq!(audit["findings"], json!({"email": 1}));
    assert!(audit.get("allowed").is_none(), "{audit}");

    // /check says the same before any call.
    let v = c.post("/api/v1/check", agent_request("noreply@anthropic.com"), &[]).await.json();
    assert_eq!(v["findings"], json!([]), "{v}");
    let v = c.post("/api/v1/check", agent_request("jane.doe@gmail.com"), &[]).await.json();
    assert_eq!(v["findings"].as_array().unwrap().len(), 1, "{v}");
}

#[test]
fn scan_with_the_policy_applies_its_allowlist() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prompt.txt");
    std::fs::write(&file, "Co-Authored-By: Claude <noreply@anthropic.com>\nmail jane.doe@gmail.com").unwrap();
    let scan = |config: bool| {
        let mut cmd = bin();
        cmd.arg("scan").arg(&file).arg("--json");
        if config {
            cmd.arg("--config").arg(repo().join("examples/acme.toml"));
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"].as_array().unwrap().len()
    };
    assert_eq!(scan(false), 2, "without a policy both addresses are findings");
    assert_eq!(scan(true), 1, "with acme's allowlist only the person's address is");
}
