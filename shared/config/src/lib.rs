//! Typed, layered configuration: built-in defaults, then a TOML file, then
//! environment variables (`GW__SECTION__KEY`, e.g. `GW__AMQP__URL`,
//! `GW__COUNTERPARTS__HUNAN__APPSECRET`). [`Settings::load`] reads each
//! section on its own and checks everything, reporting every problem at
//! once, so a service never starts half-configured. Values that are domain
//! types (amounts, rates, counterpart names and keys) are parsed here, once.
//! Secrets are `secrecy` types and never print.
//!
//! One module per section; README.md lists every key with its environment
//! variable.

mod admin;
mod amqp;
mod backup;
mod claims;
mod console;
mod counterparts;
mod database;
mod duration;
mod egress;
mod files;
mod http;
mod ingress;
mod institution;
mod invoice;
mod issuance;
mod payment;
mod reports;
mod retention;
mod safety;
mod telemetry;
mod underwriting;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use admin::AdminSettings;
pub use amqp::{AmqpSettings, QueueType};
pub use backup::BackupSettings;
pub use claims::ClaimsSettings;
pub use console::ConsoleSettings;
pub use counterparts::{Counterpart, CounterpartSettings, Counterparts};
pub use database::{DatabaseSettings, SqliteSynchronous};
pub use duration::{parse_duration, string_or_list};
pub use egress::EgressSettings;
pub use files::{FileStoreKind, FilesSettings, S3Settings};
pub use http::HttpSettings;
pub use ingress::IngressSettings;
pub use institution::InstitutionSettings;
pub use invoice::InvoiceSettings;
pub use issuance::IssuanceSettings;
pub use payment::PaymentSettings;
pub use reports::ReportsSettings;
pub use retention::RetentionSettings;
pub use safety::{
    EXAMPLE_ACCOUNT_NUMBER, EXAMPLE_INSTITUTION_CODE, EXAMPLE_INSTITUTION_NAME, Environment, Need,
};
pub use secrecy;
pub use telemetry::{LogFormat, TelemetrySettings};
pub use underwriting::{
    RateBand, RateBandWire, RulesWire, UnderwritingRules, UnderwritingSettings,
};

/// Environment variable prefix and separator: `GW__AMQP__URL` sets `amqp.url`.
pub const ENV_PREFIX: &str = "GW";
pub const ENV_SEPARATOR: &str = "__";
/// `amqp.url` of the single-process mode: the bus lives in the database.
pub const EMBEDDED_BUS: &str = "embedded";

/// Environment variable naming the TOML file, when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "GW_CONFIG";

/// The whole configuration of a deployment. Every service reads the sections
/// it needs; one file can serve them all. Built only by [`Settings::load`]
/// and its variants, which check it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `production` (the default: example values are refused at start-up)
    /// or `sandbox` (demos, integration environments, tests).
    pub environment: Environment,
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
    pub invoice: InvoiceSettings,
    pub claims: ClaimsSettings,
    pub console: ConsoleSettings,
    pub http: HttpSettings,
    pub retention: RetentionSettings,
    pub backup: BackupSettings,
    pub reports: ReportsSettings,
    pub telemetry: TelemetrySettings,
    /// The platforms we serve, as configured, by name.
    pub counterparts: BTreeMap<String, CounterpartSettings>,
    /// The same, with their keys built (once, at load).
    built_counterparts: Counterparts,
}

/// Start-up configuration failed; the message lists every problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Read(String),
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

/// Problems found while loading, each as `key: what is wrong`.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<String>);

impl Problems {
    pub(crate) fn push(&mut self, key: &str, problem: &str) {
        self.0.push(format!("{key}: {problem}"));
    }
    pub(crate) fn push_line(&mut self, line: String) {
        self.0.push(line);
    }
}

/// The top-level keys; anything else in a file is a mistake.
const SECTIONS: &[&str] = &[
    "environment",
    "public_base_url",
    "database",
    "amqp",
    "ingress",
    "egress",
    "files",
    "admin",
    "institution",
    "underwriting",
    "payment",
    "issuance",
    "invoice",
    "claims",
    "console",
    "http",
    "retention",
    "backup",
    "reports",
    "telemetry",
    "counterparts",
];

