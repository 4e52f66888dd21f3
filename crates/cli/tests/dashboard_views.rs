//! Governance's and finance's dashboard pages against the real binary: each
//! role sees exactly what the API would show it (a member gets 403 pages, a
//! manager their own team's chargeback, finance no governance page), a
//! blocked card number shows up under its kind and use case, an incident is
//! opened from a form only with the session's CSRF token, the audit log
//! verifies and names the policy's digest, and the downloads are CSV files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{Client, Gateway};

fn http() -> reqwest::Client {
    tokenwise_server::install_crypto();
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// A session cookie (`tw_session=…`) for `user`.
async fn session(g: &Gateway, user: &str) -> String {
    let key = g.key(user, None);
    let r =
        http().post(format!("{}/login", g.url)).form(&[("api_key", key.as_str()), ("next", "/")]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    r.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string()
}

async fn get(g: &Gateway, path: &str, cookie: &str) -> reqwest::Response {
    http().get(format!("{}{path}", g.url)).header(COOKIE, cookie).send().await.unwrap()
}

async fn page(g: &Gateway, path: &str, cookie: &str) -> (u16, String) {
    let r = get(g, path, cookie).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token");
    html[at + 20..].split('"').next().unwrap().to_string()
}

const GOVERNANCE: [&str; 5] =
    ["/governance", "/governance/violations", "/governance/models", "/governance/audit", "/governance/policy"];

#[tokio::test]
async fn each_role_opens_only_the_views_its_role_may_see() {
    let g = Gateway::start();
    let member = session(&g, "ivan.petrov").await;
    for path in GOVERNANCE.iter().chain(&["/finance", "/finance/chargeback.csv", "/finance/focus.csv"]) {
        let (status, html) = page(&g, path, &member).await;
        assert_eq!(status, 403, "a member opening {path}");
        assert!(html.contains("Not for your role"), "{path}: {html}");
    }
    let (_, me) = page(&g, "/me", &member).await;
    assert!(!me.contains("href=\"/governance\"") && !me.contains("href=\"/finance\""), "no links to refused pages");

    let finance = session(&g, "carl.johansson").await;
    for path in GOVERNANCE {
        assert_eq!(page(&g, path, &finance).await.0, 403, "finance opening {path}");
    }
    let (status, html) = page(&g, "/finance", &finance).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Reconcile with the provider"), "finance may reconcile");

    let manager = session(&g, "lucia.fernandez").await;
    assert_eq!(page(&g, "/governance", &manager).await.0, 403);
    let (status, html) = page(&g, "/finance", &manager).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("team support"), "a manager's finance page is their team's");
    assert!(!html.contains("Reconcile with the provider"), "a provider's bill is the whole org's");

    let governance = session(&g, "omar.haddad").await;
    for path in GOVERNANCE.iter().chain(&["/finance"]) {
        let (status, html) = page(&g, path, &governance).await;
        assert_eq!(status, 200, "governance opening {path}: {html}");
    }
    // Landing pages per role.
    let key = g.key("omar.haddad", None);
    let r = http().post(format!("{}/login", g.url)).form(&[("api_key", key.as_str())]).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/governance");
    let key = g.key("carl.johansson", None);
    let r = http().post(format!("{}/login", g.url)).form(&[("api_key", key.as_str())]).send().await.unwrap();
    assert_eq!(r.headers()[LOCATION], "/finance");
}

#[tokio::test]
async fn a_blocked_card_number_is_a_violation_of_its_kind_and_use_case() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "claude-haiku-4-5", "max_tokens": 20,
                      "messages": [{"role": "user", "content": "card 4111 1111 1111 1111 was charged twice"}]});
    assert_eq!(c.post("/v1/messages", body, &[]).await.status, 403);
    let governance = session(&g, "omar.haddad").await;
    let (status, html) = page(&g, "/governance/violations", &governance).await;
    assert_eq!(status, 200, "{html}");
    let kinds = html.split("By kind of finding").nth(1).unwrap();
    let card = kinds.split("<th scope=\"row\">credit card</th>").nth(1).expect("the card's kind is listed");
    let cells: Vec<&str> =
        card.split("<td class=\"num\">").skip(1).take(5).map(|c| c.split('<').next().unwrap()).collect();
    // Calls, then (after the share) redacted, rerouted, blocked.
    assert_eq!(cells[0], "1", "{card}");
    assert_eq!(&cells[1..4], ["0", "0", "1"], "{card}");
    let cases = html.split("By kind and use case").nth(1).unwrap();
    assert!(cases.contains("<td>support-reply</td>"), "{cases}");
    // Members never see it.
    let member = session(&g, "ivan.petrov").await;
    assert_eq!(page(&g, "/governance/violations", &member).await.0, 403);
}

