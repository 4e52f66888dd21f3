//! The access-control matrix, against the real binary: every role of the
//! policy (and a caller with no key) × every operation of the JSON API and
//! every route of the dashboard, each cell sent and its status asserted.
//! The API's rows must be exactly the operations `/api/openapi.json`
//! documents and the dashboard's exactly the routes `dashboard::routes`
//! registers, so a new route fails this test until its row says who may
//! use it. Resources with an id belong to the member (jade, support), so
//! the cells of her peer (ivan, same team) and of another team's manager
//! (tom, sales) are "another person's resource": refused (403), or hidden
//! as 404 where the API answers reads as if it did not exist. Asking an
//! exception for someone else's scope is allowed to anyone (it is only a
//! request: the scope's manager or governance decides). Mutating cells each get a
//! fresh resource, so an allowed cell is a real 200 (or the redirect a
//! form answers), not a 409 left by the cell before.

// Tests fail by panicking, and the matrix is one long table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines, clippy::print_stdout)]

mod support;

use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::Gateway;

/// The callers: a role and the person of the example policy who has it.
const WHO: [(&str, Option<&str>); 8] = [
    ("no key", None),
    ("member", Some("jade.nguyen")),
    ("peer", Some("ivan.petrov")),
    ("manager", Some("lucia.fernandez")),
    ("other manager", Some("tom.becker")),
    ("governance", Some("omar.haddad")),
    ("finance", Some("carl.johansson")),
    ("admin", Some("hugo.martin")),
];

