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
/// a results file, holds no cells, or is a run given before (the same
/// host, start time and command: the same file twice would read as two
/// runs that agree perfectly).
pub fn read_runs(files: &[PathBuf]) -> Result<Vec<Run>, BadInput> {
    let mut inputs: Vec<(String, Results)> = Vec::with_capacity(files.len());
    for p in files {
        let name = p.display().to_string();
        let r = Results::read(p).map_err(|e| BadInput(e.to_string()))?;
        if r.cells.is_empty() {
            return Err(BadInput(format!("{name}: holds no cells")));
        }
        let same = |o: &Results| {
            let (a, b) = (&o.metadata, &r.metadata);
            (&a.host, &a.start_time, &a.command_line) == (&b.host, &b.start_time, &b.command_line)
        };
        if let Some((first, _)) = inputs.iter().find(|(_, o)| same(o)) {
            return Err(BadInput(format!(
                "{name}: the same run as {first} (host, start time and command): give each run once"
            )));
        }
        inputs.push((name, r));
    }
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
