//! The JSON API's new surface tried as its users would, and as a hostile
//! one would: approvers list what waits for them; nobody sees exceptions
//! they have no business with; bad filters are refused in the contract's
//! shape; the clock moves only when the server runs on a manual clock, and
//! only for an admin.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use support::{Client, Gateway};

fn ids(v: &Value) -> Vec<String> {
    v["exceptions"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn approvers_list_what_waits_for_them_and_nobody_sees_what_is_not_theirs() {
    let g = Gateway::start();
    let as_ = |user: &str| Client::new(&g, g.key(user, None));
    let (ivan, jade, lucia, tom, omar) =
        (as_("ivan.petrov"), as_("jade.nguyen"), as_("lucia.fernandez"), as_("tom.becker"), as_("omar.haddad"));
    let ask = |scope: &str| {
        json!({"scope": scope, "reason_code": "customer-escalation", "cap_usd": "5",
               "justification": "Escalated enterprise ticket needs several drafts today", "duration_hours": 4})
    };
    let mine = ivan.post("/api/v1/exceptions", ask("user:ivan.petrov"), &[]).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    let mine = mine.json()["id"].as_str().unwrap().to_string();
    let team =
        lucia.post("/api/v1/exceptions", ask("team:support"), &[]).await.json()["id"].as_str().unwrap().to_string();

    // Lucía (support's manager) decides Ivan's, not her own team request.
    let waiting = lucia.get("/api/v1/exceptions?status=pending&decidable=true").await;
    assert_eq!(waiting.status, 200, "{}", waiting.body);
    assert_eq!(ids(&waiting.json()), std::slice::from_ref(&mine));
    // Governance decides both; Tom (sales) neither, and sees neither.
    assert_eq!(ids(&omar.get("/api/v1/exceptions?decidable=true").await.json()), [team.clone(), mine.clone()]);
    assert!(ids(&tom.get("/api/v1/exceptions").await.json()).is_empty());
    assert_eq!(tom.get(&format!("/api/v1/exceptions/{mine}")).await.status, 404);
    // Ivan sees his own request; Jade, a colleague, sees neither of them.
    assert_eq!(ivan.get(&format!("/api/v1/exceptions/{mine}")).await.json()["requested_by"], "ivan.petrov");
    assert!(ids(&jade.get("/api/v1/exceptions").await.json()).is_empty());
    assert_eq!(jade.get(&format!("/api/v1/exceptions/{mine}")).await.status, 404);
    assert_eq!(jade.get("/api/v1/exceptions/exc_does_not_exist").await.status, 404);
    // By scope, and once decided, by status.
    assert_eq!(ids(&omar.get("/api/v1/exceptions?scope=team:support").await.json()), std::slice::from_ref(&team));
    assert_eq!(lucia.post(&format!("/api/v1/exceptions/{mine}/approve"), json!({}), &[]).await.status, 200);
    assert_eq!(ids(&lucia.get("/api/v1/exceptions?status=approved").await.json()), std::slice::from_ref(&mine));
    assert!(ids(&lucia.get("/api/v1/exceptions?status=pending&decidable=true").await.json()).is_empty());

    // Bad filters and bodies are refused in the contract's shape.
    for bad in [
        "/api/v1/exceptions?status=maybe",
        "/api/v1/exceptions?scope=person:x",
        "/api/v1/exceptions?decidable=perhaps",
        "/api/v1/exceptions?sort=desc",
    ] {
        let a = omar.get(bad).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
        assert_eq!(a.json()["error"]["code"], "invalid_request", "{bad}");
    }
    let a = ivan.post("/api/v1/exceptions", json!({"scope": "user:ivan.petrov", "oops": 1}), &[]).await;
    assert_eq!((a.status, &a.json()["error"]["code"]), (400, &json!("invalid_request")), "{}", a.body);
    let a = ivan.post("/api/v1/exceptions", ask("user:nobody"), &[]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    // No key, or someone else's made up: 401 in the same shape.
    let anon = Client { key: String::new(), ..as_("ivan.petrov") };
    let a = anon.get("/api/v1/exceptions").await;
    assert_eq!((a.status, &a.json()["error"]["code"]), (401, &json!("unauthorized")));
    // The clock cannot be moved on a server that runs on the system clock.
    let hugo = as_("hugo.martin");
    assert_eq!(hugo.post("/api/v1/admin/clock", json!({"advance_secs": 60}), &[]).await.status, 404);
}

#[tokio::test]
async fn only_an_admin_moves_a_manual_clock_and_only_by_sane_steps() {
    let g = Gateway::start_manual(|s| s);
    let lucia = Client::new(&g, g.key("lucia.fernandez", None));
    let hugo = Client::new(&g, g.key("hugo.martin", None));
    assert_eq!(lucia.post("/api/v1/admin/clock", json!({"advance_secs": 60}), &[]).await.status, 403);
    let before = hugo.post("/api/v1/admin/clock", json!({}), &[]).await.json()["now"].clone();
    for bad in [
        json!({"advance_secs": -1}),
        json!({"advance_secs": 1e300}),
        json!({"advance_secs": 1, "set": "2026-01-01T00:00:00Z"}),
        json!({"set": "yesterday"}),
    ] {
        let a = hugo.post("/api/v1/admin/clock", bad.clone(), &[]).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
    let after = hugo.post("/api/v1/admin/clock", json!({"advance_secs": 90}), &[]).await.json()["now"].clone();
    let t = |v: &Value| v.as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    assert_eq!(t(&after).duration_since(t(&before)).as_secs(), 90, "nothing moved it but the admin");
}
