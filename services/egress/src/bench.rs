//! `egress bench`: notices per second delivered to a local sink, and the
//! latency from enqueue to delivery (p50, p99).
//!
//! It runs egress in-process against the configured RabbitMQ and database,
//! under a fresh queue prefix and schema that it removes afterwards, and a
//! sink on 127.0.0.1 that decrypts every notice and answers `code 200`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use futures::stream::{self, StreamExt};
use gw_bus::{Message, queues};
use gw_config::{CounterpartSettings, Settings};
use gw_protocol::messages::{NOTICE_KIND, NOTICE_SCHEMA, NoticeCommand};
use gw_protocol::{Interface, Notice};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// How many notices to deliver.
    #[arg(long, default_value_t = 2000)]
    pub notices: usize,
    /// Publishes in flight while enqueueing.
    #[arg(long, default_value_t = 64)]
    pub publishers: usize,
    /// Enqueue at this many notices per second (steady load) instead of all
    /// at once (a burst, where queueing dominates latency).
    #[arg(long)]
    pub rate: Option<f64>,
}

const SECRET: &str = "bench-secret-16c";

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn sink(State(arrivals): State<Arrivals>, body: String) -> axum::Json<serde_json::Value> {
    let now = Instant::now();
    let key = gw_envelope::Sm4Key::from_appsecret(SECRET);
    let applyno = key
        .ok()
        .and_then(|k| k.decrypt_text(&body).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["applyno"].as_str().map(str::to_owned));
    if let Some(a) = applyno
        && let Ok(mut m) = arrivals.lock()
    {
        m.entry(a).or_insert(now);
    }
    axum::Json(serde_json::json!({"code": 200, "msg": "ok"}))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(mut settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    let run_id = uuid_suffix();
    settings.amqp.prefix = format!("bench{run_id}");
    if settings.database.is_postgres() {
        settings.database.schema = Some(format!("bench_{run_id}"));
    }
    settings.egress.listen = "127.0.0.1:0".parse()?;
    settings.egress.admin_listen = "127.0.0.1:0".parse()?;

    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::with_capacity(args.notices)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sink_url = format!("http://{}", listener.local_addr()?);
    let sink_stop = CancellationToken::new();
    let app = axum::Router::new()
        .route("/v1/gua/tb/{name}", post(sink))
        .with_state(arrivals.clone());
    let sink_task = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(sink_stop.clone().cancelled_owned())
            .into_future(),
    );
    settings.counterparts.clear();
    settings.counterparts.insert(
        "bench".into(),
        CounterpartSettings {
            appkey: "bench".into(),
            appsecret: SecretString::from(SECRET.to_owned()),
            notice_base_url: sink_url.parse()?,
            allowed_networks: vec![],
            file_hosts: vec![],
        },
    );

    let egress = crate::Application::build(settings.clone()).await?;
    let stop = CancellationToken::new();
    let egress_task = tokio::spawn(egress.run_until(stop.clone()));
    let bus = gw_service::connect_bus(&settings, "bench").await?;

    let load = match args.rate {
        Some(r) => format!("at {r}/s"),
        None => "in one burst".to_owned(),
    };
    println!(
        "egress bench: {} notices {load}, prefix {}",
        args.notices, settings.amqp.prefix
    );
    let mut enqueued: HashMap<String, Instant> = HashMap::with_capacity(args.notices);
    let mut jobs = Vec::with_capacity(args.notices);
    let started_at = Instant::now();
    for i in 0..args.notices {
        let applyno = format!("BENCH{i:07}");
        let body = serde_json::json!({
            "applyno": applyno, "applystatus": "1", "remark": "通过", "rate": "0.0015", "cost": "300.00"
        });
        let notice = Notice::from_value(Interface::ProcessNotice, body)?;
        let cmd = NoticeCommand::new("bench", &notice, None);
        let m = Message::json(NOTICE_KIND, NOTICE_SCHEMA, Some(&applyno), &cmd)?;
        let bus = bus.clone();
        let due = args
            .rate
            .map(|r| Duration::from_secs_f64(i as f64 / r.max(1.0)));
        jobs.push(async move {
            if let Some(due) = due {
                tokio::time::sleep_until(tokio::time::Instant::from_std(started_at) + due).await;
            }
            let at = Instant::now();
            bus.send(queues::NOTICES, &m).await.map(|()| (applyno, at))
        });
    }
    let started = Instant::now();
    let results: Vec<_> = stream::iter(jobs)
        .buffer_unordered(args.publishers.max(1))
        .collect()
        .await;
    for r in results {
        let (applyno, at) = r?;
        enqueued.insert(applyno, at);
    }
    let enqueue_secs = started.elapsed().as_secs_f64();

    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let n = arrivals.lock().map(|m| m.len()).unwrap_or(0);
        if n >= args.notices || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrived = arrivals.lock().map(|m| m.clone()).unwrap_or_default();
    let mut latencies: Vec<Duration> = arrived
        .iter()
        .filter_map(|(a, t)| enqueued.get(a).map(|e| t.saturating_duration_since(*e)))
        .collect();
    latencies.sort();
    let last = arrived.values().max().copied().unwrap_or(started);
    let total = last
        .saturating_duration_since(started)
        .as_secs_f64()
        .max(1e-9);
    println!(
        "enqueued  {} in {:.2} s ({:.0}/s)",
        enqueued.len(),
        enqueue_secs,
        enqueued.len() as f64 / enqueue_secs.max(1e-9)
    );
    println!(
        "delivered {} of {} in {:.2} s",
        arrived.len(),
        args.notices,
        total
    );
    println!("throughput {:.0} notices/s", arrived.len() as f64 / total);
    println!(
        "enqueue->delivery latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );

    stop.cancel();
    let _ = egress_task.await;
    sink_stop.cancel();
    let _ = sink_task.await;
    let _ = bus.transport().delete(bus.topology()).await;
    bus.close().await;
    if settings.database.schema.is_some() {
        let db = gw_service::connect_db(&settings).await?;
        db.drop_schema().await?;
        db.close().await;
    }
    anyhow::ensure!(
        arrived.len() == args.notices,
        "only {} of {} notices arrived",
        arrived.len(),
        args.notices
    );
    Ok(())
}

fn uuid_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}
