//! Whole lifecycles, driven as the platform drives them, against either
//! deployment run as real processes (every service its own process on
//! RabbitMQ and PostgreSQL, or the embedded gateway on SQLite), or against
//! a gateway at a given URL (`--url`):
//!
//! baohanapply → processnotice → payapply → cashier pay → paynotice →
//! baohannotice (the platform stand-in downloads and reads the PDF) →
//! revertapply → revertnotice.
//!
//! Prints lifecycles per second, p50/p99 of every hop, the CPU seconds
//! each gateway process spent per lifecycle, and the whole machine's CPU
//! per lifecycle by part (the gateway, PostgreSQL, RabbitMQ, the bench). `--restore-burst N` first
//! issues N guarantees, then sends N `revertapply` at once and measures
//! until every `revertnotice` is delivered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use gw_tests::cluster::{self, Cluster};
use gw_tests::platform::Platform;
use serde_json::{Value, json};

use crate::stats::Latencies;

#[derive(clap::Args)]
pub struct Args {
    /// `services` (every service its own process, RabbitMQ and
    /// PostgreSQL) or `embedded` (the single-process gateway, SQLite).
    #[arg(long, default_value = "services")]
    deployment: String,
    /// Whole lifecycles to run.
    #[arg(long, default_value_t = 300)]
    lifecycles: usize,
    /// Lifecycles at once (with `--rate`: at most).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Start this many lifecycles a second, each at its own time, whether
    /// or not the ones before have finished (an open load, as a bid
    /// deadline brings it), instead of starting the next one as soon as
    /// one finishes. Below saturation the hops then show the latency at
    /// that load; a lifecycle that has to wait for one of the
    /// `--concurrency` slots starts late, and the count of late ones says
    /// the gateway did not keep up.
    #[arg(long, value_name = "PER_SECOND", value_parser = positive_rate)]
    rate: Option<f64>,
    /// Bidders (credit codes) the lifecycles take turns at; default: as
    /// many as `--concurrency`, a bidder per lifecycle in flight. A
    /// bidder's applications are underwritten one at a time (its open
    /// exposure is checked under a lock of its own): `--bidders 1` measures
    /// one bidder applying for everything.
    #[arg(long)]
    bidders: Option<usize>,
    /// Instead: issue this many guarantees, then restore them all at once.
    #[arg(long)]
    restore_burst: Option<usize>,
    /// The platform stand-in reads the text of one downloaded PDF in this
    /// many (`pdftotext`, a process per file); every PDF is downloaded,
    /// decrypted and checked by its header. 1: read every one (then the
    /// stand-in, not the gateway, takes about a third of 2 cores).
    #[arg(long, default_value_t = 20)]
    read_pdf_text_every: u64,
    /// A setting for every gateway process, as `GW__SECTION__KEY=value`
    /// (repeatable): e.g. `GW__DATABASE__SQLITE_SYNCHRONOUS=normal`.
    #[arg(long = "set", value_name = "GW__KEY=VALUE")]
    settings: Vec<String>,
    /// Another environment variable for every gateway process, as
    /// `NAME=value` (repeatable): e.g. `TOKIO_WORKER_THREADS=1` or
    /// `MALLOC_ARENA_MAX=2`, to measure the runtime's or the allocator's
    /// share.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    environment: Vec<String>,
    /// Run every gateway process from the services' own binaries in this
    /// directory (e.g. `target/dist` after `cargo build --profile dist -p
    /// gateway`, or `-p ingress -p egress ...` for the services deployment)
    /// instead of the bench's `gw-service-proc`: to measure the binaries
    /// the image ships.
    #[arg(long, value_name = "DIR")]
    binaries: Option<std::path::PathBuf>,
    /// How long the processes idle after the load before their resident
    /// memory is read again (the third memory figure).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Instead of starting a deployment: drive the gateway whose public
    /// (ingress) address this is, e.g. `http://10.0.0.5:8080`. It must have
    /// a counterpart with `--appkey`/`--appsecret` whose `notice_base_url`
    /// is the platform stand-in (`--platform-listen`). Its CPU and memory
    /// are then not measured.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The cashier's address with `--url` (default: the same as `--url`,
    /// as on the embedded gateway).
    #[arg(long, value_name = "URL")]
    cashier_url: Option<String>,
    /// Where the platform stand-in listens for notices with `--url`.
    #[arg(long, default_value = "127.0.0.1:9400")]
    platform_listen: std::net::SocketAddr,
    /// The counterpart's appkey with `--url`.
    #[arg(long, default_value = gw_tests::APPKEY)]
    appkey: String,
    /// The counterpart's appsecret with `--url` (a test credential: never
    /// give a production secret to a benchmark).
    #[arg(long, default_value = gw_tests::APPSECRET)]
    appsecret: String,
}

