//! `pinbench`: the command-line edge. Parses arguments, runs a subcommand,
//! and turns errors into messages and exit codes (2 for bad input).
//!
//! Data flows one way: `pin-schemes` <- the harness (`harness/`, driving
//! `workloads/` and the real-kernel paths of `kernel/` on the machine
//! `machine/` describes) -> the results file (`pin-results`) -> the
//! renderers of `pin-reports`. `cmd/` holds one file per command.

mod cmd;
mod harness;
mod import;
mod kernel;
mod machine;
mod metrics;

use std::process::ExitCode;

fn main() -> ExitCode {
    cmd::main()
}
