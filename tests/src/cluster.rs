//! The deployments under test, as real processes: every service its own
//! process (two egress replicas) on RabbitMQ and PostgreSQL, or the
//! embedded gateway on SQLite. Each process is `gw-service-proc <service>`
//! (the binary's path is given: integration tests know it from Cargo, the
//! chaos command finds it next to itself), configured by `GW__*`
//! variables, its output in a log file. A test can `kill -9` any of them
//! and start it again.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::process::{Child, Command};

/// One process of a deployment.
pub struct Proc {
    pub name: String,
    service: &'static str,
    env: HashMap<String, String>,
    /// Where `/readyz` answers.
    pub health: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    /// The process's configuration (`GW__*`).
    /// The running process's id, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    pub fn env(&self) -> &HashMap<String, String> {
        &self.env
    }
}

/// A deployment's processes and addresses.
pub struct Cluster {
    pub procs: Vec<Proc>,
    /// Where each public route is served: the inbound API, the cashier
    /// (payment), `/files` (the first egress) and `/verify` (issuance).
    pub ingress: String,
    pub cashier: String,
    pub files: String,
    pub verify: String,
    launcher: Launcher,
}

/// How a deployment's processes are started.
#[derive(Debug, Clone)]
pub enum Launcher {
    /// `gw-service-proc <service>` (see [`service_exe`]).
    ServiceProc(PathBuf),
    /// `<dir>/<service>`: the services' own binaries, e.g. `target/dist`
    /// as the image ships them.
    Binaries(PathBuf),
}

impl Launcher {
    /// `gw-service-proc`, built first (see [`service_exe`]).
    pub fn service_proc() -> anyhow::Result<Self> {
        Ok(Self::ServiceProc(service_exe()?))
    }

    /// The command that runs `service`; a binary missing from the
    /// directory is named with how to build it.
    fn command(&self, service: &str) -> anyhow::Result<Command> {
        Ok(match self {
            Self::ServiceProc(exe) => {
                let mut c = Command::new(exe);
                c.arg(service);
                c
            }
            Self::Binaries(dir) => {
                let bin = dir.join(service);
                anyhow::ensure!(
                    bin.is_file(),
                    "{} is missing: build it first (e.g. cargo build --profile dist -p {service})",
                    bin.display()
                );
                Command::new(bin)
            }
        })
    }
}

fn port() -> u16 {
    crate::stack::free_port()
}

fn url(p: u16) -> String {
    format!("http://127.0.0.1:{p}")
}

