//! What the commands share at their edges: the error that means "bad
//! input" (exit code 2), reading results files, and printing to a standard
//! output that may be a closed pipe or a full device.

use pin_reports::Run;
use pin_results::Results;
use std::io::Write;
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

/// Writes `text` to standard output. A closed pipe (`pinbench list | head
/// -1`) ends the process quietly, as SIGPIPE ends C tools; any other write
/// error is returned, named.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(anyhow::anyhow!("writing to standard output: {e}")),
    }
}
