//! Runs one service as its own process, configured by `GW__*` environment
//! variables (see `gw_tests::procs`).
//!
//! `gw-service-proc <service> [its arguments...]`, service one of ingress,
//! egress, underwriting, payment, issuance, invoice, claims, console, gateway.

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let service = args.next().unwrap_or_default();
    gw_tests::procs::run(&service, args)
}