#[tokio::test]
async fn the_audit_log_verifies_and_the_policy_page_shows_its_digest() {
    let g = Gateway::start();
    let governance = session(&g, "omar.haddad").await;
    // Audit entries are appended in the background, a commit or two after
    // what they record: give the login's a moment to land.
    let (mut status, mut html) = page(&g, "/governance/audit", &governance).await;
    for _ in 0..50 {
        if html.contains("<code>dashboard.login</code>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        (status, html) = page(&g, "/governance/audit", &governance).await;
    }
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<strong>Verified:</strong> all"), "{html}");
    assert!(html.contains("<code>dashboard.login</code>"), "the login itself is on the record");
    let digest = hex::encode(Sha256::digest(std::fs::read(&g.policy).unwrap()));
    let (_, policy) = page(&g, "/governance/policy", &governance).await;
    assert!(policy.contains(&digest), "the page shows the file's SHA-256");
    let (_, loads) = page(&g, "/governance/audit?action=policy.load", &governance).await;
    assert!(loads.contains(&digest), "the same digest as the policy.load entry");
    assert!(!loads.contains("<code>dashboard.login</code>"), "filtered to one action");
}

#[tokio::test]
async fn opening_an_incident_needs_the_sessions_token_and_a_real_flag() {
    let g = Gateway::start();
    let governance = session(&g, "omar.haddad").await;
    let (_, html) = page(&g, "/governance", &governance).await;
    let token = csrf_of(&html);
    let form = |t: &str| {
        vec![
            ("_csrf", t.to_string()),
            ("anomaly", "anm_nope".into()),
            ("title", "x".into()),
            ("category", "other".into()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| {
        http().post(format!("{}/governance/incidents", g.url)).header(COOKIE, &governance).form(&f).send()
    };
    assert_eq!(post(form("forged")).await.unwrap().status(), 403, "a wrong token is refused");
    let r = post(form(&token)).await.unwrap();
    assert_eq!(r.status(), 400, "the application refuses a flag that does not exist");
    assert!(r.text().await.unwrap().contains("anm_nope"));
    // A member's session cannot open one, even with its own token.
    let member = session(&g, "ivan.petrov").await;
    let (_, me) = page(&g, "/me", &member).await;
    let r = http()
        .post(format!("{}/governance/incidents", g.url))
        .header(COOKIE, &member)
        .form(&[
            ("_csrf", csrf_of(&me)),
            ("anomaly", "anm_nope".into()),
            ("title", "x".into()),
            ("category", "other".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn finance_downloads_the_chargeback_and_focus_as_csv_files() {
    let g = Gateway::start();
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = c
        .post(
            "/v1/chat/completions",
            json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hello"}]}),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let finance = session(&g, "carl.johansson").await;
    let (_, html) = page(&g, "/finance", &finance).await;
    assert!(html.contains("Customer Support"), "the team that spent is on the chargeback");
    assert!(html.contains("aria-label=\"Chargeback by team"), "with its chart");
    for (path, name) in [("/finance/chargeback.csv", "chargeback"), ("/finance/focus.csv", "focus")] {
        let r = get(&g, path, &finance).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
        let disposition = r.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_string();
        assert!(disposition.starts_with(&format!("attachment; filename=\"tokenwise-{name}-")), "{disposition}");
        let text = r.text().await.unwrap();
        assert!(text.lines().count() >= 2, "a header and the call's row: {text}");
    }
    let api: serde_json::Value = http()
        .get(format!("{}/api/v1/reports/chargeback?format=csv", g.url))
        .bearer_auth(g.key("carl.johansson", None))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(serde_json::Value::String)
        .unwrap();
    let page_csv = get(&g, "/finance/chargeback.csv", &finance).await.text().await.unwrap();
    assert_eq!(api.as_str().unwrap(), page_csv, "the same CSV as the API's");
}

#[tokio::test]
async fn governance_sees_each_pilot_and_promotes_it_from_its_page() {
    let g = Gateway::start();
    let member = session(&g, "ben.carter").await;
    assert_eq!(page(&g, "/governance/pilots", &member).await.0, 403, "a member of the cohort gets a 403 page");
    let governance = session(&g, "omar.haddad").await;
    let (status, html) = page(&g, "/governance/pilots", &governance).await;
    assert_eq!(status, 200);
    assert!(html.contains("efficiency-first"), "{html}");
    assert!(html.contains("spend per outcome"), "the headline in plain words: {html}");
    assert!(html.contains("token burn"), "the guard metrics: {html}");
    let promote = |t: String| {
        http()
            .post(format!("{}/governance/pilots/efficiency-first/promote", g.url))
            .header(COOKIE, &governance)
            .form(&[("_csrf", t)])
            .send()
    };
    assert_eq!(promote("forged".into()).await.unwrap().status(), 403);
    let r = promote(csrf_of(&html)).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/governance/pilots?done=promoted");
    let (_, after) = page(&g, "/governance/pilots", &governance).await;
    assert!(after.contains("Promoted by omar.haddad"), "{after}");
    assert!(!after.contains("/governance/pilots/efficiency-first/promote"), "decided once: no more buttons");
}
