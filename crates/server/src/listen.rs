//! Accepting connections so that slow or idle sockets cannot starve the
//! server: at most `max_connections` at once (and never more than the
//! open-file limit leaves room for: each served call may hold an upstream
//! socket and the database its files), a connection that sends nothing or
//! not its whole headers within `header_timeout_secs` is closed (so is a
//! keep-alive connection idle that long), a body that stops sending for
//! `body_timeout_secs` fails, and headers larger than [`MAX_HEADER_BYTES`]
//! are refused 431 in the contract's shape. Connections beyond the cap
//! wait in the listen backlog rather than fail.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokenwise_app::{AppError, Code};
use tokenwise_policy::Server;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// The most bytes of request line and headers the server reads (431 above).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// The most header lines (431 above).
pub const MAX_HEADERS: usize = 256;
/// Open files kept for everything but client connections: the database,
/// logs, the listener.
const FD_RESERVE: u64 = 64;

/// The limits one server applies to its connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// From `[server]`, the connection cap lowered to what the process's
    /// open-file limit allows: half of what the reserve leaves, since a
    /// gateway call holds a client socket and an upstream one.
    pub fn of(server: &Server) -> Limits {
        let room = open_file_limit().map_or(u64::MAX, |n| n.saturating_sub(FD_RESERVE) / 2).max(8);
        Limits {
            header_timeout: Duration::from_secs(server.header_timeout_secs),
            body_timeout: Duration::from_secs(server.body_timeout_secs),
            max_connections: usize::try_from(server.max_connections.min(room)).unwrap_or(usize::MAX),
        }
    }
}

/// The soft open-file limit of this process, where the system says
/// (Linux: `/proc/self/limits`).
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

/// Serves `router` on `listener` within `limits` until `shutdown`
/// resolves, then waits for the connections being served to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_headers(MAX_HEADERS * 2);
    tracing::info!(max_connections = limits.max_connections, "accepting connections");
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = accept(&listener, &permits) => a,
        };
        let Some((tcp, addr, permit)) = accepted else { continue };
        let (builder, router, watcher) = (builder.clone(), router.clone(), graceful.watcher());
        tokio::spawn(async move {
            // Nothing at all within the header timeout: the version
            // sniffing before HTTP/1's own timer would wait for ever.
            let mut first = [0u8; 1];
            if !matches!(tokio::time::timeout(limits.header_timeout, tcp.peek(&mut first)).await, Ok(Ok(1..))) {
                return;
            }
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                handle(router.clone(), addr, limits.body_timeout, req)
            });
            let conn = builder.serve_connection(TokioIo::new(tcp), service).into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The next connection once a permit is free; None after an accept error
/// (logged, with a pause: it is usually the open-file limit).
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
) -> Option<(TcpStream, SocketAddr, tokio::sync::OwnedSemaphorePermit)> {
    let permit = permits.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((tcp, addr)) => {
            // Streams are many small writes: without TCP_NODELAY each can
            // wait on the client's delayed ACK (~40 ms).
            let _ = tcp.set_nodelay(true);
            Some((tcp, addr, permit))
        }
        Err(e) => {
            tracing::warn!(error = %e, "accepting a connection failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// One request: headers within bounds, the peer's address for
/// `ConnectInfo`, the body under its idle timeout.
async fn handle(
    router: Router,
    addr: SocketAddr,
    body_timeout: Duration,
    req: Request<Incoming>,
) -> Result<Response, Infallible> {
    if let Some(refusal) = oversized_headers(&req) {
        return Ok(tokenwise_http::error_response(&refusal));
    }
    let mut req = req.map(|b| Body::new(TimeoutBody::new(body_timeout, b)));
    req.extensions_mut().insert(ConnectInfo(addr));
    router.oneshot(req).await
}

fn oversized_headers<B>(req: &Request<B>) -> Option<AppError> {
    let count = req.headers().len();
    let bytes =
        req.uri().to_string().len() + req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum::<usize>();
    (count > MAX_HEADERS || bytes > MAX_HEADER_BYTES).then(|| {
        AppError::new(
            Code::HeadersTooLarge,
            format!(
                "the request's headers are too large ({count} headers, {bytes} bytes; at most {MAX_HEADERS} headers \
                 and {MAX_HEADER_BYTES} bytes)"
            ),
        )
    })
}
