//! Test harness, after zero2prod's `spawn_app`: every test gets its own
//! queue prefix and PostgreSQL schema, talks to the real RabbitMQ and
//! PostgreSQL, runs services on port 0, and cleans up after itself.
//!
//! The broker and the database must be running; if one is not, the test
//! fails and says which and how to start it. Nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;
pub mod deploy;
pub mod platform;
pub use platform::PlatformExt as _;
pub mod procs;
pub mod proxy;
pub use sandbox::samples;
pub mod stack;

use std::collections::HashMap;
use std::time::Duration;

use gw_bus::{Bus, Message, Topology};
use gw_config::Settings;
use gw_storage::Db;
use tokio_util::sync::CancellationToken;

pub const APPKEY: &str = "test-appkey";
pub const APPSECRET: &str = "hn2025guarantee1";
pub const COUNTERPART: &str = "hunan";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// Settings override for a test of quorum-queue behaviour (delivery limit,
/// at-least-once dead-lettering) or of the production topology.
pub const QUORUM: (&str, &str) = ("GW__AMQP__QUEUE_TYPE", "quorum");

pub fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Fails the test at once, naming the service, when RabbitMQ or PostgreSQL
/// does not answer: not running (the port refuses), or running but not
/// answering (RabbitMQ accepts TCP but sends no AMQP handshake).
pub async fn require_services() {
    for (what, addr, how) in [
        ("RabbitMQ", "127.0.0.1:5672", "rabbitmq-server -detached"),
        (
            "PostgreSQL",
            "127.0.0.1:5432",
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        ),
    ] {
        let ok = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false);
        assert!(
            ok,
            "{what} is not reachable at {addr}; start it with `{how}` (see .ci/run)"
        );
    }
    if let Err(why) = amqp_answers("127.0.0.1:5672", Duration::from_secs(5)).await {
        panic!(
            "RabbitMQ at 127.0.0.1:5672 accepts TCP connections but is not answering: {why}; \
             restart it (`rabbitmqctl stop_app; rabbitmqctl start_app`, or kill it and \
             `rabbitmq-server -detached`; .ci/run does this)"
        );
    }
}

/// Whether the broker at `addr` starts an AMQP handshake: after the protocol
/// header a live broker sends `connection.start` at once.
pub async fn amqp_answers(addr: &str, within: Duration) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        s.write_all(b"AMQP\x00\x00\x09\x01")
            .await
            .map_err(|e| format!("cannot send the protocol header: {e}"))?;
        let mut frame = [0u8; 7];
        s.read_exact(&mut frame)
            .await
            .map_err(|e| format!("no connection.start: {e}"))?;
        if frame[0] == 1 {
            Ok(())
        } else {
            Err(format!("unexpected first frame type {}", frame[0]))
        }
    };
    tokio::time::timeout(within, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no AMQP handshake within {within:?}")))
}

/// A unique queue prefix and database schema for one test.
#[derive(Debug, Clone)]
pub struct TestIds {
    pub prefix: String,
    pub schema: String,
}

impl TestIds {
    pub fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            prefix: format!("t{}", &id[..12]),
            schema: format!("t_{}", &id[..12]),
        }
    }
}

impl Default for TestIds {
    fn default() -> Self {
        Self::new()
    }
}

/// Settings for one test: its prefix and schema, the local broker and
/// database, one counterpart, short timeouts, listeners on port 0.
pub fn settings(ids: &TestIds, notice_base_url: &str, extra: &[(&str, &str)]) -> Settings {
    Settings::load_from(None, Some(settings_env(ids, notice_base_url, extra)))
        .expect("test settings are valid")
}

