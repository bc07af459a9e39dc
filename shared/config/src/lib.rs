//! Typed, layered configuration: built-in defaults, then a TOML file, then
//! environment variables (`GW__SECTION__KEY`, e.g. `GW__AMQP__URL`,
//! `GW__COUNTERPARTS__HUNAN__APPSECRET`). [`Settings::load`] validates
//! everything at start-up and reports every problem at once, so a service
//! never starts half-configured. Secrets are `secrecy` types and never print.
//!
//! README.md lists every key with its environment variable.

mod counterparts;
mod duration;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use counterparts::{Counterpart, Counterparts};
pub use duration::{parse_duration, string_or_list};
pub use secrecy;

/// Environment variable prefix and separator: `GW__AMQP__URL` sets `amqp.url`.
pub const ENV_PREFIX: &str = "GW";
pub const ENV_SEPARATOR: &str = "__";
/// `amqp.url` of the single-process mode: the bus lives in the database.
pub const EMBEDDED_BUS: &str = "embedded";

/// Environment variable naming the TOML file, when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "GW_CONFIG";

/// The whole configuration of a deployment. Every service reads the sections
/// it needs; one file can serve them all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL the platform uses to reach our public endpoints (file links,
    /// the cashier page, verification), e.g. `https://gw.example.com`.
    pub public_base_url: url::Url,
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub ingress: IngressSettings,
    pub egress: EgressSettings,
    pub files: FilesSettings,
    pub admin: AdminSettings,
    pub institution: InstitutionSettings,
    pub underwriting: UnderwritingSettings,
    pub payment: PaymentSettings,
    pub issuance: IssuanceSettings,
    pub telemetry: TelemetrySettings,
    /// The platforms we serve, by name.
    #[serde(default)]
    pub counterparts: BTreeMap<String, CounterpartSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:pass@host/db` or `sqlite://path?mode=rwc`. Secret: it may hold a password.
    pub url: SecretString,
    pub max_connections: u32,
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    /// PostgreSQL schema to use (created if missing); tests use a fresh one each.
    #[serde(default)]
    pub schema: Option<String>,
}

impl AmqpSettings {
    /// Whether the bus is the embedded one (single-process mode).
    pub fn is_embedded(&self) -> bool {
        self.url.expose_secret() == EMBEDDED_BUS
    }
}

impl DatabaseSettings {
    /// Whether the URL names PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        let u = self.url.expose_secret();
        u.starts_with("postgres://") || u.starts_with("postgresql://")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// `amqp://user:pass@host:5672/%2f`. Secret: it holds a password.
    pub url: SecretString,
    /// Prefix of every exchange and queue name; tests use a unique one each.
    pub prefix: String,
    /// Unacknowledged deliveries per consumer (bounded concurrency).
    pub prefetch: u16,
    /// How long start-up waits for the broker.
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    /// How long to wait for the broker's confirm before answering 500.
    #[serde(deserialize_with = "duration::deserialize")]
    pub publish_timeout: Duration,
    /// Delay tiers of the generic retry queues of the workers.
    #[serde(deserialize_with = "duration::deserialize_list")]
    pub retry_tiers: Vec<Duration>,
    /// Attempts before a message that keeps failing is dead-lettered.
    pub max_attempts: u32,
    /// `quorum` (every deployment) or `classic` (test suites that create
    /// and delete a topology per test; classic queues have no delivery limit).
    pub queue_type: QueueType,
}

