//! Either deployment, for tests that must hold on both: every service as
//! its own application on RabbitMQ and PostgreSQL, or the single-process
//! gateway on SQLite with the bus in the database. A local platform
//! stand-in receives the notices and serves evidence files.

use std::collections::BTreeMap;
use std::time::Duration;

use gw_bus::{Bus, Message};
use gw_storage::Db;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::platform::{Platform, PlatformExt, Received};
use crate::{Harness, TestIds, settings};

/// Which deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One application per service, RabbitMQ and PostgreSQL.
    Services,
    /// The gateway in one process, SQLite, the bus in the database.
    Embedded,
}

/// A running deployment.
pub struct Deployment {
    pub kind: Kind,
    pub platform: std::sync::Arc<Platform>,
    /// Base URL of the inbound API.
    pub ingress: String,
    /// Base URL of `/cashier` and `/verify`.
    pub cashier: String,
    pub verify: String,
    /// Base URL of each service's admin API, by service name.
    pub admin: BTreeMap<String, String>,
    pub bus: Bus,
    pub db: Db,
    /// The settings the services run with.
    pub settings: gw_config::Settings,
    /// Whether claims are paid at once (else the bank confirms).
    pub auto_payout: bool,
    harness: Option<Harness>,
    tasks: Vec<(
        CancellationToken,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
    dir: Option<std::path::PathBuf>,
}

const SERVICES: &[&dyn gw_host::Service] = &[
    &underwriting::Underwriting,
    &payment::Payment,
    &issuance::Issuance,
    &invoice::Invoice,
    &claims::Claims,
    &console::Console,
];

impl Deployment {
    pub async fn start(kind: Kind, extra: &[(&str, &str)]) -> Self {
        match kind {
            Kind::Services => Self::services(extra).await,
            Kind::Embedded => Self::embedded(extra).await,
        }
    }

    async fn services(extra: &[(&str, &str)]) -> Self {
        let platform = std::sync::Arc::new(crate::platform::start_strict().await);
        let ids = TestIds::new();
        let mut all: Vec<(&str, &str)> = vec![
            ("GW__DATABASE__MAX_CONNECTIONS", "4"),
            ("GW__AMQP__PREFETCH", "8"),
            ("GW__PAYMENT__SANDBOX", "true"),
            ("GW__CLAIMS__SWEEP_INTERVAL", "1s"),
        ];
        all.extend_from_slice(extra);
        let h = Harness::new(ids.clone(), settings(&ids, &platform.base_url, &all)).await;
        // Egress first: the public base URL (the file links) points at it.
        let egress = crate::spawn(settings(&ids, &platform.base_url, &all), &egress::Egress).await;
        let base = egress.address("egress");
        all.push(("GW__PUBLIC_BASE_URL", &base));
        let s = settings(&ids, &platform.base_url, &all);
        let mut admin = BTreeMap::from([("egress".to_owned(), egress.address("egress.admin"))]);
        let mut tasks = vec![(egress.running.shutdown, egress.running.handle)];
        let (mut cashier, mut verify) = (String::new(), String::new());
        for service in SERVICES {
            let started = crate::spawn(s.clone(), *service).await;
            let name = service.name();
            if started.ports.contains_key(&format!("{name}.admin")) {
                admin.insert(name.to_owned(), started.address(&format!("{name}.admin")));
            }
            match name {
                "payment" => cashier = started.address("payment"),
                "issuance" => verify = started.address("issuance"),
                _ => {}
            }
            tasks.push((started.running.shutdown, started.running.handle));
        }
        let ingress = crate::spawn(s.clone(), &ingress::Ingress).await;
        let address = ingress.address("ingress");
        tasks.push((ingress.running.shutdown, ingress.running.handle));
        Self {
            kind: Kind::Services,
            platform,
            ingress: address,
            cashier,
            verify,
            admin,
            bus: h.bus.clone(),
            db: h.db.clone(),
            settings: s.clone(),
            auto_payout: s.claims.auto_payout,
            harness: Some(h),
            tasks,
            dir: None,
        }
    }