/// Reads one section as `T`, naming the exact key of a bad value.
fn section<T: DeserializeOwned>(
    cfg: &config::Config,
    key: &str,
    problems: &mut Problems,
) -> Option<T> {
    let value = match cfg.get::<config::Value>(key) {
        Ok(v) => v,
        Err(e) => {
            problems.push(key, &e.to_string());
            return None;
        }
    };
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(t) => Some(t),
        Err(e) => {
            let path = e.path().to_string();
            let at = if path == "." || path.is_empty() {
                key.to_owned()
            } else {
                format!("{key}.{path}")
            };
            // A value that reports several problems gives one per line,
            // each `key: problem` below `at`.
            for line in e.into_inner().to_string().lines() {
                match line.split_once(": ") {
                    Some((sub, problem)) if !sub.contains(' ') => {
                        problems.push(&format!("{at}.{sub}"), problem)
                    }
                    _ => problems.push(&at, line),
                }
            }
            None
        }
    }
}

/// The built-in defaults: a single machine with local PostgreSQL and RabbitMQ.
pub const DEFAULTS_TOML: &str = r#"
environment = "production"
public_base_url = "http://127.0.0.1:8081"

[database]
url = "postgres://postgres@127.0.0.1:5432/gateway"
max_connections = 10
connect_timeout = "5s"
migrate_on_start = true
sqlite_synchronous = "full"
sqlite_cache_kib = 512

[amqp]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = "gw"
prefetch = 32
connect_timeout = "30s"
recovery_deadline = "15s"
frame_max = 16384
publish_timeout = "5s"
retry_tiers = ["5s", "30s", "2m", "10m"]
max_attempts = 8
queue_type = "quorum"

[ingress]
listen = "0.0.0.0:8080"
admin_listen = "127.0.0.1:8079"
body_limit_bytes = 1048576
request_timeout = "15s"
rate_limit_per_second = 2000
rate_limit_burst = 4000
max_amount = "1000000000.00"

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
sandbox_allow_public = false
bank_account_name = "湖南某某融资担保有限公司"
bank_account_number = "4301 0000 0000 0000 000"
bank_name = "中国建设银行长沙分行"

[issuance]
listen = "0.0.0.0:8086"
admin_listen = "127.0.0.1:8087"
verify_per_minute = 30
verify_file_concurrency = 4

[invoice]
admin_listen = "127.0.0.1:8088"
tax_rate = "0.06"
core_system = false

[claims]
admin_listen = "127.0.0.1:8089"
auto_payout = false
sweep_interval = "1h"

[console]
listen = "127.0.0.1:8078"
session_ttl = "8h"
secure_cookie = false

[http]
trusted_proxies = []
idle_timeout = "75s"

[retention]
interval = "1h"
inbox = "30days"
outbox = "30days"
notices = "5years"
verifications = "5years"
dead_letters = "1year"

[backup]
enabled = true
every = "24h"
keep = 7
dir = ""

[reports]
enabled = true
daily_at = "01:00"