/// The kind of RabbitMQ queue (`amqp.queue_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Quorum,
    Classic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngressSettings {
    pub listen: SocketAddr,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    #[serde(deserialize_with = "duration::deserialize")]
    pub request_timeout: Duration,
    /// Sustained requests per second allowed per appkey.
    pub rate_limit_per_second: u32,
    /// Burst allowed per appkey above the sustained rate.
    pub rate_limit_burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressSettings {
    /// Public address: `GET /files/{token}` (the platform downloads here).
    pub listen: SocketAddr,
    /// Operators' admin API; keep it on a private network.
    pub admin_listen: SocketAddr,
    /// Time allowed for one notice POST.
    #[serde(deserialize_with = "duration::deserialize")]
    pub http_timeout: Duration,
    /// Delays between delivery attempts; the last one repeats until
    /// `retry_for` is covered.
    #[serde(deserialize_with = "duration::deserialize_list")]
    pub retry_schedule: Vec<Duration>,
    /// How long a notice is retried before it is dead-lettered.
    #[serde(deserialize_with = "duration::deserialize")]
    pub retry_for: Duration,
    /// Delays are shortened at random by up to this percentage.
    pub retry_jitter_percent: u8,
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

/// The operators' admin APIs (egress, underwriting, payment).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Bearer token of every admin API (at least 16 characters). Empty
    /// disables the admin APIs: every call is refused.
    #[serde(default = "empty_secret")]
    pub token: SecretString,
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminSettings { token: <redacted> }")
    }
}

/// Who we are, as printed on guarantees and sent in `baohannotice`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionSettings {
    /// `instname`: the issuer's name.
    pub name: String,
    /// `instcode`: the issuer's unified social credit code.
    pub code: String,
    /// The SM2 private key that signs guarantees, 64 hex digits. When absent,
    /// a development key is generated at first start and kept in the database.
    #[serde(default)]
    pub sm2_private_key: Option<SecretString>,
}

