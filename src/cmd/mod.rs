//! Argument parsing and subcommand dispatch, one file per command (none
//! imports another). Bad input exits with code 2 and a message naming the
//! bad value, before anything is measured or written; other failures exit
//! with 1, an interrupted run with 130.

mod compare;
mod import;
mod input;
mod kernel;
mod list;
mod report;
mod run;
mod summary;
mod sweep_args;

use crate::harness::output::OutputError;
use crate::harness::sweep::PlanError;
use clap::{Parser, Subcommand};
use input::BadInput;
use std::path::PathBuf;
use std::process::ExitCode;

/// Measures how Linux should track pages pinned for DMA.
#[derive(Parser, Debug)]
#[command(name = "pinbench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every pin-tracking scheme: what it mirrors, its memory cost, its
    /// exactness and how many pins one page accepts; then every workload.
    List,
    /// Run schemes x workloads x thread counts and write a results file.
    Run(run::RunArgs),
    /// Measure the running kernel's own pin/unpin paths (io_uring,
    /// process_vm_readv, gup_test, the pin_shim module) with the same
    /// paired runner, with /proc/vmstat's FOLL_PIN counters as proof; or
    /// --probe.
    Kernel(kernel::KernelArgs),
    /// Print the summary tables and harness checks of a results file again;
    /// of several runs of the same shape, each cell's run-to-run spread.
    Summary {
        /// Results files written by `pinbench run` or `pinbench kernel`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Plots (SVG, PNG), report.txt for mailing lists and report.md from
    /// one or more results files.
    Report(report::ReportArgs),
    /// Compare runs cell by cell on their paired ratios: BASE NEW, or
    /// several runs per side with --base and --new.
    Compare(compare::CompareArgs),
    /// Read what another tool measured into a results file: the kernel's
    /// own gup_test logs.
    Import(import::ImportArgs),
}

/// Runs the CLI; clap's own usage errors already exit with code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => list::list().map(|()| ExitCode::SUCCESS),
        Command::Run(args) => run::run(args),
        Command::Kernel(args) => kernel::kernel(args),
        Command::Report(args) => report::report(args),
        Command::Compare(args) => compare::compare(args),
        Command::Import(args) => import::import(args),
        Command::Summary { files } => summary::summary(&files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pinbench: {}", message(&e));
            let bad = e.downcast_ref::<PlanError>().is_some()
                || e.downcast_ref::<BadInput>().is_some()
                || e.downcast_ref::<OutputError>().is_some();
            ExitCode::from(if bad { 2 } else { 1 })
        }
    }
}

/// `e` and its causes on one line, each cause only where the message before
/// it does not already say it (our errors quote their io::Error in their
/// text, and `{:#}` would repeat it).
fn message(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_quoted_is_not_repeated() {
        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let e = anyhow::Error::new(pin_results::ResultsError::Write {
            path: "r.json".into(),
            source: io,
        });
        let m = message(&e);
        assert_eq!(m.matches("No space left on device").count(), 1, "{m}");
        let chained = anyhow::anyhow!("disk").context("saving");
        assert_eq!(message(&chained), "saving: disk");
    }
}