[files]
store = "database"
max_fetch_bytes = 20971520
fetch_timeout = "30s"
fetch_attempts = 3
cpu_nice = 10

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
        Self::from_config(&raw(&[more_defaults], file, env)?)
    }

    /// Like [`Settings::load_layers`] with several default layers, each
    /// over the one before.
    pub fn load_many(
        more_defaults: &[&str],
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        Self::from_config(&raw(more_defaults, file, env)?)
    }

    /// One key's value from the layers, unchecked (a health probe needs
    /// the listen address, not a whole valid configuration).
    pub fn raw_value(
        more_defaults: &[&str],
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
        key: &str,
    ) -> Result<Option<String>, ConfigError> {
        let cfg = raw(more_defaults, file, env)?;
        Ok(cfg.get_string(key).ok())
    }

    /// Whether the layers name at least one platform (`[counterparts.*]`),
    /// before anything is checked: the single-process gateway runs its own
    /// sandbox platform when none is.
    pub fn names_counterparts(
        more_defaults: &[&str],
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<bool, ConfigError> {
        let cfg = raw(more_defaults, file, env)?;
        Ok(cfg
            .get_table("counterparts")
            .map(|t| !t.is_empty())
            .unwrap_or(false))
    }

    /// Reads every section (each on its own, so one bad value does not hide
    /// the others), checks them, and builds the counterparts.
    fn from_config(cfg: &config::Config) -> Result<Self, ConfigError> {
        let mut p = Problems::default();
        if let Ok(top) = cfg.get_table("") {
            for key in top.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
                p.push(key, "unknown setting");
            }
        }
        let environment = section::<Environment>(cfg, "environment", &mut p);
        let public_base_url = section::<url::Url>(cfg, "public_base_url", &mut p);
        let database = section::<DatabaseSettings>(cfg, "database", &mut p);
        let amqp = section::<AmqpSettings>(cfg, "amqp", &mut p);
        let ingress = section::<IngressSettings>(cfg, "ingress", &mut p);
        let egress = section::<EgressSettings>(cfg, "egress", &mut p);
        let files = section::<FilesSettings>(cfg, "files", &mut p);
        let admin = section::<AdminSettings>(cfg, "admin", &mut p);
        let institution = section::<InstitutionSettings>(cfg, "institution", &mut p);
        let underwriting = section::<UnderwritingSettings>(cfg, "underwriting", &mut p);
        let payment = section::<PaymentSettings>(cfg, "payment", &mut p);
        let issuance = section::<IssuanceSettings>(cfg, "issuance", &mut p);
        let invoice = section::<InvoiceSettings>(cfg, "invoice", &mut p);
        let claims = section::<ClaimsSettings>(cfg, "claims", &mut p);
        let console = section::<ConsoleSettings>(cfg, "console", &mut p);
        let http = section::<HttpSettings>(cfg, "http", &mut p);
        let retention = section::<RetentionSettings>(cfg, "retention", &mut p);
        let backup = section::<BackupSettings>(cfg, "backup", &mut p);
        let reports = section::<ReportsSettings>(cfg, "reports", &mut p);
        let telemetry = section::<TelemetrySettings>(cfg, "telemetry", &mut p);
        let counterparts = if cfg.get_table("counterparts").is_ok() {
            section::<BTreeMap<String, CounterpartSettings>>(cfg, "counterparts", &mut p)
        } else {
            Some(BTreeMap::new())
        };

        if let Some(u) = &public_base_url
            && !matches!(u.scheme(), "http" | "https")
        {
            p.push("public_base_url", "must be an http(s) URL");
        }
        database.iter().for_each(|s| s.check(&mut p));
        amqp.iter().for_each(|s| s.check(&mut p));
        ingress.iter().for_each(|s| s.check(&mut p));
        egress.iter().for_each(|s| s.check(&mut p));
        files.iter().for_each(|s| s.check(&mut p));
        admin.iter().for_each(|s| s.check(&mut p));
        institution.iter().for_each(|s| s.check(&mut p));
        underwriting.iter().for_each(|s| s.check(&mut p));
        issuance.iter().for_each(|s| s.check(&mut p));
        invoice.iter().for_each(|s| s.check(&mut p));
        claims.iter().for_each(|s| s.check(&mut p));
        console.iter().for_each(|s| s.check(&mut p));
        http.iter().for_each(|s| s.check(&mut p));
        retention.iter().for_each(|s| s.check(&mut p));
        backup.iter().for_each(|s| s.check(&mut p));
        reports.iter().for_each(|s| s.check(&mut p));
        telemetry.iter().for_each(|s| s.check(&mut p));
        let built = match counterparts.as_ref().map(Counterparts::from_settings) {
            Some(Ok(b)) => Some(b),
            Some(Err(more)) => {
                more.into_iter().for_each(|l| p.push_line(l));
                None
            }
            None => None,
        };
        let settings = match (
            environment,
            public_base_url,
            database,
            amqp,
            ingress,
            egress,
            files,
            admin,
            institution,
            underwriting,
            payment,
            issuance,
            invoice,
            claims,
            console,
            http,
            retention,
            backup,
            reports,
            telemetry,
            counterparts,
            built,
        ) {
            (
                Some(environment),
                Some(public_base_url),
                Some(database),
                Some(amqp),
                Some(ingress),
                Some(egress),
                Some(files),
                Some(admin),
                Some(institution),
                Some(underwriting),
                Some(payment),
                Some(issuance),
                Some(invoice),
                Some(claims),
                Some(console),
                Some(http),
                Some(retention),
                Some(backup),
                Some(reports),
                Some(telemetry),
                Some(counterparts),
                Some(built_counterparts),
            ) if p.0.is_empty() => Self {
                environment,
                public_base_url,
                database,
                amqp,
                ingress,
                egress,
                files,
                admin,
                institution,
                underwriting,
                payment,
                issuance,
                invoice,
                claims,
                console,
                http,
                retention,
                backup,
                reports,
                telemetry,
                counterparts,
                built_counterparts,
            },
            _ => return Err(ConfigError::Invalid(p.0)),
        };
        safety::check(&settings, &mut p);
        if p.0.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError::Invalid(p.0))
        }
    }

    /// The file named by `GW_CONFIG`, if set.
    pub fn file_from_env() -> Option<PathBuf> {
        std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from)
    }

    /// The counterparts with their keys (built once, when loading).
    pub fn counterparts(&self) -> Counterparts {
        self.built_counterparts.clone()
    }
}

