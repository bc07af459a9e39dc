//! Declares and deletes a test's whole broker topology in a loop, as the
//! integration tests do once each, and prints how long connecting,
//! declaring and deleting take as the broker ages. Used to find out whether
//! queue churn wears RabbitMQ out (see the closing notes of the broker issue).
//!
//! `cargo run -p gw-tests --bin broker-churn -- --iterations 2000 --concurrency 4 [--classic]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Print a line every this many iterations.
    #[arg(long, default_value_t = 100)]
    every: usize,
    /// Use the tests' classic-queue topology instead of quorum queues.
    #[arg(long)]
    classic: bool,
}

#[derive(Default, Clone, Copy)]
struct Sample {
    connect: Duration,
    declare: Duration,
    delete: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let started = Instant::now();
    let mut done = 0usize;
    let mut window: Vec<Sample> = Vec::new();
    println!("iterations  elapsed_s  connect_p50/max_ms  declare_p50/max_ms  delete_p50/max_ms");
    while done < a.iterations {
        let batch = a.concurrency.min(a.iterations - done);
        let tasks: Vec<_> = (0..batch).map(|_| tokio::spawn(once(a.classic))).collect();
        for t in tasks {
            window.push(t.await??);
        }
        done += batch;
        if window.len() >= a.every || done == a.iterations {
            let stat = |f: fn(&Sample) -> Duration| {
                let mut v: Vec<Duration> = window.iter().map(f).collect();
                v.sort();
                (
                    v[v.len() / 2].as_secs_f64() * 1e3,
                    v[v.len() - 1].as_secs_f64() * 1e3,
                )
            };
            let (c50, cmax) = stat(|s| s.connect);
            let (d50, dmax) = stat(|s| s.declare);
            let (x50, xmax) = stat(|s| s.delete);
            println!(
                "{done:>10}  {:>9.1}  {c50:>8.1}/{cmax:<9.1}  {d50:>8.1}/{dmax:<9.1}  {x50:>8.1}/{xmax:<9.1}",
                started.elapsed().as_secs_f64()
            );
            window.clear();
        }
    }
    Ok(())
}

async fn once(classic: bool) -> anyhow::Result<Sample> {
    let ids = gw_tests::TestIds::new();
    let mut extra = vec![];
    if classic {
        extra.push(("GW__AMQP__QUEUE_TYPE", "classic"));
    }
    let settings = gw_tests::settings(&ids, "http://127.0.0.1:9", &extra);
    let t = Instant::now();
    let options = gw_bus::amqp::AmqpOptions {
        url: gw_tests::amqp_url(),
        connection_name: "broker-churn".into(),
        connect_timeout: Duration::from_secs(10),
        recovery_deadline: Duration::from_secs(15),
        frame_max: settings.amqp.frame_max,
    };
    let topology = gw_host::topology(&settings);
    let transport = gw_bus::amqp::AmqpTransport::connect(&options, topology.clone()).await?;
    let connect = t.elapsed();
    let t = Instant::now();
    gw_bus::Transport::declare(&transport, &topology).await?;
    let declare = t.elapsed();
    let t = Instant::now();
    gw_bus::Transport::delete(&transport, &topology).await?;
    let delete = t.elapsed();
    gw_bus::Transport::close(&transport).await;
    Ok(Sample {
        connect,
        declare,
        delete,
    })
}
