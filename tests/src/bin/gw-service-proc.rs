//! Runs one service as its own process, configured by `GW__*` environment
//! variables, so that tests can kill it with SIGKILL or drive its command
//! line. The services' own `main` functions call the same library code.
//!
//! `gw-service-proc egress [egress arguments...]`

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let service = args.next().unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new()?;
    match service.as_str() {
        "egress" => {
            let cli =
                egress::cli::Cli::parse_from(std::iter::once("egress".to_owned()).chain(args));
            runtime.block_on(egress::cli::run(cli))
        }
        other => anyhow::bail!("unknown service {other:?}; expected: egress"),
    }
}
