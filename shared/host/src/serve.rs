//! The HTTP server of every listener.
//!
//! What `axum::serve` does (accept, serve HTTP/1 and HTTP/2, pass the
//! caller's address as `ConnectInfo`, finish the requests in hand on
//! shutdown), plus what it cannot be told: a connection that has had no
//! request in hand for `http.idle_timeout` is closed. `axum::serve` gives
//! hyper no timer, so a kept-alive connection a client never closed stayed
//! open, with its buffers, for as long as the process ran (and a client
//! could hold one open by sending its headers a byte at a time).
//!
//! HTTP/1: hyper's `header_read_timeout` closes a connection that waits
//! that long for a request's head (idle, or sent too slowly). HTTP/2 has no
//! such timer in hyper (its keep-alive pings only find dead peers, and a
//! live client's idle connection answers them), so each connection counts
//! the requests it has in hand and is shut down gracefully (`GOAWAY`: the
//! streams already taken finish) once it has had none for the timeout.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
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
    let connections = TaskTracker::new();
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
        let activity = Arc::new(Activity::new());
        let in_hand = Arc::clone(&activity);
        let service = router
            .clone()
            .map_request(move |mut req: axum::extract::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(axum::body::Body::new)
            })
            .map_future(move |answer| {
                let request = in_hand.begin();
                async move {
                    let response = answer.await;
                    drop(request);
                    response
                }
            });
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let stop = stop.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut closing = false;
            let closed = loop {
                let check = activity.idle_for().map_or(idle_timeout, |idle| {
                    idle_timeout
                        .saturating_sub(idle)
                        .max(Duration::from_millis(10))
                });
                tokio::select! {
                    closed = connection.as_mut() => break closed,
                    () = stop.cancelled(), if !closing => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = tokio::time::sleep(check), if !closing => {
                        if activity.idle_for().is_some_and(|idle| idle >= idle_timeout) {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                    }
                }
            };
            // A client that went away or idled out: nothing to act on.
            if let Err(e) = closed {
                tracing::debug!(error = %e, %peer, "connection closed");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// The requests a connection has in hand, and when it last had one.
struct Activity {
    since: Instant,
    in_hand: AtomicUsize,
    /// When the last request in hand was answered, in ms after `since`.
    last_answered_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            since: Instant::now(),
            in_hand: AtomicUsize::new(0),
            last_answered_ms: AtomicU64::new(0),
        }
    }

    fn begin(self: &Arc<Self>) -> InHand {
        self.in_hand.fetch_add(1, Ordering::SeqCst);
        InHand(Arc::clone(self))
    }

    /// How long the connection has had no request in hand; `None` while it
    /// has one. A request that begins just after this looked is safe: a
    /// graceful shutdown finishes what the connection has taken.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_hand.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_answered_ms.load(Ordering::SeqCst));
        Some(self.since.elapsed().saturating_sub(last))
    }
}

/// One request in hand; answered when dropped (its response's head is
/// ready: a body that streams on is finished by the graceful shutdown).
struct InHand(Arc<Activity>);

impl Drop for InHand {
    fn drop(&mut self) {
        let now = u64::try_from(self.0.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The time first: a check that sees no request in hand sees it.
        self.0.last_answered_ms.store(now, Ordering::SeqCst);
        self.0.in_hand.fetch_sub(1, Ordering::SeqCst);
    }
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
