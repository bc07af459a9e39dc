//! `bench egress`: notices per second delivered to a local sink, and the
//! latency from enqueue to delivery (p50, p99).
//!
//! It runs egress in-process against the configured RabbitMQ and database,
//! and a sink on 127.0.0.1 that decrypts every notice and answers `code 200`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use futures::stream::{self, StreamExt};
use gw_contract::NoticeCommand;
use gw_protocol::{Interface, Notice};
use tokio_util::sync::CancellationToken;

use crate::stats::{self, Latencies, SECRET};

#[derive(clap::Args, Debug)]
pub struct Args {
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

pub async fn run(args: Args) -> anyhow::Result<()> {
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
    let mut overrides = stats::isolated(&stats::run_id(), &sink_url);
    overrides.extend([
        ("GW__EGRESS__LISTEN", "127.0.0.1:0".to_owned()),
        ("GW__EGRESS__ADMIN_LISTEN", "127.0.0.1:0".to_owned()),
    ]);
    let settings = stats::settings(&overrides)?;
    let egress = gw_host::Application::build(settings.clone(), &[&egress::Egress]).await?;
    let stop = CancellationToken::new();
    let egress_task = tokio::spawn(egress.run_until(stop.clone()));
    let (bus, _db) = gw_host::connect(&settings, "bench").await?;
    let bench = gw_protocol::CounterpartName::try_from("bench").unwrap();

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
        let cmd = NoticeCommand::new(&bench, &notice, None);
        let (to, m) = gw_contract::message(&cmd)?;
        let bus = bus.clone();
        let due = args
            .rate
            .map(|r| Duration::from_secs_f64(i as f64 / r.max(1.0)));
        jobs.push(async move {
            if let Some(due) = due {
                tokio::time::sleep_until(tokio::time::Instant::from_std(started_at) + due).await;
            }
            let at = Instant::now();
            bus.publish(&to, &m).await.map(|()| (applyno, at))
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
    let mut latencies = Latencies::new();
    for (a, t) in &arrived {
        if let Some(e) = enqueued.get(a) {
            latencies.record(t.saturating_duration_since(*e));
        }
    }
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
    println!("enqueue->delivery latency: {}", latencies.summary());

    stop.cancel();
    let _ = egress_task.await;
    sink_stop.cancel();
    let _ = sink_task.await;
    bus.close().await;
    stats::cleanup(&settings).await?;
    anyhow::ensure!(
        arrived.len() == args.notices,
        "only {} of {} notices arrived",
        arrived.len(),
        args.notices
    );
    Ok(())
}
