//! `pinbench`: the command-line edge. Parses arguments, runs a subcommand,
//! and turns errors into messages and exit codes (2 for bad input).
//!
//! Data flows one way: `pin-schemes` <- the harness (`runner`, `workloads`,
//! `metrics`, `numa`) -> the results file (`results`), which `summary`
//! reads back to print the tables.

mod calibration;
mod cli;
mod dispatch;
mod host;
mod kernel;
mod kernel_cmd;
mod metrics;
mod numa;
mod plan;
mod report_cmd;
use pin_results as results;
mod runner;
mod session;
mod summary;
mod topology;
mod workloads;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
