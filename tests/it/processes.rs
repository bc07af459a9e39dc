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

fn run_dir(ids: &gw_tests::TestIds) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gw-procs-{}", ids.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configuration of a run: classic queues (see `settings_env`).
fn env(ids: &gw_tests::TestIds, platform: &str) -> HashMap<String, String> {
    let mut env = cluster::process_env(ids, platform, &gw_tests::amqp_url());
    env.insert("GW__AMQP__QUEUE_TYPE".into(), "classic".into());
    env
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
    let ids = gw_tests::TestIds::new();
    let platform = Arc::new(gw_tests::platform::start_strict().await);
    let dir = run_dir(&ids);
    let e = env(&ids, &platform.base_url);
    let mut c = Cluster::services(exe(), e.clone(), &dir).unwrap();
    c.start(Duration::from_secs(60)).await.unwrap();
    let workers: Vec<usize> = ["underwriting", "payment", "issuance", "invoice", "claims"]
        .iter()
        .map(|n| c.procs.iter().position(|p| p.name == *n).unwrap())
        .collect();
    let order: Vec<usize> = workers.iter().chain(workers.iter()).copied().collect();
    stories_survive(&mut c, platform, &order).await;
    c.stop(Duration::from_secs(15)).await;
    let s = gw_config::Settings::load_from(None, Some(e)).unwrap();
    let bus = gw_host::connect_bus(&s, "test").await.unwrap();
    bus.transport().delete(bus.topology()).await.unwrap();
    bus.close().await;
    let db = gw_host::connect_db(&s).await.unwrap();
    db.drop_schema().await.unwrap();
    db.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The embedded gateway (one process, SQLite, no broker) killed mid-flight
/// and started again on the same data directory: nothing it accepted is
/// lost, and what it was handling goes again at once (it holds its
/// database's lock, so nothing else can be handling it). A second gateway
/// on the same database is refused with the reason.
#[tokio::test]
async fn every_story_passes_on_the_embedded_gateway_killed_and_restarted() {
    let ids = gw_tests::TestIds::new();
    let platform = Arc::new(gw_tests::platform::start_strict().await);
    let dir = run_dir(&ids);
    let e = env(&ids, &platform.base_url);
    let mut c = Cluster::embedded(exe(), e.clone(), &dir).unwrap();
    c.start(Duration::from_secs(60)).await.unwrap();
    let started = std::time::Instant::now();
    stories_survive(&mut c, platform, &[0, 0, 0]).await;
    // Taken back at start, not after the bus's one-minute lease.
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "the stories took {:?}",
        started.elapsed()
    );
    let second = tokio::process::Command::new(exe())
        .arg("gateway")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&e)
        .env("GW__AMQP__URL", "embedded")
        .env(
            "GW__DATABASE__URL",
            format!("sqlite://{}/gateway.db?mode=rwc", dir.display()),
        )
        .env_remove("GW__DATABASE__SCHEMA")
        .env("GW__INGRESS__LISTEN", "127.0.0.1:0")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(err.contains("another gateway is running on"), "{err}");
    c.stop(Duration::from_secs(15)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
