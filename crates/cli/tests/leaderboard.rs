//! Leaderboards honour each team's visibility and the viewer's role: a
//! private team's people never appear on another person's board, a
//! team-only team is seen by its own people (and governance), a regulated
//! team appears under pseudonyms stable within a period, and a team row
//! over fewer than `min_group_size` people is withheld from all but
//! governance.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Client, Gateway};

const PEOPLE: [&str; 8] = [
    "ivan.petrov",    // support: public
    "jade.nguyen",    // support
    "paula.costa",    // sales: team-only
    "quentin.roux",   // sales
    "umar.farouk",    // legal: pseudonymous
    "emil.berg",      // finance: private
    "carl.johansson", // finance
    "xin.zhao",       // data: public
];

async fn work(g: &Gateway, user: &str) {
    let c = Client::new(g, g.key(user, Some("kb-search")));
    let body =
        json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "How do I reset a password?"}]});
    let a = c.post("/v1/chat/completions", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

async fn board(g: &Gateway, viewer: &str, query: &str) -> Value {
    let a = Client::new(g, g.key(viewer, None)).get(&format!("/api/v1/leaderboard?{query}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

fn names(b: &Value) -> Vec<String> {
    b["entries"].as_array().unwrap().iter().map(|e| e["subject"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn each_viewer_sees_the_board_their_role_and_the_teams_allow() {
    let g = Gateway::start_manual(|s| s);
    g.set_clock("2026-10-20T10:00:00Z").await;
    work(&g, "umar.farouk").await;
    g.set_clock("2026-11-10T10:00:00Z").await;
    for p in PEOPLE {
        work(&g, p).await;
    }

    // A support member: public people by name, the regulated one under a
    // pseudonym, nobody from the team-only or the private team.
    let ivan = board(&g, "ivan.petrov", "period=2026-11").await;
    let seen = names(&ivan);
    for p in ["user:ivan.petrov", "user:jade.nguyen", "user:xin.zhao"] {
        assert!(seen.contains(&p.to_string()), "{p} missing from {seen:?}");
    }
    for p in ["paula.costa", "quentin.roux", "umar.farouk", "emil.berg", "carl.johansson"] {
        assert!(!seen.iter().any(|s| s.contains(p)), "{p} shown to ivan: {seen:?}");
    }
    let anon: Vec<&String> = seen.iter().filter(|s| s.starts_with("anon-")).collect();
    assert_eq!(anon.len(), 1, "{seen:?}");
    assert!(ivan["entries"].as_array().unwrap().iter().any(|e| e["subject"] == "user:ivan.petrov" && e["you"] == true));
    assert!(!seen.iter().any(|s| s.starts_with("team:")), "teams of 2 are withheld: {seen:?}");
    assert!(ivan["withheld"].as_array().unwrap().len() == 2, "{ivan}");
    // The pseudonym is stable within the period and differs in another.
    assert_eq!(
        names(&board(&g, "jade.nguyen", "period=2026-11").await)
            .iter()
            .filter(|s| s.starts_with("anon-"))
            .collect::<Vec<_>>(),
        anon
    );
    let october = names(&board(&g, "ivan.petrov", "period=2026-10").await);
    assert_eq!(october.len(), 1, "{october:?}");
    assert!(october[0].starts_with("anon-") && &october[0] != anon[0], "{october:?}");

    // Sales sees its own people; a private team's member sees only themself of their team.
    let paula = names(&board(&g, "paula.costa", "period=2026-11").await);
    assert!(paula.contains(&"user:quentin.roux".to_string()), "{paula:?}");
    let emil = names(&board(&g, "emil.berg", "period=2026-11").await);
    assert!(
        emil.contains(&"user:emil.berg".to_string()) && !emil.contains(&"user:carl.johansson".to_string()),
        "{emil:?}"
    );

    // Governance: team-only people by name, small teams' rows, but never a private scorecard.
    let omar = names(&board(&g, "omar.haddad", "period=2026-11").await);
    assert!(omar.contains(&"user:paula.costa".to_string()) && omar.contains(&"team:support".to_string()), "{omar:?}");
    assert!(!omar.iter().any(|s| s.contains("emil.berg") || s.contains("carl.johansson")), "{omar:?}");

    // A team board keeps to that team.
    let support = names(&board(&g, "omar.haddad", "period=2026-11&scope=team:support").await);
    assert_eq!(support, vec!["user:ivan.petrov", "user:jade.nguyen", "team:support"]);
    let a = Client::new(&g, g.key("ivan.petrov", None)).get("/api/v1/leaderboard?scope=team:nowhere").await;
    assert_eq!(a.status, 400, "{}", a.body);
}
