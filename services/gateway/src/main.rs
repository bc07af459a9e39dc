//! `gateway`: every service in one process; see the library.

fn main() -> anyhow::Result<()> {
    gateway::cli::main(std::env::args())
}
