//! `pinbench`: the command-line edge. Parses arguments, runs a subcommand,
//! and turns errors into messages and exit codes (2 for bad input).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
