//! Pilots against the real binary: the feedback question answered by the
//! cohort only and once a week per subject (clear errors otherwise), the
//! counts for the cohort's managers, the report for governance only (API
//! and CLI), and promotion — once, audited, the default board following;
//! and what the cohort is shown while the pilot runs — its reward model,
//! its board's reach, its badges off — against what everyone else is shown,
//! on the API and on `/me`, until the pilot ends.

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

/// A pilot on Ivan alone against Jade and Kofi (all three of support, a
/// public team), running today: scored on outcomes, a private board,
/// badges off.
fn with_private_pilot(s: String) -> String {
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let start = today.checked_sub(jiff::Span::new().days(10)).unwrap();
    let end = today.checked_add(jiff::Span::new().days(60)).unwrap();
    s + &format!(
        "\n[[pilots]]\nid = \"ivan-alone\"\ncohort = {{ users = [\"ivan.petrov\"] }}\n\
         control = {{ users = [\"jade.nguyen\", \"kofi.mensah\"] }}\nstart = \"{start}\"\nend = \"{end}\"\n\
         reward_model = \"outcome\"\nboard = \"private\"\nbadges = false\n"
    )
}

/// A call on `task` and its outcome, validated by the team's manager: a
/// first validated outcome, which earns its badge.
async fn validated_work(g: &Gateway, user: &str, task: &str) {
    let c = Client::new(g, g.key(user, Some("support-reply")));
    let body = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Where is my refund?"}]});
    let a = c.post("/v1/chat/completions", body, &[("x-tokenwise-task", task)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let body = json!({"task": task, "user": user, "use_case": "support-reply", "kind": "ticket_resolved",
                      "value_hours": 0.25, "evidence": format!("ZD-{task}"), "quality": 4});
    let a = c.post("/api/v1/outcomes", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.json()["id"].as_str().unwrap().to_string();
    let lucia = Client::new(g, g.key("lucia.fernandez", None));
    let path = format!("/api/v1/outcomes/{id}/validate");
    let v = lucia.post(&path, json!({"decision": "validated", "quality": 5}), &[]).await;
    assert_eq!(v.status, 200, "{}", v.body);
}

fn row<'a>(board: &'a serde_json::Value, key: &str, subject: &str) -> &'a serde_json::Value {
    board[key]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subject"] == subject)
        .unwrap_or_else(|| panic!("{subject}: {board}"))
}

fn subjects(board: &serde_json::Value, key: &str) -> Vec<String> {
    board[key].as_array().unwrap().iter().map(|s| s["subject"].as_str().unwrap().to_string()).collect()
}

fn badges(score: &serde_json::Value) -> Vec<String> {
    score["badges"].as_array().unwrap().iter().map(|b| b.as_str().unwrap().to_string()).collect()
}

/// `/me` as `user` sees it, through a dashboard session.
async fn me_page(g: &Gateway, user: &str) -> String {
    dash_page(g, user, "/me").await
}

/// A dashboard page as `user` sees it.
async fn dash_page(g: &Gateway, user: &str, path: &str) -> String {
    tokenwise_server::install_crypto();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let key = g.key(user, None);
    let r =
        http.post(format!("{}/login", g.url)).form(&[("api_key", key.as_str()), ("next", "/")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let r = http.get(format!("{}{path}", g.url)).header(reqwest::header::COOKIE, cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_cohort_is_shown_the_pilots_model_board_and_badges_until_it_ends() {
    let g = Gateway::start_with(with_private_pilot);
    for (user, task) in [("ivan.petrov", "T-1"), ("jade.nguyen", "T-2"), ("kofi.mensah", "T-3")] {
        validated_work(&g, user, task).await;
    }
    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    let jade = Client::new(&g, g.key("jade.nguyen", None));
    let omar = Client::new(&g, g.key("omar.haddad", None));
    let earned = "first_validated_outcome".to_string();

    // Ivan, in the cohort: his own score under the outcome model, named
    // after the pilot, unranked, without badges.
    let mine = ivan.get("/api/v1/scores").await.json();
    assert_eq!((mine["model"].as_str(), mine["pilot"].as_str()), (Some("outcome"), Some("ivan-alone")), "{mine}");
    assert_eq!(subjects(&mine, "scores"), vec!["user:ivan.petrov"], "{mine}");
    let me = row(&mine, "scores", "user:ivan.petrov");
    assert_eq!(me["rank"], 0, "a private scorecard is not ranked: {me}");
    assert!(badges(me).is_empty(), "badges off: {me}");
    let line = me["breakdown"].as_array().unwrap().iter().find(|l| l["axis"] == "pilot").unwrap();
    let fact = line["fact"].as_str().unwrap();
    assert!(fact.contains("pilot `ivan-alone`") && fact.contains("outcome reward model"), "{fact}");
    assert!(fact.contains(mine["rules_version"].as_str().unwrap()), "the rules version shown: {fact}");
    // His leaderboard: his own row only, the rest said withheld.
    let board = ivan.get("/api/v1/leaderboard").await.json();
    assert_eq!((board["model"].as_str(), board["pilot"].as_str()), (Some("outcome"), Some("ivan-alone")), "{board}");
    assert_eq!(subjects(&board, "entries"), vec!["user:ivan.petrov"], "{board}");
    assert_eq!(board["entries"][0]["rank"], 0);
    assert!(badges(&board["entries"][0]).is_empty(), "{board}");
    let withheld = board["withheld"].to_string();
    assert!(withheld.contains("2 people: pilot `ivan-alone` shows its cohort your own scorecard"), "{withheld}");
    assert!(withheld.contains("badges: pilot `ivan-alone` does not show them"), "{withheld}");
    // Asking for another model, he gets it, still as the pilot shows it.
    let asked = ivan.get("/api/v1/scores?model=balanced").await.json();
    assert_eq!((asked["model"].as_str(), asked["pilot"].as_str()), (Some("balanced"), Some("ivan-alone")));
    assert!(badges(row(&asked, "scores", "user:ivan.petrov")).is_empty(), "{asked}");
    // His answer is tied to what he is shown.
    let a = ivan.post("/api/v1/feedback", json!({"pilot": "ivan-alone", "answer": "confusing", "about": "score"}), &[]);
    let a = a.await.json();
    assert_eq!((&a["model"], &a["rules_version"]), (&mine["model"], &mine["rules_version"]), "{a}");

    // Jade, in the control group: the org's default, the whole board,
    // badges — Ivan's too: he earns them during the pilot, only he is not
    // shown them.
    let hers = jade.get("/api/v1/scores").await.json();
    assert_eq!((hers["model"].as_str(), hers["pilot"].as_str()), (Some("balanced"), None), "{hers}");
    let her = row(&hers, "scores", "user:jade.nguyen");
    assert!(her["rank"].as_u64().unwrap() >= 1 && badges(her).contains(&earned), "{her}");
    assert!(!her["breakdown"].to_string().contains("ivan-alone"), "{her}");
    let board = jade.get("/api/v1/leaderboard").await.json();
    assert_eq!((board["model"].as_str(), board["pilot"].as_str()), (Some("balanced"), None), "{board}");
    let seen = subjects(&board, "entries");
    for p in ["user:ivan.petrov", "user:jade.nguyen", "user:kofi.mensah"] {
        assert!(seen.contains(&p.to_string()), "{p}: {board}");
    }
    assert!(badges(row(&board, "entries", "user:ivan.petrov")).contains(&earned), "{board}");
    // Governance asking for a model gets exactly that, and everyone.
    let asked = omar.get("/api/v1/scores?model=efficiency").await.json();
    assert_eq!((asked["model"].as_str(), asked["pilot"].as_str()), (Some("efficiency"), None));
    assert!(badges(row(&asked, "scores", "user:ivan.petrov")).contains(&earned), "{asked}");

    // `/me`: Ivan's says no badges and under which pilot; Jade's shows hers.
    let page = me_page(&g, "ivan.petrov").await;
    assert!(page.contains("Badges are not shown during pilot ivan-alone"), "{page}");
    assert!(!page.contains("first validated outcome"), "no badge named: {page}");
    assert!(page.contains("Model: outcome") && page.contains("as pilot ivan-alone shows it"), "{page}");
    assert!(page.contains("a private scorecard during pilot ivan-alone"), "{page}");
    let page = me_page(&g, "jade.nguyen").await;
    assert!(page.contains("first validated outcome") && page.contains("Model: balanced"), "{page}");
    assert!(!page.contains("ivan-alone"), "{page}");

    // Ended: Ivan sees what Jade sees, the badge he earned included.
    assert_eq!(omar.post("/api/v1/pilots/ivan-alone/end", json!({}), &[]).await.status, 200);
    let mine = ivan.get("/api/v1/scores").await.json();
    assert_eq!((mine["model"].as_str(), mine["pilot"].as_str()), (Some("balanced"), None), "{mine}");
    let me = row(&mine, "scores", "user:ivan.petrov");
    assert!(me["rank"].as_u64().unwrap() >= 1 && badges(me).contains(&earned), "{me}");
    assert!(!me["breakdown"].to_string().contains("ivan-alone"), "{me}");
    let board = ivan.get("/api/v1/leaderboard").await.json();
    assert_eq!(board["pilot"], serde_json::Value::Null);
    assert_eq!(subjects(&board, "entries"), subjects(&jade.get("/api/v1/leaderboard").await.json(), "entries"));
    let page = me_page(&g, "ivan.petrov").await;
    assert!(page.contains("first validated outcome") && !page.contains("Badges are not shown"), "{page}");
}

#[tokio::test]
async fn a_team_board_shows_the_cohort_its_own_team_ranked_among_itself() {
    // The support team's pilot with board = "team": Ivan sees support's
    // people only; Xin, of data and in no pilot, sees everyone public.
    let g = Gateway::start_with(|s| with_running_pilot(s) + "board = \"team\"\n");
    for (user, task) in [("ivan.petrov", "T-1"), ("jade.nguyen", "T-2")] {
        validated_work(&g, user, task).await;
    }
    let xin = Client::new(&g, g.key("xin.zhao", Some("kb-search")));
    let body =
        json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "How do I reset a password?"}]});
    assert_eq!(xin.post("/v1/chat/completions", body, &[]).await.status, 200);

    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    let board = ivan.get("/api/v1/leaderboard").await.json();
    assert_eq!((board["model"].as_str(), board["pilot"].as_str()), (Some("outcome"), Some("support-outcomes")));
    let mut seen = subjects(&board, "entries");
    seen.sort();
    assert_eq!(seen, vec!["user:ivan.petrov", "user:jade.nguyen"], "{board}");
    assert!(board["entries"].as_array().unwrap().iter().all(|e| e["rank"].as_u64().unwrap() >= 1), "ranked: {board}");
    let withheld = board["withheld"].to_string();
    assert!(withheld.contains("1 person: pilot `support-outcomes` shows its cohort your team's board"), "{withheld}");
    assert!(!withheld.contains("badges"), "badges stay on: {withheld}");
    assert!(badges(row(&board, "entries", "user:ivan.petrov")).contains(&"first_validated_outcome".to_string()));
    // His score is ranked among his team, as on the board he is shown.
    let mine = ivan.get("/api/v1/scores").await.json();
    let me = row(&mine, "scores", "user:ivan.petrov");
    assert_eq!(me["rank"], row(&board, "entries", "user:ivan.petrov")["rank"], "{mine} {board}");
    // His manager, in the cohort too, sees the team's page as the pilot shows it.
    let page = dash_page(&g, "lucia.fernandez", "/team").await;
    assert!(page.contains("outcome model") && page.contains("as pilot support-outcomes shows it"), "{page}");
    let page = me_page(&g, "ivan.petrov").await;
    assert!(page.contains("rank ") && page.contains(" of your team"), "{page}");

    let xin = Client::new(&g, g.key("xin.zhao", None));
    let board = xin.get("/api/v1/leaderboard").await.json();
    assert_eq!((board["model"].as_str(), board["pilot"].as_str()), (Some("balanced"), None));
    let seen = subjects(&board, "entries");
    for p in ["user:ivan.petrov", "user:jade.nguyen", "user:xin.zhao"] {
        assert!(seen.contains(&p.to_string()), "{p}: {board}");
    }
}

#[tokio::test]
async fn a_pseudonymous_board_shows_the_cohort_everyone_else_under_a_pseudonym() {
    // Ivan's pilot shows its cohort a pseudonymous board: his own row by
    // name, Jade's and Kofi's (same public team, in the control group)
    // ranked beside it under pseudonyms, their names nowhere in what he
    // gets. Jade, in the control group, sees everyone by name.
    let g = Gateway::start_with(|s| with_private_pilot(s).replace("board = \"private\"", "board = \"pseudonymous\""));
    for (user, task) in [("ivan.petrov", "T-1"), ("jade.nguyen", "T-2"), ("kofi.mensah", "T-3")] {
        validated_work(&g, user, task).await;
    }
    let ivan = Client::new(&g, g.key("ivan.petrov", None));
    let jade = Client::new(&g, g.key("jade.nguyen", None));
    let hidden = ["jade", "kofi", "nguyen", "mensah"];

    let board = ivan.get("/api/v1/leaderboard").await.json();
    assert_eq!((board["model"].as_str(), board["pilot"].as_str()), (Some("outcome"), Some("ivan-alone")), "{board}");
    let seen = subjects(&board, "entries");
    assert!(seen.contains(&"user:ivan.petrov".to_string()), "{board}");
    let anon: Vec<&String> = seen.iter().filter(|s| s.starts_with("anon-")).collect();
    assert!(anon.len() >= 2, "Jade and Kofi under pseudonyms: {board}");
    assert_ne!(anon[0], anon[1], "one pseudonym a person: {board}");
    assert!(board["entries"].as_array().unwrap().iter().all(|e| e["rank"].as_u64().unwrap() >= 1), "ranked: {board}");
    assert_eq!(row(&board, "entries", "user:ivan.petrov")["you"], true, "{board}");
    let text = board.to_string();
    for name in hidden {
        assert!(!text.contains(name), "{name} shown to the cohort: {text}");
    }
    // The same from the score list and his own page.
    let scores = ivan.get("/api/v1/scores").await.json().to_string();
    for name in hidden {
        assert!(!scores.contains(name), "{name} in the cohort's scores: {scores}");
    }
    let page = me_page(&g, "ivan.petrov").await;
    for name in hidden {
        assert!(!page.contains(name), "{name} on the cohort's /me: {page}");
    }

    // The control group: names, Ivan's among them.
    let board = jade.get("/api/v1/leaderboard").await.json();
    assert_eq!(board["pilot"], serde_json::Value::Null, "{board}");
    let seen = subjects(&board, "entries");
    for p in ["user:ivan.petrov", "user:jade.nguyen", "user:kofi.mensah"] {
        assert!(seen.contains(&p.to_string()), "{p}: {board}");
    }
}