/// What each caller gets from each API operation, in `WHO`'s order.
/// 401: no key; 403: refused; 404: another person's resource, hidden.
const API: &[(&str, &str, [u16; 8])] = &[
    ("post", "/api/v1/check", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/events", [401, 200, 403, 200, 403, 200, 200, 200]),
    ("post", "/api/v1/events:batch", [401, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/api/v1/budgets", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/exceptions", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("post", "/api/v1/exceptions", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/exceptions/{id}", [401, 200, 404, 200, 404, 200, 200, 200]),
    ("post", "/api/v1/exceptions/{id}/approve", [401, 403, 403, 200, 403, 200, 403, 200]),
    ("post", "/api/v1/exceptions/{id}/deny", [401, 403, 403, 200, 403, 200, 403, 200]),
    ("get", "/api/v1/outcomes", [401, 200, 403, 200, 403, 200, 200, 200]),
    ("post", "/api/v1/outcomes", [401, 200, 403, 200, 403, 200, 403, 200]),
    ("get", "/api/v1/outcomes/{id}", [401, 200, 404, 200, 404, 200, 200, 200]),
    ("post", "/api/v1/outcomes/{id}/validate", [401, 403, 403, 200, 403, 200, 403, 200]),
    ("get", "/api/v1/appeals", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("post", "/api/v1/appeals", [401, 200, 404, 403, 404, 403, 403, 403]),
    ("post", "/api/v1/appeals/{id}/decide", [401, 403, 403, 403, 403, 200, 403, 403]),
    ("get", "/api/v1/feedback", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("post", "/api/v1/feedback", [401, 403, 403, 403, 403, 403, 403, 200]),
    ("get", "/api/v1/scores", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/scores/compare", [401, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/api/v1/leaderboard", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/anomalies", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/incidents", [401, 200, 200, 200, 200, 200, 200, 200]),
    ("post", "/api/v1/incidents", [401, 403, 403, 403, 403, 200, 403, 200]),
    ("patch", "/api/v1/incidents/{id}", [401, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/api/v1/reports/chargeback", [401, 403, 403, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/reports/health", [401, 403, 403, 200, 200, 200, 200, 200]),
    ("post", "/api/v1/reports/reconciliation", [401, 403, 403, 403, 403, 200, 200, 200]),
    ("post", "/api/v1/admin/clock", [401, 403, 403, 403, 403, 403, 403, 200]),
    ("get", "/api/v1/pilots", [401, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/api/v1/pilots/{id}/feedback", [401, 403, 403, 403, 403, 200, 403, 200]),
    ("post", "/api/v1/pilots/{id}/promote", [401, 403, 403, 403, 403, 404, 403, 404]),
    ("post", "/api/v1/pilots/{id}/end", [401, 403, 403, 403, 403, 404, 403, 404]),
    ("get", "/api/v1/reports/pilots/{id}", [401, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/api/v1/prompts/{event_id}", [401, 403, 403, 403, 403, 404, 403, 404]),
];

/// What each caller gets from each dashboard route (logged in with its
/// key; "no key" has no session). A page refused is a 403 page; a form
/// done is a 303 back to its page; no session is a 303 to the login form
/// for a page and a 401 for a form.
const PAGES: &[(&str, &str, [u16; 8])] = &[
    ("get", "/", [303, 303, 303, 303, 303, 303, 303, 303]),
    ("get", "/login", [200, 200, 200, 200, 200, 200, 200, 200]),
    ("post", "/login", [401, 303, 303, 303, 303, 303, 303, 303]),
    ("post", "/logout", [401, 303, 303, 303, 303, 303, 303, 303]),
    ("get", "/me", [303, 200, 200, 200, 200, 200, 200, 200]),
    ("post", "/me/feedback", [401, 403, 403, 403, 403, 403, 403, 303]),
    ("get", "/team", [303, 403, 403, 200, 200, 200, 200, 200]),
    ("post", "/team/outcomes/{id}", [401, 403, 403, 303, 403, 303, 403, 303]),
    ("post", "/team/exceptions/{id}", [401, 403, 403, 303, 403, 303, 403, 303]),
    ("get", "/governance", [303, 403, 403, 403, 403, 200, 403, 200]),
    ("post", "/governance/incidents", [401, 403, 403, 403, 403, 400, 403, 400]),
    ("post", "/governance/appeals/{id}", [401, 403, 403, 403, 403, 303, 403, 403]),
    ("get", "/governance/violations", [303, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/governance/models", [303, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/governance/pilots", [303, 403, 403, 403, 403, 200, 403, 200]),
    ("post", "/governance/pilots/{id}/promote", [401, 403, 403, 403, 403, 404, 403, 404]),
    ("post", "/governance/pilots/{id}/end", [401, 403, 403, 403, 403, 404, 403, 404]),
    ("get", "/governance/audit", [303, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/governance/policy", [303, 403, 403, 403, 403, 200, 403, 200]),
    ("get", "/finance", [303, 403, 403, 200, 200, 200, 200, 200]),
    ("get", "/finance/chargeback.csv", [303, 403, 403, 200, 200, 200, 200, 200]),
    ("get", "/finance/focus.csv", [303, 403, 403, 200, 200, 200, 200, 200]),
    ("post", "/finance/reconcile", [401, 403, 403, 403, 403, 200, 200, 200]),
    ("get", "/static/{file}", [200, 200, 200, 200, 200, 200, 200, 200]),
    ("get", "/index.html", [308, 308, 308, 308, 308, 308, 308, 308]),
];

const MEMBER: &str = "jade.nguyen";
/// The example policy's pilot.
const PILOT: &str = "efficiency-first";

fn http() -> reqwest::Client {
    tokenwise_server::install_crypto();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The member's resources, made as each cell needs them.
struct World {
    g: Gateway,
    http: reqwest::Client,
    keys: Vec<Option<String>>,
    next: std::sync::atomic::AtomicU32,
}

impl World {
    fn key_of(&self, user: &str) -> &str {
        let i = WHO.iter().position(|(_, u)| *u == Some(user)).unwrap();
        self.keys[i].as_deref().unwrap()
    }

    fn fresh(&self, what: &str) -> String {
        format!("{what}-{}", self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    async fn call(&self, key: Option<&str>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.g.url));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null))
    }

    /// As `user`, asserting 200: the answer.
    async fn ok(&self, user: &str, method: &str, path: &str, body: Value) -> Value {
        let (status, v) = self.call(Some(self.key_of(user)), method, path, Some(body)).await;
        assert_eq!(status, 200, "{user} {method} {path}: {v}");
        v
    }

    /// A pending outcome of the member's.
    async fn outcome(&self) -> String {
        let task = self.fresh("T-matrix");
        let body = json!({"task": task, "use_case": "support-reply", "kind": "ticket_resolved",
            "value_hours": 0.5, "evidence": "https://tickets.acme.example/1"});
        self.ok(MEMBER, "post", "/api/v1/outcomes", body).await["id"].as_str().unwrap().to_string()
    }

    /// An outcome of the member's that her manager rejected.
    async fn rejected_outcome(&self) -> String {
        let id = self.outcome().await;
        let body = json!({"decision": "rejected", "quality": 1});
        self.ok("lucia.fernandez", "post", &format!("/api/v1/outcomes/{id}/validate"), body).await;
        id
    }

    /// The member's appeal against a rejection.
    async fn appeal(&self) -> String {
        let outcome = self.rejected_outcome().await;
        let body = json!({"subject": format!("outcome:{outcome}"), "comment": "the ticket was resolved"});
        self.ok(MEMBER, "post", "/api/v1/appeals", body).await["id"].as_str().unwrap().to_string()
    }

    /// A pending exception the member asked for herself.
    async fn exception(&self) -> String {
        self.ok(MEMBER, "post", "/api/v1/exceptions", exception_ask()).await["id"].as_str().unwrap().to_string()
    }

    async fn incident(&self) -> String {
        let body = json!({"title": self.fresh("matrix incident"), "category": "other"});
        self.ok("omar.haddad", "post", "/api/v1/incidents", body).await["id"].as_str().unwrap().to_string()
    }
}

/// A provider's usage export of one day (it drifts from the ledger: the
/// answer is still a 200 naming the drift).
fn openai_export() -> Value {
    json!({"object": "page", "has_more": false, "next_page": null, "data": [{"object": "bucket",
        "start_time": 1_763_424_000, "end_time": 1_763_510_400, "results": [{
            "object": "organization.usage.completions.result", "model": "gpt-4.1-mini-2025-04-14",
            "input_tokens": 100, "input_cached_tokens": 0, "output_tokens": 10, "num_model_requests": 1,
            "project_id": null, "user_id": null, "api_key_id": null, "batch": null}]}]})
}

fn exception_ask() -> Value {
    json!({"scope": format!("user:{MEMBER}"), "reason_code": "experiment", "justification": "matrix test",
        "duration_hours": 2, "cap_usd": "5"})
}

/// The path and body of one API cell.
async fn api_request(w: &World, method: &str, path: &str) -> (String, Option<Value>) {
    let with = |id: String| path.replace("{id}", &id);
    let chat = json!({"model": "gpt-4.1-mini", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]});
    match (method, path) {
        ("post", "/api/v1/check") => (path.into(), Some(chat)),
        ("get", "/api/v1/events" | "/api/v1/outcomes") => (format!("{path}?user={MEMBER}"), None),
        ("post", "/api/v1/events:batch") => (path.into(), Some(json!([]))),
        ("post", "/api/v1/exceptions") => (path.into(), Some(exception_ask())),
        ("get", "/api/v1/exceptions/{id}") => (with(w.exception().await), None),
        ("post", "/api/v1/exceptions/{id}/approve" | "/api/v1/exceptions/{id}/deny") => {
            (with(w.exception().await), Some(json!({})))
        }
        ("post", "/api/v1/outcomes") => {
            let body = json!({"task": w.fresh("T-report"), "user": MEMBER, "use_case": "support-reply",
                "kind": "ticket_resolved", "value_hours": 0.25, "evidence": "KB-1"});
            (path.into(), Some(body))
        }
        ("get", "/api/v1/outcomes/{id}") => (with(w.outcome().await), None),
        ("post", "/api/v1/outcomes/{id}/validate") => {
            (with(w.outcome().await), Some(json!({"decision": "validated", "quality": 4})))
        }
        ("post", "/api/v1/appeals") => {
            let outcome = w.rejected_outcome().await;
            (path.into(), Some(json!({"subject": format!("outcome:{outcome}"), "comment": "it was resolved"})))
        }
        ("post", "/api/v1/appeals/{id}/decide") => {
            (with(w.appeal().await), Some(json!({"decision": "upheld", "comment": "evidence holds"})))
        }
        // Of the callers only the admin (hugo.martin, platform) is in the
        // example pilot's cohort: everyone else is refused `not_in_cohort`.
        ("post", "/api/v1/feedback") => {
            (path.into(), Some(json!({"pilot": PILOT, "answer": "motivating", "about": "score"})))
        }
        ("get", "/api/v1/feedback") => (format!("{path}?pilot={PILOT}"), None),
        ("get", "/api/v1/pilots/{id}/feedback" | "/api/v1/reports/pilots/{id}") => (with(PILOT.into()), None),
        // A pilot is decided once: the cells ask about a pilot that does
        // not exist (allowed: 404), so each cell tests access alone;
        // pilots.rs promotes and ends real ones.
        ("post", "/api/v1/pilots/{id}/promote" | "/api/v1/pilots/{id}/end") => {
            (with("no-such-pilot".into()), Some(json!({})))
        }
        // No prompt is kept (retention is off in the example): allowed is 404.
        ("get", "/api/v1/prompts/{event_id}") => (path.replace("{event_id}", "evt-matrix"), None),
        ("post", "/api/v1/incidents") => {
            (path.into(), Some(json!({"title": w.fresh("incident"), "category": "unclear_policy"})))
        }
        ("patch", "/api/v1/incidents/{id}") => (with(w.incident().await), Some(json!({"note": "looked at it"}))),
        ("post", "/api/v1/reports/reconciliation") => {
            (path.into(), Some(json!({"format": "openai", "export": openai_export()})))
        }
        ("post", "/api/v1/admin/clock") => (path.into(), Some(json!({"advance_secs": 0}))),
        ("get", _) => (path.into(), None),
        _ => panic!("the matrix has no request for {method} {path}: add one"),
    }
}

/// A dashboard session: its cookie and its forms' CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn login(w: &World, key: &str) -> Session {
    let body = format!("api_key={key}&next=%2Fme");
    let r = w
        .http
        .post(format!("{}/login", w.g.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let html = w.http.get(format!("{}/me", w.g.url)).header(COOKIE, &cookie).send().await.unwrap();
    let html = html.text().await.unwrap();
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token");
    let csrf = html[at + 20..].split('"').next().unwrap().to_string();
    Session { cookie, csrf }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The path and form fields of one dashboard cell.
async fn page_request(w: &World, method: &str, path: &str, who: usize) -> (String, Vec<(String, String)>) {
    let with = |id: String| path.replace("{id}", &id);
    let fields = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    match (method, path) {
        ("post", "/login") => {
            let key = w.keys[who].clone().unwrap_or_else(|| "tw_not_a_key".into());
            (path.into(), fields(&[("api_key", &key), ("next", "/me")]))
        }
        ("post", "/me/feedback") => {
            // About another subject than the API cell's: one answer a week each.
            (path.into(), fields(&[("pilot", PILOT), ("answer", "confusing"), ("about", "leaderboard")]))
        }
        ("post", "/governance/pilots/{id}/promote" | "/governance/pilots/{id}/end") => {
            (with("no-such-pilot".into()), Vec::new())
        }
        ("post", "/team/outcomes/{id}") => (with(w.outcome().await), fields(&[("decision", "validated")])),
        ("post", "/team/exceptions/{id}") => (with(w.exception().await), fields(&[("decision", "approve")])),
        ("post", "/governance/incidents") => {
            (path.into(), fields(&[("anomaly", "anm_none"), ("title", "from the matrix"), ("category", "other")]))
        }
        ("post", "/governance/appeals/{id}") => {
            (with(w.appeal().await), fields(&[("decision", "dismissed"), ("comment", "no evidence")]))
        }
        ("post", "/finance/reconcile") => {
            (path.into(), fields(&[("format", "openai"), ("export", &openai_export().to_string())]))
        }
        ("get", "/static/{file}") => ("/static/style.css".into(), Vec::new()),
        ("get" | "post", _) => (path.into(), Vec::new()),
        _ => panic!("the matrix has no request for {method} {path}: add one"),
    }
}

async fn page_cell(w: &World, method: &str, path: &str, who: usize) -> u16 {
    let (path, mut form) = page_request(w, method, path, who).await;
    // A fresh session per cell: logout ends the one it is sent with.
    let session = match &w.keys[who] {
        Some(key) if path != "/login" => Some(login(w, key).await),
        _ => None,
    };
    let url = format!("{}{path}", w.g.url);
    let mut req = if method == "get" { w.http.get(url) } else { w.http.post(url) };
    if let Some(s) = &session {
        req = req.header(COOKIE, &s.cookie);
        form.push(("_csrf".into(), s.csrf.clone()));
    }
    if method == "post" {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        req = req.header("content-type", "application/x-www-form-urlencoded").body(body.join("&"));
    }
    req.send().await.unwrap().status().as_u16()
}

/// (method, path) of every operation `/api/openapi.json` documents.
async fn documented(w: &World) -> BTreeSet<(String, String)> {
    let doc: Value = w.http.get(format!("{}/api/openapi.json", w.g.url)).send().await.unwrap().json().await.unwrap();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.insert((method.clone(), path.clone()));
        }
    }
    ops
}

/// (method, path) of every route `dashboard::routes` registers, read
/// from its source.
fn dashboard_routes() -> BTreeSet<(String, String)> {
    let src = std::fs::read_to_string(support::repo().join("crates/dashboard/src/lib.rs")).unwrap();
    let mut routes = BTreeSet::new();
    for line in src.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.split('"').nth(1).unwrap().to_string();
        for method in ["get", "post", "put", "patch", "delete"] {
            if line.contains(&format!("{method}(")) {
                routes.insert((method.to_string(), path.clone()));
            }
        }
        if line.contains("Redirect::") && !line.contains("get(") {
            panic!("a redirect route without a method: {line}");
        }
    }
    routes
}

fn listed(rows: &[(&str, &str, [u16; 8])]) -> BTreeSet<(String, String)> {
    rows.iter().map(|(m, p, _)| ((*m).to_string(), (*p).to_string())).collect()
}

#[tokio::test]
async fn every_role_against_every_route_gets_what_access_allows() {
    let g = Gateway::start_manual(|s| s);
    // kb-search is everyone's use case: the pre-flight check's is the key's.
    let keys = WHO.iter().map(|(_, user)| user.map(|u| g.key(u, Some("kb-search")))).collect();
    let w = World { g, http: http(), keys, next: std::sync::atomic::AtomicU32::new(0) };

    // The rows are exactly the routes: a new one fails here until listed.
    let api = documented(&w).await;
    assert_eq!(listed(API), api, "the API rows are the documented operations (left: matrix, right: document)");
    let pages = dashboard_routes();
    assert_eq!(listed(PAGES), pages, "the dashboard rows are its routes (left: matrix, right: dashboard::routes)");

    let mut wrong = Vec::new();
    let mut cells = 0;
    for (method, path, expected) in API {
        for (who, (role, _)) in WHO.iter().enumerate() {
            let (url, body) = api_request(&w, method, path).await;
            let (status, answer) = w.call(w.keys[who].as_deref(), method, &url, body).await;
            cells += 1;
            if status != expected[who] {
                wrong.push(format!("{method} {url} as {role}: {status}, expected {} — {answer}", expected[who]));
            }
            // Refusals are the contract's errors, never a bare status.
            let code = match status {
                401 => Some("unauthorized"),
                403 if path.ends_with("/feedback") && *method == "post" => Some("not_in_cohort"),
                403 => Some("policy_violation"),
                404 => Some("not_found"),
                _ => None,
            };
            if let Some(code) = code.filter(|c| status == expected[who] && answer["error"]["code"] != *c) {
                wrong.push(format!("{method} {url} as {role}: {status} without code `{code}`: {answer}"));
            }
        }
    }
    for (method, path, expected) in PAGES {
        for (who, (role, _)) in WHO.iter().enumerate() {
            let status = page_cell(&w, method, path, who).await;
            cells += 1;
            if status != expected[who] {
                wrong.push(format!("dashboard {method} {path} as {role}: {status}, expected {}", expected[who]));
            }
        }
    }
    let routes = API.len() + PAGES.len();
    println!(
        "access matrix: {} API operations + {} dashboard routes = {routes} routes × {} callers = {cells} cells",
        API.len(),
        PAGES.len(),
        WHO.len()
    );
    assert_eq!(cells, routes * WHO.len());
    assert!(wrong.is_empty(), "{} of {cells} cells are wrong:\n{}", wrong.len(), wrong.join("\n"));
}
