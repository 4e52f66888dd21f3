//! The dashboard against the real binary: an API key is exchanged for a
//! session cookie (HttpOnly, SameSite, Secure over https, expiring), a
//! role sees only its pages (a member's /team is a 403 page), every form
//! must carry the session's CSRF token, logout and key revocation end a
//! session, and the sign-on proxy's identity header counts only from the
//! addresses in `[dashboard] trusted_proxies`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use support::{Gateway, with_running_pilot};

fn http() -> reqwest::Client {
    tokenwise_server::install_crypto();
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

/// A form body, URL-encoded, as a browser sends it.
fn form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k.as_ref()), enc(v.as_ref()))).collect::<Vec<_>>().join("&")
}

trait Form {
    fn form_body(self, body: String) -> Self;
}

impl Form for reqwest::RequestBuilder {
    fn form_body(self, body: String) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded").body(body)
    }
}

fn with_proxies(list: &str) -> impl Fn(String) -> String {
    let section = format!("\n[dashboard]\ntrusted_proxies = [{list}]\nsession_hours = 8\n");
    move |s| s + &section
}

/// Logs in with `key`: the answer and the `tw_session=…` pair for a Cookie header.
async fn login(g: &Gateway, key: &str, extra: &[(&str, &str)]) -> (reqwest::Response, Option<String>) {
    let mut req = http().post(format!("{}/login", g.url)).form_body(form(&[("api_key", key), ("next", "/")]));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let pair = r.headers().get(SET_COOKIE).map(|c| c.to_str().unwrap().split(';').next().unwrap().trim().to_string());
    (r, pair)
}