/// The hops, in order.
const HOPS: [&str; 4] = [
    "apply→processnotice",
    "pay→paynotice",
    "paynotice→baohannotice",
    "revertapply→revertnotice",
];

struct Driver {
    ingress: String,
    cashier: String,
    appkey: String,
    key: gw_envelope::Sm4Key,
    platform: Arc<Platform>,
    client: reqwest::Client,
    run: String,
    patience: Duration,
    bidders: usize,
}

impl Driver {
    /// The platform stand-in's driver of `a`'s lifecycles against the
    /// gateway at `ingress` (its cashier at `cashier`), as `appkey`.
    fn new(
        a: &Args,
        ingress: String,
        cashier: String,
        appkey: String,
        key: gw_envelope::Sm4Key,
        platform: &Arc<Platform>,
        run: String,
    ) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Driver {
            ingress,
            cashier,
            appkey,
            key,
            platform: platform.clone(),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(a.concurrency * 2)
                .timeout(Duration::from_secs(30))
                .build()?,
            run,
            patience: Duration::from_secs(120),
            bidders: a.bidders.unwrap_or(a.concurrency),
        }))
    }

    async fn call(&self, name: &str, body: &Value) -> anyhow::Result<Value> {
        loop {
            let r: Value = self
                .client
                .post(format!("{}/v1/gua/tb/{name}", self.ingress))
                .header("appkey", &self.appkey)
                .body(self.key.encrypt_hex(&body.to_string()))
                .send()
                .await?
                .json()
                .await?;
            if r["code"] == 200 {
                return Ok(r);
            }
            // Busy or rate limited: a platform tries again.
            if r["msg"]
                .as_str()
                .is_some_and(|m| m.contains("繁忙") || m.contains("频繁"))
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            anyhow::bail!("{name} refused: {r}");
        }
    }

    async fn notice(&self, applyno: &str, interface: &str) -> anyhow::Result<Value> {
        self.platform
            .wait_accepted(applyno, interface, |_| true, self.patience)
            .await
            .with_context(|| format!("no {interface} for {applyno}"))
    }

    /// Up to the guarantee: (apply→processnotice, pay→paynotice,
    /// paynotice→baohannotice) and the baohanno.
    async fn issue(&self, n: usize, applyno: &str) -> anyhow::Result<([Duration; 3], String)> {
        let t0 = Instant::now();
        let mut apply = gw_tests::samples::baohanapply(applyno);
        let bidder = u32::try_from(n % self.bidders.max(1)).unwrap_or(0);
        apply["biddercode"] = json!(gw_tests::samples::credit_code(bidder));
        self.call("baohanapply", &apply).await?;
        self.notice(applyno, "processnotice").await?;
        let processed = t0.elapsed();
        let reply = self.call("payapply", &json!({"applyno": applyno})).await?;
        let data: Value = serde_json::from_str(
            &self
                .key
                .decrypt_text(reply["data"].as_str().context("payapply data")?)
                .map_err(|e| anyhow::anyhow!("payapply data: {e}"))?,
        )?;
        let url = data["premiumurl"].as_str().context("premiumurl")?;
        let path = url.split("/cashier/").nth(1).context("cashier path")?;
        let t1 = Instant::now();
        let paid = self
            .client
            .post(format!("{}/cashier/{path}/pay", self.cashier))
            .form(&gw_tests::samples::PAYMENT_FORM)
            .send()
            .await?;
        anyhow::ensure!(paid.status().is_success(), "cashier: {}", paid.status());
        self.notice(applyno, "paynotice").await?;
        let t2 = Instant::now();
        let baohan = self.notice(applyno, "baohannotice").await?;
        let issued = t2.elapsed();
        let baohanno = baohan["baohanno"].as_str().context("baohanno")?.to_owned();
        Ok(([processed, t2 - t1, issued], baohanno))
    }

    async fn restore(&self, applyno: &str, baohanno: &str) -> anyhow::Result<Duration> {
        let bidtime =
            gw_protocol::WireTime::from_utc(chrono::Utc::now() + chrono::Duration::days(30));
        let mut revert = gw_tests::samples::request(gw_protocol::Interface::RevertApply, applyno);
        revert["baohanno"] = json!(baohanno);
        revert["bidtime"] = json!(bidtime.to_string());
        let t = Instant::now();
        self.call("revertapply", &revert).await?;
        self.notice(applyno, "revertnotice").await?;
        Ok(t.elapsed())
    }

    async fn lifecycle(&self, n: usize) -> anyhow::Result<[Duration; 4]> {
        let applyno = format!("TB{}{n:06}", self.run);
        let ([a, b, c], baohanno) = self.issue(n, &applyno).await?;
        let d = self.restore(&applyno, &baohanno).await?;
        Ok([a, b, c, d])
    }
}

