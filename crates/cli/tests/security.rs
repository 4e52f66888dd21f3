//! Security controls against the real binary: per-key rate limits (429
//! `rate_limited` with `retry-after`), `/healthz` reporting the ledger and
//! turning 503 when it cannot write, database errors kept out of
//! responses, `prompt_hash` keyed with the database's server secret, and
//! the audit chain checked against a head kept elsewhere, which catches a
//! rewritten or truncated chain that verifies on its own.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::path::Path;
use support::{Client, Gateway, bin, policy_copy, text};

fn chat(text: &str) -> Value {
    json!({"model": "gpt-4.1-mini", "max_tokens": 20, "messages": [{"role": "user", "content": text}]})
}

const LIMITS: &str = "
[rate_limits]
requests_per_minute = 6000
burst = 50

[rate_limits.roles.member]
requests_per_minute = 1
burst = 3
";

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_rate_limited_with_retry_after() {
    let g = Gateway::start_with(|s| s + LIMITS);
    let jade = Client::new(&g, g.key("jade.nguyen", Some("kb-search")));
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("kb-search")));
    let omar = Client::new(&g, g.key("omar.haddad", Some("kb-search")));

    // A member's burst is three requests, through the gateway or the API alike.
    assert_eq!(jade.post("/v1/chat/completions", chat("one"), &[]).await.status, 200);
    assert_eq!(jade.get("/api/v1/budgets").await.status, 200);
    assert_eq!(jade.post("/v1/chat/completions", chat("three"), &[]).await.status, 200);
    for path in ["/v1/chat/completions", "/api/v1/events"] {
        let a = if path.starts_with("/v1") { jade.post(path, chat("four"), &[]).await } else { jade.get(path).await };
        assert_eq!(a.status, 429, "{path}: {}", a.body);
        let e = &a.json()["error"];
        assert_eq!(e["code"], "rate_limited", "{}", a.body);
        assert_eq!(e["type"], "rate_limit_error");
        // One a minute: the next is a minute away at most.
        let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "retry-after {retry}");
        assert_eq!(e["retry_after_secs"], retry);
        assert!(e["message"].as_str().unwrap().contains("1 requests a minute"), "{}", a.body);
    }
    // Buckets are per key: her colleague (same role) still has his burst,
    // and governance its own, larger limit.
    assert_eq!(ivan.post("/v1/chat/completions", chat("mine"), &[]).await.status, 200);
    for i in 0..10 {
        assert_eq!(omar.get("/api/v1/budgets").await.status, 200, "request {i}");
    }
}

#[test]
fn check_config_refuses_a_rate_limit_that_does_nothing_or_blocks_everything() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "\n[rate_limits]\nburst = 5\n\n[rate_limits.roles.intern]\nrequests_per_minute = 10\n\n[rate_limits.roles.member]\nrequests_per_minute = 10\nburst = 0\n";
    let path = policy_copy(dir.path(), |s| s + bad);
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("a burst without requests_per_minute does nothing"), "{t}");
    assert!(t.contains("`intern` is not a role"), "{t}");
    assert!(t.contains("burst must be at least 1"), "{t}");
}

