//! `pinbench report`: read results files, hand them to `pin-reports`,
//! write what it renders. Everything is read and rendered
//! in memory before the first file is written, so bad input (a missing or
//! malformed results file, an output path that cannot be a directory)
//! exits 2 with nothing written.

use super::input::{read_runs, BadInput};
use clap::Args;
use pin_reports::{output, plots::font};
use std::path::PathBuf;
use std::process::ExitCode;

/// `pinbench report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Results files; several (other hosts, kernels) go side by side.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Directory for report.txt, report.md, email.txt and the plots (SVG and PNG);
    /// created if missing. An existing one is replaced only if it holds
    /// nothing but an older report's files (listed in its
    /// .pinbench-report) or files of the names this report writes.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// TrueType font for the PNGs' text (default: DejaVu Sans, from the
    /// Debian package fonts-dejavu-core).
    #[arg(long)]
    pub font: Option<PathBuf>,
}

/// `pinbench report FILE... -o DIR`.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let mut runs = read_runs(&args.files)?;
    pin_reports::runs::judge_together(&mut runs);
    // A font named on the command line is input; the default one missing
    // is the machine's problem (exit 1, with the package to install).
    font::load(args.font.as_deref()).map_err(|e| -> anyhow::Error {
        match args.font {
            Some(_) => BadInput(e.to_string()).into(),
            None => e.into(),
        }
    })?;
    let files = pin_reports::report(&runs)?;
    output::prepare_dir(&args.output, &files).map_err(|e| BadInput(e.to_string()))?;
    if let Some(kept) = output::write_all(&args.output, &files)? {
        eprintln!(
            "pinbench: files that are no report's were found beside the older report: kept in {}",
            kept.display()
        );
    }
    let plots = files.iter().filter(|f| f.name.ends_with(".png")).count();
    eprintln!(
        "pinbench: {} written: report.txt, report.md, email.txt and {plots} plots (SVG and PNG)",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