impl std::fmt::Debug for InstitutionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstitutionSettings")
            .field("name", &self.name)
            .field("code", &self.code)
            .field(
                "sm2_private_key",
                &self.sm2_private_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Underwriting rules. Amounts are decimal strings in yuan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnderwritingRules {
    /// Refuse a credit code that fails the GB 32100 check.
    #[serde(default = "yes")]
    pub require_valid_credit_code: bool,
    /// Largest guaranteed amount of one application.
    pub max_amount_per_application: String,
    /// Largest open exposure (approved, paid, issued, restored) per bidder.
    pub max_exposure_per_bidder: String,
    /// The premium is at least this.
    pub minimum_premium: String,
    /// Applications of at least this amount go to a person.
    #[serde(default)]
    pub refer_from: Option<String>,
    /// Premium rate by amount band: the first band whose `up_to` is not below
    /// the amount applies; a band without `up_to` catches the rest.
    pub rate_bands: Vec<RateBand>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateBand {
    #[serde(default)]
    pub up_to: Option<String>,
    pub rate: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnderwritingSettings {
    /// Admin API: blocklist and decisions on referred applications.
    pub admin_listen: SocketAddr,
    /// Rules in force when `rules_file` is not set.
    pub rules: UnderwritingRules,
    /// A TOML file of rules (same keys as `underwriting.rules`), re-read
    /// while running: a valid change applies at once, an invalid one is
    /// reported and the rules in force stay.
    #[serde(default)]
    pub rules_file: Option<PathBuf>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub rules_reload_interval: Duration,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Public address of the cashier pages (`premiumurl`).
    pub listen: SocketAddr,
    /// Admin API: held payments.
    pub admin_listen: SocketAddr,
    /// Offer a form that completes the payment (test environments only).
    pub sandbox: bool,
    /// Bank-transfer details shown on the cashier page.
    pub bank_account_name: String,
    pub bank_account_number: String,
    pub bank_name: String,
}

impl std::fmt::Debug for PaymentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSettings")
            .field("listen", &self.listen)
            .field("admin_listen", &self.admin_listen)
            .field("sandbox", &self.sandbox)
            .field("bank_name", &self.bank_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuanceSettings {
    /// Public address of the verification service (`/verify`).
    pub listen: SocketAddr,
    /// Verification lookups allowed per client address per minute.
    pub verify_per_minute: u32,
}

impl EgressSettings {
    /// The delay before each retry: the schedule, its last entry repeated
    /// until the delays add up to `retry_for` (never more than 1000).
    pub fn delays(&self) -> Vec<Duration> {
        let mut delays = self.retry_schedule.clone();
        let Some(last) = delays.last().copied() else {
            return delays;
        };
        let mut total: Duration = delays.iter().sum();
        while total < self.retry_for && delays.len() < 1000 && !last.is_zero() {
            delays.push(last);
            total += last;
        }
        delays
    }

    /// Attempts in all: the first one and one after each delay.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays().len() + 1).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStoreKind {
    /// In the database: every replica can serve every file.
    Database,
    /// In an S3-compatible bucket (`files.s3`).
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSettings {
    pub store: FileStoreKind,
    /// Largest file fetched from a platform.
    pub max_fetch_bytes: u64,
    #[serde(deserialize_with = "duration::deserialize")]
    pub fetch_timeout: Duration,
    /// Attempts of a platform file download before it is reported failed.
    pub fetch_attempts: u32,
    #[serde(default)]
    pub s3: Option<S3Settings>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// For S3-compatible stores (MinIO, OSS, COS); none for AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<SecretString>,
    #[serde(default)]
    pub allow_http: bool,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: String,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `tracing` env-filter directive; `RUST_LOG` overrides it.
    pub log_filter: String,
    pub log_format: LogFormat,
}

/// One platform as configured. Becomes a [`Counterpart`] (with its SM4 key
/// built once) after validation.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterpartSettings {
    pub appkey: String,
    /// The 16-character SM4 key the platform issued.
    pub appsecret: SecretString,
    /// Where its notice interfaces live, e.g. `http://218.76.24.212:19980`.
    pub notice_base_url: url::Url,
    /// Source networks allowed to call us as this counterpart; empty = any.
    #[serde(default, deserialize_with = "string_or_list")]
    pub allowed_networks: Vec<String>,
    /// Hosts (`host` or `host:port`) we may download its files from; empty =
    /// the host of `notice_base_url`.
    #[serde(default, deserialize_with = "string_or_list")]
    pub file_hosts: Vec<String>,
}

impl std::fmt::Debug for CounterpartSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CounterpartSettings")
            .field("appkey", &self.appkey)
            .field("appsecret", &"<redacted>")
            .field("notice_base_url", &self.notice_base_url.as_str())
            .field("allowed_networks", &self.allowed_networks)
            .field("file_hosts", &self.file_hosts)
            .finish()
    }
}

/// Start-up configuration failed; the message lists every problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Read(String),
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

/// The built-in defaults: a single machine with local PostgreSQL and RabbitMQ.
pub const DEFAULTS_TOML: &str = r#"
public_base_url = "http://127.0.0.1:8081"

[database]
url = "postgres://postgres@127.0.0.1:5432/gateway"
max_connections = 10
connect_timeout = "5s"

[amqp]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "gw"
prefetch = 32
connect_timeout = "30s"
publish_timeout = "5s"
retry_tiers = ["5s", "30s", "2m", "10m"]
max_attempts = 8
queue_type = "quorum"

[ingress]
listen = "0.0.0.0:8080"
body_limit_bytes = 1048576
request_timeout = "15s"
rate_limit_per_second = 50
rate_limit_burst = 100

[egress]
listen = "0.0.0.0:8081"
admin_listen = "127.0.0.1:8082"
http_timeout = "10s"
retry_schedule = ["5s", "30s", "2m", "10m", "30m", "1h"]
retry_for = "24h"
retry_jitter_percent = 20

[admin]
token = ""

[institution]
name = "湖南某某融资担保有限公司"
code = "91430100MA4L0000X9"

[underwriting]
admin_listen = "127.0.0.1:8083"
rules_reload_interval = "5s"

[underwriting.rules]
require_valid_credit_code = true
max_amount_per_application = "5000000.00"
max_exposure_per_bidder = "20000000.00"
minimum_premium = "100.00"
rate_bands = [
  { up_to = "1000000.00", rate = "0.0015" },
  { up_to = "3000000.00", rate = "0.0012" },
  { rate = "0.0010" },
]

[payment]
listen = "0.0.0.0:8084"
admin_listen = "127.0.0.1:8085"
sandbox = false
bank_account_name = "湖南某某融资担保有限公司"
bank_account_number = "4301 0000 0000 0000 000"
bank_name = "中国建设银行长沙分行"

[issuance]
listen = "0.0.0.0:8086"
verify_per_minute = 30

[files]
store = "database"
max_fetch_bytes = 20971520
fetch_timeout = "30s"
fetch_attempts = 3

[telemetry]
log_filter = "info"
log_format = "json"
"#;

impl Settings {
    /// Defaults, then `file` (if given), then `GW__*` from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, None)
    }

    /// Like [`Settings::load`], with an explicit environment (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        Self::load_layers("", file, env)
    }

    /// Defaults, then `more_defaults` (TOML: a binary's own defaults, such as
    /// the single-process gateway's), then `file`, then the environment.
    pub fn load_layers(
        more_defaults: &str,
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(
                DEFAULTS_TOML,
                config::FileFormat::Toml,
            ))
            .add_source(config::File::from_str(
                more_defaults,
                config::FileFormat::Toml,
            ));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Read(format!(
                    "{} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let mut environment = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator(ENV_SEPARATOR)
            .separator(ENV_SEPARATOR);
        if let Some(env) = env {
            environment = environment.source(Some(env.into_iter().collect()));
        }
        let settings: Settings = builder
            .add_source(environment)
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Read(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The file named by `GW_CONFIG`, if set.
    pub fn file_from_env() -> Option<PathBuf> {
        std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from)
    }

    /// Checks every rule and lists all violations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !matches!(self.public_base_url.scheme(), "http" | "https") {
            problems.push("public_base_url: must be an http(s) URL".to_owned());
        }
        let db = self.database.url.expose_secret();
        if !(db.starts_with("postgres://")
            || db.starts_with("postgresql://")
            || db.starts_with("sqlite:"))
        {
            problems.push(
                "database.url: must start with postgres://, postgresql:// or sqlite:".to_owned(),
            );
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections: must be at least 1".to_owned());
        }
        if let Some(schema) = &self.database.schema
            && (schema.is_empty()
                || !schema
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                || schema.as_bytes()[0].is_ascii_digit())
        {
            problems.push(
                "database.schema: letters, digits and _ only, not starting with a digit".to_owned(),
            );
        }
        let amqp = self.amqp.url.expose_secret();
        if !(amqp.starts_with("amqp://") || amqp.starts_with("amqps://") || amqp == EMBEDDED_BUS) {
            problems.push("amqp.url: must start with amqp:// or amqps://".to_owned());
        }
        if self.amqp.prefix.is_empty()
            || !self
                .amqp
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            problems
                .push("amqp.prefix: letters, digits, '-', '_' and '.' only, not empty".to_owned());
        }
        if self.amqp.prefetch == 0 {
            problems.push("amqp.prefetch: must be at least 1".to_owned());
        }
        if self.amqp.publish_timeout.is_zero() {
            problems.push("amqp.publish_timeout: must be positive".to_owned());
        }
        if self.amqp.retry_tiers.is_empty()
            || self.amqp.retry_tiers.iter().any(|d| d.as_millis() < 1)
        {
            problems.push("amqp.retry_tiers: at least one positive delay".to_owned());
        }
        if self.amqp.max_attempts == 0 {
            problems.push("amqp.max_attempts: must be at least 1".to_owned());
        }
        if self.ingress.body_limit_bytes < 1024 {
            problems.push("ingress.body_limit_bytes: must be at least 1024".to_owned());
        }
        if self.ingress.rate_limit_per_second == 0 || self.ingress.rate_limit_burst == 0 {
            problems.push(
                "ingress.rate_limit_per_second and rate_limit_burst: must be at least 1".to_owned(),
            );
        }
        let token = self.admin.token.expose_secret();
        if !token.is_empty() && token.chars().count() < 16 {
            problems.push(
                "admin.token: at least 16 characters (or empty to disable the admin APIs)"
                    .to_owned(),
            );
        }
        if self.institution.name.trim().is_empty() || self.institution.name.chars().count() > 200 {
            problems.push("institution.name: 1 to 200 characters".to_owned());
        }
        if !gw_protocol::types::gb32100_valid(&self.institution.code) {
            problems.push(
                "institution.code: not a valid unified social credit code (GB 32100)".to_owned(),
            );
        }
        if let Some(k) = &self.institution.sm2_private_key {
            let k = k.expose_secret();
            if k.len() != 64 || !k.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push("institution.sm2_private_key: 64 hex digits".to_owned());
            }
        }
        if self.underwriting.rules_file.is_none() {
            for p in validate_rules(&self.underwriting.rules) {
                problems.push(format!("underwriting.rules.{p}"));
            }
        }
        if self.issuance.verify_per_minute == 0 {
            problems.push("issuance.verify_per_minute: at least 1".to_owned());
        }
        if self.egress.http_timeout.is_zero() {
            problems.push("egress.http_timeout: must be positive".to_owned());
        }
        if self.egress.retry_schedule.is_empty()
            || self.egress.retry_schedule.iter().any(Duration::is_zero)
        {
            problems.push("egress.retry_schedule: at least one positive delay".to_owned());
        }
        if self.egress.retry_jitter_percent > 90 {
            problems.push("egress.retry_jitter_percent: at most 90".to_owned());
        }
        if self.files.fetch_attempts == 0 || self.files.max_fetch_bytes == 0 {
            problems.push(
                "files.fetch_attempts and files.max_fetch_bytes: must be at least 1".to_owned(),
            );
        }
        if self.files.store == FileStoreKind::S3
            && self.files.s3.as_ref().is_none_or(|s| s.bucket.is_empty())
        {
            problems.push("files.s3.bucket: required when files.store = \"s3\"".to_owned());
        }
        if let Err(e) = tracing_filter_ok(&self.telemetry.log_filter) {
            problems.push(format!("telemetry.log_filter: {e}"));
        }
        if let Err(mut more) = Counterparts::from_settings(&self.counterparts) {
            problems.append(&mut more);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The counterparts with their keys built. Validation has already passed.
    pub fn counterparts(&self) -> Result<Counterparts, ConfigError> {
        Counterparts::from_settings(&self.counterparts).map_err(ConfigError::Invalid)
    }
}