async fn get(g: &Gateway, path: &str, cookie: &str) -> (u16, String) {
    let r = http().get(format!("{}{path}", g.url)).header(COOKIE, cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The CSRF token a page put in its forms.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token");
    html[at + 20..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn a_key_becomes_a_session_cookie_and_each_role_sees_its_pages() {
    let g = Gateway::start_with(with_proxies(""));
    let member = g.key("ivan.petrov", None);
    let manager = g.key("lucia.fernandez", None);

    // Not logged in: the login form, coming back afterwards.
    let r = http().get(format!("{}/me", g.url)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], "/login?next=/me");

    let (r, cookie) = login(&g, &member, &[]).await;
    assert_eq!(r.status(), 303, "a good key logs in");
    assert_eq!(r.headers()[LOCATION], "/me", "a member lands on their month");
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: no Secure, or the browser would drop it: {set}");
    assert!(!set.contains(&member), "the key itself never goes into the cookie");
    let cookie = cookie.unwrap();

    let (status, html) = get(&g, "/me", &cookie).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Ivan Petrov") && html.contains("My month"));
    assert!(!html.contains("href=\"/team\""), "no link to a page the member may not open");
    let (status, html) = get(&g, "/team", &cookie).await;
    assert_eq!(status, 403, "a member opening a manager's page gets 403, not an empty page");
    assert!(html.contains("Not for your role"), "{html}");

    let (r, cookie) = login(&g, &manager, &[]).await;
    assert_eq!(r.headers()[LOCATION], "/team", "a manager lands on their team");
    let (status, html) = get(&g, "/team", &cookie.unwrap()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Team support"));

    // Over https (as a TLS-terminating proxy says): the cookie is Secure.
    let (_, _) = login(&g, &member, &[]).await;
    let r = http()
        .post(format!("{}/login", g.url))
        .header("x-forwarded-proto", "https")
        .form_body(form(&[("api_key", member.as_str())]))
        .send()
        .await
        .unwrap();
    assert!(r.headers()[SET_COOKIE].to_str().unwrap().contains("; Secure"));

    // A bad key: the form again, 401, saying why; no cookie.
    let (r, cookie) = login(&g, "tw_not-a-real-key", &[]).await;
    assert_eq!(r.status(), 401);
    assert!(cookie.is_none());
    assert!(r.text().await.unwrap().contains("not one tokenwise knows"));
    // A login posted from another site is refused.
    let (r, cookie) = login(&g, &member, &[("origin", "https://evil.example")]).await;
    assert_eq!(r.status(), 403);
    assert!(cookie.is_none());
}

#[tokio::test]
async fn forms_need_the_sessions_csrf_token_and_logout_or_revocation_end_the_session() {
    let g = Gateway::start_with(|s| with_running_pilot(with_proxies("")(s)));
    let member = g.key("ivan.petrov", None);
    let (_, cookie) = login(&g, &member, &[]).await;
    let cookie = cookie.unwrap();
    let (_, html) = get(&g, "/me", &cookie).await;
    let token = csrf_of(&html);
    let post = |fields: Vec<(&'static str, String)>, cookie: Option<String>| {
        let mut req = http().post(format!("{}/me/feedback", g.url)).form_body(form(&fields));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send()
    };
    assert!(html.contains("You are in pilot support-outcomes"), "the cohort is asked: {html}");
    let answer = |t: &str| {
        vec![
            ("_csrf", t.to_string()),
            ("pilot", "support-outcomes".to_string()),
            ("about", "score".to_string()),
            ("answer", "confusing".to_string()),
        ]
    };

    let r = post(answer("forged"), Some(cookie.clone())).await.unwrap();
    assert_eq!(r.status(), 403, "a wrong token is refused");
    let r = post(vec![("answer", "confusing".into())], Some(cookie.clone())).await.unwrap();
    assert_eq!(r.status(), 403, "no token is refused");
    let r = post(answer(&token), None).await.unwrap();
    assert_eq!(r.status(), 401, "no session: 401");
    // Another session's token does not fit this one.
    let (_, other) = login(&g, &member, &[]).await;
    let (_, other_html) = get(&g, "/me", &other.unwrap()).await;
    let r = post(answer(&csrf_of(&other_html)), Some(cookie.clone())).await.unwrap();
    assert_eq!(r.status(), 403, "a token is bound to its session");

    let r = post(answer(&token), Some(cookie.clone())).await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    // Kept where pilots read it, through the API too.
    let kept: serde_json::Value = http()
        .get(format!("{}/api/v1/feedback", g.url))
        .bearer_auth(g.key("omar.haddad", None))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all = kept["feedback"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{kept}");
    assert_eq!((all[0]["user"].as_str(), all[0]["answer"].as_str()), (Some("ivan.petrov"), Some("confusing")));
    assert_eq!((all[0]["pilot"].as_str(), all[0]["about"].as_str()), (Some("support-outcomes"), Some("score")));
    // The same form again this week: a page saying so, nothing kept twice.
    let r = post(answer(&token), Some(cookie.clone())).await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("one answer a week per subject"));
    assert!(all[0]["rules_version"].as_str().is_some_and(|v| !v.is_empty()));

    // Logout ends the session on the server: the old cookie is worthless.
    let r = http()
        .post(format!("{}/logout", g.url))
        .header(COOKIE, &cookie)
        .form_body(form(&[("_csrf", token.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(get(&g, "/me", &cookie).await.0, 303, "a replayed cookie after logout goes to the login form");

    // Revoking the key ends the sessions it opened.
    let (_, cookie) = login(&g, &member, &[]).await;
    let cookie = cookie.unwrap();
    assert_eq!(get(&g, "/me", &cookie).await.0, 200);
    let listed = g.keys(&["list", "--user", "ivan.petrov"]);
    let id =
        String::from_utf8_lossy(&listed.stdout).split_whitespace().find(|w| w.starts_with("key_")).unwrap().to_string();
    assert!(g.keys(&["revoke", &id]).status.success());
    assert_eq!(get(&g, "/me", &cookie).await.0, 303, "a revoked key's session is over");
}

#[tokio::test]
async fn the_identity_header_counts_only_from_a_trusted_proxy() {
    // 127.0.0.1 is not a trusted proxy here: the header is ignored.
    let g = Gateway::start_with(with_proxies("\"10.1.2.3\""));
    let r = http().get(format!("{}/me", g.url)).header("x-forwarded-user", "lucia.fernandez").send().await.unwrap();
    assert_eq!(r.status(), 303, "not logged in by a header from an untrusted address");
    assert!(r.headers().get(SET_COOKIE).is_none());
    drop(g);

    let g = Gateway::start_with(with_proxies("\"127.0.0.1\""));
    let r = http().get(format!("{}/team", g.url)).header("x-forwarded-user", "lucia.fernandez").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(r.text().await.unwrap().contains("Lucía Fernández"));
    // By e-mail, too; and the same cookie without the header is no login.
    let r = http()
        .get(format!("{}/me", g.url))
        .header("x-forwarded-email", "IVAN.PETROV@acme.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Ivan Petrov"));
    assert_eq!(get(&g, "/team", &cookie).await.0, 303, "a proxy's session needs the proxy on every request");
    // Someone the policy does not know.
    let r = http().get(format!("{}/me", g.url)).header("x-forwarded-user", "mallory").send().await.unwrap();
    assert_eq!(r.status(), 401);
}
