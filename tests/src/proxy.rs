//! A TCP proxy that a test can switch off (refusing new connections and
//! cutting open ones, as a stopped broker does) and on again, or turn into a
//! black hole (accepting connections and never answering, as a hung broker or
//! a dropped route does).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub struct TcpProxy {
    pub port: u16,
    on: Arc<Mutex<bool>>,
    black_hole: Arc<Mutex<bool>>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl TcpProxy {
    /// Forwards a free local port to `upstream`.
    pub async fn start(upstream: &str) -> Self {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let proxy = Self {
            port,
            on: Arc::new(Mutex::new(true)),
            black_hole: Arc::new(Mutex::new(false)),
            links: Arc::new(Mutex::new(Vec::new())),
        };
        let p = proxy.clone();
        let upstream = upstream.to_owned();
        tokio::spawn(async move {
            let mut listener: Option<TcpListener> = None;
            loop {
                if !*p.on.lock().unwrap() {
                    listener = None;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                if listener.is_none() {
                    match TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(l) => listener = Some(l),
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    }
                }
                let Some(l) = listener.as_ref() else { continue };
                if let Ok(Ok((mut inbound, _))) =
                    tokio::time::timeout(Duration::from_millis(20), l.accept()).await
                {
                    // Under the links lock, which `stop` holds while it
                    // switches off: a connection accepted as it stops is
                    // dropped, never left open behind its back.
                    let mut links = p.links.lock().unwrap();
                    if !*p.on.lock().unwrap() {
                        continue;
                    }
                    if *p.black_hole.lock().unwrap() {
                        // Held open, read and never answered; the socket
                        // stays a black hole after the proxy forwards again.
                        tokio::spawn(async move {
                            let mut sink = tokio::io::sink();
                            let _ = tokio::io::copy(&mut inbound, &mut sink).await;
                        });
                        continue;
                    }
                    let upstream = upstream.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut out) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                        }
                    });
                    links.push(link.abort_handle());
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        proxy
    }

    /// Refuses new connections and cuts the open ones.
    pub fn stop(&self) {
        let mut links = self.links.lock().unwrap();
        *self.on.lock().unwrap() = false;
        for l in links.drain(..) {
            l.abort();
        }
    }

    /// Cuts the open connections and from now on accepts new ones without
    /// ever answering them, until [`TcpProxy::start_again`]; a connection
    /// accepted meanwhile stays unanswered for good.
    pub fn black_hole(&self) {
        let mut links = self.links.lock().unwrap();
        *self.black_hole.lock().unwrap() = true;
        for l in links.drain(..) {
            l.abort();
        }
    }

    pub fn start_again(&self) {
        *self.black_hole.lock().unwrap() = false;
        *self.on.lock().unwrap() = true;
    }
}