#[tokio::test]
async fn healthz_reports_the_ledger_and_503_once_it_cannot_write() {
    let g = Gateway::start();
    let http = reqwest::Client::new();
    let jade = Client::new(&g, g.key("jade.nguyen", Some("kb-search")));
    assert_eq!(jade.post("/v1/chat/completions", chat("hello"), &[]).await.status, 200);
    let r = http.get(format!("{}/healthz", g.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    let l = &h["ledger"];
    assert_eq!((&l["backend"], &l["reachable"], &l["writing"]), (&json!("sqlite"), &json!(true), &json!(true)), "{h}");
    assert_eq!(l["queue_depth"], 0);
    assert!(l["last_commit_age_ms"].as_u64().is_some(), "a call was committed: {h}");
    assert_eq!(l["failed_batches"], 0);

    // Behind the server's back the events table stops taking rows (as a
    // full disk or a revoked grant would): the call is not acknowledged,
    // the client reads no database text, and /healthz says so.
    let conn = rusqlite::Connection::open(&g.db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER no_more_events BEFORE INSERT ON usage_events BEGIN \
         SELECT RAISE(ABORT, 'disk quota exceeded on /srv/secret-volume'); END;",
    )
    .unwrap();
    drop(conn);
    let a = jade.post("/v1/chat/completions", chat("lost?"), &[]).await;
    assert_eq!(a.status, 500, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "internal_error");
    for leak in ["secret-volume", "disk quota", "usage_events", "SQLITE", "database error"] {
        assert!(!a.body.contains(leak), "`{leak}` reached the client: {}", a.body);
    }
    let r = http.get(format!("{}/healthz", g.url)).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let h: Value = r.json().await.unwrap();
    assert_eq!((&h["status"], &h["ledger"]["writing"]), (&json!("unavailable"), &json!(false)), "{h}");
    assert!(h["ledger"]["failed_batches"].as_u64().unwrap() >= 1, "{h}");
    assert!(!h.to_string().contains("secret-volume"), "{h}");

    // Writable again: the next batch commits and health comes back.
    let conn = rusqlite::Connection::open(&g.db).unwrap();
    conn.execute_batch("DROP TRIGGER no_more_events").unwrap();
    drop(conn);
    assert_eq!(jade.post("/v1/chat/completions", chat("back"), &[]).await.status, 200);
    let r = http.get(format!("{}/healthz", g.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// The prompt hash stored for a request.
fn prompt_hash(db: &Path, request_id: &str) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT prompt_hash FROM usage_events WHERE id = ?1", [request_id], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn the_prompt_hash_is_keyed_by_the_database_secret_and_stable_across_restarts() {
    use sha2::{Digest, Sha256};
    let mut g = Gateway::start();
    let jade = Client::new(&g, g.key("jade.nguyen", Some("kb-search")));
    let prompt = "approve refund for order 1234";
    let first = jade.post("/v1/chat/completions", chat(prompt), &[]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let keyed = prompt_hash(&g.db, &first.request_id());
    // Anyone reading the ledger could compute the unkeyed hash of a guess.
    let mut guess = Sha256::new();
    guess.update((prompt.len() as u64).to_be_bytes());
    guess.update(prompt.as_bytes());
    assert_ne!(keyed, hex::encode(guess.finalize()), "a guess cannot be confirmed");
    // The key is the database's, kept once: a restarted server (another
    // replica alike) hashes the same prompt the same way.
    g.restart();
    let jade = Client::new(&g, jade.key.clone());
    let again = jade.post("/v1/chat/completions", chat(prompt), &[]).await;
    assert_eq!(prompt_hash(&g.db, &again.request_id()), keyed, "repeats are still found");
    let other = jade.post("/v1/chat/completions", chat("approve refund for order 1235"), &[]).await;
    assert_ne!(prompt_hash(&g.db, &other.request_id()), keyed);
}

/// `tokenwise audit ARGS --config POLICY`.
fn audit(policy: &Path, args: &[&str]) -> std::process::Output {
    bin().arg("audit").args(args).arg("--config").arg(policy).output().unwrap()
}

/// A policy with a ledger of `n` audit entries (keys created), and its head.
fn ledger_with_entries(dir: &Path, n: usize) -> (std::path::PathBuf, String) {
    let policy = policy_copy(dir, |s| s);
    for user in ["ivan.petrov", "jade.nguyen", "kofi.mensah", "lena.schulz", "marco.rossi"].iter().take(n) {
        let out = bin().args(["keys", "create", "--user", user, "--config"]).arg(&policy).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let head = audit(&policy, &["head"]);
    assert!(head.status.success(), "{}", text(&head));
    let head = String::from_utf8(head.stdout).unwrap().trim().to_string();
    assert!(head.starts_with(&format!("{n}:")), "{head}");
    (policy, head)
}

/// What someone with the database owner's rights can do: drop the
/// guards, change entry `seq` and recompute every hash after it, so the
/// chain verifies on its own; and/or cut the entries after `keep`.
fn tamper(db: &Path, rewrite: Option<i64>, keep: Option<i64>) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").unwrap();
    if let Some(keep) = keep {
        conn.execute("DELETE FROM audit_log WHERE seq > ?1", [keep]).unwrap();
    }
    if let Some(from) = rewrite {
        let mut entries: Vec<tokenwise_ledger::AuditEntry> = conn
            .prepare("SELECT seq, ts_us, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY seq")
            .unwrap()
            .query_map([], |r| {
                Ok(tokenwise_ledger::AuditEntry {
                    seq: r.get(0)?,
                    ts_us: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: r.get(4)?,
                    details: r.get(5)?,
                    prev_hash: r.get(6)?,
                    hash: r.get(7)?,
                })
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for i in 0..entries.len() {
            if entries[i].seq == from {
                entries[i].subject = "mallory".into();
            }
            if entries[i].seq >= from {
                if i > 0 {
                    entries[i].prev_hash = entries[i - 1].hash.clone();
                }
                entries[i].hash = entries[i].compute_hash();
                let e = &entries[i];
                conn.execute(
                    "UPDATE audit_log SET subject = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
                    rusqlite::params![e.subject, e.prev_hash, e.hash, e.seq],
                )
                .unwrap();
            }
        }
    }
}

#[test]
fn a_head_kept_elsewhere_catches_a_rewritten_or_truncated_chain_that_verifies_alone() {
    for (case, rewrite, keep) in
        [("rewrite entry 2", Some(2), None), ("cut the newest 2", None, Some(3)), ("both", Some(2), Some(4))]
    {
        let dir = tempfile::tempdir().unwrap();
        let (policy, head) = ledger_with_entries(dir.path(), 5);
        let ok = audit(&policy, &["verify", "--expect-head", &head]);
        assert!(ok.status.success(), "{case}: {}", text(&ok));
        assert!(text(&ok).contains(&format!("head: {head}")), "{case}: {}", text(&ok));

        tamper(&dir.path().join("tokenwise-data/tokenwise.db"), rewrite, keep);
        // The chain alone cannot tell: it was rewritten consistently.
        let alone = audit(&policy, &["verify"]);
        assert!(alone.status.success(), "{case}: {}", text(&alone));
        // Against the head kept elsewhere it fails, saying how.
        let caught = audit(&policy, &["verify", "--expect-head", &head]);
        assert_eq!(caught.status.code(), Some(1), "{case}: {}", text(&caught));
        let why = if keep.is_some() { "newest entries were removed" } else { "was rewritten from entry 5 or before" };
        assert!(text(&caught).contains(why), "{case}: {}", text(&caught));
        let json = audit(&policy, &["verify", "--json", "--expect-head", &head]);
        let v: Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!((&v["ok"], &v["expected_head_found"]), (&json!(false), &json!(false)), "{case}: {v}");
    }
    // An earlier head still verifies once more entries follow it.
    let dir = tempfile::tempdir().unwrap();
    let (policy, head) = ledger_with_entries(dir.path(), 2);
    let out = bin().args(["keys", "create", "--user", "noor.ahmed", "--config"]).arg(&policy).output().unwrap();
    assert!(out.status.success());
    let later = audit(&policy, &["verify", "--expect-head", &head]);
    assert!(later.status.success(), "{}", text(&later));
    assert!(text(&later).contains("audit log ok: 3 entries"), "{}", text(&later));
    // A head that is not SEQ:HASH is refused with the form to use.
    let bad = audit(&policy, &["verify", "--expect-head", "deadbeef"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("SEQ:HASH"), "{}", text(&bad));
}

/// `audit verify` on `g`'s ledger: its exit code and what it said.
fn verify_usage(g: &Gateway) -> (Option<i32>, String) {
    let out = bin().args(["audit", "verify", "--database", &g.database(), "--config"]).arg(&g.policy).output().unwrap();
    (out.status.code(), text(&out))
}

#[tokio::test]
async fn usage_digests_in_the_audit_chain_catch_a_usage_row_removed_added_or_edited() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    for i in 0..4 {
        let body = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": format!("hello {i}")}]});
        let a = ivan.post("/v1/chat/completions", body, &[]).await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let rows = || {
        let c = rusqlite::Connection::open(&g.db).unwrap();
        c.query_row("SELECT COUNT(*) FROM usage_events", [], |r| r.get::<_, i64>(0)).unwrap()
    };
    assert_eq!(rows(), 4, "answered calls are recorded");
    std::thread::sleep(std::time::Duration::from_millis(5));
    // `serve` digests every 10 minutes, rows at least 10 minutes old; the
    // CLI does it now (nothing else writes meanwhile).
    let digest = |lag: &str| {
        let out = bin()
            .args(["audit", "digest", "--lag-secs", lag, "--database", &g.database(), "--config"])
            .arg(&g.policy)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    assert!(digest("600").contains("no usage rows recorded since the last digest"), "rows younger than the lag wait");
    let said = digest("0");
    assert!(said.contains(", 4 rows recorded from "), "{said}");
    let seq: i64 = said.split("audit entry ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    let (code, out) = verify_usage(&g);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("usage rows ok: 1 digests recomputed, covering 4 rows"), "{out}");

    let db = rusqlite::Connection::open(&g.db).unwrap();
    let victim: String = db.query_row("SELECT id FROM usage_events ORDER BY id LIMIT 1", [], |r| r.get(0)).unwrap();
    db.execute_batch(&format!("CREATE TABLE saved AS SELECT * FROM usage_events WHERE id = '{victim}'")).unwrap();
    let named = format!("usage digest (audit entry {seq}) is broken");
    for (case, tamper, undo, why) in [
        (
            "removed",
            format!("DELETE FROM usage_events WHERE id = '{victim}'"),
            "INSERT INTO usage_events SELECT * FROM saved".to_string(),
            "it counted 4 rows, 3 are there now (1 removed)",
        ),
        (
            "inserted",
            "CREATE TABLE forged AS SELECT * FROM saved; UPDATE forged SET id = 'forged-call'; \
                      INSERT INTO usage_events SELECT * FROM forged; DROP TABLE forged"
                .to_string(),
            "DELETE FROM usage_events WHERE id = 'forged-call'".to_string(),
            "it counted 4 rows, 5 are there now (1 added)",
        ),
        (
            "cost edited",
            format!("UPDATE usage_events SET cost_nanos = 1 WHERE id = '{victim}'"),
            format!("UPDATE usage_events SET cost_nanos = (SELECT cost_nanos FROM saved) WHERE id = '{victim}'"),
            "their content changed",
        ),
    ] {
        db.execute_batch(&tamper).unwrap();
        let (code, out) = verify_usage(&g);
        assert_eq!(code, Some(1), "{case}: {out}");
        assert!(out.contains(&named) && out.contains(why), "{case}: {out}");
        let json = bin()
            .args(["audit", "verify", "--json", "--database", &g.database(), "--config"])
            .arg(&g.policy)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v["ok"], false, "{case}: {v}");
        assert_eq!(v["usage_digests_broken"][0]["seq"], seq, "{case}: {v}");
        db.execute_batch(&undo).unwrap();
        let (code, out) = verify_usage(&g);
        assert_eq!(code, Some(0), "{case} undone: {out}");
    }
}
