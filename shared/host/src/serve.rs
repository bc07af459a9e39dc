//! The HTTP server of every listener.
//!
//! What `axum::serve` does (accept, serve HTTP/1 and HTTP/2, pass the
//! caller's address as `ConnectInfo`, finish the requests in hand on
//! shutdown), plus what it cannot be told: a connection that waits longer
//! than `http.idle_timeout` for its next request's headers is closed.
//! `axum::serve` gives hyper no timer, so a kept-alive connection a client
//! never closed stayed open, with its buffers, for as long as the process
//! ran (and a client could hold one open by sending its headers a byte at a
//! time).

use std::io;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Serves `router` on `listener` until `stop`; then accepts nothing more,
/// lets each connection finish the request it is serving (idle ones close
/// at once) and returns when every connection has closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    idle_timeout: Duration,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper starts this timer whenever a connection begins to wait for a
    // request's headers: after accepting, and after each answer.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // The caller gave up before we took the connection.
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: connections
                    // that close will free some.
                    tracing::error!(error = %e, "cannot accept a connection; trying again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let service = router
            .clone()
            .map_request(move |mut req: axum::extract::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(axum::body::Body::new)
            });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that went away or idled out: nothing to act on.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection closed");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// An error of one connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
