//! `ingress bench`: latency of `payapply` (answered from the lifecycle
//! table) and of `baohanapply` (accepted once the broker confirms), over
//! real HTTP, SM4 and the configured RabbitMQ and database, under a fresh
//! queue prefix and schema that it removes afterwards.

use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use gw_config::{CounterpartSettings, Settings};
use gw_storage::entities::applications;
use gw_storage::sea_orm::{ActiveModelTrait, Set};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Requests of each kind.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

const SECRET: &str = "bench-secret-16c";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

async fn run_calls(
    url: String,
    bodies: Vec<String>,
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, f64, usize)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Duration, bool)>> = stream::iter(bodies)
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
    let mut times = Vec::with_capacity(results.len());
    let mut failed = 0;
    for r in results {
        let (t, ok) = r?;
        times.push(t);
        if !ok {
            failed += 1;
        }
    }
    times.sort();
    Ok((times, secs, failed))
}

pub async fn run(mut settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    settings.amqp.prefix = format!("bench{run_id}");
    if settings.database.is_postgres() {
        settings.database.schema = Some(format!("bench_{run_id}"));
    }
    settings.ingress.listen = "127.0.0.1:0".parse()?;
    settings.ingress.rate_limit_per_second = 1_000_000;
    settings.ingress.rate_limit_burst = 1_000_000;
    settings.counterparts.clear();
    settings.counterparts.insert(
        "bench".into(),
        CounterpartSettings {
            appkey: "bench".into(),
            appsecret: SecretString::from(SECRET.to_owned()),
            notice_base_url: "http://127.0.0.1:9".parse()?,
            allowed_networks: vec![],
            file_hosts: vec![],
        },
    );
    let app = crate::Application::build(settings.clone()).await?;
    let url = |name: &str| format!("http://127.0.0.1:{}/v1/gua/tb/{name}", app.port());
    let (payapply_url, baohanapply_url) = (url("payapply"), url("baohanapply"));
    let db = gw_service::connect_db(&settings).await?;
    let now = chrono::Utc::now();
    for i in 0..args.requests {
        applications::ActiveModel {
            applyno: Set(format!("BENCH{i:07}")),
            counterpart: Set("bench".into()),
            state: Set("approved".into()),
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
    let (times, secs, failed) = run_calls(payapply_url, bodies, args.concurrency).await?;
    println!(
        "payapply:    {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {failed} refused",
        times.len() as f64 / secs,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0)
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
    let (times, secs, failed) = run_calls(baohanapply_url, bodies, args.concurrency).await?;
    println!(
        "baohanapply: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {failed} refused (each waits for the broker's confirm)",
        times.len() as f64 / secs,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0)
    );

    stop.cancel();
    let _ = task.await;
    let bus = gw_service::connect_bus(&settings, "bench").await?;
    let _ = bus.transport().delete(bus.topology()).await;
    bus.close().await;
    db.drop_schema().await?;
    db.close().await;
    Ok(())
}
