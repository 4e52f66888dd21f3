//! `tokenwise serve` and `tokenwise mock-upstream`.

use crate::store;
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokenwise_core::Clock;
use tokenwise_policy::load_str;

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Prints the bound address on stdout (tests and scripts read it when
/// they ask for port 0).
fn announce(what: &str, addr: std::net::SocketAddr, extra: &str) {
    println!("{what} listening on http://{addr}{extra}");
    let _ = std::io::stdout().flush();
}

/// The system clock, or a manual one starting at `start` (`now` or RFC 3339).
fn clock(manual: Option<&str>) -> anyhow::Result<Clock> {
    Ok(match manual {
        None => Clock::system(),
        Some("now") => Clock::manual(jiff::Timestamp::now()),
        Some(t) => {
            Clock::manual(t.parse().with_context(|| format!("--manual-clock: `{t}` is not `now` or an RFC 3339 time"))?)
        }
    })
}

pub async fn serve(
    config: &Path,
    listen: Option<&str>,
    database: Option<&str>,
    manual_clock: Option<&str>,
) -> anyhow::Result<()> {
    let clock = clock(manual_clock)?;
    let text = std::fs::read_to_string(config).with_context(|| format!("cannot read {}", config.display()))?;
    // The text read is the text loaded, so the audited digest is of the
    // policy that runs.
    let loaded = load_str(config, &text, &|p: &Path| std::fs::read_to_string(p)).map_err(|r| anyhow::anyhow!("{r}"))?;
    for w in &loaded.warnings.diagnostics {
        eprintln!("{w}");
    }
    let policy = loaded.policy;
    let (url, ledger) = store::for_policy(&policy, database).await?;
    let addr = listen.unwrap_or(&policy.server.listen).to_string();
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    announce("tokenwise", listener.local_addr()?, &format!(" (ledger: {})", store::redact(&url)));
    tokenwise_server::serve(policy, &text, ledger, clock, listener, shutdown_signal()).await
}

pub async fn mock_upstream(listen: &str, ttft_ms: u64, token_ms: u64) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    announce("mock-upstream", listener.local_addr()?, "");
    let cfg = tokenwise_mock_upstream::MockConfig {
        ttft: Duration::from_millis(ttft_ms),
        token_delay: Duration::from_millis(token_ms),
        ..Default::default()
    };
    tokio::select! {
        r = tokenwise_mock_upstream::serve(listener, cfg) => r.context("mock-upstream failed"),
        () = shutdown_signal() => Ok(()),
    }
}
