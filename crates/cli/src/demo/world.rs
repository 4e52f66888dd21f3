//! The demo's world: Acme's policy with its providers pointed at an
//! in-process mock-upstream, a fresh SQLite ledger, the real server on a
//! manual clock, and a key for every person. Every call the simulation
//! makes goes over HTTP through the real router, DLP, budgets and ledger.

use anyhow::Context;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokenwise_core::Clock;
use tokenwise_ledger::{ApiKey, Store};
use tokenwise_policy::{Policy, Role, load_str};

pub const ACME: &str = include_str!("../../../../examples/acme.toml");
const ACME_PRICES: &str = include_str!("../../../../examples/prices/litellm-subset.json");

pub struct World {
    pub policy: Policy,
    pub store: Arc<dyn Store>,
    pub base: String,
    pub http: reqwest::Client,
    /// Each person's key, by user id.
    pub keys: BTreeMap<String, String>,
    /// An admin's key (moves the clock), and a governance person's.
    pub admin: String,
    pub governance: String,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Acme's policy with its upstreams at `mock`, its price file from the binary.
fn acme_policy(mock: &str) -> anyhow::Result<(Policy, String)> {
    let text = ACME.replace("http://127.0.0.1:9100", &format!("http://{mock}"));
    let loaded = load_str(Path::new("examples/acme.toml"), &text, &|p: &Path| {
        if p.ends_with("prices/litellm-subset.json") { Ok(ACME_PRICES.to_string()) } else { std::fs::read_to_string(p) }
    })
    .map_err(|r| anyhow::anyhow!("the built-in example policy is invalid:\n{r}"))?;
    Ok((loaded.policy, text))
}

/// Starts the in-process mock provider on a free loopback port and loads
/// Acme's policy pointed at it: the one policy the plan and the server use.
pub async fn mock_and_policy() -> anyhow::Result<(Policy, String)> {
    let mock = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot start the mock provider")?;
    let mock_addr = mock.local_addr()?.to_string();
    tokio::spawn(tokenwise_mock_upstream::serve(mock, tokenwise_mock_upstream::MockConfig::default()));
    acme_policy(&mock_addr)
}

impl World {
    /// Starts the server on `listen` with `policy` (its source `text`), on a
    /// manual clock at `start`.
    pub async fn start(
        dir: &Path,
        listen: &str,
        (policy, text): (Policy, String),
        start: Timestamp,
    ) -> anyhow::Result<World> {
        tokenwise_server::install_crypto();
        let db = dir.join("demo-ledger.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let store = crate::store::open_with(&format!("sqlite://{}", db.display()), policy.server.durability).await?;
        let mut keys = BTreeMap::new();
        for u in policy.users.values() {
            let key = ApiKey::generate(&u.id, start);
            store.insert_api_key(&key.record).await.context("cannot store a demo key")?;
            keys.insert(u.id.clone(), key.secret);
        }
        let first = |role: Role| {
            policy.users.values().find(|u| u.role == role).and_then(|u| keys.get(&u.id)).cloned().unwrap_or_default()
        };
        let (admin, governance) = (first(Role::Admin), first(Role::Governance));

        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (p, s) = (policy.clone(), store.clone());
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            tokenwise_server::serve(p, &text, s, Clock::manual(start), listener, stopped).await
        });
        let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
        Ok(World { policy, store, base, http, keys, admin, governance, stop: Some(stop), server })
    }

    /// Sets the server's clock (and runs the budget upkeep there).
    pub async fn set_clock(&self, at: Timestamp) -> anyhow::Result<()> {
        let r = self
            .http
            .post(format!("{}/api/v1/admin/clock", self.base))
            .bearer_auth(&self.admin)
            .json(&serde_json::json!({"set": at.to_string()}))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "the clock would not move: {}", r.text().await.unwrap_or_default());
        Ok(())
    }

    /// GET with a key, as JSON.
    pub async fn get(&self, key: &str, path: &str) -> anyhow::Result<serde_json::Value> {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(key).send().await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await.with_context(|| format!("{path} did not answer JSON"))?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {body}");
        Ok(body)
    }

    /// Stops the server and waits until the ledger is flushed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.server.await.context("the server task failed")?
    }
}
