//! `pinbench compare`: base and new runs (one file or several per side),
//! compared by `pin-reports` on their paired ratios; the text on stdout.

use super::input::{read_runs, BadInput};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// `text` (the tables) or `email` (at most 72 columns for a commit
    /// message or a mailing-list reply: a line per figure with the change
    /// and its 95% interval, the machine, the commands).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// With --format email: each run's value under its figure.
    #[arg(long)]
    pub verbose: bool,
}

/// How `compare` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The tables.
    Text,
    /// The short block.
    Email,
}

/// `pinbench compare BASE NEW` or `--base A... --new B...`: the comparison
/// on stdout.
pub fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    if args.verbose && args.format != Format::Email {
        return Err(BadInput("--verbose goes with --format email".into()).into());
    }
    let (base, new) = match args.files.as_slice() {
        [b, n] => (vec![b.clone()], vec![n.clone()]),
        [] if !args.base.is_empty() => (args.base, args.new),
        _ => {
            return Err(
                BadInput("compare takes BASE NEW, or --base FILE... --new FILE...".into()).into(),
            )
        }
    };
    let mut all = read_runs(&base)?;
    let n = all.len();
    all.extend(read_runs(&new)?);
    pin_reports::runs::judge_together(&mut all);
    let new = all.split_off(n);
    let base = all;
    for w in pin_reports::compare::warnings(&base, &new) {
        eprintln!("pinbench: warning: {w}");
    }
    let text = match args.format {
        Format::Text => pin_reports::compare::compare(&base, &new),
        Format::Email => pin_reports::email::compare(&base, &new, args.verbose),
    };
    super::input::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
