//! Runs one service as its own process, configured by `GW__*` environment
//! variables, so that tests can kill it with SIGKILL. The services' own
//! `main` functions call the same library code.

fn main() -> anyhow::Result<()> {
    let service = std::env::args().nth(1).unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new()?;
    match service.as_str() {
        "egress" => runtime.block_on(egress::cli::run(egress::cli::Cli {
            config: None,
            command: None,
        })),
        other => anyhow::bail!("unknown service {other:?}; expected: egress"),
    }
}
