//! The `tessera` binary: no arguments (or `tessera open PATH…`) starts the GUI;
//! subcommands are the command-line interface (see `tessera --help`).

use std::process::ExitCode;

fn main() -> ExitCode {
    tessera::allocator::tune();
    match tessera::cli::run() {
        Ok(code) => code,
        Err(err) => {
            // One line, the cause chain joined: errors are handled once, here.
            eprintln!("tessera: {err:#}");
            ExitCode::from(1)
        }
    }
}