    async fn embedded(extra: &[(&str, &str)]) -> Self {
        gw_telemetry::init_for_tests();
        let platform = std::sync::Arc::new(crate::platform::start_strict().await);
        let dir = std::env::temp_dir().join(format!("gw-deploy-{}", uuid::Uuid::new_v4().simple()));
        let db_url = format!("sqlite://{}/gateway.db?mode=rwc", dir.display());
        // The public base URL names the port before the gateway binds it; if
        // another test takes the port in between, try another.
        for _ in 0..5 {
            let port = crate::stack::free_port();
            let (base, listen) = (
                format!("http://127.0.0.1:{port}"),
                format!("127.0.0.1:{port}"),
            );
            let mut all: Vec<(&str, &str)> = vec![
                ("GW__AMQP__URL", "embedded"),
                ("GW__DATABASE__URL", &db_url),
                ("GW__PUBLIC_BASE_URL", &base),
                ("GW__INGRESS__LISTEN", &listen),
                ("GW__PAYMENT__SANDBOX", "true"),
                ("GW__CLAIMS__AUTO_PAYOUT", "true"),
                ("GW__CLAIMS__SWEEP_INTERVAL", "1s"),
            ];
            all.extend_from_slice(extra);
            let s = settings(&TestIds::new(), &platform.base_url, &all);
            let stop = CancellationToken::new();
            let Ok(g) = gateway::Gateway::start(s.clone(), stop.clone()).await else {
                continue;
            };
            let admin = g
                .ports
                .iter()
                .filter_map(|(k, p)| {
                    k.strip_suffix(".admin")
                        .map(|n| (n.to_owned(), format!("http://127.0.0.1:{p}")))
                })
                .collect();
            let (bus, db) = gw_host::connect(&s, "test").await.unwrap();
            let task = tokio::spawn(g.wait());
            return Self {
                kind: Kind::Embedded,
                platform,
                ingress: base.clone(),
                cashier: base.clone(),
                verify: base,
                admin,
                bus,
                db,
                auto_payout: s.claims.auto_payout,
                settings: s.clone(),
                harness: None,
                tasks: vec![(stop, task)],
                dir: Some(dir),
            };
        }
        panic!("the gateway does not start");
    }

    /// The payment link of an approved application.
    pub async fn premiumurl(&self, applyno: &str) -> String {
        let reply = self.call_ok("payapply", &json!({"applyno": applyno})).await;
        let data: Value =
            serde_json::from_str(&crate::decrypt(reply["data"].as_str().unwrap())).unwrap();
        data["premiumurl"].as_str().unwrap().to_owned()
    }

