//! `pinbench summary FILE...`: one results file's tables again, or of
//! several runs of the same shape each cell's run-to-run spread.

use super::input::{print, read_runs};
use std::path::PathBuf;
use std::process::ExitCode;

/// `pinbench summary FILE...`: one file's tables, or several files' spread.
pub fn summary(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut runs = read_runs(files)?;
    pin_reports::runs::judge_together(&mut runs);
    print(&match runs.as_slice() {
        [run] => pin_reports::summary::render(&run.results),
        _ => pin_reports::summary::across(&runs),
    })?;
    Ok(ExitCode::SUCCESS)
}
