//! `/api/openapi.json` against the real binary: an OpenAPI 3.1 document,
//! without a key, that lists every `/api/v1` route of the contract built so
//! far, each operation with its typed answer and the contract's errors; and
//! checked against the routes: every documented operation is answered by
//! a route (never the fallback's 404 or 405), and its 200 answers carry the
//! fields its schema requires.

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::{Client, Gateway};

/// The contract's `/api/v1` operations that exist today. Anomalies,
/// incidents, reports and `events:batch` join when built.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/check"),
    ("get", "/api/v1/events"),
    ("post", "/api/v1/events:batch"),
    ("post", "/api/v1/outcomes"),
    ("post", "/api/v1/outcomes/{id}/validate"),
    ("get", "/api/v1/budgets"),
    ("get", "/api/v1/exceptions"),
    ("get", "/api/v1/exceptions/{id}"),
    ("post", "/api/v1/exceptions"),
    ("post", "/api/v1/exceptions/{id}/approve"),
    ("post", "/api/v1/exceptions/{id}/deny"),
    ("post", "/api/v1/appeals"),
    ("post", "/api/v1/appeals/{id}/decide"),
    ("post", "/api/v1/feedback"),
    ("get", "/api/v1/reports/pilots/{id}"),
    ("get", "/api/v1/scores"),
    ("get", "/api/v1/leaderboard"),
    ("get", "/api/v1/anomalies"),
    ("post", "/api/v1/incidents"),
    ("get", "/api/v1/reports/chargeback"),
    ("get", "/api/v1/reports/health"),
    ("post", "/api/v1/reports/reconciliation"),
    ("get", "/api/v1/prompts/{event_id}"),
    // Beside the contract's: pilots, their decision, their feedback counts.
    ("get", "/api/v1/feedback"),
    ("get", "/api/v1/pilots"),
    ("post", "/api/v1/pilots/{id}/promote"),
    ("post", "/api/v1/pilots/{id}/end"),
    ("get", "/api/v1/pilots/{id}/feedback"),
];

/// Every (method, path, operation) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

/// `v` with a `$ref` into the document followed, as often as it takes.
fn resolve<'d>(doc: &'d Value, mut v: &'d Value) -> &'d Value {
    while let Some(r) = v["$ref"].as_str() {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("only local refs: {r}"));
        v = doc.pointer(pointer).unwrap_or_else(|| panic!("dangling ref {r}"));
    }
    v
}