/// The same settings as `GW__*` environment variables (for child processes).
pub fn settings_env(
    ids: &TestIds,
    notice_base_url: &str,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        // Tests run with the example institution and a generated SM2 key.
        ("GW__ENVIRONMENT", "sandbox".into()),
        ("GW__DATABASE__URL", database_url()),
        ("GW__DATABASE__SCHEMA", ids.schema.clone()),
        ("GW__DATABASE__MAX_CONNECTIONS", "5".into()),
        ("GW__AMQP__URL", amqp_url()),
        ("GW__AMQP__PREFIX", ids.prefix.clone()),
        ("GW__AMQP__PUBLISH_TIMEOUT", "2s".into()),
        ("GW__AMQP__CONNECT_TIMEOUT", "10s".into()),
        ("GW__AMQP__RETRY_TIERS", "1s,2s".into()),
        ("GW__AMQP__MAX_ATTEMPTS", "3".into()),
        // Classic queues: a test creates and deletes a whole topology, and
        // RabbitMQ keeps memory for every deleted quorum queue until its
        // Raft log rolls over. Tests of quorum behaviour ask for quorum.
        ("GW__AMQP__QUEUE_TYPE", "classic".into()),
        ("GW__INGRESS__LISTEN", "127.0.0.1:0".into()),
        ("GW__INGRESS__ADMIN_LISTEN", "127.0.0.1:0".into()),
        ("GW__INGRESS__REQUEST_TIMEOUT", "5s".into()),
        ("GW__TELEMETRY__LOG_FORMAT", "pretty".into()),
        ("GW__COUNTERPARTS__HUNAN__APPKEY", APPKEY.into()),
        ("GW__COUNTERPARTS__HUNAN__APPSECRET", APPSECRET.into()),
        (
            "GW__COUNTERPARTS__HUNAN__NOTICE_BASE_URL",
            notice_base_url.into(),
        ),
        ("GW__PUBLIC_BASE_URL", "http://127.0.0.1:8081".into()),
        ("GW__EGRESS__LISTEN", "127.0.0.1:0".into()),
        ("GW__EGRESS__ADMIN_LISTEN", "127.0.0.1:0".into()),
        // Every listener on a free port: tests run in parallel.
        ("GW__PAYMENT__LISTEN", "127.0.0.1:0".into()),
        ("GW__PAYMENT__ADMIN_LISTEN", "127.0.0.1:0".into()),
        ("GW__ISSUANCE__LISTEN", "127.0.0.1:0".into()),
        ("GW__ISSUANCE__ADMIN_LISTEN", "127.0.0.1:0".into()),
        ("GW__UNDERWRITING__ADMIN_LISTEN", "127.0.0.1:0".into()),
        ("GW__INVOICE__ADMIN_LISTEN", "127.0.0.1:0".into()),
        ("GW__CLAIMS__ADMIN_LISTEN", "127.0.0.1:0".into()),
        ("GW__CONSOLE__LISTEN", "127.0.0.1:0".into()),
        ("GW__ADMIN__TOKEN", ADMIN_TOKEN.into()),
        ("GW__EGRESS__HTTP_TIMEOUT", "2s".into()),
        ("GW__EGRESS__RETRY_SCHEDULE", "1s".into()),
        ("GW__EGRESS__RETRY_FOR", "10s".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

/// The test's own view of the broker and the database, for seeding and
/// inspecting, and for cleaning up.
pub struct Harness {
    pub ids: TestIds,
    pub settings: Settings,
    pub bus: Bus,
    pub db: Db,
    cleaned: bool,
}

impl Harness {
    /// Declares the topology and migrates the schema for `settings`.
    pub async fn new(ids: TestIds, settings: Settings) -> Self {
        require_services().await;
        gw_telemetry::init_for_tests();
        let bus = gw_host::connect_bus(&settings, "test-harness")
            .await
            .expect("RabbitMQ");
        let db = gw_host::connect_db(&settings).await.expect("PostgreSQL");
        Self {
            ids,
            settings,
            bus,
            db,
            cleaned: false,
        }
    }

    pub fn topology(&self) -> &Topology {
        self.bus.topology()
    }

    /// Takes (and acks) one message from a work queue, if any.
    pub async fn take(&self, logical: &str) -> Option<Message> {
        self.take_full(&self.topology().queue(logical)).await
    }

    /// Takes (and acks) one message from a work queue's dead-letter queue.
    pub async fn take_dead(&self, logical: &str) -> Option<Message> {
        self.take_full(&self.topology().dead_letter_queue(logical))
            .await
    }

    pub async fn take_full(&self, full: &str) -> Option<Message> {
        let d = self.bus.transport().get(full).await.expect("basic.get")?;
        d.ack().await.expect("ack");
        Some(d.message().clone())
    }

    /// Waits up to `timeout` for a message on a full queue name.
    pub async fn wait_full(&self, full: &str, timeout: Duration) -> Option<Message> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(m) = self.take_full(full).await {
                return Some(m);
            }
            if tokio::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_take(&self, logical: &str, timeout: Duration) -> Option<Message> {
        self.wait_full(&self.topology().queue(logical), timeout)
            .await
    }

    pub async fn wait_dead(&self, logical: &str, timeout: Duration) -> Option<Message> {
        self.wait_full(&self.topology().dead_letter_queue(logical), timeout)
            .await
    }

    /// Waits for a message of `logical` to die: in its dead-letter queue, or
    /// already archived from there into `dead_letters` by a running
    /// service's archiver (which races the test for the queue); its message
    /// id and last error.
    pub async fn wait_dead_letter(
        &self,
        logical: &str,
        timeout: Duration,
    ) -> Option<(String, String)> {
        let until = tokio::time::Instant::now() + timeout;
        let dlq = self.topology().dead_letter_queue(logical);
        let filter = gw_storage::dead_letters::Filter {
            destination: Some(format!("queue:{logical}")),
            ..Default::default()
        };
        loop {
            if let Some(m) = self.take_full(&dlq).await {
                let error = m
                    .header(gw_bus::headers::ERROR)
                    .unwrap_or_default()
                    .to_owned();
                return Some((m.id, error));
            }
            if let Some(d) = gw_storage::dead_letters::list(self.db.conn(), &filter)
                .await
                .unwrap()
                .into_iter()
                .next()
            {
                return Some((d.message_id, d.error));
            }
            if tokio::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deletes the test's queues, exchanges and schema.
    pub async fn cleanup(mut self) {
        cleanup(&self.bus, &self.db).await;
        self.cleaned = true;
    }
}

async fn cleanup(bus: &Bus, db: &Db) {
    let _ = bus.transport().delete(bus.topology()).await;
    bus.close().await;
    let _ = db.drop_schema().await;
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // The test failed before cleaning up: clean up with fresh
        // connections, so a failure leaves nothing behind either.
        let settings = self.settings.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Runtime::new() else {
                return;
            };
            rt.block_on(async move {
                if let (Ok(bus), Ok(db)) = (
                    gw_host::connect_bus(&settings, "test-cleanup").await,
                    gw_host::connect_db(&settings).await,
                ) {
                    cleanup(&bus, &db).await;
                }
            });
        })
        .join();
    }
}

/// A running service in this process.
pub struct Running {
    pub port: u16,
    pub address: String,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops the service gracefully and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), self.handle).await;
    }
}

