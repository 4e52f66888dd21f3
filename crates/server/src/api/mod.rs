//! The JSON API under `/api/v1`, one route group per capability. Each
//! handler is thin: it extracts the caller and the typed request, calls
//! the application layer, and returns its typed answer as JSON. Who may
//! see or do what is decided in `tokenwise_app::access`, never here.
//!
//! Routes and the OpenAPI document (`/api/openapi.json`) come from one
//! registration, so they cannot drift apart. To add an endpoint:
//! 1. derive `utoipa::ToSchema` on its request and response types
//!    (`utoipa::IntoParams` with `#[into_params(parameter_in = Query)]` on
//!    a query struct; a `jiff::Timestamp` field takes
//!    `#[schema(value_type = String, format = DateTime)]`);
//! 2. annotate the handler with `#[utoipa::path(method, path = "/api/v1/…",
//!    tag = "<capability>", params(…), request_body = …, responses(…))]`
//!    (a new tag is described in `doc::TAGS`),
//!    its name the operationId, so unique across the API (`list_events`,
//!    not `list`), its doc comment's first line the summary; list `(status = 200, body = …)`
//!    and each error it can answer as a shared response from [`doc`],
//!    e.g. `(status = 404, response = NotFound)`;
//! 3. register it in the group's `routes()` with `.routes(routes!(handler))`,
//!    one `routes!` per path (methods of one path may share it), and merge
//!    the group below. Never `.route(…)`: a unit test refuses it.

pub mod admin;
pub mod anomalies;
pub mod appeals;
pub mod budgets;
pub mod check;
pub mod doc;
pub mod events;
pub mod exceptions;
pub mod feedback;
pub mod incidents;
pub mod ingest;
pub mod outcomes;
pub mod pilots;
pub mod prompts;
pub mod reports;
pub mod scores;

use std::sync::Arc;
use tokenwise_app::App;
use utoipa_axum::router::OpenApiRouter;

/// Every API route, with the document describing them.
pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(doc::base())
        .merge(events::routes())
        .merge(check::routes())
        .merge(budgets::routes())
        .merge(exceptions::routes())
        .merge(scores::routes())
        .merge(outcomes::routes())
        .merge(appeals::routes())
        .merge(feedback::routes())
        .merge(prompts::routes())
        .merge(pilots::routes())
        .merge(reports::routes())
        .merge(anomalies::routes())
        .merge(incidents::routes())
        .merge(admin::routes())
        .merge(ingest::routes())
}

/// The OpenAPI document of the JSON API (served at `/api/openapi.json`).
pub fn document() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use tokenwise_core::Clock;
    use tokenwise_ledger::Store;

    /// (METHOD, path) of every operation in the document.
    fn operations(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
        let paths = doc["paths"].as_object().unwrap();
        paths
            .iter()
            .flat_map(|(p, item)| item.as_object().unwrap().keys().map(|m| (m.to_uppercase(), p.clone())))
            .collect()
    }

    /// The route groups register every handler through `routes!`, which
    /// adds it to the router and the document at once; a plain `.route`
    /// would add a route the document does not know.
    #[test]
    fn every_api_route_is_registered_with_its_document() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut annotated = 0;
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap().lines().filter(|l| !l.trim_start().starts_with("//"));
            let src = code.collect::<Vec<_>>().join("\n").replace("OpenApiRouter::new()", "");
            for bypass in [".route(", ".route_service(", "Router::new()", ".nest("] {
                assert!(!src.contains(bypass), "{}: `{bypass}` bypasses the OpenAPI document", path.display());
            }
            annotated += src.matches("#[utoipa::path(").count();
        }
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(operations(&doc).len(), annotated, "every annotated handler is registered, once");
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values().map(|op| op["operationId"].as_str().unwrap()))
            .collect();
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "operation ids are unique: {ids:?}");
        let tags: BTreeSet<&str> =
            doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let tag = op["tags"][0].as_str().unwrap();
                assert!(tags.contains(tag), "tag `{tag}` is described in `doc::TAGS`");
            }
        }
    }

    /// Each documented operation is routed: without a key it answers 401
    /// in the contract's shape (not axum's bare 404 or 405); an unknown
    /// path still gets a bare 404.
    #[tokio::test]
    async fn every_documented_operation_is_a_route() {
        let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml");
        let policy = tokenwise_policy::load_file(&policy).unwrap().policy;
        let store: Arc<dyn Store> = Arc::new(tokenwise_store_sqlite::SqliteStore::open("sqlite://:memory:").unwrap());
        let clock = Clock::manual("2026-11-18T10:00:00Z".parse().unwrap());
        let (app, _writers) = App::start(policy, "policy", store, clock).await.unwrap();
        let (router, doc) = routes().split_for_parts();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router.with_state(app)).await });
        crate::install_crypto();
        let client = reqwest::Client::new();
        let doc = serde_json::to_value(doc).unwrap();
        for (method, path) in operations(&doc) {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let r =
                client.request(method.clone(), format!("{url}{}", path.replace("{id}", "x1"))).send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {path}");
            let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "unauthorized", "{method} {path}");
        }
        let r = client.get(format!("{url}/api/v1/no-such-thing")).send().await.unwrap();
        assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (404, String::new()));
    }
}
