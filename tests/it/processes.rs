//! The built binaries as an institution runs them, with the strict sandbox
//! as the platform: every service its own process on RabbitMQ and
//! PostgreSQL, and the embedded gateway on SQLite. The demo's stories
//! (whole life with invoice and claim, refund, write-off, cancellation, a
//! refused application) go through while processes are killed with
//! SIGKILL mid-flight and started again: every story ends as it should,
//! every notice and file passes the platform's checks, in order, and no
//! decision is made twice (a notice may be sent again, never changed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gw_tests::cluster::{self, Cluster};
use sandbox::timeline::Direction;

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_gw-service-proc"))
}

fn proc_launcher() -> cluster::Launcher {
    cluster::Launcher::ServiceProc(exe().to_owned())
}

/// `gw-service-proc gateway <args>` with exactly the configuration `env`;
/// what it printed and how it ended.
async fn gateway(env: &HashMap<String, String>, args: &[&std::ffi::OsStr]) -> std::process::Output {
    tokio::process::Command::new(exe())
        .arg("gateway")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .await
        .unwrap()
}

/// Deletes what a run on RabbitMQ and PostgreSQL created.
async fn remove_run(env: HashMap<String, String>, dir: &Path) {
    let s = gw_config::Settings::load_from(None, Some(env)).unwrap();
    let bus = gw_host::connect_bus(&s, "test").await.unwrap();
    bus.transport().delete(bus.topology()).await.unwrap();
    bus.close().await;
    let db = gw_host::connect_db(&s).await.unwrap();
    db.drop_schema().await.unwrap();
    db.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// A run's platform (the strict sandbox), directory (logs, SQLite) and
/// configuration (classic queues: see `settings_env`); `tag` is unique.
struct Run {
    platform: Arc<sandbox::Platform>,
    dir: PathBuf,
    env: HashMap<String, String>,
    tag: String,
}

impl Run {
    async fn start() -> Self {
        let ids = gw_tests::TestIds::new();
        let platform = Arc::new(gw_tests::platform::start_strict().await);
        let dir = std::env::temp_dir().join(format!("gw-procs-{}", ids.prefix));
        std::fs::create_dir_all(&dir).unwrap();
        let mut env = cluster::process_env(&ids, &platform.base_url, &gw_tests::amqp_url());
        env.insert("GW__AMQP__QUEUE_TYPE".into(), "classic".into());
        Self {
            platform,
            dir,
            env,
            tag: ids.prefix,
        }
    }
}

/// Runs the demo's stories against `c` while `kill` kills processes of it
/// (by index) one after another, 400 ms apart, each started again at
/// once; checks what the platform saw. The platform answers each notice
/// after 150 ms, as a busy one does, so that the stories last a few
/// seconds and the kills land while they are under way (at least one
/// must).
async fn stories_survive(c: &mut Cluster, platform: Arc<sandbox::Platform>, kill: &[usize]) {
    platform.set_delay(Duration::from_millis(150));
    let stories = tokio::spawn({
        let (platform, ingress, cashier) = (platform.clone(), c.ingress.clone(), c.cashier.clone());
        async move {
            sandbox::run(
                platform,
                &ingress,
                Some(cashier),
                Duration::from_secs(60),
                None,
            )
            .await
        }
    });
    let mut in_flight = Vec::new();
    for &i in kill {
        tokio::time::sleep(Duration::from_millis(400)).await;
        if stories.is_finished() {
            break;
        }
        c.kill_and_restart(i).await.unwrap();
        in_flight.push(c.procs[i].name.clone());
    }
    let out = stories.await.unwrap().unwrap();
    assert!(
        !in_flight.is_empty(),
        "the stories ended before any kill:\n{}",
        out.text
    );
    let killed = in_flight.join(", ");
    eprintln!("killed while the stories ran: {killed}");
    assert!(
        out.stories.iter().all(|s| s.ok()),
        "killed {killed}:\n{}",
        out.text
    );
    assert_eq!(out.stories.len(), 5);
    // What the gateway sent passed every check; the platform's own calls
    // may have gone unanswered while a process was down, and were retried.
    let timeline = platform.timeline();
    for s in &out.stories {
        for e in timeline.of(&s.applyno) {
            assert!(
                e.direction == Direction::Call || e.ok(),
                "killed {killed}: {} {} {:?}\n{}",
                s.applyno,
                e.what,
                e.problems,
                out.text
            );
        }
        // One decision per interface and business number. A sender killed
        // after the platform took a notice and before it recorded that
        // sends it again (at least once): the same notice, never another.
        let mut seen: HashMap<_, Vec<serde_json::Value>> = HashMap::new();
        for (interface, body) in platform.accepted_for(&s.applyno) {
            let key = (
                interface.clone(),
                body["applicationno"].as_str().map(str::to_owned),
            );
            seen.entry(key).or_default().push(body);
        }
        for (key, bodies) in &seen {
            assert!(
                bodies.iter().all(|b| b == &bodies[0]),
                "killed {killed}: {key:?} differs between sends: {bodies:#?}"
            );
        }
    }
    // Restarted processes are ready again.
    c.wait_ready(Duration::from_secs(30)).await.unwrap();
}

/// Every service its own process; the workers (underwriting, payment with
/// its cashier, issuance, invoice, claims) are killed in turn while the
/// stories run.
#[tokio::test]
async fn every_story_passes_on_separate_processes_with_workers_killed() {
    gw_tests::require_services().await;
    let Run {
        platform,
        dir,
        env: e,
        ..
    } = Run::start().await;
    let mut c = Cluster::services(proc_launcher(), e.clone(), &dir).unwrap();
    c.start(Duration::from_secs(60)).await.unwrap();
    let workers: Vec<usize> = ["underwriting", "payment", "issuance", "invoice", "claims"]
        .iter()
        .map(|n| c.procs.iter().position(|p| p.name == *n).unwrap())
        .collect();
    let order: Vec<usize> = workers.iter().chain(workers.iter()).copied().collect();
    stories_survive(&mut c, platform, &order).await;
    c.stop(Duration::from_secs(15)).await;
    remove_run(e, &dir).await;
}

/// The embedded gateway (one process, SQLite, no broker) killed mid-flight
/// and started again on the same data directory: nothing it accepted is
/// lost, and what it was handling goes again at once (it holds its
/// database's lock, so nothing else can be handling it). A second gateway
/// on the same database is refused with the reason.
#[tokio::test]
async fn every_story_passes_on_the_embedded_gateway_killed_and_restarted() {
    let Run {
        platform,
        dir,
        env: e,
        ..
    } = Run::start().await;
    let mut c = Cluster::embedded(proc_launcher(), e.clone(), &dir).unwrap();
    c.start(Duration::from_secs(60)).await.unwrap();
    let started = std::time::Instant::now();
    stories_survive(&mut c, platform, &[0, 0, 0]).await;
    // Taken back at start, not after the bus's one-minute lease.
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "the stories took {:?}",
        started.elapsed()
    );
    let mut second_env = c.procs[0].env().clone();
    second_env.insert("GW__INGRESS__LISTEN".into(), "127.0.0.1:0".into());
    let second = gateway(&second_env, &[]).await;
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(err.contains("another gateway is running on"), "{err}");
    // The container health check: 0 while it answers, not once it stopped.
    let env = c.procs[0].env().clone();
    let healthy = gateway(&env, &["healthcheck".as_ref()]).await;
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    c.stop(Duration::from_secs(15)).await;
    let gone = gateway(&env, &["healthcheck".as_ref()]).await;
    assert!(!gone.status.success(), "healthy after it stopped");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `deploy/edge/nginx.conf`, the compose stack's one public address, in
/// front of the services as their own processes (its service names pointed
/// at their loopback ports): the whole acceptance rehearsal goes through
/// it, the platform's calls, the cashier, the PDF downloads and 验真 alike.
#[tokio::test]
async fn the_compose_edge_routes_every_public_path() {
    gw_tests::require_services().await;
    let Run {
        platform,
        dir,
        env: e,
        ..
    } = Run::start().await;
    let mut c = Cluster::services(proc_launcher(), e.clone(), &dir).unwrap();
    let port = gw_tests::stack::free_port();
    let edge = format!("http://127.0.0.1:{port}");
    c.set_env("GW__PUBLIC_BASE_URL", &edge);
    let conf = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/edge/nginx.conf"),
    )
    .unwrap();
    let host = |u: &str| u.trim_start_matches("http://").to_owned();
    let conf = conf
        .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
        .replace("ingress:8080", &host(&c.ingress))
        .replace("egress:8081", &host(&c.files))
        .replace("payment:8084", &host(&c.cashier))
        .replace("issuance:8086", &host(&c.verify));
    let edge_dir = dir.join("edge");
    std::fs::create_dir_all(edge_dir.join("logs")).unwrap();
    std::fs::write(edge_dir.join("nginx.conf"), conf).unwrap();
    let mut nginx = tokio::process::Command::new("nginx")
        .arg("-p")
        .arg(&edge_dir)
        // One process (no workers to outlive it), killed with the test.
        .args([
            "-e",
            "error.log",
            "-c",
            "nginx.conf",
            "-g",
            "daemon off; master_process off; pid nginx.pid;",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx is not installed: install nginx-light (see .ci/run)");
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !reqwest::get(format!("{edge}/healthz"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        let log = std::fs::read_to_string(edge_dir.join("error.log")).unwrap_or_default();
        assert!(nginx.try_wait().unwrap().is_none(), "nginx stopped: {log}");
        assert!(
            std::time::Instant::now() < until,
            "nginx does not answer: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.start(Duration::from_secs(60)).await.unwrap();

    let report = dir.join("rehearsal");
    let mut plan = sandbox::report::plan(&edge, Duration::from_secs(30));
    plan.load = 20;
    plan.down_for = Duration::from_secs(2);
    let out = sandbox::run(
        platform.clone(),
        &edge,
        None,
        Duration::from_secs(30),
        Some((&report, plan)),
    )
    .await
    .unwrap();
    assert!(out.passed, "{}", out.text);
    // The links the platform followed name the edge, and it served them.
    let downloads = platform.downloads();
    assert!(!downloads.is_empty());
    assert!(
        downloads.iter().all(|d| d.url.starts_with(&edge)),
        "{:?}",
        downloads.iter().map(|d| &d.url).collect::<Vec<_>>()
    );
    let unrouted = reqwest::get(format!("{edge}/admin/notices")).await.unwrap();
    assert_eq!(unrouted.status(), 404, "the admin APIs stay off the edge");

    nginx.kill().await.unwrap();
    c.stop(Duration::from_secs(15)).await;
    remove_run(e, &dir).await;
}

/// `gateway backup` while the embedded gateway works (applications coming
/// in, the platform away so their notices wait), then `gateway restore`
/// into a fresh directory and a gateway started on it: every guarantee
/// issued before still verifies, and every notice not yet delivered at the
/// backup is delivered. Restoring over a running gateway is refused, and
/// the scheduled backups keep the number they are told.
#[tokio::test]
async fn a_backup_taken_under_load_restores_into_a_fresh_directory() {
    let Run {
        platform,
        dir,
        env: mut e,
        tag,
    } = Run::start().await;
    e.insert("GW__BACKUP__EVERY".into(), "1s".into());
    e.insert("GW__BACKUP__KEEP".into(), "2".into());
    let mut c = Cluster::embedded(proc_launcher(), e.clone(), &dir).unwrap();
    c.start(Duration::from_secs(60)).await.unwrap();
    let out = sandbox::run(
        platform.clone(),
        &c.ingress,
        Some(c.cashier.clone()),
        Duration::from_secs(30),
        None,
    )
    .await
    .unwrap();
    assert!(out.passed, "{}", out.text);
    // The genuine PDFs the platform downloaded (guarantees and restored
    // guarantees; invoices are not guarantees).
    let genuine = |verify: String, pdf: Vec<u8>| async move {
        gw_tests::verify_file(&verify, pdf).await["genuine"] == true
    };
    let mut guarantees = Vec::new();
    for d in platform.downloads() {
        let pdf = d.bytes.unwrap();
        if genuine(c.verify.clone(), pdf.clone()).await {
            guarantees.push(pdf);
        }
    }
    assert!(guarantees.len() >= 3, "{} genuine PDFs", guarantees.len());

    // Load, the platform away: notices wait. The backup starts midway.
    platform.set_down(true);
    let creds = platform.credentials().cloned().unwrap();
    let client = sandbox::client::Client::new(&c.ingress, creds, platform.timeline()).unwrap();
    let load = tokio::spawn(async move {
        let mut accepted = Vec::new();
        for n in 0..40 {
            let a = format!("TB-BAK-{}-{n:03}", &tag[1..7]);
            let body = sandbox::samples::baohanapply(&a);
            let r = client
                .call_until_answered("baohanapply", &body, Duration::from_secs(20))
                .await
                .unwrap();
            assert!(r.ok(), "{a}: {r:?}");
            accepted.push((a, std::time::Instant::now()));
        }
        accepted
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gateway_env = c.procs[0].env().clone();
    let backup = dir.join("manual").join("gateway-backup.db");
    let started = std::time::Instant::now();
    let made = gateway(
        &gateway_env,
        &["backup".as_ref(), "--to".as_ref(), backup.as_os_str()],
    )
    .await;
    let said = String::from_utf8_lossy(&made.stdout).into_owned();
    assert!(
        made.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(
        said.contains("backup of") && said.contains("guarantees"),
        "{said}"
    );
    let before: Vec<String> = load
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, at)| *at < started)
        .map(|(a, _)| a)
        .collect();
    assert!(
        !before.is_empty(),
        "no application was accepted before the backup"
    );
    // A second backup to the same file is refused.
    let again = gateway(
        &gateway_env,
        &["backup".as_ref(), "--to".as_ref(), backup.as_os_str()],
    )
    .await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // Restoring over the running gateway is refused; its database is untouched.
    let over = gateway(
        &gateway_env,
        &["restore".as_ref(), "--from".as_ref(), backup.as_os_str()],
    )
    .await;
    let err = String::from_utf8_lossy(&over.stderr);
    assert!(!over.status.success(), "{err}");
    assert!(err.contains("another gateway is running"), "{err}");
    // The schedule (every second, keep 2) kept two copies.
    let scheduled = dir.join("backups");
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while gw_storage::backup::scheduled_copies(&scheduled).len() < 2 {
        assert!(
            std::time::Instant::now() < until,
            "no scheduled backups in {}",
            scheduled.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(gw_storage::backup::scheduled_copies(&scheduled).len(), 2);
    c.stop(Duration::from_secs(15)).await;

    // Restored into a fresh directory, a gateway started on it.
    let fresh = dir.join("restored");
    let mut c2 = Cluster::embedded(proc_launcher(), e, &fresh).unwrap();
    let restored = gateway(
        c2.procs[0].env(),
        &["restore".as_ref(), "--from".as_ref(), backup.as_os_str()],
    )
    .await;
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(
        restored.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(said.contains("restored from"), "{said}");
    c2.start(Duration::from_secs(60)).await.unwrap();
    for pdf in guarantees {
        assert!(
            genuine(c2.verify.clone(), pdf).await,
            "a guarantee no longer verifies"
        );
    }
    platform.set_down(false);
    for a in &before {
        platform
            .wait_accepted(a, "processnotice", |_| true, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| {
                panic!("{a}: its processnotice was not delivered after the restore")
            });
    }
    // Today's report from the command line, beside the running gateway.
    let today = chrono::Utc::now()
        .with_timezone(&gw_protocol::types::cst())
        .format("%Y-%m-%d")
        .to_string();
    let out = dir.join("reports");
    let made = gateway(
        c2.procs[0].env(),
        &[
            "reports".as_ref(),
            "daily".as_ref(),
            "--date".as_ref(),
            today.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    )
    .await;
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(said.contains(&format!("report daily-{today}")), "{said}");
    for ext in ["xlsx", "csv", "pdf"] {
        let f = out.join(format!("daily-{today}.{ext}"));
        assert!(std::fs::metadata(&f).unwrap().len() > 0, "{}", f.display());
    }
    c2.stop(Duration::from_secs(15)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
