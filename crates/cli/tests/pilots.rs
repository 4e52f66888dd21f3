//! Pilots against the real binary: the feedback question answered by the
//! cohort only and once a week per subject (clear errors otherwise), the
//! counts for the cohort's managers, the report for governance only (API
//! and CLI), and promotion — once, audited, the default board following.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::json;
use support::{Client, Gateway, bin, text, with_running_pilot};

#[tokio::test]
async fn feedback_comes_from_the_cohort_once_a_week_per_subject() {
    let g = Gateway::start_with(with_running_pilot);
    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    let answer = |about: &str, answer: &str| json!({"pilot": "support-outcomes", "answer": answer, "about": about, "comment": "the score ignores escalations I prevented"});

    let a = ivan.post("/api/v1/feedback", answer("score", "unfair"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let kept = a.json();
    assert_eq!((kept["pilot"].as_str(), kept["about"].as_str()), (Some("support-outcomes"), Some("score")));
    assert_eq!(kept["model"], "outcome", "tied to the reward model shown");
    assert!(kept["rules_version"].as_str().unwrap().starts_with("s2-"), "and the rules version: {kept}");
    assert!(kept["week"].as_str().unwrap().contains("-W"), "an ISO week: {kept}");

    // A second answer about the score in the same week: 409, already_answered.
    let again = ivan.post("/api/v1/feedback", answer("score", "motivating"), &[]).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let e = &again.json()["error"];
    assert_eq!(e["code"], "already_answered");
    assert!(e["message"].as_str().unwrap().contains("one answer a week per subject"), "{e}");
    // Another subject the same week is a first answer.
    assert_eq!(ivan.post("/api/v1/feedback", answer("leaderboard", "confusing"), &[]).await.status, 200);

    // Outside the cohort: 403, not_in_cohort — the control group included.
    for outsider in ["paula.costa", "omar.haddad"] {
        let c = Client::new(&g, g.key(outsider, None));
        let r = c.post("/api/v1/feedback", answer("score", "motivating"), &[]).await;
        assert_eq!(r.status, 403, "{outsider}: {}", r.body);
        let e = &r.json()["error"];
        assert_eq!(e["code"], "not_in_cohort", "{e}");
        assert!(e["message"].as_str().unwrap().contains("support-outcomes"), "{e}");
    }
    // A pilot that does not exist, a subject that is not one, a field too many.
    let r = ivan.post("/api/v1/feedback", json!({"pilot": "nope", "answer": "unfair", "about": "score"}), &[]).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("not_found")));
    let r = ivan.post("/api/v1/feedback", answer("weather", "unfair"), &[]).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = ivan
        .post(
            "/api/v1/feedback",
            json!({"pilot": "support-outcomes", "answer": "unfair", "about": "budget", "period": "2026-11"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "the old shape's fields are refused: {}", r.body);

    // Counts: the cohort's manager (support has 8 people ≥ min_group_size 5), not another team's.
    let lucia = Client::new(&g, g.key("lucia.fernandez", None));
    let counts = lucia.get("/api/v1/pilots/support-outcomes/feedback").await;
    assert_eq!(counts.status, 200, "{}", counts.body);
    let counts = counts.json();
    assert!(!counts.to_string().contains("escalations I prevented"), "no comments for managers: {counts}");
    let unfair: u64 = counts["counts"].as_array().unwrap().iter().map(|t| t["unfair"].as_u64().unwrap()).sum();
    assert_eq!(unfair, 1, "{counts}");
    let tom = Client::new(&g, g.key("tom.becker", None));
    assert_eq!(tom.get("/api/v1/pilots/support-outcomes/feedback").await.status, 403);

    // The report, with the comments: governance only.
    assert_eq!(ivan.get("/api/v1/reports/pilots/support-outcomes").await.status, 403);
    assert_eq!(lucia.get("/api/v1/reports/pilots/support-outcomes").await.status, 403);
    let omar = Client::new(&g, g.key("omar.haddad", None));
    let r = omar.get("/api/v1/reports/pilots/support-outcomes").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = r.json();
    assert_eq!(r["pilot"]["status"], "running");
    assert_eq!((r["report"]["cohort_size"].as_u64(), r["report"]["control_size"].as_u64()), (Some(8), Some(6)));
    assert!(r["report"]["summary"].as_str().unwrap().contains("spend per outcome"), "{r}");
    assert_eq!(r["report"]["comments"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(omar.get("/api/v1/reports/pilots/nope").await.status, 404);
}

#[tokio::test]
async fn governance_promotes_a_pilot_once_audited_and_the_default_board_follows() {
    let g = Gateway::start_with(with_running_pilot);
    let omar = Client::new(&g, g.key("omar.haddad", None));
    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    assert_eq!(omar.get("/api/v1/scores").await.json()["model"], "balanced", "the default before");

    assert_eq!(ivan.post("/api/v1/pilots/support-outcomes/promote", json!({}), &[]).await.status, 403);
    let r = omar.post("/api/v1/pilots/support-outcomes/promote", json!({}), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    assert_eq!((p["status"].as_str(), p["decision"]["decided_by"].as_str()), (Some("promoted"), Some("omar.haddad")));
    let again = omar.post("/api/v1/pilots/support-outcomes/end", json!({}), &[]).await;
    assert_eq!((again.status, again.json()["error"]["code"].as_str()), (409, Some("conflict")));

    // The default board is now the pilot's reward model, naming its rules version.
    let board = omar.get("/api/v1/scores").await.json();
    assert_eq!(board["model"], "outcome", "{board}");
    assert_eq!(board["rules_version"], p["rules_version"]);
    // A decided pilot asks nothing more.
    let r = ivan
        .post("/api/v1/feedback", json!({"pilot": "support-outcomes", "answer": "motivating", "about": "score"}), &[])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // In the audit chain, which still verifies.
    let out = bin()
        .args(["audit", "verify", "--json", "--config", g.policy.to_str().unwrap(), "--database", &g.database()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The audit writer commits in the background: read until it has.
    let conn = rusqlite::Connection::open(&g.db).unwrap();
    let mut entry: Option<(String, String)> = None;
    for _ in 0..100 {
        entry = conn
            .query_row("SELECT actor, subject FROM audit_log WHERE action = 'pilot.promote'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        if entry.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(entry, Some(("omar.haddad".to_string(), "support-outcomes".to_string())));
}

#[test]
fn the_cli_prints_a_pilots_report_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = support::policy_copy(dir.path(), with_running_pilot);
    let db = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let run = |pilot: &str, json: bool| {
        let mut cmd = bin();
        cmd.args(["report", "pilot", "--config", policy.to_str().unwrap(), "--database", &db, "--pilot", pilot]);
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let out = run("support-outcomes", true);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["pilot"], "support-outcomes");
    assert!(v["report"]["summary"].as_str().unwrap().contains("cannot be compared yet"), "an empty ledger: {v}");
    let out = run("support-outcomes", false);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pilot support-outcomes (running)"), "{}", text(&out));
    let out = run("nope", false);
    assert!(!out.status.success());
    assert!(text(&out).contains("no pilot `nope`"), "{}", text(&out));
}