    /// Pays the premium (300.00) through the sandbox cashier; the HTTP status.
    pub async fn pay(&self, premiumurl: &str) -> u16 {
        let form = crate::samples::PAYMENT_FORM;
        reqwest::Client::new()
            .post(format!("{}/pay", self.cashier_url(premiumurl)))
            .form(&form)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// An application approved (processnotice delivered).
    pub async fn approved(&self, applyno: &str) {
        self.call_ok("baohanapply", &crate::samples::baohanapply(applyno))
            .await;
        self.wait_delivered(applyno, 1).await;
    }

    /// An application paid and its cipher guarantee issued; its `baohanno`.
    pub async fn issued(&self, applyno: &str) -> String {
        self.approved(applyno).await;
        let url = self.premiumurl(applyno).await;
        assert_eq!(self.pay(&url).await, 200);
        let got = self.wait_delivered(applyno, 3).await;
        assert_eq!(got[2].interface, "baohannotice");
        got[2].json["baohanno"].as_str().unwrap().to_owned()
    }

    /// Calls an inbound interface; returns the JSON reply.
    pub async fn call(&self, name: &str, body: &Value) -> Value {
        crate::call(&self.ingress, name, body).await
    }

    /// Calls an inbound interface and asserts `code 200`.
    pub async fn call_ok(&self, name: &str, body: &Value) -> Value {
        let reply = self.call(name, body).await;
        assert_eq!(reply["code"], 200, "{name}: {reply}");
        reply
    }

    /// The cashier page of a `premiumurl`, on whichever service serves it.
    pub fn cashier_url(&self, premiumurl: &str) -> String {
        let path = premiumurl.split("/cashier/").nth(1).unwrap_or_default();
        format!("{}/cashier/{path}", self.cashier)
    }

    /// The notice rows (egress's records) of `applyno`.
    pub async fn notice_rows(&self, applyno: &str) -> Vec<gw_storage::notices::NoticeRow> {
        gw_storage::notices::list(
            self.db.conn(),
            &gw_storage::notices::Filter {
                state: None,
                applyno: Some(applyno.to_owned()),
                limit: 50,
            },
        )
        .await
        .unwrap()
    }

    /// The notices of `applyno` the platform accepted, in order.
    pub fn delivered(&self, applyno: &str) -> Vec<Received> {
        self.platform
            .received_for(applyno)
            .into_iter()
            .filter(|r| r.reply == "Ok")
            .collect()
    }

    /// Waits until the platform has accepted `n` notices of `applyno`.
    pub async fn wait_delivered(&self, applyno: &str, n: usize) -> Vec<Received> {
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

    /// Waits for the accepted notice of `interface` whose `applicationno` is given.
    pub async fn wait_notice(&self, interface: &str, applicationno: &str) -> Value {
        let (i, a) = (interface.to_owned(), applicationno.to_owned());
        let got = self
            .platform
            .wait_until(Duration::from_secs(30), move |r| {
                r.iter().any(|x| {
                    x.interface == i && x.json["applicationno"] == a.as_str() && x.reply == "Ok"
                })
            })
            .await;
        got.into_iter()
            .find(|x| {
                x.interface == interface
                    && x.json["applicationno"] == applicationno
                    && x.reply == "Ok"
            })
            .map(|x| x.json)
            .unwrap_or_default()
    }

    /// How many accepted notices of `interface` carry this `applicationno`.
    pub fn notices_of(&self, interface: &str, applicationno: &str) -> usize {
        self.platform
            .received()
            .iter()
            .filter(|x| {
                x.interface == interface
                    && x.json["applicationno"] == applicationno
                    && x.reply == "Ok"
            })
            .count()
    }

    /// The lifecycle state of an application (`""` when unknown).
    pub async fn state(&self, applyno: &str) -> String {
        gw_storage::applications::find(self.db.conn(), &crate::applyno(applyno))
            .await
            .unwrap()
            .map(|a| a.state.to_string())
            .unwrap_or_default()
    }

    /// Waits until the application is in `want`.
    pub async fn wait_state(&self, applyno: &str, want: &str) {
        let until = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.state(applyno).await;
            if now == want {
                return;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "{applyno} is {now}, not {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Takes one message from a work queue (logical name), if any.
    pub async fn take(&self, logical: &str) -> Option<Message> {
        let full = self.bus.topology().queue(logical);
        let d = self.bus.transport().get(&full).await.unwrap()?;
        d.ack().await.unwrap();
        Some(d.message().clone())
    }

    /// Every event in the journal so far (taken: each is seen once).
    pub async fn events(&self) -> Vec<Message> {
        let full = self.bus.topology().journal_queue();
        let mut out = Vec::new();
        while let Some(d) = self.bus.transport().get(&full).await.unwrap() {
            d.ack().await.unwrap();
            out.push(d.message().clone());
        }
        out
    }

    /// Waits up to 20 s for the first journal event that `wanted` accepts
    /// and returns it; the events before it are taken too. Events leave
    /// through the outbox relay after their state change commits, so they
    /// trail the state a test sees in the database.
    pub async fn wait_event(&self, what: &str, wanted: impl Fn(&Message) -> bool) -> Message {
        let until = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(e) = self.events().await.into_iter().find(&wanted) {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "no {what} event in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Publishes a command as its producer (a bank's system) would.
    pub async fn send<C: gw_contract::Contract>(&self, command: &C) {
        let (to, m) = gw_contract::message(command).unwrap();
        self.bus.publish(&to, &m).await.unwrap();
    }

    /// Stops everything and removes what the test created.
    pub async fn stop(self) {
        for (stop, task) in self.tasks {
            stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
        match self.harness {
            Some(h) => h.cleanup().await,
            None => {
                self.bus.close().await;
                self.db.close().await;
            }
        }
        if let Some(dir) = self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