/// Builds a service on its own connections and starts it; its public port
/// (or `<name>.admin`) is in `ports`.
pub async fn spawn(settings: Settings, service: &dyn gw_host::Service) -> Started {
    let app = gw_host::Application::build(settings, &[service])
        .await
        .unwrap_or_else(|e| panic!("{} builds: {e:#}", service.name()));
    let ports = app.ports().clone();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run_until(shutdown.clone()));
    Started {
        ports,
        running: Running {
            port: 0,
            address: String::new(),
            shutdown,
            handle,
        },
    }
}

/// A service started by [`spawn`].
pub struct Started {
    pub ports: std::collections::BTreeMap<String, u16>,
    pub running: Running,
}

impl Started {
    /// `http://127.0.0.1:<port>` of a listener (`<name>` or `<name>.admin`).
    pub fn address(&self, listener: &str) -> String {
        format!(
            "http://127.0.0.1:{}",
            self.ports.get(listener).copied().unwrap_or(0)
        )
    }
}

/// Builds and starts ingress on a free port.
pub async fn spawn_ingress(settings: Settings) -> Running {
    let app = gw_host::Application::build(settings, &[&ingress::Ingress])
        .await
        .expect("ingress builds");
    let port = app.port("ingress").unwrap_or(0);
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run_until(shutdown.clone()));
    Running {
        port,
        address: format!("http://127.0.0.1:{port}"),
        shutdown,
        handle,
    }
}

/// Encrypts a request body as the platform does.
pub fn encrypt(plaintext: &str) -> String {
    gw_envelope::Sm4Key::from_appsecret(APPSECRET)
        .unwrap()
        .encrypt_hex(plaintext)
}

pub fn decrypt(ciphertext: &str) -> String {
    gw_envelope::Sm4Key::from_appsecret(APPSECRET)
        .unwrap()
        .decrypt_text(ciphertext)
        .unwrap()
}

