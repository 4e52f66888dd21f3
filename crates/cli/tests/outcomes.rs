//! Outcomes, end to end against the real binary: a person reports the
//! result of a task they ran through the gateway; their manager validates
//! it once — never the person, never a stranger; an integration posts
//! signed outcomes with no key, and a bad, missing or stale signature is
//! refused; an outcome with no metered call behind it is accepted but
//! marked; a rejection is appealed once and governance decides; every step
//! is in the audit log; malformed reports are refused in the contract's
//! error shape.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{Answer, Client, Gateway, HELPDESK_SECRET};

/// Rows of the audit log with this action and subject: (actor, details).
/// The auditor writes in the background: waits up to 5 s for one.
async fn audited(g: &Gateway, action: &str, subject: &str) -> Vec<(String, Value)> {
    for _ in 0..50 {
        let conn = rusqlite::Connection::open(&g.db).unwrap();
        let rows: Vec<(String, Value)> = conn
            .prepare("SELECT actor, details FROM audit_log WHERE action = ?1 AND subject = ?2 ORDER BY seq")
            .unwrap()
            .query_map([action, subject], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(|r| {
                let (actor, details) = r.unwrap();
                (actor, serde_json::from_str(&details).unwrap())
            })
            .collect();
        if !rows.is_empty() {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

fn report(task: &str, hours: f64) -> Value {
    json!({"task": task, "use_case": "support-reply", "kind": "ticket_resolved", "value_hours": hours,
           "evidence": "https://helpdesk.acme.example/tickets/1042", "quality": 4, "escalated": false, "error": false})
}

/// A call through the gateway carrying `task`.
async fn call(c: &Client, task: &str) {
    let body = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Where is my refund?"}]});
    let a = c.post("/v1/chat/completions", body, &[("x-tokenwise-task", task)]).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

/// Reports and returns the outcome's id, asserting the answer's shape.
async fn reported(c: &Client, body: Value, metered: bool) -> String {
    let a = c.post("/api/v1/outcomes", body, &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "metered", "status"], "the contract's id and status, and metered: {v}");
    assert_eq!((&v["status"], &v["metered"]), (&json!("pending"), &json!(metered)), "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("out_"), "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn assert_error(a: &Answer, status: u16, code: &str, says: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    let v = a.json();
    assert_eq!((&v["type"], &v["error"]["code"]), (&json!("error"), &json!(code)), "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(says), "{says:?} not in {msg:?}");
}

#[tokio::test]
async fn an_outcome_is_validated_once_by_the_manager_and_never_by_its_person_or_a_stranger() {
    let g = Gateway::start();
    let as_ = |user: &str| Client::new(&g, g.key(user, Some("support-reply")));
    let (ivan, jade, lucia) = (as_("ivan.petrov"), as_("jade.nguyen"), as_("lucia.fernandez"));
    let (tom, omar) = (Client::new(&g, g.key("tom.becker", None)), Client::new(&g, g.key("omar.haddad", None)));

    // Ivan resolves a ticket with the gateway's help, then reports it.
    call(&ivan, "T-1042").await;
    let done = reported(&ivan, report("T-1042", 0.25), true).await;
    // A task no call of his carried is accepted, but marked.
    let claimed = reported(
        &ivan,
        json!({"user": "ivan.petrov", "task": "T-404", "use_case": "support-reply",
                                         "kind": "ticket_resolved", "value_usd": "30"}),
        false,
    )
    .await;
    // Jade's call on T-1042 does not meter Ivan's work, nor his hers.
    call(&jade, "T-77").await;
    reported(
        &jade,
        json!({"task": "T-1042", "use_case": "support-reply", "kind": "ticket_resolved",
                            "value_hours": 0.1}),
        false,
    )
    .await;

    let view = ivan.get(&format!("/api/v1/outcomes/{done}")).await.json();
    assert_eq!(
        (&view["user"], &view["team"], &view["status"]),
        (&json!("ivan.petrov"), &json!("support"), &json!("pending"))
    );
    assert_eq!(view["value_usd"], "21.25", "0.25 h at Acme's $85.00 an hour: {view}");
    assert_eq!((&view["value_hours"], &view["metered"], &view["signed"]), (&json!(0.25), &json!(true), &json!(false)));
    assert_eq!(view["reported_by"], "ivan.petrov");
    let view = ivan.get(&format!("/api/v1/outcomes/{claimed}")).await.json();
    assert_eq!((&view["metered"], &view["value_usd"]), (&json!(false), &json!("30.00")), "{view}");

    // Lucía's backlog: her team's pending outcomes.
    let backlog = lucia.get("/api/v1/outcomes?status=pending").await;
    assert_eq!(backlog.status, 200, "{}", backlog.body);
    assert_eq!(backlog.json()["outcomes"].as_array().unwrap().len(), 3, "{}", backlog.body);
    let ivans = lucia.get("/api/v1/outcomes?user=ivan.petrov&task=T-1042").await.json();
    assert_eq!(ivans["outcomes"][0]["id"], done.as_str());
    // Members see their own only; a manager no other team's.
    assert_eq!(jade.get("/api/v1/outcomes").await.json()["outcomes"].as_array().unwrap().len(), 1);
    assert_error(
        &jade.get("/api/v1/outcomes?user=ivan.petrov").await,
        403,
        "policy_violation",
        "another person's outcomes",
    );
    assert_error(&tom.get("/api/v1/outcomes?team=support").await, 403, "policy_violation", "another team's outcomes");
    assert_eq!(tom.get(&format!("/api/v1/outcomes/{done}")).await.status, 404);
    // Nobody reports for a colleague, except their manager.
    let for_jade = json!({"user": "jade.nguyen", "task": "T-5", "use_case": "support-reply", "kind": "ticket_resolved", "value_hours": 1});
    assert_error(
        &ivan.post("/api/v1/outcomes", for_jade.clone(), &[]).await,
        403,
        "policy_violation",
        "may not report outcomes for `jade.nguyen`",
    );
    reported(&lucia, for_jade, false).await;

    // Ivan may not validate his own, whatever he sends; Jade and Tom (the
    // sales manager) have no say; each is told who does.
    let yes = json!({"decision": "validated", "quality": 5});
    let path = format!("/api/v1/outcomes/{done}/validate");
    assert_error(
        &ivan.post(&path, yes.clone(), &[]).await,
        403,
        "policy_violation",
        "nobody validates their own outcome",
    );
    assert_error(
        &jade.post(&path, yes.clone(), &[]).await,
        403,
        "policy_violation",
        "`lucia.fernandez` (manager of support)",
    );
    assert_error(&tom.post(&path, yes.clone(), &[]).await, 403, "policy_violation", "are decided by `lucia.fernandez`");

    // Lucía validates it; a second decision, even governance's, is a conflict.
    let a = lucia.post(&path, yes.clone(), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(
        (&v["status"], &v["decided_by"], &v["decided_quality"]),
        (&json!("validated"), &json!("lucia.fernandez"), &json!(5))
    );
    assert_error(&omar.post(&path, json!({"decision": "rejected"}), &[]).await, 409, "conflict", "already validated");
    assert_error(&lucia.post(&path, yes, &[]).await, 409, "conflict", "already validated");
    assert_eq!(ivan.get(&format!("/api/v1/outcomes/{done}")).await.json()["status"], "validated");
    // Governance may decide too: Omar rejects the unmetered claim.
    let a = omar
        .post(&format!("/api/v1/outcomes/{claimed}/validate"), json!({"decision": "rejected", "quality": 1}), &[])
        .await;
    assert_eq!((a.status, &a.json()["status"]), (200, &json!("rejected")), "{}", a.body);
    assert_error(
        &lucia.post("/api/v1/outcomes/out_nope/validate", json!({"decision": "validated"}), &[]).await,
        404,
        "not_found",
        "no outcome",
    );

    // Every step is audited, by whom it was taken.
    let r = audited(&g, "outcome.report", &done).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, "ivan.petrov");
    assert_eq!(
        (&r[0].1["task"], &r[0].1["metered"], &r[0].1["value_usd"]),
        (&json!("T-1042"), &json!(true), &json!("21.25"))
    );
    let v = audited(&g, "outcome.validate", &done).await;
    assert_eq!((v.len(), v[0].0.as_str(), &v[0].1["quality"]), (1, "lucia.fernandez", &json!(5)), "{v:?}");
    let x = audited(&g, "outcome.reject", &claimed).await;
    assert_eq!((x.len(), x[0].0.as_str()), (1, "omar.haddad"), "{x:?}");
}

#[tokio::test]
async fn a_rejection_is_appealed_once_and_governance_decides() {
    let g = Gateway::start();
    let as_ = |user: &str| Client::new(&g, g.key(user, Some("support-reply")));
    let (ivan, jade, lucia) = (as_("ivan.petrov"), as_("jade.nguyen"), as_("lucia.fernandez"));
    let (omar, priya) = (Client::new(&g, g.key("omar.haddad", None)), Client::new(&g, g.key("priya.nair", None)));
    call(&ivan, "T-2001").await;
    let pending = reported(&ivan, report("T-2001", 0.5), true).await;
    let rejected = reported(&ivan, report("T-2001", 0.5), true).await;
    let a = lucia
        .post(&format!("/api/v1/outcomes/{rejected}/validate"), json!({"decision": "rejected", "quality": 2}), &[])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    let appeal = |id: &str| json!({"subject": format!("outcome:{id}"), "comment": "The customer confirmed the refund in the ticket"});
    // Only a rejected outcome, only by its person, only outcomes for now.
    assert_error(
        &ivan.post("/api/v1/appeals", appeal(&pending), &[]).await,
        400,
        "invalid_request",
        "only a rejected outcome can be appealed",
    );
    assert_error(&jade.post("/api/v1/appeals", appeal(&rejected), &[]).await, 404, "not_found", "no outcome");
    assert_error(
        &lucia.post("/api/v1/appeals", appeal(&rejected), &[]).await,
        403,
        "policy_violation",
        "only `ivan.petrov`",
    );
    // Flags are appealed the same way (crates/cli/tests/anomalies.rs); one
    // that was never raised does not exist.
    let anomaly = json!({"subject": "anomaly:an_1", "comment": "I was on call, the spike is the incident"});
    assert_error(&ivan.post("/api/v1/appeals", anomaly, &[]).await, 404, "not_found", "no anomaly `an_1`");
    let vague = json!({"subject": format!("outcome:{rejected}"), "comment": "no"});
    assert_error(&ivan.post("/api/v1/appeals", vague, &[]).await, 400, "invalid_request", "comment");

    // Ivan appeals once.
    let a = ivan.post("/api/v1/appeals", appeal(&rejected), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let filed = a.json();
    assert_eq!((&filed["status"], &filed["subject"]), (&json!("open"), &json!(format!("outcome:{rejected}"))));
    let id = filed["id"].as_str().unwrap().to_string();
    assert_error(&ivan.post("/api/v1/appeals", appeal(&rejected), &[]).await, 409, "conflict", "appealed already");
    // He and his manager see it; a colleague does not.
    assert_eq!(ivan.get("/api/v1/appeals").await.json()["appeals"][0]["id"], id.as_str());
    assert_eq!(lucia.get("/api/v1/appeals?status=open").await.json()["appeals"].as_array().unwrap().len(), 1);
    assert!(jade.get("/api/v1/appeals").await.json()["appeals"].as_array().unwrap().is_empty());

    // Governance decides: not the manager who rejected, not the appellant.
    let uphold = json!({"decision": "upheld", "comment": "The ticket shows the customer's confirmation"});
    let path = format!("/api/v1/appeals/{id}/decide");
    assert_error(
        &lucia.post(&path, uphold.clone(), &[]).await,
        403,
        "policy_violation",
        "appeals are decided by governance (`omar.haddad`, `priya.nair`)",
    );
    assert_error(
        &ivan.post(&path, uphold.clone(), &[]).await,
        403,
        "policy_violation",
        "appeals are decided by governance",
    );
    let a = omar.post(&path, uphold.clone(), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let decided = a.json();
    assert_eq!((&decided["status"], &decided["decided_by"]), (&json!("upheld"), &json!("omar.haddad")));
    // Upheld: the outcome is validated, by governance, in the same step.
    let o = ivan.get(&format!("/api/v1/outcomes/{rejected}")).await.json();
    assert_eq!((&o["status"], &o["decided_by"]), (&json!("validated"), &json!("omar.haddad")), "{o}");
    // Decided once.
    let dismiss = json!({"decision": "dismissed", "comment": "On second thought the evidence is thin"});
    assert_error(&priya.post(&path, dismiss, &[]).await, 409, "conflict", "already upheld");
    assert_error(
        &priya.post(&path, json!({"decision": "maybe", "comment": "Not sure about this one"}), &[]).await,
        400,
        "invalid_request",
        "unknown variant",
    );

    let f = audited(&g, "appeal.file", &id).await;
    assert_eq!(
        (f.len(), f[0].0.as_str(), &f[0].1["rejected_by"]),
        (1, "ivan.petrov", &json!("lucia.fernandez")),
        "{f:?}"
    );
    let d = audited(&g, "appeal.decide", &id).await;
    assert_eq!((d.len(), d[0].0.as_str(), &d[0].1["decision"]), (1, "omar.haddad", &json!("upheld")), "{d:?}");
    let v = audited(&g, "outcome.validate", &rejected).await;
    assert_eq!((v.len(), v[0].0.as_str(), &v[0].1["appeal"]), (1, "omar.haddad", &json!(id)), "{v:?}");
    assert_eq!(audited(&g, "outcome.reject", &rejected).await.len(), 1);
}

fn now_secs() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts `body` as an integration would: no API key, signed headers.
async fn post_signed(g: &Gateway, body: &[u8], headers: &[(&str, String)]) -> Answer {
    tokenwise_server::install_crypto();
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/outcomes", g.url))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    answer(req.send().await.unwrap()).await
}

async fn answer(r: reqwest::Response) -> Answer {
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    Answer { status, headers, body: r.text().await.unwrap() }
}

fn signed_by(integration: &str, secret: &str, at: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let ts = at.to_string();
    vec![
        ("x-tokenwise-integration", integration.to_string()),
        ("x-tokenwise-timestamp", ts.clone()),
        ("x-tokenwise-signature", signature(secret, &ts, body)),
    ]
}

#[tokio::test]
async fn an_integration_posts_signed_outcomes_and_bad_or_stale_signatures_are_refused() {
    // A second integration whose secret is not in the server's environment.
    let g = Gateway::start_with(|s| {
        s + "\n[[integrations]]\nid = \"code-host\"\nsecret_env = \"TOKENWISE_TEST_UNSET_CODE_HOST_SECRET\"\n"
    });
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    call(&ivan, "T-3003").await;
    let body = serde_json::to_vec(&json!({"task": "T-3003", "user": "ivan.petrov", "use_case": "support-reply",
                                          "kind": "ticket_resolved", "value_hours": 0.25,
                                          "evidence": "helpdesk:3003", "escalated": true}))
    .unwrap();

    let a = post_signed(&g, &body, &signed_by("helpdesk", HELPDESK_SECRET, now_secs(), &body)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!((&v["status"], &v["metered"]), (&json!("pending"), &json!(true)), "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let lucia = Client::new(&g, g.key("lucia.fernandez", None));
    let o = lucia.get(&format!("/api/v1/outcomes/{id}")).await.json();
    assert_eq!(
        (&o["reported_by"], &o["signed"], &o["status"]),
        (&json!("integration:helpdesk"), &json!(true), &json!("pending")),
        "{o}"
    );
    assert_eq!((&o["user"], &o["escalated"]), (&json!("ivan.petrov"), &json!(true)));
    let r = audited(&g, "outcome.report", &id).await;
    assert_eq!((r.len(), r[0].0.as_str(), &r[0].1["signed"]), (1, "integration:helpdesk", &json!(true)), "{r:?}");
    // Still the manager's to validate.
    let a = lucia.post(&format!("/api/v1/outcomes/{id}/validate"), json!({"decision": "validated"}), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);

    let now = now_secs();
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let refusals: Vec<(&str, Answer, &str)> = vec![
        (
            "a wrong secret",
            post_signed(&g, &body, &signed_by("helpdesk", "guessed", now, &body)).await,
            "does not match",
        ),
        (
            "a changed body",
            post_signed(&g, &tampered, &signed_by("helpdesk", HELPDESK_SECRET, now, &body)).await,
            "does not match",
        ),
        (
            "a stale timestamp",
            post_signed(&g, &body, &signed_by("helpdesk", HELPDESK_SECRET, now - 600, &body)).await,
            "timestamp",
        ),
        (
            "a future timestamp",
            post_signed(&g, &body, &signed_by("helpdesk", HELPDESK_SECRET, now + 600, &body)).await,
            "timestamp",
        ),
        (
            "an unknown integration",
            post_signed(&g, &body, &signed_by("crm", HELPDESK_SECRET, now, &body)).await,
            "unknown integration `crm`",
        ),
        (
            "an integration with no secret",
            post_signed(&g, &body, &signed_by("code-host", "", now, &body)).await,
            "was not set",
        ),
        (
            "no signature",
            post_signed(&g, &body, &signed_by("helpdesk", HELPDESK_SECRET, now, &body)[..2]).await,
            "x-tokenwise-signature",
        ),
        (
            "a signature alone",
            post_signed(&g, &body, &signed_by("helpdesk", HELPDESK_SECRET, now, &body)[2..]).await,
            "names its integration",
        ),
        ("no key at all", post_signed(&g, &body, &[]).await, "no API key"),
    ];
    for (what, a, says) in &refusals {
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        let e = &a.json()["error"];
        assert_eq!(e["code"], "unauthorized", "{what}");
        assert!(e["message"].as_str().unwrap().contains(says), "{what}: {e}");
    }
    // A valid signature over a report with no user is refused as malformed.
    let no_user = serde_json::to_vec(
        &json!({"task": "T-3004", "use_case": "support-reply", "kind": "ticket_resolved", "value_hours": 1}),
    )
    .unwrap();
    let a = post_signed(&g, &no_user, &signed_by("helpdesk", HELPDESK_SECRET, now, &no_user)).await;
    assert_error(&a, 400, "invalid_request", "names its `user`");
    // Nothing refused was stored: one outcome, the first.
    assert_eq!(lucia.get("/api/v1/outcomes").await.json()["outcomes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_reports_and_decisions_are_refused_in_the_contracts_shape() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let lucia = Client::new(&g, g.key("lucia.fernandez", None));
    let good = report("T-9", 0.5);
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("hours as text", with("value_hours", json!("half an hour")), "value_hours"),
        ("a flag as text", with("escalated", json!("yes")), "escalated"),
        ("a task as a number", with("task", json!(5)), "task"),
        ("a misspelt field", with("valeu_usd", json!(3)), "unknown field `valeu_usd`"),
        ("quality 7", with("quality", json!(7)), "`quality` must be from 1 to 5"),
        ("quality 0", with("quality", json!(0)), "`quality` must be from 1 to 5"),
        ("quality 4.5", with("quality", json!(4.5)), "quality"),
        ("negative hours", with("value_hours", json!(-1)), "`value_hours` must be from 0"),
        ("absurd hours", with("value_hours", json!(1e9)), "`value_hours` must be from 0"),
        (
            "negative dollars",
            {
                let mut b = without("value_hours");
                b["value_usd"] = json!("-5");
                b
            },
            "negative",
        ),
        (
            "dollars as a list",
            {
                let mut b = without("value_hours");
                b["value_usd"] = json!([5]);
                b
            },
            "value_usd",
        ),
        (
            "absurd dollars",
            {
                let mut b = without("value_hours");
                b["value_usd"] = json!(5e7);
                b
            },
            "at most",
        ),
        ("both values", with("value_usd", json!("12.00")), "not both"),
        ("no value", without("value_hours"), "value_hours"),
        ("no task", without("task"), "missing field `task`"),
        ("a blank task", with("task", json!("   ")), "`task` must be 1 to 200"),
        ("a huge task", with("task", json!("T".repeat(201))), "`task` must be 1 to 200"),
        ("huge evidence", with("evidence", json!("x".repeat(20_000))), "`evidence` must be 1 to 2000"),
        ("a kind with spaces", with("kind", json!("ticket resolved")), "`kind`"),
        ("an unknown use case", with("use_case", json!("support-replies")), "unknown use case `support-replies`"),
        ("an unknown user", with("user", json!("nobody")), "unknown user `nobody`"),
    ];
    for (what, body, says) in cases {
        let a = ivan.post("/api/v1/outcomes", body, &[]).await;
        assert_eq!(a.status, 400, "{what}: {}", a.body);
        assert_error(&a, 400, "invalid_request", says);
    }
    // A use case the person may not use is refused as a policy matter.
    assert_error(
        &ivan.post("/api/v1/outcomes", with("use_case", json!("code-review")), &[]).await,
        403,
        "policy_violation",
        "may not use use case `code-review`",
    );
    // Not JSON at all.
    let a = answer(
        ivan.http
            .post(format!("{}/api/v1/outcomes", g.url))
            .bearer_auth(&ivan.key)
            .body("task=T-9")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&a, 400, "invalid_request", "bad request body");
    // No key.
    let anon = Client::new(&g, String::new());
    assert_error(&anon.post("/api/v1/outcomes", good.clone(), &[]).await, 401, "unauthorized", "no API key");
    // None of those was stored.
    assert!(lucia.get("/api/v1/outcomes").await.json()["outcomes"].as_array().unwrap().is_empty());

    // Decisions and filters.
    let id = reported(&ivan, good, false).await;
    let path = format!("/api/v1/outcomes/{id}/validate");
    for (body, says) in [
        (json!({"decision": "approved"}), "unknown variant `approved`"),
        (json!({"decision": "validated", "quality": 6}), "`quality` must be from 1 to 5"),
        (json!({"decision": "validated", "note": "ok"}), "unknown field `note`"),
        (json!({"quality": 3}), "missing field `decision`"),
    ] {
        assert_error(&lucia.post(&path, body, &[]).await, 400, "invalid_request", says);
    }
    for bad in ["/api/v1/outcomes?status=done", "/api/v1/outcomes?from=yesterday", "/api/v1/outcomes?sort=asc"] {
        assert_error(&lucia.get(bad).await, 400, "invalid_request", "");
    }
    assert_eq!(ivan.get(&format!("/api/v1/outcomes/{id}")).await.json()["status"], "pending", "nothing was decided");
}
