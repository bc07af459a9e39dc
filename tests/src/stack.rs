//! The whole gateway in one test: ingress, underwriting, payment, issuance
//! and egress, each built from the same settings as in production, against
//! the real broker and database, with a local platform simulator.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::platform::{Platform, PlatformExt};
use crate::{Harness, Running, TestIds, settings};

/// A free local port (bound and released), for a process started later.
/// Picked below Linux's ephemeral range (32768–60999): a port from that
/// range can be taken meanwhile as the source port of any outgoing
/// connection (the tests open many), and the service that was to listen
/// on it would fail to start.
///
/// Ports are handed out in turn from a random start, so one test process
/// never hands out the same port twice (picked at random, two of a
/// cluster's dozen listeners sometimes drew the same one, and the second
/// service to start exited); test processes running at once start far
/// apart.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: std::sync::OnceLock<AtomicU32> = std::sync::OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU32::new(rand::random_range(0..SPAN)));
    for _ in 0..1000 {
        let port = (LOW + next.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Stack {
    pub h: Harness,
    pub platform: Platform,
    pub ingress: Running,
    pub egress: crate::EgressRunning,
    /// `http://127.0.0.1:port` of each public or admin server.
    pub files: String,
    pub cashier: String,
    pub payment_admin: String,
    pub verify: String,
    pub underwriting_admin: String,
    tasks: Vec<(
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
}

impl Stack {
    /// Starts every service; `extra` overrides settings (`GW__...`).
    pub async fn start(extra: &[(&str, &str)]) -> Stack {
        let platform = crate::platform::start_strict().await;
        let ids = TestIds::new();
        let mut all: Vec<(&str, &str)> = vec![
            ("GW__DATABASE__MAX_CONNECTIONS", "3"),
            ("GW__AMQP__PREFETCH", "8"),
            ("GW__PAYMENT__LISTEN", "127.0.0.1:0"),
            ("GW__PAYMENT__ADMIN_LISTEN", "127.0.0.1:0"),
            ("GW__PAYMENT__SANDBOX", "true"),
            ("GW__ISSUANCE__LISTEN", "127.0.0.1:0"),
            ("GW__UNDERWRITING__ADMIN_LISTEN", "127.0.0.1:0"),
        ];
        all.extend_from_slice(extra);
        let h = Harness::new(ids.clone(), settings(&ids, &platform.base_url, &all)).await;
        // Egress first, on a port of its own choosing: the public base URL
        // (the file links) points at it.
        let egress = crate::spawn_egress(settings(&ids, &platform.base_url, &all)).await;
        let base = egress.app.address.clone();
        all.push(("GW__PUBLIC_BASE_URL", &base));
        let s = settings(&ids, &platform.base_url, &all);
        let mut tasks = Vec::new();

        let uw = crate::spawn(s.clone(), &underwriting::Underwriting).await;
        let underwriting_admin = uw.address("underwriting.admin");
        tasks.push((uw.running.shutdown, uw.running.handle));

        let pay = crate::spawn(s.clone(), &payment::Payment).await;
        let cashier = pay.address("payment");
        let payment_admin = pay.address("payment.admin");
        tasks.push((pay.running.shutdown, pay.running.handle));

        let iss = crate::spawn(s.clone(), &issuance::Issuance).await;
        let verify = iss.address("issuance");
        tasks.push((iss.running.shutdown, iss.running.handle));

        let ingress = crate::spawn_ingress(s).await;
        Stack {
            h,
            platform,
            ingress,
            egress,
            files: base,
            cashier,
            payment_admin,
            verify,
            underwriting_admin,
            tasks,
        }
    }

    /// Calls an inbound interface through ingress; asserts `code 200`.
    pub async fn call_ok(&self, name: &str, body: &Value) -> Value {
        let reply = crate::call(&self.ingress.address, name, body).await;
        assert_eq!(reply["code"], 200, "{name}: {reply}");
        reply
    }

    /// The notices of `applyno` the platform received and accepted, in order.
    pub fn delivered(&self, applyno: &str) -> Vec<crate::platform::Received> {
        self.platform
            .received_for(applyno)
            .into_iter()
            .filter(|r| r.reply == "Ok")
            .collect()
    }

    /// Waits until the platform has accepted `n` notices of `applyno`.
    pub async fn wait_delivered(&self, applyno: &str, n: usize) -> Vec<crate::platform::Received> {
        let a = applyno.to_owned();
        self.platform
            .wait_until(Duration::from_secs(30), move |r| {
                r.iter()
                    .filter(|x| x.applyno() == a && x.reply == "Ok")
                    .count()
                    >= n
            })
            .await;
        self.delivered(applyno)
    }

    /// Stops every service and removes the test's queues and schema.
    pub async fn stop(self) {
        self.ingress.stop().await;
        self.egress.stop().await;
        for (stop, task) in self.tasks {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
        self.h.cleanup().await;
    }
}

/// Text of a PDF, through poppler's `pdftotext` (installed by `.ci/run`).
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("gw-pdf-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext is not installed: install poppler-utils (see .ci/run)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
