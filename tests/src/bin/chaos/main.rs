//! `chaos`: the deployments under steady load of complete lifecycles while
//! faults are injected, then the invariants checked (see `check`).
//!
//! ```sh
//! cargo build --release -p gw-tests --bins
//! target/release/chaos            # every fault, about 10 minutes
//! target/release/chaos --short    # CI: a worker killed, the broker connection cut
//! ```
//!
//! It prints one table: fault, load held (lifecycles completed per second
//! while the fault lasted, against the run without fault), calls accepted,
//! lost, duplicate notices, and time to recover (from the end of the fault
//! until everything accepted before it had its effect). It exits non-zero
//! if an invariant fails.
//!
//! The full run stops RabbitMQ (`rabbitmqctl stop_app`) and restarts
//! PostgreSQL (`pg_ctlcluster ... restart`): run it on a machine of its own.

mod check;
mod load;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use gw_tests::proxy::TcpProxy;
use tokio_util::sync::CancellationToken;

use gw_tests::cluster::{self, Cluster};
use load::Load;

#[derive(Parser, Debug)]
#[command(about = "Faults under load, then the invariants")]
struct Args {
    /// The CI variant: a worker killed every few seconds and the broker
    /// connection cut, a minute or two in all.
    #[arg(long)]
    short: bool,
    /// Lifecycles run at once.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Only the faults whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// How long the platform stays down (standing for 10 minutes: the
    /// retry schedule is compressed to match).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    platform_down: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    KillEvery10s,
    BrokerStopped,
    BrokerCut,
    PostgresRestarted,
    PlatformDown,
    EmbeddedKill,
    EmbeddedPlatformDown,
}

impl Fault {
    fn name(self, a: &Args) -> String {
        match self {
            Fault::None => "none (two egress replicas racing)".into(),
            Fault::KillEvery10s => "kill -9 of a random service every 10 s".into(),
            Fault::BrokerStopped => "RabbitMQ stopped 30 s, restarted".into(),
            Fault::BrokerCut => "broker connections cut 10 s".into(),
            Fault::PostgresRestarted => "PostgreSQL restarted".into(),
            Fault::PlatformDown => format!("platform down ({:?} for 10 min)", a.platform_down),
            Fault::EmbeddedKill => "embedded gateway: kill -9 every 10 s".into(),
            Fault::EmbeddedPlatformDown => {
                format!("embedded gateway: platform down ({:?})", a.platform_down)
            }
        }
    }

    fn embedded(self) -> bool {
        matches!(self, Fault::EmbeddedKill | Fault::EmbeddedPlatformDown)
    }
}

/// One line of the table.
struct Row {
    fault: String,
    held: String,
    accepted: u64,
    lost: usize,
    duplicates: usize,
    recover: String,
    ok: bool,
    notes: Vec<String>,
}

fn sh(cmd: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("sh")
        .args(["-c", cmd])
        .status()?;
    anyhow::ensure!(status.success(), "`{cmd}` failed");
    Ok(())
}

