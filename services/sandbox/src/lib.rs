//! The sandbox platform: a stand-in for the Hunan e-guarantee receiving
//! system, written from the interface standard, for demos, integration
//! environments, tests and the rehearsal of the platform's acceptance test
//! (附件4).
//!
//! - [`platform::Platform`] receives the gateway's notices and checks each
//!   one (decryption, `appkey`, `sign`, `timestamp`, every field rule, the
//!   application's causal order), downloads and checks the files they link
//!   to, serves evidence files, and can be told to be down, slow or to
//!   refuse;
//! - [`client::Client`] calls the gateway's 8 apply interfaces and pays on
//!   its cashier page;
//! - [`demo::Demo`] drives whole lifecycles and gives a verdict per step;
//! - [`timeline::Timeline`] keeps every exchange per application.

pub mod client;
pub mod demo;
pub mod pdf;
pub mod platform;
pub mod report;
pub mod samples;
pub mod timeline;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use platform::{Credentials, Platform};
pub use timeline::Timeline;

/// A strict platform (problems are answered `code 500`) that downloads and
/// checks every linked file: what the sandbox is as a service and in `demo`.
pub async fn strict_platform(listen: SocketAddr, creds: Credentials) -> anyhow::Result<Platform> {
    let p = Platform::serve(listen, creds, Arc::new(Timeline::default())).await?;
    p.set_strict(true);
    p.set_fetch_files(true);
    Ok(p)
}

/// The demo driver for the gateway at `gateway`, with `platform`
/// receiving its notices; a fresh run number keeps its applications apart.
pub fn demo_driver(
    platform: Arc<Platform>,
    gateway: &str,
    cashier: Option<String>,
    patience: Duration,
) -> anyhow::Result<demo::Demo> {
    let creds = platform
        .credentials()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the platform has no credentials"))?;
    let client = client::Client::new(gateway, creds, platform.timeline())?;
    Ok(demo::Demo {
        client,
        platform,
        cashier,
        patience,
        run: format!("{:08X}", rand::random::<u32>()),
    })
}

/// What a demo or rehearsal found.
pub struct Outcome {
    pub stories: Vec<demo::Story>,
    /// The report's items, when a report was written.
    pub items: Vec<report::Item>,
    /// The timelines and verdicts, as text a person reads.
    pub text: String,
    pub passed: bool,
}

/// Runs the demo stories (and, with `report`, the whole rehearsal, written
/// into that directory) against the gateway at `gateway`.
pub async fn run(
    platform: Arc<Platform>,
    gateway: &str,
    cashier: Option<String>,
    patience: Duration,
    report: Option<(&std::path::Path, report::Plan)>,
) -> anyhow::Result<Outcome> {
    let d = demo_driver(platform.clone(), gateway, cashier, patience)?;
    match report {
        None => {
            let stories = d.run().await;
            let text = demo::render(&stories, &platform);
            let passed = demo::passed(&stories, &platform);
            Ok(Outcome {
                stories,
                items: Vec::new(),
                text,
                passed,
            })
        }
        Some((dir, plan)) => {
            let r = report::rehearse(&d, &plan, dir).await?;
            let mut text = r.text.clone();
            text.push_str(&format!(
                "
acceptance rehearsal, written to {}:
",
                dir.display()
            ));
            for i in &r.items {
                text.push_str(&format!(
                    "  {} {}
",
                    if i.pass { "PASS" } else { "FAIL" },
                    i.title
                ));
                for e in &i.evidence {
                    text.push_str(&format!("         {e}\n"));
                }
            }
            let passed = r.passed() && demo::passed(&r.stories, &platform);
            Ok(Outcome {
                stories: r.stories,
                items: r.items,
                text,
                passed,
            })
        }
    }
}
