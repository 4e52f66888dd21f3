//! Anomalies and incidents, end to end against the real binary and real
//! gateway traffic through the mock provider: a prompt sent again and
//! again and a prompt reworded again and again are flagged with their
//! events; running detection again finds the same flags; people see their
//! own flags, managers their team's, governance all; the subject appeals
//! once and governance upholds, which suppresses the flag; new flags are
//! announced once each as signed webhooks; a flag shows on its subject's
//! score breakdown; governance records an incident linking a flag and
//! sees its effect on spend.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use support::{Client, Gateway};

async fn chat(c: &Client, prompt: &str) -> String {
    let body = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": prompt}]});
    let a = c.post("/v1/chat/completions", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.request_id()
}

async fn list(c: &Client, query: &str) -> Value {
    let a = c.get(&format!("/api/v1/anomalies?period=2026-11{query}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

fn ids(v: &Value) -> BTreeSet<String> {
    v["anomalies"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap().to_string()).collect()
}

fn of<'a>(v: &'a Value, detector: &str, user: &str) -> &'a Value {
    v["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["detector"] == detector && a["user"] == user)
        .unwrap_or_else(|| panic!("no {detector} flag for {user} in {v:#}"))
}

const TICKET: &str = "Please summarise ticket {} about a parcel that arrived late and damaged, then draft a polite \
    reply that apologises, offers a refund of the shipping fee and a discount code for the next order, and keep it \
    under five sentences signed by the Acme support team";

#[tokio::test]
async fn repeated_and_reworded_prompts_are_flagged_seen_by_role_appealed_alerted_and_reviewed() {
    let (hook, got) = support::webhook_sink().await;
    let g = Gateway::start_manual(|s| {
        s.replacen(
            "[server]",
            &format!("[alerts]\nwebhook_url = \"{hook}\"\nsecret_env = \"OPENAI_API_KEY\"\n\n[server]"),
            1,
        )
    });
    g.set_clock("2026-11-10T09:00:00Z").await;
    let as_ = |user: &str| Client::new(&g, g.key(user, Some("support-reply")));
    let (ivan, jade, kofi) = (as_("ivan.petrov"), as_("jade.nguyen"), as_("kofi.mensah"));
    let (lucia, tom) = (as_("lucia.fernandez"), Client::new(&g, g.key("tom.becker", None)));
    let (omar, carl) = (Client::new(&g, g.key("omar.haddad", None)), Client::new(&g, g.key("carl.johansson", None)));

    // Ivan's script sends one prompt twelve times; Jade rewords one request
    // six times; Kofi works normally.
    let mut ivan_calls = BTreeSet::new();
    for _ in 0..12 {
        ivan_calls.insert(chat(&ivan, "Is order 5512 refunded yet? Answer yes or no.").await);
    }
    let mut jade_calls = BTreeSet::new();
    for n in 0..6 {
        jade_calls.insert(chat(&jade, &TICKET.replace("{}", &format!("#{}", 4100 + n))).await);
    }
    for p in ["Translate 'thank you' into German", "What is our returns window?", "Draft a haiku about parcels"] {
        chat(&kofi, p).await;
    }

    // Each call's ledger row keeps a sketch of its last message (hex), never
    // the text.
    let row = ivan.event(ivan_calls.iter().next().unwrap()).await;
    assert!(row["prompt_minhash"].as_str().is_some_and(|h| h.len() == 16), "{row}");

    let all = list(&omar, "").await;
    assert_eq!(all["period"], "2026-11");
    assert_eq!(all["anomalies"].as_array().unwrap().len(), 2, "{all:#}");
    let rep = of(&all, "repeated_prompt", "ivan.petrov");
    assert_eq!(
        (&rep["subject"], &rep["team"], &rep["severity"]),
        (&json!("user:ivan.petrov"), &json!("support"), &json!("medium"))
    );
    let said = rep["explanation"].as_str().unwrap();
    assert!(said.contains("sent the same prompt") && said.contains("12 times on 2026-11-10"), "{said}");
    let cited: BTreeSet<String> =
        rep["evidence"]["event_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(cited, ivan_calls, "the evidence names the very calls");
    assert_eq!(rep["evidence"]["event_count"], 12);
    let near = of(&all, "near_duplicate_prompts", "jade.nguyen");
    assert!(near["explanation"].as_str().unwrap().contains("6 different but near-identical prompts"), "{near:#}");
    let cited: BTreeSet<String> =
        near["evidence"]["event_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(cited, jade_calls);
    let (rep_id, near_id) = (rep["id"].as_str().unwrap().to_string(), near["id"].as_str().unwrap().to_string());

    // Detecting again finds the same flags, not new ones.
    ivan_calls.insert(chat(&ivan, "Is order 5512 refunded yet? Answer yes or no.").await);
    let again = list(&omar, "").await;
    assert_eq!(ids(&again), ids(&all));
    assert!(of(&again, "repeated_prompt", "ivan.petrov")["explanation"].as_str().unwrap().contains("13 times"));

    // Who sees what: one's own, a manager their team's, governance all;
    // finance and other teams' managers nothing of others.
    assert_eq!(ids(&list(&ivan, "").await), BTreeSet::from([rep_id.clone()]));
    assert_eq!(ids(&list(&jade, "").await), BTreeSet::from([near_id.clone()]));
    assert_eq!(ids(&list(&lucia, "").await), ids(&all));
    assert!(ids(&list(&tom, "").await).is_empty());
    assert!(ids(&list(&carl, "").await).is_empty());
    assert!(ids(&list(&kofi, "").await).is_empty());

    // New flags were announced once each, signed.
    for _ in 0..50 {
        if got.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let posted = got.lock().unwrap().clone();
    assert_eq!(posted.len(), 2, "once each, however often detection runs: {posted:?}");
    for (sig, body) in &posted {
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["type"], "anomaly.detected");
        assert!([&rep_id, &near_id].contains(&&v["id"].as_str().unwrap().to_string()), "{v}");
        assert_eq!(*sig, format!("sha256={}", tokenwise_server::jobs::sign("sk-test-openai", body)));
    }

    // A flag shows on its subject's score breakdown, without changing it.
    let scores = omar.get("/api/v1/scores?period=2026-11").await;
    assert_eq!(scores.status, 200, "{}", scores.body);
    let board = scores.json();
    let jade_score = board["scores"].as_array().unwrap().iter().find(|s| s["subject"] == "user:jade.nguyen").unwrap();
    let line = jade_score["breakdown"].as_array().unwrap().iter().find(|l| l["axis"] == "anomaly").unwrap();
    assert!(line["fact"].as_str().unwrap().contains(&near_id), "{line}");
    assert_eq!(line["value"], 0.0);

    // Ivan appeals his flag, once; Kofi cannot; governance upholds.
    let why = "That was the refund status check my manager asked for each hour";
    let a = kofi.post("/api/v1/appeals", json!({"subject": format!("anomaly:{rep_id}"), "comment": why}), &[]).await;
    assert_eq!(a.status, 404, "a flag one may not see does not exist for them: {}", a.body);
    let a = ivan.post("/api/v1/appeals", json!({"subject": format!("anomaly:{rep_id}"), "comment": why}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let appeal = a.json()["id"].as_str().unwrap().to_string();
    let a = ivan.post("/api/v1/appeals", json!({"subject": format!("anomaly:{rep_id}"), "comment": why}), &[]).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(list(&ivan, "").await["anomalies"][0]["appeal"], "open");
    let ruling = json!({"decision": "upheld", "comment": "Agreed polling, not a loop"});
    let a = ivan.post(&format!("/api/v1/appeals/{appeal}/decide"), ruling.clone(), &[]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = omar.post(&format!("/api/v1/appeals/{appeal}/decide"), ruling, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let after = list(&omar, "").await;
    assert_eq!(ids(&after), BTreeSet::from([near_id.clone()]), "an upheld appeal suppresses the flag");
    assert_eq!(after["suppressed"], 1);
    assert!(ids(&list(&ivan, "").await).is_empty());
    let shown = list(&omar, "&include_suppressed=true").await;
    assert_eq!(of(&shown, "repeated_prompt", "ivan.petrov")["suppressed"], true);
    assert!(ids(&list(&ivan, "&include_suppressed=true").await).is_empty(), "only governance may look behind");

    // Governance reviews Jade's case as an incident; people may not.
    let incident = json!({"title": "Reworded ticket prompts", "category": "poor_experience",
                          "summary": "The approved template could not handle damaged parcels, so agents rewrote it",
                          "anomalies": [near_id], "actions": ["template support-refund@4 covers damage"]});
    let a = jade.post("/api/v1/incidents", incident.clone(), &[]).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = omar.post("/api/v1/incidents", json!({"title": "x", "category": "bad_luck"}), &[]).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = omar.post("/api/v1/incidents", incident, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let inc = a.json();
    assert_eq!(
        (&inc["status"], &inc["category"], &inc["subjects"]),
        (&json!("open"), &json!("poor_experience"), &json!(["jade.nguyen"]))
    );
    let id = inc["id"].as_str().unwrap().to_string();
    let a = omar
        .http
        .patch(format!("{}/api/v1/incidents/{id}", omar.base))
        .bearer_auth(&omar.key)
        .json(&json!({"status": "mitigated", "actions": ["agents briefed"], "note": "template v4 live"}))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
    let listed = jade.get("/api/v1/incidents?days=3").await.json();
    let mine = &listed["incidents"][0];
    assert_eq!((&mine["id"], &mine["status"]), (&json!(id), &json!("mitigated")));
    assert_eq!(mine["actions"].as_array().unwrap().len(), 2);
    let effects = &mine["effects"];
    assert_eq!(effects["daily_before_usd"].as_array().unwrap().len(), 3);
    assert_eq!(effects["spend_before_usd"], "0.00");
    assert_ne!(effects["spend_after_usd"], "0.00", "Jade's calls of the day: {effects}");
    assert!(tom.get("/api/v1/incidents").await.json()["incidents"].as_array().unwrap().is_empty());
}