impl Cluster {
    /// Every service its own process, started by `launcher`; `env` is the
    /// shared configuration.
    pub fn services(
        launcher: Launcher,
        mut env: HashMap<String, String>,
        logs: &Path,
    ) -> anyhow::Result<Self> {
        // Every listener its own port: (listener key, setting).
        const LISTENERS: &[(&str, &str)] = &[
            ("ingress", "GW__INGRESS__LISTEN"),
            ("ingressa", "GW__INGRESS__ADMIN_LISTEN"),
            ("egress1", "GW__EGRESS__LISTEN"),
            ("egress1a", "GW__EGRESS__ADMIN_LISTEN"),
            ("uw", "GW__UNDERWRITING__ADMIN_LISTEN"),
            ("pay", "GW__PAYMENT__LISTEN"),
            ("paya", "GW__PAYMENT__ADMIN_LISTEN"),
            ("iss", "GW__ISSUANCE__LISTEN"),
            ("issa", "GW__ISSUANCE__ADMIN_LISTEN"),
            ("inv", "GW__INVOICE__ADMIN_LISTEN"),
            ("cla", "GW__CLAIMS__ADMIN_LISTEN"),
        ];
        let mut p: BTreeMap<&str, u16> = BTreeMap::new();
        for (key, setting) in LISTENERS {
            let port = port();
            p.insert(key, port);
            env.insert((*setting).to_owned(), format!("127.0.0.1:{port}"));
        }
        env.insert("GW__PUBLIC_BASE_URL".into(), url(p["egress1"]));
        // The second egress replica: the same but its two listeners.
        let (egress2, egress2a) = (port(), port());
        let mut egress2_env = env.clone();
        egress2_env.insert("GW__EGRESS__LISTEN".into(), format!("127.0.0.1:{egress2}"));
        egress2_env.insert(
            "GW__EGRESS__ADMIN_LISTEN".into(),
            format!("127.0.0.1:{egress2a}"),
        );
        let proc =
            |name: &str, service: &'static str, env: &HashMap<String, String>, health: u16| Proc {
                name: name.to_owned(),
                service,
                env: env.clone(),
                health: format!("{}/readyz", url(health)),
                child: None,
                log: logs.join(format!("{name}.log")),
            };
        let procs = vec![
            proc("ingress", "ingress", &env, p["ingress"]),
            proc("egress-1", "egress", &env, p["egress1a"]),
            proc("egress-2", "egress", &egress2_env, egress2a),
            proc("underwriting", "underwriting", &env, p["uw"]),
            proc("payment", "payment", &env, p["paya"]),
            proc("issuance", "issuance", &env, p["issa"]),
            proc("invoice", "invoice", &env, p["inv"]),
            proc("claims", "claims", &env, p["cla"]),
        ];
        Ok(Self {
            procs,
            ingress: url(p["ingress"]),
            cashier: url(p["pay"]),
            files: url(p["egress1"]),
            verify: url(p["iss"]),
            launcher,
        })
    }

    /// The single-process gateway on SQLite in `dir`, started by
    /// `launcher`.
    pub fn embedded(
        launcher: Launcher,
        mut env: HashMap<String, String>,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let p = port();
        env.insert("GW__AMQP__URL".into(), "embedded".into());
        env.insert(
            "GW__DATABASE__URL".into(),
            format!("sqlite://{}/gateway.db?mode=rwc", dir.display()),
        );
        env.remove("GW__DATABASE__SCHEMA");
        env.insert("GW__INGRESS__LISTEN".into(), format!("127.0.0.1:{p}"));
        env.insert("GW__PUBLIC_BASE_URL".into(), url(p));
        Ok(Self {
            procs: vec![Proc {
                name: "gateway".into(),
                service: "gateway",
                env,
                health: format!("{}/readyz", url(p)),
                child: None,
                log: dir.join("gateway.log"),
            }],
            ingress: url(p),
            cashier: url(p),
            files: url(p),
            verify: url(p),
            launcher,
        })
    }

    /// Sets `key` for every process (before they start).
    pub fn set_env(&mut self, key: &str, value: &str) {
        for p in &mut self.procs {
            p.env.insert(key.to_owned(), value.to_owned());
        }
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let p = &mut self.procs[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p.log)?;
        let child = self
            .launcher
            .command(p.service)?
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&p.env)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", p.name))?;
        p.child = Some(child);
        Ok(())
    }

    /// Starts every process and waits until each is ready.
    pub async fn start(&mut self, within: Duration) -> anyhow::Result<()> {
        for i in 0..self.procs.len() {
            self.spawn(i)?;
        }
        self.wait_ready(within).await
    }

    /// Waits until every process answers `/readyz` with 200; fails at once,
    /// with the end of its log, if one has exited.
    pub async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + within;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        for p in &mut self.procs {
            loop {
                if let Some(c) = p.child.as_mut()
                    && let Some(status) = c.try_wait()?
                {
                    let log = std::fs::read_to_string(&p.log).unwrap_or_default();
                    anyhow::bail!("{} exited ({status}):\n{}", p.name, log_tail(&log, 20));
                }
                let ok = client
                    .get(&p.health)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < until,
                    "{} is not ready after {within:?} (see {})",
                    p.name,
                    p.log.display()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// `kill -9` of process `i`, then starts it again.
    pub async fn kill_and_restart(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(mut c) = self.procs[i].child.take() {
            c.start_kill()?; // SIGKILL
            let _ = c.wait().await;
        }
        self.spawn(i)
    }

    /// SIGTERM to every process (graceful), SIGKILL after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        for p in &mut self.procs {
            if let Some(c) = &p.child
                && let Some(pid) = c.id()
            {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for p in &mut self.procs {
            if let Some(mut c) = p.child.take()
                && tokio::time::timeout(grace, c.wait()).await.is_err()
            {
                let _ = c.start_kill();
                let _ = c.wait().await;
            }
        }
    }
}

/// `<service> migrate` in `n` processes at once on the configuration
/// `env`; how many succeeded.
pub async fn migrate_at_once(
    exe: &Path,
    env: &HashMap<String, String>,
    n: usize,
) -> anyhow::Result<usize> {
    let runs = (0..n).map(|i| {
        let service = crate::procs::NAMES[i % 7];
        Command::new(exe)
            .args([service, "migrate"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
    });
    let outs = futures::future::join_all(runs).await;
    let mut ok = 0;
    for o in outs {
        let o = o?;
        if o.status.success() {
            ok += 1;
        } else {
            eprintln!("migrate failed: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
    Ok(ok)
}

/// The `gw-service-proc` binary next to the running one (chaos, bench),
/// built first in the same profile so that it is never stale.
pub fn service_exe() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let exe = me.with_file_name("gw-service-proc");
    let release = me.components().any(|c| c.as_os_str() == "release");
    // The cargo that runs us, else the one on PATH (rustup's proxy): the
    // toolchain's own cargo, run directly (`env!("CARGO")`), lets the rustc
    // it starts pick a toolchain from a dependency's rust-toolchain file.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "-q", "-p", "gw-tests", "--bin", "gw-service-proc"]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("cargo build gw-service-proc")?;
    anyhow::ensure!(status.success(), "cannot build gw-service-proc");
    Ok(exe)
}

/// The configuration every process of a deployment under faults shares:
/// the production topology (quorum queues, a delivery limit), retry
/// schedules compressed to test time, the sandbox cashier on.
pub fn process_env(ids: &crate::TestIds, platform: &str, broker: &str) -> HashMap<String, String> {
    let mut env = crate::settings_env(
        ids,
        platform,
        &[
            ("GW__AMQP__URL", broker),
            // The production topology: quorum queues with a delivery limit.
            ("GW__AMQP__QUEUE_TYPE", "quorum"),
            ("GW__AMQP__PREFETCH", "16"),
            ("GW__AMQP__RETRY_TIERS", "1s,5s,15s"),
            ("GW__AMQP__MAX_ATTEMPTS", "8"),
            ("GW__AMQP__CONNECT_TIMEOUT", "60s"),
            ("GW__DATABASE__MAX_CONNECTIONS", "10"),
            ("GW__DATABASE__CONNECT_TIMEOUT", "3s"),
            ("GW__PAYMENT__SANDBOX", "true"),
            // One bidder applies all the time: its exposure is not the test.
            (
                "GW__UNDERWRITING__RULES__MAX_EXPOSURE_PER_BIDDER",
                "900000000000.00",
            ),
            ("GW__CLAIMS__AUTO_PAYOUT", "true"),
            // Ten minutes of a platform away, compressed.
            ("GW__EGRESS__RETRY_SCHEDULE", "1s,2s,5s"),
            ("GW__EGRESS__RETRY_FOR", "30m"),
            ("GW__EGRESS__HTTP_TIMEOUT", "5s"),
            ("GW__INGRESS__RATE_LIMIT_PER_SECOND", "10000"),
            ("GW__INGRESS__RATE_LIMIT_BURST", "10000"),
            ("GW__TELEMETRY__LOG_FORMAT", "json"),
            ("GW__TELEMETRY__LOG_FILTER", "warn"),
        ],
    );
    env.insert("RUST_BACKTRACE".into(), "1".into());
    env
}

/// The last `n` lines of a process log before its backtrace, if it printed
/// one: the error and what led to it, not the frames of `main`.
fn log_tail(log: &str, n: usize) -> String {
    let before = log.rfind("Stack backtrace:").map_or(log, |at| &log[..at]);
    let lines: Vec<&str> = before.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