/// Checks a rule set; returns `key: problem` lines.
pub fn validate_rules(r: &UnderwritingRules) -> Vec<String> {
    let mut p = Vec::new();
    let money = |k: &str, v: &str, p: &mut Vec<String>| {
        if gw_protocol::Amount::try_from(v).is_err() {
            p.push(format!("{k}: {v:?} is not an amount in yuan"));
        }
    };
    money(
        "max_amount_per_application",
        &r.max_amount_per_application,
        &mut p,
    );
    money(
        "max_exposure_per_bidder",
        &r.max_exposure_per_bidder,
        &mut p,
    );
    money("minimum_premium", &r.minimum_premium, &mut p);
    if let Some(v) = &r.refer_from {
        money("refer_from", v, &mut p);
    }
    if r.rate_bands.is_empty() {
        p.push("rate_bands: at least one band".to_owned());
    }
    if r.rate_bands.iter().all(|b| b.up_to.is_some()) && !r.rate_bands.is_empty() {
        p.push(
            "rate_bands: the last band must have no up_to, so every amount has a rate".to_owned(),
        );
    }
    for (i, b) in r.rate_bands.iter().enumerate() {
        if gw_protocol::Rate::try_from(b.rate.as_str()).is_err() {
            p.push(format!(
                "rate_bands[{i}].rate: {:?} is not a rate between 0 and 1",
                b.rate
            ));
        }
        if let Some(u) = &b.up_to {
            money(&format!("rate_bands[{i}].up_to"), u, &mut p);
        }
    }
    p
}

fn tracing_filter_ok(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
