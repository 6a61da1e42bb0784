//! What the commands share of their input: the error that means "bad
//! input" (exit code 2) and reading results files.

use pin_reports::Run;
use pin_results::Results;
use std::path::PathBuf;

/// Bad input found outside the plan (a file, a flag's value).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Reads every file, labelled `A`, `B`, ..., or names the first that is not
/// a results file.
pub fn read_runs(files: &[PathBuf]) -> Result<Vec<Run>, BadInput> {
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
