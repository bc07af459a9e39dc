//! `bench ingress`: latency of `payapply` (answered from the lifecycle
//! table) and of `baohanapply` (accepted once the broker confirms), over
//! real HTTP, SM4 and the configured RabbitMQ and database.

use std::time::Instant;

use futures::stream::{self, StreamExt};
use gw_storage::entities::applications;
use gw_storage::sea_orm::{ActiveModelTrait, Set};
use tokio_util::sync::CancellationToken;

use crate::stats::{self, Latencies, SECRET};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Requests of each kind.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Also publish as many messages of the same size straight through
    /// lapin (one connection, publisher confirms with at most `window`
    /// unconfirmed, a quorum queue) in the same run, and print ingress's
    /// `baohanapply` rate as a share of that: what the HTTP layer, SM4,
    /// validation and the bus cost on top of the broker. 0: skip it.
    #[arg(long, default_value_t = 64)]
    pub raw_window: usize,
}

/// Messages per second published straight through lapin: `n` messages of
/// `size` bytes to a fresh quorum queue (deleted afterwards), mandatory, at
/// most `window` unconfirmed at a time.
async fn raw_publish_confirm(
    url: &str,
    queue: &str,
    n: usize,
    size: usize,
    window: usize,
) -> anyhow::Result<f64> {
    use lapin::options::{
        BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::{AMQPValue, FieldTable};
    let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(queue.into(), QueueDeclareOptions::durable(), args)
        .await?;
    let payload = vec![b'x'; size];
    let started = Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    for _ in 0..n {
        if pending.len() >= window.max(1)
            && let Some(c) = pending.next().await
        {
            let c: lapin::Confirmation = c?;
            anyhow::ensure!(c.is_ack(), "the broker refused a raw publish");
        }
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &payload,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        pending.push(confirm);
    }
    while let Some(c) = pending.next().await {
        anyhow::ensure!(c?.is_ack(), "the broker refused a raw publish");
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    ch.queue_delete(queue.into(), QueueDeleteOptions::default())
        .await?;
    let _ = conn.close(200, "done".into()).await;
    Ok(rate)
}

async fn run_calls(
    url: String,
    bodies: Vec<String>,
    concurrency: usize,
) -> anyhow::Result<(Latencies, f64, usize)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let started = Instant::now();
    let results: Vec<anyhow::Result<(std::time::Duration, bool)>> = stream::iter(bodies)
        .map(|body| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let t = Instant::now();
                let reply: serde_json::Value = client
                    .post(&url)
                    .header("appkey", "bench")
                    .body(body)
                    .send()
                    .await?
                    .json()
                    .await?;
                Ok((t.elapsed(), reply["code"] == 200))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let mut times = Latencies::new();
    let mut failed = 0;
    for r in results {
        let (t, ok) = r?;
        times.record(t);
        if !ok {
            failed += 1;
        }
    }
    Ok((times, secs, failed))
}

async fn seed(db: &gw_storage::Db, n: usize) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    for i in 0..n {
        applications::ActiveModel {
            applyno: Set(gw_protocol::ApplyNo::try_from(format!("BENCH{i:07}").as_str()).unwrap()),
            counterpart: Set(gw_protocol::CounterpartName::try_from("bench").unwrap()),
            state: Set(gw_lifecycle::State::Approved),
            version: Set(1),
            biddername: Set("湖南建工集团有限公司".into()),
            biddercode: Set("914300001837644275".into()),
            bzjamount_cents: Set(20_000_000),
            jbrname: Set("张三".into()),
            jbrphone: Set("13800138000".into()),
            content_hash: Set(String::new()),
            rate: Set(Some("0.0015".into())),
            cost_cents: Set(Some(30_000)),
            cashier_token: Set(Some(format!("{i:032x}"))),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db.conn())
        .await?;
    }
    Ok(())
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let id = stats::run_id();
    let mut overrides = stats::isolated(&id, "http://127.0.0.1:9");
    overrides.extend([
        ("GW__INGRESS__LISTEN", "127.0.0.1:0".to_owned()),
        ("GW__INGRESS__RATE_LIMIT_PER_SECOND", "1000000".to_owned()),
        ("GW__INGRESS__RATE_LIMIT_BURST", "1000000".to_owned()),
    ]);
    let settings = stats::settings(&overrides)?;
    let app = gw_host::Application::build(settings.clone(), &[&ingress::Ingress]).await?;
    let port = app.port("ingress").unwrap_or(0);
    let url = |name: &str| format!("http://127.0.0.1:{port}/v1/gua/tb/{name}");
    let db = gw_host::connect_db(&settings).await?;
    seed(&db, args.requests).await?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(app.run_until(stop.clone()));
    let key = gw_envelope::Sm4Key::from_appsecret(SECRET)?;

    println!(
        "ingress bench: {} requests of each kind, {} in flight",
        args.requests, args.concurrency
    );
    let bodies: Vec<String> = (0..args.requests)
        .map(|i| {
            key.encrypt_hex(&serde_json::json!({"applyno": format!("BENCH{i:07}")}).to_string())
        })
        .collect();
    let (times, secs, failed) = run_calls(url("payapply"), bodies, args.concurrency).await?;
    println!(
        "payapply:    {:.0} req/s, {}, {failed} refused",
        times.len() as f64 / secs,
        times.summary()
    );
    let bodies: Vec<String> = (0..args.requests)
        .map(|i| {
            key.encrypt_hex(
                &serde_json::json!({
                    "applyno": format!("BENCH-A{i:07}"), "biddername": "湖南建工集团有限公司",
                    "biddercode": "914300001837644275", "bzjamount": "200000.00", "jbrname": "张三",
                    "jbrphone": "13800138000"
                })
                .to_string(),
            )
        })
        .collect();
    let size = bodies.first().map_or(0, String::len);
    let (times, secs, failed) = run_calls(url("baohanapply"), bodies, args.concurrency).await?;
    let ingress_rate = times.len() as f64 / secs;
    println!(
        "baohanapply: {ingress_rate:.0} req/s, {}, {failed} refused (each waits for the broker's confirm)",
        times.summary()
    );
    if args.raw_window > 0 && !settings.amqp.is_embedded() {
        use secrecy::ExposeSecret as _;
        let raw = raw_publish_confirm(
            settings.amqp.url.expose_secret(),
            &format!("bench{id}.raw"),
            args.requests,
            size,
            args.raw_window,
        )
        .await?;
        println!(
            "raw lapin publish-confirm ({}-byte messages, window {}, quorum queue): {raw:.0} msg/s; ingress baohanapply at {} connections is {:.0} % of it",
            size,
            args.raw_window,
            args.concurrency,
            ingress_rate * 100.0 / raw
        );
    }

    stop.cancel();
    let _ = task.await;
    db.close().await;
    stats::cleanup(&settings).await
}
