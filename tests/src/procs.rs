//! Running one service as its own process, configured by `GW__*`
//! environment variables, so that tests and the chaos command can kill it
//! with SIGKILL or drive its command line. The services' own `main`
//! functions call the same library code.

use clap::Parser;

/// The services a process can run, by name.
pub const NAMES: &[&str] = &[
    "ingress",
    "egress",
    "underwriting",
    "payment",
    "issuance",
    "invoice",
    "claims",
    "console",
    "gateway",
];

/// Runs `service` with its command-line `args` (after the program name).
pub fn run(service: &str, args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let host = |svc: &'static dyn gw_host::Service, args: Vec<String>| {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            global: gw_host::cli::Global,
            #[command(subcommand)]
            command: Option<gw_host::cli::Command>,
        }
        let cli = Cli::parse_from(std::iter::once(svc.name().to_owned()).chain(args));
        let settings = cli.global.settings()?;
        let command = cli.command.unwrap_or(gw_host::cli::Command::Serve);
        runtime.block_on(gw_host::cli::run(settings, command, svc))
    };
    let args: Vec<String> = args.collect();
    match service {
        "egress" => {
            let cli =
                egress::cli::Cli::parse_from(std::iter::once("egress".to_owned()).chain(args));
            runtime.block_on(egress::cli::run(cli))
        }
        "ingress" => host(&ingress::Ingress, args),
        "underwriting" => host(&underwriting::Underwriting, args),
        "payment" => host(&payment::Payment, args),
        "issuance" => host(&issuance::Issuance, args),
        "invoice" => host(&invoice::Invoice, args),
        "claims" => host(&claims::Claims, args),
        "console" => host(&console::Console, args),
        // The gateway's own command line: `serve` by default, `demo`.
        "gateway" => {
            drop(runtime);
            gateway::cli::main(std::iter::once("gateway".to_owned()).chain(args))
        }
        other => anyhow::bail!("unknown service {other:?}; expected one of {NAMES:?}"),
    }
}