/// The layers, merged, before any check.
fn raw(
    more_defaults: &[&str],
    file: Option<&Path>,
    env: Option<std::collections::HashMap<String, String>>,
) -> Result<config::Config, ConfigError> {
    let mut builder = config::Config::builder().add_source(config::File::from_str(
        DEFAULTS_TOML,
        config::FileFormat::Toml,
    ));
    for layer in more_defaults {
        builder = builder.add_source(config::File::from_str(layer, config::FileFormat::Toml));
    }
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::Read(format!(
                "{} does not exist",
                path.display()
            )));
        }
        builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
    }
    let vars = with_files(env.unwrap_or_else(|| std::env::vars().collect()))?;
    let environment = config::Environment::with_prefix(ENV_PREFIX)
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        .source(Some(vars.into_iter().collect()));
    let cfg = builder
        .add_source(environment)
        .build()
        .map_err(|e| ConfigError::Read(e.to_string()))?;
    Ok(cfg)
}

/// Prefix of a variable naming a file that holds a key's value:
/// `GW_FILE__DATABASE__URL=/run/secrets/gateway/database-url` sets
/// `database.url` to the file's content (without its final newline). For
/// secrets mounted as files (Kubernetes, Docker secrets) instead of being
/// put in the environment.
pub const FILE_PREFIX: &str = "GW_FILE__";

/// `vars` with every `GW_FILE__<KEY>` replaced by `GW__<KEY>` = the file's
/// content. A key given both ways is refused: which one wins would be a
/// guess.
fn with_files(
    mut vars: std::collections::HashMap<String, String>,
) -> Result<std::collections::HashMap<String, String>, ConfigError> {
    let files: Vec<(String, String)> = vars
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(FILE_PREFIX)
                .map(|rest| (rest.to_owned(), v.clone()))
        })
        .collect();
    for (rest, path) in files {
        let key = format!("{ENV_PREFIX}{ENV_SEPARATOR}{rest}");
        if vars.contains_key(&key) {
            return Err(ConfigError::Read(format!(
                "both {key} and {FILE_PREFIX}{rest} are set: keep one"
            )));
        }
        let value = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError::Read(format!("{FILE_PREFIX}{rest}: cannot read {path}: {e}"))
        })?;
        vars.insert(key, value.trim_end_matches(['\n', '\r']).to_owned());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests;
