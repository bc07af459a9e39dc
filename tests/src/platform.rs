//! The sandbox platform (`services/sandbox`) as the tests use it: lenient
//! (it records problems and answers as a test scripts it, so tests can feed
//! egress hand-made notices), with the tests' credentials, on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use sandbox::platform::{Download, Platform, Received, Reply};

use crate::{APPKEY, APPSECRET};

/// Starts a lenient platform on `ip` (e.g. `127.0.0.1`, `127.0.0.2`) and a free port.
pub async fn start_on(ip: &str) -> Platform {
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    let creds = sandbox::Credentials::new(APPKEY, APPSECRET).unwrap();
    Platform::serve(addr, creds, Arc::new(sandbox::Timeline::default()))
        .await
        .unwrap()
}

pub async fn start() -> Platform {
    start_on("127.0.0.1").await
}

/// A strict platform (every notice checked against the standard; a problem
/// is answered `code 500` with it) that downloads and checks every linked
/// file: the platform of the tests that run whole deployments.
pub async fn start_strict() -> Platform {
    let p = start().await;
    p.set_strict(true);
    p.set_fetch_files(true);
    p
}

/// The tests' waits: a failure names what the platform did see.
pub trait PlatformExt {
    /// Waits until `pred` holds for what was received; panics after `timeout`.
    fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Received]) -> bool + Send,
    ) -> impl std::future::Future<Output = Vec<Received>> + Send;
}

impl PlatformExt for Platform {
    async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Received]) -> bool + Send,
    ) -> Vec<Received> {
        match self.wait_for(timeout, pred).await {
            Ok(r) => r,
            Err(r) => panic!("the platform did not see what was expected in {timeout:?}: {r:#?}"),
        }
    }
}
