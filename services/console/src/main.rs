//! `console`: see the library for what it does.

fn main() -> anyhow::Result<()> {
    gw_host::cli::main(&console::Console)
}