/// POSTs `body` to `/v1/gua/tb/<name>` with `appkey`; returns the JSON reply.
pub async fn post_inbound(
    address: &str,
    name: &str,
    appkey: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> serde_json::Value {
    let client = reqwest::Client::new();
    let mut req = client
        .post(format!("{address}/v1/gua/tb/{name}"))
        .body(body);
    if let Some(k) = appkey {
        req = req.header("appkey", k);
    }
    let resp = req.send().await.expect("ingress answers");
    assert_eq!(
        resp.status(),
        200,
        "protocol replies are HTTP 200 with a JSON code"
    );
    resp.json().await.expect("a JSON reply")
}

/// Sends a request of `name` with body `json`, encrypted with the test key.
pub async fn call(address: &str, name: &str, json: &serde_json::Value) -> serde_json::Value {
    post_inbound(address, name, Some(APPKEY), encrypt(&json.to_string())).await
}

/// Builds and starts egress on free ports.
pub async fn spawn_egress(settings: Settings) -> EgressRunning {
    let app = gw_host::Application::build(settings, &[&egress::Egress])
        .await
        .expect("egress builds");
    let (port, admin_port) = (
        app.port("egress").unwrap_or(0),
        app.port("egress.admin").unwrap_or(0),
    );
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run_until(shutdown.clone()));
    EgressRunning {
        app: Running {
            port,
            address: format!("http://127.0.0.1:{port}"),
            shutdown,
            handle,
        },
        admin: format!("http://127.0.0.1:{admin_port}"),
    }
}

/// A running egress: its file server and its admin API.
pub struct EgressRunning {
    pub app: Running,
    pub admin: String,
}

impl EgressRunning {
    pub async fn stop(self) {
        self.app.stop().await;
    }
}

impl Harness {
    /// Publishes a notice command as a worker's outbox relay would.
    pub async fn send_notice(&self, cmd: &gw_contract::NoticeCommand) {
        self.send(cmd).await;
    }

    /// Publishes a command as its producer would.
    pub async fn send<C: gw_contract::Contract>(&self, command: &C) {
        let (to, m) = gw_contract::message(command).unwrap();
        self.bus.publish(&to, &m).await.unwrap();
    }

    /// The stored record of a notice.
    pub async fn notice(&self, id: &str) -> Option<gw_storage::notices::NoticeRow> {
        gw_storage::notices::find(self.db.conn(), id).await.unwrap()
    }

    /// Waits until the notice is in `state`.
    pub async fn wait_notice_state(
        &self,
        id: &str,
        state: &str,
        timeout: Duration,
    ) -> gw_storage::notices::NoticeRow {
        wait_notice_state(&self.db, id, state, timeout).await
    }

    /// Takes every message in the event journal.
    pub async fn drain_journal(&self) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.take_full(&self.topology().journal_queue()).await {
            out.push(m);
        }
        out
    }
}

/// A notice command built from wire JSON (validated).
pub fn notice_command(
    interface: gw_protocol::Interface,
    body: serde_json::Value,
    after: Option<&str>,
) -> gw_contract::NoticeCommand {
    let notice = gw_protocol::Notice::from_value(interface, body).expect("a valid notice");
    gw_contract::NoticeCommand::new(&counterpart(), &notice, after.map(str::to_owned))
}

/// The test counterpart's name, typed.
pub fn counterpart() -> gw_protocol::CounterpartName {
    gw_protocol::CounterpartName::try_from(COUNTERPART).unwrap()
}

/// An `ApplyNo` from a test literal.
pub fn applyno(s: &str) -> gw_protocol::ApplyNo {
    gw_protocol::ApplyNo::try_from(s).unwrap()
}

/// Writes an application in `state`, arrived at `at`, as the workers
/// would leave it once priced (its guarantee number once issued).
pub async fn seed_application(
    db: &Db,
    applyno: &str,
    state: gw_lifecycle::State,
    baohanno: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) {
    use gw_storage::entities::applications;
    use gw_storage::sea_orm::{ActiveModelTrait, Set};
    applications::ActiveModel {
        applyno: Set(self::applyno(applyno)),
        counterpart: Set(counterpart()),
        state: Set(state),
        version: Set(1),
        biddername: Set("湖南建工集团有限公司".into()),
        biddercode: Set(samples::BIDDER_CODE.into()),
        bzjamount_cents: Set(20_000_000),
        jbrname: Set("张三".into()),
        jbrphone: Set("13800138000".into()),
        content_hash: Set("x".into()),
        rate: Set(Some("0.0015".into())),
        cost_cents: Set(Some(30_000)),
        remark: Set(None),
        cashier_token: Set(Some(format!("tok{applyno}"))),
        paid_at: Set(None),
        baohanno: Set(baohanno.map(|b| gw_protocol::BaohanNo::try_from(b).unwrap())),
        last_notice_id: Set(None),
        claimed_cents: Set(0),
        claim_pending_cents: Set(0),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db.conn())
    .await
    .unwrap();
}

