//! Hearing of revoked keys. A replica that caches keys LISTENs on a channel
//! that every revocation NOTIFYs in its own transaction, and evicts each
//! key it hears of. While the listening connection is down the cache does
//! not answer (every request reads its key), and it starts empty once the
//! connection is back: a revocation made meanwhile was not heard.

use futures_util::StreamExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;
use tokenwise_ledger::KeyCache;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Config, NoTls};

/// The channel revocations are announced on; the payload is the key's hash.
pub(crate) const CHANNEL: &str = "tokenwise_key_revoked";
/// How often the listener checks that its connection still answers (a
/// dead peer can leave a socket open that never reports an error).
const HEARTBEAT: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub(crate) struct Revocations {
    pub(crate) cache: KeyCache,
    started: OnceLock<()>,
    /// The listening connection's backend process id, 0 while down.
    pid: AtomicI32,
}

impl Revocations {
    /// Starts the listener on first use, so a CLI command that never
    /// authenticates a request opens no extra connection.
    pub(crate) fn start(self: &Arc<Self>, config: &Config) {
        self.started.get_or_init(|| match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(listen(Arc::downgrade(self), config.clone()));
            }
            // Without a runtime there is no listener, and the cache never answers.
            Err(e) => tracing::warn!(error = %e, "no runtime: API keys will not be cached"),
        });
    }
}

impl crate::PgStore {
    /// The process id of the connection listening for revocations, once it
    /// listens (for operators and tests that cut it).
    pub fn revocation_listener_pid(&self) -> Option<i32> {
        Some(self.revocations.pid.load(Ordering::Relaxed)).filter(|p| *p != 0)
    }
}

/// Listens until the store is dropped, reconnecting with a growing pause.
async fn listen(revocations: Weak<Revocations>, config: Config) {
    const FIRST_PAUSE: Duration = Duration::from_millis(100);
    let mut backoff = FIRST_PAUSE;
    loop {
        if let Err(e) = session(&revocations, &config).await {
            tracing::warn!(error = %e, "the key revocation listener failed; keys are not cached meanwhile");
        }
        let Some(r) = revocations.upgrade() else { return };
        r.cache.set_live(false);
        // A connection that got as far as listening starts the pauses over.
        if r.pid.swap(0, Ordering::Relaxed) != 0 {
            backoff = FIRST_PAUSE;
        }
        drop(r);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life: LISTEN, then evict every key announced, until the
/// connection fails (Err) or the store is dropped (Ok).
async fn session(revocations: &Weak<Revocations>, config: &Config) -> Result<(), String> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let (tx, mut heard) = mpsc::unbounded_channel::<Option<String>>();
    // The connection does nothing unless polled; this task polls it and
    // passes on each notification, then None once it ends.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let AsyncMessage::Notification(n) = m {
                let _ = tx.send(Some(n.payload().to_string()));
            }
        }
        let _ = tx.send(None);
    });
    let result = serve(revocations, &client, &mut heard).await;
    driver.abort();
    result
}

async fn serve(
    revocations: &Weak<Revocations>,
    client: &tokio_postgres::Client,
    heard: &mut mpsc::UnboundedReceiver<Option<String>>,
) -> Result<(), String> {
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await.map_err(|e| e.to_string())?;
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await.map_err(|e| e.to_string())?.get(0);
    match revocations.upgrade() {
        Some(r) => {
            r.pid.store(pid, Ordering::Relaxed);
            r.cache.set_live(true);
        }
        None => return Ok(()),
    }
    let mut beat = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            m = heard.recv() => match (m.flatten(), revocations.upgrade()) {
                (Some(hash), Some(r)) => r.cache.evict(&hash),
                (None, _) => return Err("the connection closed".into()),
                (_, None) => return Ok(()),
            },
            _ = beat.tick() => {
                if revocations.strong_count() == 0 {
                    return Ok(());
                }
                match tokio::time::timeout(HEARTBEAT, client.simple_query("")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("the connection stopped answering".into()),
                }
            }
        }
    }
}