async fn run_fault(fault: Fault, a: &Args, baseline: Option<f64>) -> anyhow::Result<(Row, f64)> {
    let name = fault.name(a);
    eprintln!("== {name}");
    let ids = gw_tests::TestIds::new();
    // Strict: every notice is checked against the standard while faults happen.
    let platform = Arc::new(gw_tests::platform::start_strict().await);
    let broker = TcpProxy::start("127.0.0.1:5672").await;
    let broker_url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", broker.port);
    let mut env = cluster::process_env(&ids, &platform.base_url, &broker_url);
    let dir = std::env::temp_dir().join(format!("gw-chaos-{}", ids.prefix));
    std::fs::create_dir_all(&dir)?;
    let mut cluster = if fault.embedded() {
        Cluster::embedded(cluster::Launcher::service_proc()?, env.clone(), &dir)?
    } else {
        Cluster::services(cluster::Launcher::service_proc()?, env.clone(), &dir)?
    };
    if fault.embedded() {
        env = cluster_env_embedded(&env, &dir);
    }
    cluster.start(Duration::from_secs(60)).await?;
    let settings = gw_config::Settings::load_from(None, Some(env.clone()))?;
    let (bus, db) = gw_host::connect(&settings, "chaos").await?;

    let patience = a.platform_down + Duration::from_secs(120);
    let load = Arc::new(Load::new(
        cluster.ingress.clone(),
        cluster.cashier.clone(),
        platform.clone(),
        &ids.prefix[1..7],
        patience,
    ));
    let stop = CancellationToken::new();
    let runner = {
        let (load, stop, workers) = (load.clone(), stop.clone(), a.workers);
        tokio::spawn(async move { load.run(workers, stop).await })
    };
    let warmup = Duration::from_secs(if a.short { 3 } else { 5 });
    tokio::time::sleep(warmup).await;
    let fault_start = Instant::now();
    let mut notes = Vec::new();
    match fault {
        Fault::None => tokio::time::sleep(Duration::from_secs(if a.short { 10 } else { 30 })).await,
        Fault::KillEvery10s | Fault::EmbeddedKill => {
            let (rounds, every) = if a.short { (3, 5) } else { (4, 10) };
            for r in 0..rounds {
                tokio::time::sleep(Duration::from_secs(every)).await;
                let i = (rand::random::<u32>() as usize + r) % cluster.procs.len();
                notes.push(cluster.procs[i].name.clone());
                cluster.kill_and_restart(i).await?;
            }
        }
        Fault::BrokerStopped => {
            sh("rabbitmqctl -q stop_app")?;
            tokio::time::sleep(Duration::from_secs(30)).await;
            sh("rabbitmqctl -q start_app")?;
        }
        Fault::BrokerCut => {
            broker.stop();
            tokio::time::sleep(Duration::from_secs(10)).await;
            broker.start_again();
        }
        Fault::PostgresRestarted => {
            sh("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart")?;
        }
        Fault::PlatformDown | Fault::EmbeddedPlatformDown => {
            platform.set_down(true);
            tokio::time::sleep(a.platform_down).await;
            platform.set_down(false);
        }
    }
    let fault_end = Instant::now();
    let during = (fault_end - fault_start).as_secs_f64().max(1.0);
    // Load goes on a little, then stops; what is under way finishes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    runner.await?;
    let lifecycles = load.stats.snapshot();
    let completed_during = lifecycles
        .iter()
        .filter(|l| {
            l.completed
                .is_some_and(|c| c >= fault_start && c <= fault_end)
        })
        .count();
    let rate = completed_during as f64 / during;
    // Recovered once every lifecycle started before the fault ended is done.
    let recovered = lifecycles
        .iter()
        .filter(|l| l.started < fault_end)
        .filter_map(|l| l.completed)
        .max()
        .map(|c| c.saturating_duration_since(fault_end));
    // Let egress settle what is still retrying before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let queues: Vec<&str> = gw_contract::queues::ALL.to_vec();
    let found = check::check(&lifecycles, &platform, &bus, &db, &queues).await?;
    for p in found.problems.iter().take(20) {
        eprintln!("   {p}");
    }
    let held = match (fault, baseline) {
        (Fault::None, _) => format!("{rate:.1}/s (baseline)"),
        (_, Some(b)) if b > 0.0 => format!("{:.0}% ({rate:.1}/s)", 100.0 * rate / b),
        _ => format!("{rate:.1}/s"),
    };
    let row = Row {
        fault: name,
        held,
        accepted: load
            .stats
            .accepted_calls
            .load(std::sync::atomic::Ordering::Relaxed),
        lost: found.lost,
        duplicates: found.duplicates,
        recover: recovered.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64())),
        ok: found.holds() && found.completed > 0,
        notes: {
            let mut stuck: std::collections::BTreeMap<&str, usize> = Default::default();
            for l in &lifecycles {
                if let Some(s) = &l.stuck_at {
                    *stuck.entry(s.as_str()).or_default() += 1;
                }
            }
            let mut n = vec![format!(
                "{} lifecycles, {} completed, {} busy answers retried; order, one guarantee, money once, dead letters: {}",
                found.lifecycles,
                found.completed,
                load.stats.busy.load(std::sync::atomic::Ordering::Relaxed),
                if found.holds() { "ok" } else { "FAILED" }
            )];
            if found.republished > 0 {
                n.push(format!(
                    "{} money events published again under their own id (a lost confirm; one event each)",
                    found.republished
                ));
            }
            if !stuck.is_empty() {
                n.push(format!("not completed, by step: {stuck:?}"));
            }
            if !notes.is_empty() {
                n.push(format!("killed: {}", notes.join(", ")));
            }
            n
        },
    };
    cluster.stop(Duration::from_secs(15)).await;
    if row.ok {
        if !fault.embedded() {
            bus.transport().delete(bus.topology()).await.ok();
            db.drop_schema().await.ok();
        }
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        // What failed stays to be read: every process's log, and the
        // database schema and queues (prefix) of the run.
        eprintln!(
            "   kept for inspection: logs in {}, schema and queue prefix {}",
            dir.display(),
            ids.prefix
        );
    }
    bus.close().await;
    db.close().await;
    Ok((row, rate))
}