/// Stores `bytes` as a file of `applyno` through `store`, committed.
pub async fn store_file(
    store: &dyn gw_files::FileStore,
    db: &Db,
    kind: gw_files::FileKind,
    applyno: &str,
    bytes: Vec<u8>,
) -> gw_files::StoredFile {
    use gw_storage::sea_orm::TransactionTrait;
    let file = gw_files::NewFile {
        kind,
        applyno: Some(applyno.to_owned()),
        counterpart: COUNTERPART.into(),
        content_type: "application/pdf".into(),
    };
    let staged = store.upload(file, bytes.into()).await.unwrap();
    let txn = db.conn().begin().await.unwrap();
    let stored = store.record(&txn, staged).await.unwrap();
    txn.commit().await.unwrap();
    stored
}

/// A client that sends the admin token.
/// `POST /verify/file` of `pdf` at the verification base `verify`: the
/// JSON verdict (`genuine`, the guarantee).
pub async fn verify_file(verify: &str, pdf: Vec<u8>) -> serde_json::Value {
    json_of(
        reqwest::Client::new()
            .post(format!("{verify}/verify/file"))
            .header("accept", "application/json")
            .header("content-type", "application/pdf")
            .body(pdf),
    )
    .await
}

/// Sends `request` and reads its JSON answer.
pub async fn json_of<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

/// An admin client that names its operator (`X-Operator`), as the
/// console and operators' tools do.
pub fn operator_client(name: &str) -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
    );
    h.insert(
        "x-operator",
        reqwest::header::HeaderValue::from_bytes(name.as_bytes()).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

/// Asserts that the operation records on the admin API at `admin` hold
/// exactly one `action` on `subject`, by `actor`; returns it.
pub async fn assert_recorded(
    admin: &str,
    action: &str,
    subject: &str,
    actor: &str,
) -> serde_json::Value {
    let url = reqwest::Url::parse_with_params(
        &format!("{admin}/admin/operations"),
        &[("action", action), ("subject", subject)],
    )
    .unwrap();
    let rows: Vec<serde_json::Value> = json_of(admin_client().get(url)).await;
    assert_eq!(rows.len(), 1, "{action} on {subject}: {rows:#?}");
    assert_eq!(rows[0]["actor"], actor, "{:#}", rows[0]);
    assert_eq!(rows[0]["channel"], "admin_api", "{:#}", rows[0]);
    rows[0].clone()
}

pub fn admin_client() -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap()
}

/// Downloads a file link and decrypts it with the counterpart's key.
pub async fn download(url: &str) -> Vec<u8> {
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    gw_envelope::Sm4Key::from_appsecret(APPSECRET)
        .unwrap()
        .decrypt_bytes(&bytes)
        .unwrap()
}

/// A SQLite database at `file` (created, migrated, commits synced), with a
/// pool of `max_connections`.
pub async fn sqlite_db(file: &std::path::Path, max_connections: u32) -> gw_storage::Db {
    gw_storage::Db::connect(&gw_storage::DbOptions {
        url: format!("sqlite://{}?mode=rwc", file.display()),
        max_connections,
        connect_timeout: std::time::Duration::from_secs(5),
        schema: None,
        migrate: true,
        sqlite_full_sync: true,
        sqlite_cache_kib: 512,
    })
    .await
    .expect("a SQLite database in the temporary directory")
}

/// Waits until egress's record of the notice `id` in `db` is in `state`.
pub async fn wait_notice_state(
    db: &gw_storage::Db,
    id: &str,
    state: &str,
    timeout: Duration,
) -> gw_storage::notices::NoticeRow {
    let until = tokio::time::Instant::now() + timeout;
    loop {
        let row = gw_storage::notices::find(db.conn(), id).await.unwrap();
        if let Some(r) = &row
            && r.state == state
        {
            return r.clone();
        }
        assert!(
            tokio::time::Instant::now() < until,
            "notice {id} not {state} within {timeout:?}: {:?}",
            row.map(|r| (r.state, r.attempts, r.last_error))
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
