//! What every measuring subcommand (`run`, `kernel`) does around its cells:
//! catch Ctrl-C first, say once which perf counters are missing, take the
//! machine's fingerprint, run the cells under a progress bar (an
//! interrupted session stops after the current cell), take the fingerprint
//! again, then write the results file atomically and print the summary.

use crate::harness::fingerprint;
use crate::machine::host;
use crate::machine::topology::Topology;
use crate::metrics::counters::Availability;
use indicatif::{ProgressBar, ProgressStyle};
use pin_results::{Cell, Config, Fingerprint, Results, SCHEMA_VERSION};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The output path cannot be used (bad input: exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutputError(pub String);

/// Checks the output path and opens the temporary file the results will be
/// written to and renamed from. Nothing existing is touched.
pub fn prepare_output(
    given: Option<PathBuf>,
    start: SystemTime,
) -> Result<(PathBuf, tempfile::NamedTempFile), OutputError> {
    let dest = given.unwrap_or_else(|| {
        let stamp: String = crate::machine::host::rfc3339(start)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        PathBuf::from(format!("pinbench-{stamp}.json"))
    });
    if dest.is_dir() {
        return Err(OutputError(format!(
            "-o {}: is a directory",
            dest.display()
        )));
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".pinbench-")
        .suffix(".json.tmp")
        .tempfile_in(&dir)
        .map_err(|e| {
            OutputError(format!(
                "-o {}: cannot write in {}: {e}",
                dest.display(),
                dir.display()
            ))
        })?;
    Ok((dest, tmp))
}

/// What a session measured.
pub struct Measured {
    /// The finished cells.
    pub cells: Vec<Cell>,
    /// Whether Ctrl-C cut the session short.
    pub partial: bool,
    /// The machine's state before and after.
    pub fingerprint: Option<Fingerprint>,
}

/// The fingerprint on the first CPU this process may use.
fn take_fingerprint() -> Option<pin_results::Estimate> {
    let cpu = *crate::machine::numa::allowed_cpus().ok()?.first()?;
    fingerprint::take(cpu)
}

/// One measuring session.
pub struct Session {
    /// Wall-clock start, for the metadata.
    pub start: SystemTime,
    t0: Instant,
    stop: Arc<AtomicBool>,
}

impl Session {
    /// Starts a session: installs the Ctrl-C handler first, so an early
    /// Ctrl-C is already a request to stop, not a kill.
    pub fn begin() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = Arc::clone(&stop);
            // Relaxed: a lone flag; nothing else is published through it.
            let handler = move || {
                if stop.swap(true, Ordering::Relaxed) {
                    std::process::exit(130);
                }
                eprintln!(
                    "\npinbench: interrupted, stopping after this cell (Ctrl-C again to abort)"
                );
            };
            if let Err(e) = ctrlc::set_handler(handler) {
                eprintln!("pinbench: cannot catch Ctrl-C ({e}): an interrupted run writes nothing");
            }
        }
        Self {
            start: SystemTime::now(),
            t0: Instant::now(),
            stop,
        }
    }

    /// Prints each note once, on stderr.
    pub fn say(notes: &[String]) {
        for n in notes {
            eprintln!("pinbench: {n}");
        }
    }

    /// Notes on counters this machine lacks.
    pub fn perf_notes(avail: &Availability) -> Vec<String> {
        let mut notes = Vec::new();
        if let Err(e) = &avail.hardware {
            notes.push(format!(
                "hardware perf counters unsupported here (perf_event_open: {e}): cycles, instructions and cache misses recorded as null"
            ));
        }
        if let Err(e) = &avail.software {
            notes.push(format!(
                "software perf counters unavailable ({e}): recorded as null"
            ));
        }
        notes
    }

    /// Runs every spec in order, between two fingerprints of the machine; a
    /// failed cell becomes a note.
    pub fn run_cells<T>(
        &self,
        specs: &[T],
        label: impl Fn(&T) -> String,
        mut run: impl FnMut(&T) -> Result<Cell, String>,
        notes: &mut Vec<String>,
    ) -> Measured {
        let start = take_fingerprint();
        let bar = ProgressBar::new(specs.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} cells, {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut cells = Vec::with_capacity(specs.len());
        let mut partial = false;
        for spec in specs {
            // Relaxed: see the handler.
            if self.stop.load(Ordering::Relaxed) {
                partial = true;
                break;
            }
            bar.set_message(label(spec));
            match run(spec) {
                Ok(cell) => cells.push(cell),
                Err(e) => {
                    let line = format!("{}: not measured: {e}", label(spec));
                    bar.suspend(|| eprintln!("pinbench: {line}"));
                    notes.push(line);
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let end = if partial { None } else { take_fingerprint() };
        let fingerprint = start.map(|start| Fingerprint { start, end });
        if fingerprint.is_some_and(|f| f.drifted()) {
            notes.push(
                "the machine changed state during the run: its fingerprint (a paired \
                 CAS-loop get against the floor) differs at start and end"
                    .into(),
            );
        }
        Measured {
            cells,
            partial,
            fingerprint,
        }
    }

    /// Writes the results to `dest` through `tmp`, prints the summary, and
    /// returns the exit code (130 after Ctrl-C).
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &self,
        topology: &Topology,
        mem_available: Option<u64>,
        config: Config,
        notes: Vec<String>,
        measured: Measured,
        dest: &Path,
        tmp: tempfile::NamedTempFile,
    ) -> anyhow::Result<ExitCode> {
        let results = Results {
            schema_version: SCHEMA_VERSION,
            partial: measured.partial,
            metadata: host::metadata(
                topology,
                mem_available,
                self.start,
                self.t0.elapsed().as_secs_f64(),
            ),
            config,
            notes,
            fingerprint: measured.fingerprint,
            cells: measured.cells,
        };
        let partial = measured.partial;
        results.write(tmp, dest)?;
        print!("{}", pin_reports::summary::render(&results));
        eprintln!(
            "pinbench: {} cells{} written to {} in {:.1} s",
            results.cells.len(),
            if partial { " (partial)" } else { "" },
            dest.display(),
            results.metadata.duration_s
        );
        Ok(if partial {
            ExitCode::from(130)
        } else {
            ExitCode::SUCCESS
        })
    }
}