/// The CPU seconds of each gateway process and of the machine by part, at
/// one moment.
type Snapshot = (Vec<(String, f64)>, crate::machine::Sample);

/// Prints the CPU each gateway process and the whole machine spent per
/// `unit` (a lifecycle, a restore) between two snapshots, `count` of them.
fn print_cpu(before: &Snapshot, after: &Snapshot, count: usize, unit: &str) {
    println!("CPU seconds per {unit}, per process:");
    let mut gateway = 0.0;
    for ((name, b), (_, e)) in before.0.iter().zip(after.0.iter()) {
        gateway += e - b;
        println!("  {name:<14} {:.2} ms", (e - b) * 1000.0 / count as f64);
    }
    crate::machine::report(before.1, after.1, gateway, count, unit);
}

/// Resident memory of a process in MB, from /proc.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Fails if the platform stand-in found a problem in anything it received.
fn verdict(platform: &Platform) -> anyhow::Result<()> {
    let problems: Vec<String> = platform
        .received()
        .into_iter()
        .flat_map(|r| r.problems)
        .collect();
    anyhow::ensure!(
        problems.is_empty(),
        "the platform found problems: {problems:?}"
    );
    Ok(())
}

/// Drives a gateway someone else started (`--url`).
async fn against_url(a: Args, url: String) -> anyhow::Result<()> {
    let creds = sandbox::Credentials::new(&a.appkey, &a.appsecret)
        .map_err(|e| anyhow::anyhow!("--appkey/--appsecret: {e}"))?;
    let platform = Arc::new(
        gw_tests::platform::Platform::serve(
            a.platform_listen,
            creds,
            Arc::new(sandbox::Timeline::default()),
        )
        .await
        .with_context(|| format!("cannot listen on {}", a.platform_listen))?,
    );
    platform.set_strict(true);
    platform.set_fetch_files(true);
    platform.set_read_text_every(a.read_pdf_text_every);
    println!(
        "the platform stand-in listens on {}: the gateway's counterpart {} must send its notices there",
        platform.base_url, a.appkey
    );
    let key = gw_envelope::Sm4Key::from_appsecret(&a.appsecret)
        .map_err(|e| anyhow::anyhow!("--appsecret: {e}"))?;
    let cashier = a.cashier_url.clone().unwrap_or_else(|| url.clone());
    let run = gw_tests::TestIds::new().prefix[1..7].to_owned();
    let driver = Driver::new(&a, url, cashier, a.appkey.clone(), key, &platform, run)?;
    let result = match a.restore_burst {
        Some(n) => burst(&driver, n, a.concurrency, None).await,
        None => steady(&driver, a.lifecycles, a.concurrency, a.rate).await,
    };
    result.and(verdict(&platform))
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    if let Some(url) = a.url.clone() {
        return against_url(a, url.trim_end_matches('/').to_owned()).await;
    }
    gw_tests::require_services().await;
    let ids = gw_tests::TestIds::new();
    // The strict stand-in: every notice checked, every PDF downloaded.
    let platform = Arc::new(gw_tests::platform::start_strict().await);
    platform.set_read_text_every(a.read_pdf_text_every);
    let mut env = cluster::process_env(&ids, &platform.base_url, &gw_tests::amqp_url());
    // Overload protection is not what is measured.
    env.insert("GW__INGRESS__RATE_LIMIT_PER_SECOND".into(), "100000".into());
    env.insert("GW__INGRESS__RATE_LIMIT_BURST".into(), "100000".into());
    for kv in &a.settings {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: GW__SECTION__KEY=value"))?;
        anyhow::ensure!(
            k.starts_with("GW__"),
            "--set {kv}: the key starts with GW__"
        );
        env.insert(k.to_owned(), v.to_owned());
    }
    for kv in &a.environment {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--env {kv}: NAME=value"))?;
        env.insert(k.to_owned(), v.to_owned());
    }
    let dir = std::env::temp_dir().join(format!("gw-bench-{}", ids.prefix));
    std::fs::create_dir_all(&dir)?;
    let launcher = match &a.binaries {
        Some(dir) => cluster::Launcher::Binaries(dir.clone()),
        None => cluster::Launcher::service_proc()?,
    };
    let mut c = match a.deployment.as_str() {
        "services" => Cluster::services(launcher, env.clone(), &dir)?,
        "embedded" => Cluster::embedded(launcher, env.clone(), &dir)?,
        other => anyhow::bail!("--deployment {other}: services or embedded"),
    };
    c.start(Duration::from_secs(120)).await?;
    let key = gw_envelope::Sm4Key::from_appsecret(gw_tests::APPSECRET)
        .map_err(|e| anyhow::anyhow!("the tests' appsecret: {e}"))?;
    let driver = Driver::new(
        &a,
        c.ingress.clone(),
        c.cashier.clone(),
        gw_tests::APPKEY.to_owned(),
        key,
        &platform,
        ids.prefix[1..7].to_owned(),
    )?;
    let tick = crate::machine::clock_ticks();
    let cpu = |c: &Cluster| -> Vec<(String, f64)> {
        c.procs
            .iter()
            .filter_map(|p| Some((p.name.clone(), crate::machine::cpu_seconds(p.pid()?, tick)?)))
            .collect()
    };
    let rss = |c: &Cluster| -> Vec<(String, f64)> {
        c.procs
            .iter()
            .filter_map(|p| Some((p.name.clone(), rss_mb(p.pid()?)?)))
            .collect()
    };
    // Idle: started and ready, nothing asked yet.
    let idle = rss(&c);
    let snapshot = || (cpu(&c), crate::machine::Sample::take(tick));
    let result = match a.restore_burst {
        Some(n) => burst(&driver, n, a.concurrency, Some(&snapshot)).await,
        None => {
            let before = snapshot();
            let r = steady(&driver, a.lifecycles, a.concurrency, a.rate).await;
            if r.is_ok() {
                print_cpu(&before, &snapshot(), a.lifecycles, "lifecycle");
            }
            r
        }
    };
    if result.is_ok() {
        let after = rss(&c);
        // What each process keeps once idle again: an allocator that gives
        // freed memory back does so over seconds, not at once.
        tokio::time::sleep(a.settle).await;
        let settled = rss(&c);
        println!(
            "resident memory (RSS), idle before the load / right after it / {} after it:",
            humantime::format_duration(a.settle)
        );
        for (((name, i), (_, l)), (_, s)) in idle.iter().zip(after.iter()).zip(settled.iter()) {
            println!("  {name:<14} {i:.1} MB / {l:.1} MB / {s:.1} MB");
        }
    }
    c.stop(Duration::from_secs(15)).await;
    if a.deployment == "services" {
        let s = gw_config::Settings::load_from(None, Some(env))?;
        let (bus, db) = gw_host::connect(&s, "bench").await?;
        bus.transport().delete(bus.topology()).await.ok();
        db.drop_schema().await.ok();
        bus.close().await;
        db.close().await;
    }
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("the gateway's logs are kept in {}", dir.display());
    }
    result.and(verdict(&platform))
}

