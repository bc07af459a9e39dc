//! `egress`: see the library for what it does.

fn main() -> anyhow::Result<()> {
    egress::cli::main()
}
