//! The command line of `gateway` (the binary's `main` is one call to
//! [`main`], so that tests can run the same code as a child process).

use std::time::Duration;

use clap::{Parser, Subcommand};

/// The e-guarantee gateway in one process (SQLite and an embedded bus by
/// default; the sandbox platform when no platform is configured).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (else $GW_CONFIG; env vars GW__* override it).
    #[arg(long, short)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Drives whole lifecycles through a gateway of its own and the sandbox
    /// platform (apply, approve, pay, issue, restore, invoice, claim,
    /// refund, write-off, cancel, a refusal), prints a timeline per
    /// application and exits non-zero if anything is off. Uses a temporary
    /// database; reads no configuration.
    Demo {
        /// How long one step may wait for its answer or notice.
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        patience: Duration,
        /// Also run the acceptance rehearsal (security, verification, a
        /// load phase, the platform down) and write its report here
        /// (report.html, report.md, the sample guarantee PDF and PNG).
        #[arg(long)]
        report: Option<std::path::PathBuf>,
    },
    /// Writes a consistent copy of the SQLite database to FILE while the
    /// gateway runs (SQLite's `VACUUM INTO`), checks it and says what it
    /// holds. PostgreSQL: use pg_dump (deploy/README.md).
    Backup {
        /// Where the copy goes; never overwritten.
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Puts a backup in place of the SQLite database, with the gateway
    /// stopped; the database it replaces is kept beside it.
    Restore {
        /// The backup to put back (checked first).
        #[arg(long)]
        from: std::path::PathBuf,
    },
    /// Exits 0 when the running gateway answers `/healthz` on
    /// `ingress.listen` within 3 seconds (for container health checks).
    Healthcheck,
    /// Business reports (业务报表): generates one now (while the gateway
    /// runs or not), stores it with the issued files, and writes its XLSX,
    /// CSV and PDF into --out.
    Reports {
        #[command(subcommand)]
        period: ReportPeriod,
        /// Where the files go (default: the current directory).
        #[arg(long, global = true, default_value = ".")]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ReportPeriod {
    /// One China day: `reports daily --date 2026-11-28`.
    Daily {
        #[arg(long)]
        date: String,
    },
    /// One China month: `reports monthly --month 2026-11`.
    Monthly {
        #[arg(long)]
        month: String,
    },
}

/// Parses `args` (the program name first) and runs what they say.
pub fn main(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    let args = Args::parse_from(args);
    match args.command {
        Some(Command::Demo { patience, report }) => gw_host::cli::block_on(demo(patience, report)),
        Some(Command::Backup { to }) => {
            let file = args.config.or_else(gw_config::Settings::file_from_env);
            gw_host::cli::block_on(backup(file, to))
        }
        Some(Command::Reports { period, out }) => {
            let file = args.config.or_else(gw_config::Settings::file_from_env);
            let period = match period {
                ReportPeriod::Daily { date } => gw_reports::Period::day(&date)?,
                ReportPeriod::Monthly { month } => gw_reports::Period::month(&month)?,
            };
            gw_host::cli::block_on(reports(file, period, out))
        }
        Some(Command::Healthcheck) => {
            let file = args.config.or_else(gw_config::Settings::file_from_env);
            let listen = gw_config::Settings::raw_value(
                &[crate::DEFAULTS],
                file.as_deref(),
                None,
                "ingress.listen",
            )?
            .ok_or_else(|| anyhow::anyhow!("ingress.listen is not set"))?;
            let addr: std::net::SocketAddr = listen
                .parse()
                .map_err(|e| anyhow::anyhow!("ingress.listen = {listen:?}: {e}"))?;
            gw_host::cli::block_on(gw_host::cli::healthcheck(addr))
        }
        Some(Command::Restore { from }) => {
            let file = args.config.or_else(gw_config::Settings::file_from_env);
            gw_host::cli::block_on(restore(file, from))
        }
        None => {
            let file = args.config.or_else(gw_config::Settings::file_from_env);
            gw_host::cli::block_on(run(file))
        }
    }
}

/// The settings `gateway` would start with (with the sandbox's when no
/// platform is configured, so the default data directory is found too).
async fn started_settings(file: Option<&std::path::Path>) -> anyhow::Result<gw_config::Settings> {
    Ok(match crate::prepare(file, None).await? {
        crate::Start::Configured(s) | crate::Start::Sandbox(s, _) => s,
    })
}

/// The SQLite file of the configuration in `file` (its directory created),
/// or why there is none.
async fn database_file(file: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    crate::data_file(&started_settings(file).await?)?.ok_or_else(|| {
        anyhow::anyhow!(
            "database.url is not a SQLite file: back up PostgreSQL with pg_dump and restore it \
             with pg_restore (deploy/README.md)"
        )
    })
}

async fn backup(file: Option<std::path::PathBuf>, to: std::path::PathBuf) -> anyhow::Result<()> {
    let db = database_file(file.as_deref()).await?;
    let summary = gw_storage::backup::copy(&db, &to).await?;
    println!("backup of {} written to {}", db.display(), to.display());
    println!("  {summary}");
    Ok(())
}

async fn reports(
    file: Option<std::path::PathBuf>,
    period: gw_reports::Period,
    out: std::path::PathBuf,
) -> anyhow::Result<()> {
    let settings = started_settings(file.as_deref()).await?;
    crate::data_file(&settings)?;
    let db = gw_host::connect_db(&settings).await?;
    let store = gw_files::from_settings(&settings.files, db.clone())?;
    let report =
        gw_reports::generate(&db, store.as_ref(), &settings.institution.name, period).await;
    let written = async {
        let report = report?;
        std::fs::create_dir_all(&out)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
        println!("report {} ({})", report.row.name, period.label());
        for (format, bytes) in &report.files {
            let path = out.join(format!("{}.{format}", report.row.name));
            std::fs::write(&path, bytes)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            println!("  {}", path.display());
        }
        for (label, value) in gw_reports::render::rows(&report.tables.total) {
            println!("  {label}: {value}");
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    db.close().await;
    written
}

async fn restore(file: Option<std::path::PathBuf>, from: std::path::PathBuf) -> anyhow::Result<()> {
    let db = database_file(file.as_deref()).await?;
    // No gateway may have the database open while it is replaced.
    let _hold = crate::hold_database(&db)?;
    let (summary, kept) = gw_storage::backup::restore(&from, &db).await?;
    println!("{} restored from {}", db.display(), from.display());
    println!("  {summary}");
    if let Some(old) = kept {
        println!("  the database it replaced is kept as {}", old.display());
    }
    println!("start the gateway: the notices not yet delivered go out again");
    Ok(())
}

async fn run(file: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let (settings, sandbox) = match crate::prepare(file.as_deref(), None).await? {
        crate::Start::Configured(settings) => (settings, None),
        crate::Start::Sandbox(settings, platform) => (settings, Some(platform)),
    };
    let _telemetry = gw_host::init_telemetry(&settings, "gateway")?;
    let g = crate::Gateway::start(settings.clone(), gw_host::shutdown_on_signal()).await?;
    match sandbox {
        None => {
            tracing::info!(port = g.port, ports = ?g.ports, "gateway running in one process");
        }
        Some(platform) => {
            println!(
                "{}",
                crate::embedded_sandbox::banner(&settings, &g, &platform)
            );
            tracing::warn!(
                sandbox = %platform.base_url,
                "no platform configured: running with the sandbox platform and the sandbox cashier (loopback only)"
            );
        }
    }
    g.wait().await
}

async fn demo(patience: Duration, report: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    let n: u64 = rand::random();
    let dir = std::env::temp_dir().join(format!("gateway-demo-{n:016x}"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    println!(
        "demo: a gateway of its own on a temporary database, the sandbox platform, five stories at once"
    );
    let started = std::time::Instant::now();
    let outcome = crate::embedded_sandbox::demo(&dir, patience, report.as_deref()).await;
    let _ = std::fs::remove_dir_all(&dir);
    let outcome = outcome?.outcome;
    println!("{}", outcome.text);
    println!("demo took {:.1} s", started.elapsed().as_secs_f64());
    anyhow::ensure!(outcome.passed, "the demo found problems (see above)");
    Ok(())
}
