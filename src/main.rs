//! `pinbench`: the command-line edge. Parses arguments, runs a subcommand,
//! and turns errors into messages and exit codes (2 for bad input).
//!
//! Data flows one way: `pin-schemes` <- the harness (`runner`, `workloads`,
//! `metrics`, `numa`) -> the results file (`results`), which `summary`
//! reads back to print the tables.

mod cli;
mod dispatch;
mod harness;
mod host;
mod kernel;
mod kernel_cmd;
mod metrics;
mod numa;
mod report_cmd;
use pin_results as results;
mod session;
mod topology;
mod workloads;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