async fn document(g: &Gateway) -> Value {
    tokenwise_server::install_crypto();
    let r = reqwest::get(format!("{}/api/openapi.json", g.url)).await.unwrap();
    assert_eq!(r.status(), 200, "read without a key");
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_document_lists_every_api_route_with_its_answer_and_errors() {
    let g = Gateway::start();
    let doc = document(&g).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "tokenwise");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let ops = operations(&doc);
    for (method, path) in CONTRACT {
        assert!(ops.iter().any(|(m, p, _)| m == method && p == path), "{method} {path} is documented");
    }
    let error = resolve(&doc, &doc["components"]["schemas"]["Error"]);
    let detail = resolve(&doc, &error["properties"]["error"]);
    for field in ["type", "code", "message"] {
        assert!(detail["required"].as_array().unwrap().contains(&json!(field)), "error.{field}: {detail}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        (schemes["bearer"]["type"].as_str(), schemes["bearer"]["scheme"].as_str()),
        (Some("http"), Some("bearer"))
    );
    assert_eq!(
        (schemes["api_key"]["in"].as_str(), schemes["api_key"]["name"].as_str()),
        (Some("header"), Some("x-api-key"))
    );

    for (method, path, op) in &ops {
        let at = format!("{method} {path}");
        assert_eq!(op["tags"].as_array().map(Vec::len), Some(1), "{at}: one tag");
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{at}: a summary");
        let ok = resolve(&doc, &op["responses"]["200"]);
        assert!(ok["content"]["application/json"]["schema"].is_object(), "{at}: 200 has a schema");
        // Every operation needs a key (or, for an outcome, a signature).
        let mut errors = vec!["401"];
        if path.contains("{id}") {
            errors.push("404");
            assert_eq!(op["parameters"][0]["in"], "path", "{at}: the id is a path parameter");
        }
        if op["requestBody"].is_object()
            || op["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["in"] == "query"))
        {
            errors.push("400");
        }
        for status in errors {
            let r = resolve(&doc, &op["responses"][status]);
            let schema = &r["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/Error", "{at}: {status} in the contract's error shape");
        }
    }
}

/// Whether JSON `v` has a type the schema's `type` (one or a list) allows.
fn type_ok(v: &Value, ty: &Value) -> bool {
    let allowed: Vec<&str> = match ty {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    allowed.iter().any(|t| match *t {
        "null" => v.is_null(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    })
}

/// Where `v` breaks `schema` (types, required fields, enums, recursively),
/// or None.
fn breaks(doc: &Value, schema: &Value, v: &Value, at: &str) -> Option<String> {
    let schema = resolve(doc, schema);
    if let Some(branches) = schema["oneOf"].as_array() {
        let ok = branches.iter().any(|b| breaks(doc, b, v, at).is_none());
        return (!ok).then(|| format!("{at}: {v} matches no branch of {schema}"));
    }
    if !type_ok(v, &schema["type"]) {
        return Some(format!("{at}: {v} is not of type {}", schema["type"]));
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(v)
    {
        return Some(format!("{at}: {v} is not one of {schema}"));
    }
    if let (Some(items), Some(vs)) = (schema.get("items"), v.as_array()) {
        return vs.iter().enumerate().find_map(|(i, x)| breaks(doc, items, x, &format!("{at}[{i}]")));
    }
    let fields = v.as_object()?;
    for name in schema["required"].as_array().into_iter().flatten() {
        if !fields.contains_key(name.as_str().unwrap()) {
            return Some(format!("{at}: `{name}` is required: {v}"));
        }
    }
    let props = schema["properties"].as_object()?;
    fields.iter().find_map(|(k, x)| props.get(k).and_then(|p| breaks(doc, p, x, &format!("{at}.{k}"))))
}

/// A body that reaches each handler where it is easy to; the answer may
/// still be a contract error (an unknown id, a missing field).
fn body_for(path: &str) -> Value {
    match path {
        "/api/v1/check" => json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "hi"}]}),
        _ => json!({}),
    }
}

/// Ivan's call, its outcome and an exception: lists then have rows.
async fn seed(g: &Gateway) {
    let ivan = Client::new(g, g.key("ivan.petrov", Some("support-reply")));
    let chat = json!({"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Mail jane@example.com"}]});
    let a = ivan.post("/v1/chat/completions", chat, &[("x-tokenwise-task", "T-doc")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let outcome = json!({"task": "T-doc", "use_case": "support-reply", "kind": "ticket_resolved", "value_hours": 0.5});
    assert_eq!(ivan.post("/api/v1/outcomes", outcome, &[]).await.status, 200);
    let ask = json!({"scope": "user:ivan.petrov", "reason_code": "customer-escalation", "cap_usd": "5",
                     "justification": "Escalated enterprise ticket needs several drafts today", "duration_hours": 4});
    assert_eq!(ivan.post("/api/v1/exceptions", ask, &[]).await.status, 200);
    let feedback = json!({"pilot": "support-outcomes", "answer": "motivating", "about": "score", "comment": "Clear why my score moved"});
    assert_eq!(ivan.post("/api/v1/feedback", feedback, &[]).await.status, 200);
}

#[tokio::test]
async fn every_documented_operation_is_a_route_and_answers_as_documented() {
    let g = Gateway::start_manual(support::with_running_pilot);
    seed(&g).await;
    let doc = document(&g).await;
    let admin = Client::new(&g, g.key("hugo.martin", None));
    let mut answered = Vec::new();
    for (method, path, op) in operations(&doc) {
        let url = format!("{}{}", g.url, path.replace("{id}", "no-such-id"));
        let req = match method.as_str() {
            "get" => admin.http.get(url),
            "post" => admin.http.post(url).json(&body_for(&path)).header("x-tokenwise-use-case", "support-reply"),
            "patch" => admin.http.patch(url).json(&body_for(&path)),
            other => panic!("{other} {path}: a method the test does not know"),
        };
        let r = req.bearer_auth(&admin.key).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let at = format!("{method} {path} answered {status}");
        assert_ne!(status, 405, "{at}: the route exists for this method");
        // The fallback's 404 (no route) says so; a route's 404 names what is missing.
        assert!(!text.contains("no route for"), "{at}: the route exists: {text}");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{at}: {text:?}"));
        let documented = resolve(&doc, &op["responses"][status.to_string()]);
        assert!(documented.is_object(), "{at}, undocumented: {text}");
        let schema = &documented["content"]["application/json"]["schema"];
        assert_eq!(breaks(&doc, schema, &body, "body"), None, "{at}");
        answered.push((status, path));
    }
    // Enough of them answered 200 with rows for the schemas to be tried.
    let ok: Vec<_> = answered.iter().filter(|(s, _)| *s == 200).map(|(_, p)| p.as_str()).collect();
    for path in ["/api/v1/events", "/api/v1/outcomes", "/api/v1/exceptions", "/api/v1/budgets", "/api/v1/check"] {
        assert!(ok.contains(&path), "{path}: {answered:?}");
    }

    for list in ["events", "outcomes", "exceptions"] {
        let rows = admin.get(&format!("/api/v1/{list}")).await.json()[list].as_array().unwrap().len();
        assert!(rows > 0, "{list} had rows to check");
    }
    // The check is not vacuous: a wrong answer breaks its schema.
    let receipt = json!({"$ref": "#/components/schemas/OutcomeReceipt"});
    assert!(breaks(&doc, &receipt, &json!({"id": 1, "status": "pending", "metered": true}), "r").is_some());
    assert!(breaks(&doc, &receipt, &json!({"id": "o", "status": "lost", "metered": true}), "r").is_some());
    assert!(breaks(&doc, &receipt, &json!({"id": "o", "status": "pending"}), "r").is_some());
    assert_eq!(breaks(&doc, &receipt, &json!({"id": "o", "status": "pending", "metered": true}), "r"), None);

    // The two answers the test tells apart: no such route, no such method.
    // Both in the contract's error shape.
    let none = admin.get("/api/v1/no-such-route").await;
    assert_eq!(none.status, 404);
    assert_eq!(none.json()["error"]["message"], "no route for GET /api/v1/no-such-route");
    let wrong = admin.http.delete(format!("{}/api/v1/budgets", g.url)).bearer_auth(&admin.key).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(wrong["error"]["code"], "invalid_request", "{wrong}");
}