fn cluster_env_embedded(
    env: &HashMap<String, String>,
    dir: &std::path::Path,
) -> HashMap<String, String> {
    let mut e = env.clone();
    e.insert("GW__AMQP__URL".into(), "embedded".into());
    e.insert(
        "GW__DATABASE__URL".into(),
        format!("sqlite://{}/gateway.db?mode=rwc", dir.display()),
    );
    e.remove("GW__DATABASE__SCHEMA");
    e
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    tokio::runtime::Runtime::new()?.block_on(async move {
        gw_tests::require_services().await;
        let faults: Vec<Fault> = if a.short {
            vec![Fault::None, Fault::KillEvery10s, Fault::BrokerCut]
        } else {
            vec![
                Fault::None,
                Fault::KillEvery10s,
                Fault::BrokerStopped,
                Fault::PostgresRestarted,
                Fault::PlatformDown,
                Fault::EmbeddedKill,
                Fault::EmbeddedPlatformDown,
            ]
        };
        let mut rows = Vec::new();
        // Several replicas migrating a fresh database at once.
        {
            let ids = gw_tests::TestIds::new();
            let e = cluster::process_env(&ids, "http://127.0.0.1:9", &gw_tests::amqp_url());
            let n = 6;
            let ok = cluster::migrate_at_once(&cluster::service_exe()?, &e, n).await?;
            let s = gw_config::Settings::load_from(None, Some(e))?;
            if let Ok(db) = gw_host::connect_db(&s).await {
                db.drop_schema().await.ok();
                db.close().await;
            }
            rows.push(Row {
                fault: format!("{n} replicas migrating a fresh database at once"),
                held: "-".into(),
                accepted: 0,
                lost: 0,
                duplicates: 0,
                recover: "-".into(),
                ok: ok == n,
                notes: vec![format!("{ok} of {n} started")],
            });
        }
        let mut baseline = None;
        for f in faults {
            if a.only.as_deref().is_some_and(|o| !f.name(&a).contains(o)) && f != Fault::None {
                continue;
            }
            let (row, rate) = run_fault(f, &a, baseline).await?;
            if f == Fault::None {
                baseline = Some(rate);
            }
            rows.push(row);
        }
        // Quorum queues of the deleted topologies leave memory behind until
        // the Raft log rolls over (see README, Test).
        let _ = sh("rabbitmqctl -q eval 'ra_log_wal:force_roll_over(ra_log_wal).' >/dev/null 2>&1");
        println!();
        println!(
            "| fault | load held | accepted | lost | duplicates | time to recover | invariants |"
        );
        println!("|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.fault,
                r.held,
                r.accepted,
                r.lost,
                r.duplicates,
                r.recover,
                if r.ok { "hold" } else { "FAIL" }
            );
        }
        println!();
        for r in &rows {
            for n in &r.notes {
                println!("{}: {n}", r.fault);
            }
        }
        anyhow::ensure!(rows.iter().all(|r| r.ok), "an invariant failed");
        Ok(())
    })
}
