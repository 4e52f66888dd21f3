//! The `tokenwise` binary, run as people run it.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use support::{bin, policy_copy, repo, text};

#[test]
fn check_config_accepts_the_example() {
    let out = bin().arg("check-config").arg(repo().join("examples/acme.toml")).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("ok — Acme Corp (7 teams, 40 users"), "{}", text(&out));
}

#[test]
fn check_config_names_every_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = policy_copy(dir.path(), |s| {
        s.replace("cost_centre = \"CC-2100\"", "cost_centre = \"CC-2100\"\ncost_center = \"CC-2100\"")
            .replace("owner = \"tom.becker\"", "owner = \"tom.baker\"")
    });
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let src = std::fs::read_to_string(&path).unwrap();
    let line = |needle: &str| src.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let t = text(&out);
    assert!(t.contains(&format!("acme.toml:{}:1", line("cost_center"))), "{t}");
    assert!(t.contains("unknown field `cost_center`"), "{t}");
    assert!(t.contains(&format!("acme.toml:{}:", line("owner = \"tom.baker\""))), "{t}");
    assert!(t.contains("unknown user `tom.baker` in use_cases.sales-outreach.owner"), "{t}");
    assert!(t.contains("did you mean `tom.becker`?"), "{t}");
    assert!(t.contains("2 error(s)"), "{t}");

    let json = bin().arg("check-config").arg(&path).arg("--json").output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 2);
    assert_eq!(v["diagnostics"][0]["line"], line("cost_center"));
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let out = bin().args(["check-config", "/no/such/policy.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("cannot read the policy file"), "{}", text(&out));
}

#[test]
fn keys_are_printed_once_and_stored_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let path = policy_copy(dir.path(), |s| s);
    let out = bin()
        .args(["keys", "create", "--user", "ivan.petrov", "--use-case", "support-reply", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(secret.starts_with("tw_") && secret.len() == 46, "{secret}");

    // The ledger lands beside the policy (server.database is relative to it)
    // and holds only the hash.
    let db = dir.path().join("tokenwise-data/tokenwise.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (hash, user, use_case): (String, String, String) = conn
        .query_row("SELECT key_hash, user_id, use_case FROM api_keys", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    assert_eq!(user, "ivan.petrov");
    assert_eq!(use_case, "support-reply");
    assert_eq!(hash.len(), 64);
    let body = &secret[3..];
    let bytes = std::fs::read(&db).unwrap();
    assert!(!bytes.windows(body.len()).any(|w| w == body.as_bytes()), "the secret must not be in the database file");

    let unknown = bin().args(["keys", "create", "--user", "nobody", "--config"]).arg(&path).output().unwrap();
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("unknown user `nobody`"));
}

#[test]
fn audit_verify_catches_a_hand_edited_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = policy_copy(dir.path(), |s| s);
    for user in ["ivan.petrov", "jade.nguyen", "kofi.mensah"] {
        let out = bin().args(["keys", "create", "--user", user, "--config"]).arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let verify = || bin().args(["audit", "verify", "--config"]).arg(&path).output().unwrap();
    let ok = verify();
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("audit log ok: 3 entries"), "{}", text(&ok));

    // Behind the program's back: drop the guard, rewrite entry 2.
    let db = dir.path().join("tokenwise-data/tokenwise.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = '{\"user\":\"mallory\"}' WHERE seq = 2",
    )
    .unwrap();
    drop(conn);

    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    assert!(text(&broken).contains("audit log BROKEN: entry 2"), "{}", text(&broken));
    let json = bin().args(["audit", "verify", "--json", "--config"]).arg(&path).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["broken_at"], 2);
    assert_eq!(v["verified_entries"], 1);
}

#[test]
fn scan_reports_per_line_with_byte_offsets() {
    use std::io::Write;
    let input = "mail zoë@example.com now\n\nkey AKIAZ7GH2KQW4TNB5XEM, card 4111-1111-1111-1111\n";
    let mut child = bin()
        .args(["scan", "--json", "--lines"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "one object per input line");
    let first = input.lines().next().unwrap();
    let f = &lines[0]["findings"][0];
    assert_eq!(f["kind"], "email");
    // Byte offsets: "zoë" has a two-byte ë.
    assert_eq!(&first[f["start"].as_u64().unwrap() as usize..f["end"].as_u64().unwrap() as usize], "zoë@example.com");
    assert_eq!(lines[0]["data_class"], "confidential");
    assert_eq!(lines[1], serde_json::json!({"data_class": "public", "findings": []}));
    let kinds: Vec<&str> =
        lines[2]["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["aws_access_key", "credit_card"]);
    assert_eq!(lines[2]["data_class"], "restricted");

    // With a policy, its terms and classes apply.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "Status of Project Apollo? ACME CONFIDENTIAL").unwrap();
    let out = bin()
        .arg("scan")
        .arg(&file)
        .arg("--json")
        .arg("--config")
        .arg(repo().join("examples/acme.toml"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["custom_term", "confidentiality_marker"]);
    assert_eq!(v["data_class"], "confidential");
}
