//! `bench issuance`: guarantees rendered (PDF/A-2b), hashed (SM3) and signed
//! (SM2) per second, on one thread. No broker or database.

use std::time::Instant;

use crate::stats::Latencies;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 200)]
    pub count: usize,
}

fn doc(i: usize) -> issuance::pdf::GuaranteeDoc {
    issuance::pdf::GuaranteeDoc {
        baohanno: format!("BH20251128{i:08}"),
        applicant: "湖南建工集团有限公司".into(),
        applicant_code: "914300001837644275".into(),
        amount: gw_protocol::Amount::try_from("200000.00").unwrap(),
        issuer: "湖南某某融资担保有限公司".into(),
        issuer_code: "91430100MA4L0000X9".into(),
        issued_at: gw_protocol::WireTime::now(),
        verify_code: "ABCD2345".into(),
        verify_url: format!(
            "https://gw.example.com/verify?baohanno=BH20251128{i:08}&code=ABCD2345"
        ),
        project: None,
    }
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let count = a.count.max(1);
    let signer = issuance::signing::Signer::from_private_hex(&"1f".repeat(32))?;
    // Warm-up: the font is parsed once.
    issuance::pdf::render(&doc(0))?;
    let mut times = Latencies::new();
    let mut bytes = 0usize;
    let started = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        let pdf = issuance::pdf::render(&doc(i))?;
        let digest = gw_envelope::sign::sm3_digest(&pdf);
        let _sig = signer.sign(&digest);
        bytes += pdf.len();
        times.record(t.elapsed());
    }
    let total = started.elapsed();
    println!("issuance bench: {count} cipher guarantees, render + SM3 + SM2 sign, one thread");
    println!(
        "throughput {:.1} PDFs/s",
        count as f64 / total.as_secs_f64()
    );
    println!(
        "per guarantee: mean {:.2} ms, {}",
        total.as_secs_f64() * 1e3 / count as f64,
        times.summary()
    );
    println!("average PDF size {} bytes", bytes / count);
    Ok(())
}
