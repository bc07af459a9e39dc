//! `issuance`: see the library for what it does.

use std::time::Instant;

use clap::{Parser, Subcommand};

/// Issues, restores and verifies guarantees.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (else $GW_CONFIG; env vars GW__* override it).
    #[arg(long, short, global = true)]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Print how fast guarantees render and sign (no broker or database).
    Bench {
        #[arg(long, default_value_t = 200)]
        count: usize,
    },
}

fn bench(count: usize) -> anyhow::Result<()> {
    let signer = issuance::signing::Signer::from_private_hex(&"1f".repeat(32))?;
    let doc = |i: usize| issuance::pdf::GuaranteeDoc {
        baohanno: format!("BH20251128{i:08}"),
        applicant: "湖南建工集团有限公司".into(),
        applicant_code: "914300001837644275".into(),
        amount: gw_protocol::Amount::try_from("200000.00").unwrap_or(gw_protocol::Amount::ZERO),
        issuer: "湖南某某融资担保有限公司".into(),
        issuer_code: "91430100MA4L0000X9".into(),
        issued_at: gw_protocol::WireTime::now(),
        verify_code: "ABCD2345".into(),
        verify_url: format!(
            "https://gw.example.com/verify?baohanno=BH20251128{i:08}&code=ABCD2345"
        ),
        project: None,
    };
    // Warm-up: the font is parsed once.
    issuance::pdf::render(&doc(0))?;
    let mut times = Vec::with_capacity(count);
    let started = Instant::now();
    let mut bytes = 0usize;
    for i in 0..count {
        let t = Instant::now();
        let pdf = issuance::pdf::render(&doc(i))?;
        let digest = gw_envelope::sign::sm3_digest(&pdf);
        let _sig = signer.sign(&digest);
        bytes += pdf.len();
        times.push(t.elapsed());
    }
    let total = started.elapsed();
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!("issuance bench: {count} cipher guarantees, render + SM3 + SM2 sign, one thread");
    println!(
        "throughput {:.1} PDFs/s",
        count as f64 / total.as_secs_f64()
    );
    println!(
        "per guarantee: mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms",
        ms(total) / count as f64,
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 99 / 100).min(times.len() - 1)])
    );
    println!("average PDF size {} bytes", bytes / count.max(1));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Bench { count }) = args.command {
        return bench(count.max(1));
    }
    let file = args.config.or_else(gw_config::Settings::file_from_env);
    let settings = gw_config::Settings::load(file.as_deref())?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let _telemetry = gw_service::init_telemetry(&settings, "issuance")?;
        issuance::Application::build(settings)
            .await?
            .run_until_stopped()
            .await
    })
}
