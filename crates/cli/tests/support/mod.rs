//! Spawning the real binary: mock-upstream and serve on random ports, a
//! copy of the example policy pointed at the mock, keys made by the CLI.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tokenwise"))
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A copy of the example policy in `dir`, with its price file.
pub fn policy_copy(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    std::fs::create_dir_all(dir.join("prices")).unwrap();
    std::fs::copy(repo().join("examples/prices/litellm-subset.json"), dir.join("prices/litellm-subset.json")).unwrap();
    let src = std::fs::read_to_string(repo().join("examples/acme.toml")).unwrap();
    let path = dir.join("acme.toml");
    std::fs::write(&path, edit(src)).unwrap();
    path
}

/// [`policy_copy`] with the upstreams pointed at the mock at `mock_addr`
/// and allowed to receive its fault headers; `edit` changes it further.
pub fn mock_policy(dir: &Path, mock_addr: &str, edit: impl Fn(String) -> String) -> PathBuf {
    policy_copy(dir, |s| {
        let s = s
            .replace("http://127.0.0.1:9100", &format!("http://{mock_addr}"))
            .replace("timeout_secs = ", "forward_headers = [\"x-mock-*\"]\ntimeout_secs = ");
        edit(s)
    })
}

/// `tokenwise keys create`: the new key.
pub fn create_key(policy: &Path, database: &str, user: &str, use_case: Option<&str>) -> String {
    let mut cmd = bin();
    cmd.args(["keys", "create", "--config", policy.to_str().unwrap(), "--database", database, "--user", user]);
    if let Some(u) = use_case {
        cmd.args(["--use-case", u]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Adds a pilot on the support team running today (ten days in, sixty to
/// go, by the system's clock), against the sales team, scored on outcomes.
pub fn with_running_pilot(s: String) -> String {
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let start = today.checked_sub(jiff::Span::new().days(10)).unwrap();
    let end = today.checked_add(jiff::Span::new().days(60)).unwrap();
    s + &format!(
        "\n[[pilots]]\nid = \"support-outcomes\"\ncohort = {{ teams = [\"support\"] }}\n\
         control = {{ teams = [\"sales\"] }}\nstart = \"{start}\"\nend = \"{end}\"\nreward_model = \"outcome\"\n"
    )
}

pub fn usd_nanos(s: &str) -> i64 {
    tokenwise_core::Nanos::parse_usd(s).unwrap().0
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub addr: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The signing secret of the example policy's `helpdesk` integration, in
/// the environment of every server the tests start.
pub const HELPDESK_SECRET: &str = "helpdesk-test-secret";

/// Starts `tokenwise ARGS` and waits for its "listening on http://ADDR" line.
pub fn spawn(args: &[&str]) -> Proc {
    let mut child = bin()
        .args(args)
        .env("OPENAI_API_KEY", "sk-test-openai")
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("TOKENWISE_HELPDESK_SECRET", HELPDESK_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Proc { child, addr }
}

pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub policy: PathBuf,
    pub db: PathBuf,
    pub mock: Proc,
    pub serve: Option<Proc>,
    pub url: String,
    /// Whether serve runs on a manual clock, moved with [`Gateway::advance`].
    pub manual_clock: bool,
}

impl Gateway {
    /// mock-upstream + serve, the policy's upstreams pointed at the mock and
    /// allowed to receive the mock's fault headers; `edit` changes the policy further.
    pub fn start_with(edit: impl Fn(String) -> String) -> Gateway {
        Gateway::launch(edit, false)
    }

    /// Like [`Gateway::start_with`], on a manual clock: time stands still
    /// until [`Gateway::advance`] moves it (and runs the budget upkeep).
    pub fn start_manual(edit: impl Fn(String) -> String) -> Gateway {
        Gateway::launch(edit, true)
    }

    fn launch(edit: impl Fn(String) -> String, manual_clock: bool) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let mock = spawn(&["mock-upstream", "--listen", "127.0.0.1:0"]);
        let policy = mock_policy(dir.path(), &mock.addr, edit);
        let db = dir.path().join("ledger.db");
        let mut g = Gateway { dir, policy, db, mock, serve: None, url: String::new(), manual_clock };
        g.restart();
        g
    }

    pub fn start() -> Gateway {
        Gateway::start_with(|s| s)
    }

    pub fn database(&self) -> String {
        format!("sqlite://{}", self.db.display())
    }

    /// (Re)starts serve on a fresh port against the same ledger.
    pub fn restart(&mut self) {
        self.serve = None;
        let db = self.database();
        let mut args =
            vec!["serve", "--config", self.policy.to_str().unwrap(), "--listen", "127.0.0.1:0", "--database", &db];
        if self.manual_clock {
            args.extend(["--manual-clock", "now"]);
        }
        let p = spawn(&args);
        self.url = format!("http://{}", p.addr);
        self.serve = Some(p);
    }

    pub fn key(&self, user: &str, use_case: Option<&str>) -> String {
        create_key(&self.policy, &self.database(), user, use_case)
    }

    /// Moves the server's manual clock on by `secs` and runs one budget
    /// upkeep pass (as an admin); returns what the pass did.
    pub async fn advance(&self, secs: f64) -> serde_json::Value {
        advance(&self.url, &self.key("hugo.martin", None), secs).await
    }

    /// Sets the server's manual clock to `at` (RFC 3339) and runs one upkeep pass.
    pub async fn set_clock(&self, at: &str) -> serde_json::Value {
        tokenwise_server::install_crypto();
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/admin/clock", self.url))
            .bearer_auth(self.key("hugo.martin", None))
            .json(&serde_json::json!({"set": at}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the clock is set");
        r.json().await.unwrap()
    }

    /// `tokenwise keys ARGS` on this gateway's policy and ledger.
    pub fn keys(&self, args: &[&str]) -> Output {
        let db = self.database();
        bin()
            .arg("keys")
            .args(args)
            .args(["--config", self.policy.to_str().unwrap(), "--database", &db])
            .output()
            .unwrap()
    }
}

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    async fn read(r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Answer { status, headers, body: r.text().await.unwrap_or_default() }
    }

    /// Sends `req` and reads its answer whole.
    pub async fn read_from(req: reqwest::RequestBuilder) -> Answer {
        Answer::read(req.send().await.unwrap()).await
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn request_id(&self) -> String {
        self.headers["x-tokenwise-request-id"].to_str().unwrap().to_string()
    }
}

/// A client of one gateway with one key.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
}

impl Client {
    pub fn new(g: &Gateway, key: String) -> Client {
        tokenwise_server::install_crypto();
        Client { http: reqwest::Client::new(), base: g.url.clone(), key }
    }

    pub async fn post(&self, path: &str, body: serde_json::Value, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.key).json(&body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Answer::read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        Answer::read(self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.unwrap()).await
    }

    /// The ledger's row for a request, read through the API.
    pub async fn event(&self, request_id: &str) -> serde_json::Value {
        let a = self.get(&format!("/api/v1/events?request_id={request_id}")).await;
        assert_eq!(a.status, 200, "{}", a.body);
        let events = a.json()["events"].as_array().unwrap().clone();
        assert_eq!(events.len(), 1, "exactly one row for {request_id}: {}", a.body);
        events[0].clone()
    }
}

/// Moves the manual clock of the server at `base` on by `secs`, with an
/// admin's key, and runs one upkeep pass there.
pub async fn advance(base: &str, admin_key: &str, secs: f64) -> serde_json::Value {
    tokenwise_server::install_crypto();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/admin/clock"))
        .bearer_auth(admin_key)
        .json(&serde_json::json!({"advance_secs": secs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the clock moves");
    r.json().await.unwrap()
}

/// Replicas of `tokenwise serve` sharing one PostgreSQL schema of the test
/// database, and one mock upstream. None (the test skips) without
/// TOKENWISE_TEST_POSTGRES_URL, unless TOKENWISE_REQUIRE_POSTGRES=1.
pub struct Cluster {
    _dir: tempfile::TempDir,
    _mock: Proc,
    pub replicas: Vec<Proc>,
    pub policy: PathBuf,
    pub url: String,
    base: String,
    schema: String,
}

static NEXT_SCHEMA: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Cluster {
    /// `n` replicas on a policy changed by `edit`; with `manual_clock`,
    /// each on a manual clock standing at that instant until moved.
    // Tests may say why they skip.
    #[allow(clippy::print_stderr)]
    pub async fn start(n: usize, edit: impl Fn(String) -> String, manual_clock: Option<&str>) -> Option<Cluster> {
        let Ok(base) = std::env::var("TOKENWISE_TEST_POSTGRES_URL") else {
            assert!(std::env::var("TOKENWISE_REQUIRE_POSTGRES").is_err(), "TOKENWISE_TEST_POSTGRES_URL is required");
            eprintln!("skipped: TOKENWISE_TEST_POSTGRES_URL is not set");
            return None;
        };
        let k = NEXT_SCHEMA.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let schema = format!("tw_cluster_{}_{k}", std::process::id());
        let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let dir = tempfile::tempdir().unwrap();
        let mock = spawn(&["mock-upstream", "--listen", "127.0.0.1:0"]);
        let policy = mock_policy(dir.path(), &mock.addr, edit);
        let replicas = (0..n)
            .map(|_| {
                let mut args = vec!["serve", "--config", policy.to_str().unwrap(), "--listen", "127.0.0.1:0"];
                args.extend(["--database", &url]);
                if let Some(start) = manual_clock {
                    args.extend(["--manual-clock", start]);
                }
                spawn(&args)
            })
            .collect();
        Some(Cluster { _dir: dir, _mock: mock, replicas, policy, url, base, schema })
    }

    pub fn key(&self, user: &str, use_case: Option<&str>) -> String {
        create_key(&self.policy, &self.url, user, use_case)
    }

    /// Drops the cluster's schema. The replicas still run and may be
    /// folding roll-ups; a fold's locks can deadlock with the drop's, and
    /// PostgreSQL then cancels one side, so the drop is tried again.
    pub async fn drop_schema(&self) {
        let (c, conn) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let deadlock = Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED);
        let mut attempt = 1;
        while let Err(e) = c.batch_execute(&sql).await {
            assert!(attempt < 5 && e.code() == deadlock, "cannot drop {}: {e}", self.schema);
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// A tiny HTTP server that keeps every POST body it receives, with its
/// signature header.
pub async fn webhook_sink() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let keep = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix(name).map(|v| v.trim().to_string()))
                    };
                    let len: usize = header("content-length:").map_or(0, |v| v.parse().unwrap());
                    if body.len() >= len {
                        keep.lock()
                            .unwrap()
                            .push((header("x-tokenwise-signature:").unwrap_or_default(), body[..len].to_string()));
                        let _ =
                            sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                        break;
                    }
                }
            });
        }
    });
    (format!("http://{addr}/hook"), got)
}