/// Runs `job(i)` for every `i` below `n`, `concurrency` at a time, each
/// worker a task of its own (the stand-in's work spreads over the cores);
/// the results in no particular order.
async fn in_parallel<T, F, Fut>(n: usize, concurrency: usize, job: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (job, next) = (job.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return Ok::<_, anyhow::Error>(done);
                    }
                    done.push(job(i).await?);
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for w in workers {
        all.extend(w.await??);
    }
    Ok(all)
}

/// `--rate`: lifecycles a second, more than none and at most a million
/// (checked before anything starts).
fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1e6 => Ok(r),
        _ => Err(format!(
            "{s:?}: lifecycles a second, more than 0 and at most 1000000"
        )),
    }
}

/// A lifecycle that starts this much after its time counts as late.
const LATE: Duration = Duration::from_millis(10);

async fn steady(
    d: &Arc<Driver>,
    n: usize,
    concurrency: usize,
    rate: Option<f64>,
) -> anyhow::Result<()> {
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let started = Instant::now();
    let late = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (d2, late2) = (d.clone(), late.clone());
    let lifecycles = in_parallel(n, concurrency, move |i| {
        let (d, late) = (d2.clone(), late2.clone());
        async move {
            if let Some(every) = interval {
                // Lifecycle i's time: i intervals after the start.
                let at = started + every.mul_f64(i as f64);
                if Instant::now() > at + LATE {
                    late.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep_until(at.into()).await;
            }
            d.lifecycle(i).await
        }
    })
    .await?;
    let mut hops: Vec<Latencies> = HOPS.iter().map(|_| Latencies::new()).collect();
    for l in lifecycles {
        for (h, t) in hops.iter_mut().zip(l) {
            h.record(t);
        }
    }
    let took = started.elapsed();
    let load = match rate {
        Some(r) => format!(
            "started at {r}/s, at most {concurrency} at once ({} of them more than {} ms late)",
            late.load(std::sync::atomic::Ordering::Relaxed),
            LATE.as_millis()
        ),
        None => format!("{concurrency} at once"),
    };
    println!(
        "{n} lifecycles, {load}, {} bidders, in {:.1} s: {:.1} lifecycles/s",
        d.bidders,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    for (name, h) in HOPS.iter().zip(&hops) {
        println!(
            "  {name:<26} p50 {:>8.1} ms  p99 {:>8.1} ms",
            h.ms(0.5),
            h.ms(0.99)
        );
    }
    Ok(())
}

/// `measure`: the processes to measure during the burst itself (none with
/// `--url`).
async fn burst(
    d: &Arc<Driver>,
    n: usize,
    concurrency: usize,
    measure: Option<&dyn Fn() -> Snapshot>,
) -> anyhow::Result<()> {
    // Issue n guarantees, `concurrency` at a time.
    let d2 = d.clone();
    let issued = in_parallel(n, concurrency, move |i| {
        let d = d2.clone();
        async move {
            let applyno = format!("TB{}{i:06}", d.run);
            let (_, baohanno) = d.issue(i, &applyno).await?;
            Ok((applyno, baohanno))
        }
    })
    .await?;
    println!("{n} guarantees issued; now {n} revertapply at once");
    let before = measure.map(|m| m());
    let started = Instant::now();
    let restores: Vec<_> = issued
        .into_iter()
        .map(|(applyno, baohanno)| {
            let d = d.clone();
            tokio::spawn(async move { d.restore(&applyno, &baohanno).await })
        })
        .collect();
    let mut lat = Latencies::new();
    for r in restores {
        lat.record(r.await??);
    }
    let took = started.elapsed();
    println!(
        "restore burst: {n} revertnotice delivered in {:.1} s; revertapply→revertnotice p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        took.as_secs_f64(),
        lat.ms(0.5),
        lat.ms(0.99),
        lat.ms(1.0)
    );
    if let (Some(m), Some(before)) = (measure, before) {
        print_cpu(&before, &m(), n, "restore");
    }
    Ok(())
}
