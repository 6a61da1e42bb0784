//! `pinbench report` and `pinbench compare`: read results files, hand them
//! to `pin-reports`, write what it renders. Everything is read and rendered
//! in memory before the first file is written, so bad input (a missing or
//! malformed results file, an output path that cannot be a directory)
//! exits 2 with nothing written.

use crate::cli::BadInput;
use crate::results::Results;
use clap::Args;
use pin_reports::{output, plots::font, Run};
use std::path::PathBuf;
use std::process::ExitCode;

/// `pinbench report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Results files; several (other hosts, kernels) go side by side.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Directory for report.txt, report.md and the plots (SVG and PNG);
    /// created if missing, files of an older report replaced.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
    /// TrueType font for the PNGs' text (default: DejaVu Sans, from the
    /// Debian package fonts-dejavu-core).
    #[arg(long)]
    pub font: Option<PathBuf>,
}

/// `pinbench compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// BASE NEW: one results file per side (or use --base/--new).
    #[arg(num_args = 0..=2, conflicts_with_all = ["base", "new"])]
    pub files: Vec<PathBuf>,
    /// The baseline runs: one or more results files of the same build.
    #[arg(long, num_args = 1.., requires = "new")]
    pub base: Vec<PathBuf>,
    /// The runs compared with them.
    #[arg(long, num_args = 1.., requires = "base")]
    pub new: Vec<PathBuf>,
}

/// Reads every file, or names the first that is not a results file.
fn read_all(files: &[PathBuf]) -> Result<Vec<Run>, BadInput> {
    let inputs = files
        .iter()
        .map(|p| {
            Results::read(p)
                .map(|r| (p.display().to_string(), r))
                .map_err(|e| BadInput(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Run::label_all(inputs))
}

/// `pinbench report FILE... -o DIR`.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let runs = read_all(&args.files)?;
    if args.output.exists() && !args.output.is_dir() {
        return Err(BadInput(format!(
            "-o {}: exists and is not a directory",
            args.output.display()
        ))
        .into());
    }
    // A font named on the command line is input; the default one missing
    // is the machine's problem (exit 1, with the package to install).
    font::load(args.font.as_deref()).map_err(|e| -> anyhow::Error {
        match args.font {
            Some(_) => BadInput(e.to_string()).into(),
            None => e.into(),
        }
    })?;
    let files = pin_reports::report(&runs)?;
    output::prepare_dir(&args.output).map_err(|e| BadInput(e.to_string()))?;
    output::write_all(&args.output, &files)?;
    let plots = files.iter().filter(|f| f.name.ends_with(".png")).count();
    eprintln!(
        "pinbench: {} written: report.txt, report.md and {plots} plots (SVG and PNG)",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `pinbench compare BASE NEW` or `--base A... --new B...`: the comparison
/// on stdout.
pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let (base, new) = match args.files.as_slice() {
        [b, n] => (vec![b.clone()], vec![n.clone()]),
        [] if !args.base.is_empty() => (args.base, args.new),
        _ => {
            return Err(
                BadInput("compare takes BASE NEW, or --base FILE... --new FILE...".into()).into(),
            )
        }
    };
    let base = read_all(&base)?;
    let new = read_all(&new)?;
    for w in pin_reports::compare::warnings(&base, &new) {
        eprintln!("pinbench: warning: {w}");
    }
    print!("{}", pin_reports::compare::compare(&base, &new));
    Ok(ExitCode::SUCCESS)
}
