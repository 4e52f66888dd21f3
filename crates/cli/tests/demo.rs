//! The main job against the real binary: a month of Acme's honest and
//! gaming people through the gateway. What the product rests on: under
//! `balanced` every gaming persona ranks in the bottom half, under
//! `raw_tokens` the token burner ranks first; and a seed always gives the
//! same month.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use support::{bin, text};

fn demo(dir: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec!["demo", "--json", "--no-serve", "--listen", "127.0.0.1:0", "--data-dir"];
    let d = dir.to_str().unwrap();
    args.push(d);
    args.extend(extra);
    let out = bin().args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rank(v: &Value, model: &str, user: &str) -> u64 {
    let board = v["leaderboards"][model].as_array().unwrap();
    board.iter().find(|p| p["subject"] == format!("user:{user}")).map_or(u64::MAX, |p| p["rank"].as_u64().unwrap())
}

#[test]
fn a_month_rewards_honest_work_and_sinks_every_gaming_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let v = demo(dir.path(), &[]);
    let people = v["people"].as_array().unwrap();
    assert!(people.len() >= 35, "{}", people.len());
    let board = v["leaderboards"]["balanced"].as_array().unwrap().len() as u64;
    let persona = |p: &Value| p["persona"].as_str().unwrap().to_string();
    let gaming =
        ["token_burner", "prompt_repeater", "workflow_splitter", "outcome_inflater", "data_leaker", "exception_abuser"];
    for g in gaming {
        let who: Vec<&Value> = people.iter().filter(|p| persona(p) == g).collect();
        assert!(!who.is_empty(), "nobody plays {g}");
        for p in who {
            let user = p["user"].as_str().unwrap();
            assert!(
                rank(&v, "balanced", user) > board / 2,
                "{g} {user} ranks {} of {board}",
                rank(&v, "balanced", user)
            );
        }
    }
    // Every gaming persona is flagged by an anomaly detector, for what it
    // does (the leaker: prompts DLP stopped on day after day); no honest
    // persona is, busy days and all.
    let anomalies = v["anomalies"].as_array().unwrap();
    let kinds = |user: &str| -> Vec<&str> {
        let subject = format!("user:{user}");
        anomalies.iter().filter(|a| a["subject"] == subject).map(|a| a["kind"].as_str().unwrap()).collect()
    };
    for p in people {
        let (user, kinds) = (p["user"].as_str().unwrap(), kinds(p["user"].as_str().unwrap()));
        if gaming.contains(&persona(p).as_str()) {
            assert!(!kinds.is_empty(), "{user} ({}) is not flagged", persona(p));
        } else {
            assert!(kinds.is_empty(), "{user} ({}) plays fair and is flagged: {kinds:?}", persona(p));
        }
        if persona(p) == "data_leaker" {
            assert!(kinds.contains(&"dlp_violations"), "{user} leaks and is flagged only for {kinds:?}");
        }
    }
    let burner = people.iter().find(|p| persona(p) == "token_burner").unwrap()["user"].as_str().unwrap();
    assert_eq!(rank(&v, "raw_tokens", burner), 1, "the token burner tops a token leaderboard");
    assert_eq!(v["leaderboards"].as_object().unwrap().len(), 6);

    // The month really went through the gateway: every request is a row.
    let conn = rusqlite::Connection::open(dir.path().join("demo-ledger.db")).unwrap();
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM usage_events", [], |r| r.get(0)).unwrap();
    assert_eq!(rows as u64, v["requests"].as_u64().unwrap());
    assert!(v["dlp"]["block"].as_u64().unwrap() > 0, "the leaker was blocked: {}", v["dlp"]);
    assert!(v["nudges"].as_u64().unwrap() > 0);
    assert!(!v["tranches_unlocked"].as_array().unwrap().is_empty());
}

#[test]
fn the_same_seed_gives_the_same_days() {
    let run = |seed: &str| {
        let dir = tempfile::tempdir().unwrap();
        let mut v = demo(dir.path(), &["--days", "4", "--seed", seed]);
        v.as_object_mut().unwrap().remove("elapsed_s");
        v
    };
    let first = run("7");
    assert!(first["requests"].as_u64().unwrap() > 100);
    assert_eq!(run("7"), first, "same seed, same JSON apart from timings");
    assert_ne!(run("8"), first, "another seed, another month");
}

/// The README shows the month the main job prints, line for line (the
/// timing aside): a newcomer sees what they will get.
#[test]
fn the_readme_shows_the_months_real_output() {
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let start = readme.find("```text\ntokenwise demo — Acme Corp").expect("the README shows the demo's output");
    let block = &readme[start + "```text\n".len()..];
    let shown: Vec<&str> = block[..block.find("\n```").unwrap()].lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["demo", "--no-serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8(out.stdout).unwrap();
    let printed: Vec<&str> = printed.lines().collect();
    assert_eq!(printed.len(), shown.len(), "{}", printed.join("\n"));
    for (i, (p, s)) in printed.iter().zip(&shown).enumerate() {
        // "5679 requests in 19.8 s": the count is the month's, the seconds the machine's.
        let (p, s) = if i == 1 { (p.split(" in ").next().unwrap(), s.split(" in ").next().unwrap()) } else { (*p, *s) };
        assert_eq!(p, s, "line {}", i + 1);
    }
}

/// Served, the demo prints the dashboard's address and a key per role, and
/// each key logs its person in to the page of their role.
#[tokio::test]
async fn the_demo_prints_the_dashboard_and_a_login_for_each_role() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["demo", "--days", "1", "--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the demo prints where its dashboard is").unwrap();
        if let Some(rest) = line.strip_prefix("Dashboard: ") {
            break rest.split_whitespace().next().unwrap().trim_end_matches('/').to_string();
        }
    };
    let logins: Vec<(String, String, String)> = (0..5)
        .map(|_| {
            let line = lines.next().unwrap().unwrap();
            let w: Vec<&str> = line.split_whitespace().collect();
            (w[0].to_string(), w[1].to_string(), w[2].to_string())
        })
        .collect();
    let roles: Vec<&str> = logins.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(roles, ["member", "manager", "governance", "finance", "admin"]);
    tokenwise_server::install_crypto();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (role, user, key) in &logins {
        let r = http
            .post(format!("{url}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("api_key={key}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{role}'s key logs in");
        let home = r.headers()["location"].to_str().unwrap().to_string();
        let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
        let page = http.get(format!("{url}{home}")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(page.status(), 200, "{role} lands on a page of theirs ({home})");
        let name = &support_name(user);
        assert!(page.text().await.unwrap().contains(name.as_str()), "{role}'s page names {name}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A person's name as the example policy writes it.
fn support_name(user: &str) -> String {
    let policy = std::fs::read_to_string(support::repo().join("examples/acme.toml")).unwrap();
    let line = policy.lines().find(|l| l.starts_with(&format!("\"{user}\""))).unwrap();
    line.split("name = \"").nth(1).unwrap().split('"').next().unwrap().to_string()
}
