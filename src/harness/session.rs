//! What every measuring command (`run`, `kernel`) does around its cells:
//! catch SIGINT, SIGTERM and SIGHUP first (the first asks the run to stop
//! after the current cell, a second aborts), say once which perf counters
//! are missing, take the machine's fingerprint, run the cells under a
//! progress bar in passes and revisits ([`super::visits`]), checkpointing
//! the results after each visit ([`super::output`]), take the fingerprint
//! again, then write the results and print the summary.

use super::fingerprint;
use super::output::{Destination, Saved};
use crate::machine::host;
use crate::metrics::counters::Availability;
use pin_results::{Cell, Config, Fingerprint, Metadata, Results, Yardsticks, SCHEMA_VERSION};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Exit code of a run that measured no cell.
const NOTHING_MEASURED: u8 = 3;

/// What a session measured.
pub struct Measured {
    /// The finished cells.
    pub cells: Vec<Cell>,
    /// Whether a signal cut the session short.
    pub partial: bool,
    /// The machine's state before and after.
    pub fingerprint: Option<Fingerprint>,
    /// The run's probe yardsticks, which judged every round.
    pub yardsticks: Yardsticks,
    /// Cells asked for of which no visit could be measured.
    pub unmeasured: Vec<String>,
    /// `pinbench kernel --effects`: what pins did to the running kernel.
    pub effects: Option<pin_results::Effects>,
}

/// Both fingerprints: the atomic one and the memory-bound one (`None`
/// when it could not be taken).
pub(super) type Fingerprints = (pin_results::Estimate, Option<pin_results::Estimate>);

/// Both fingerprints on the first CPU this process may use (`None` when
/// the atomic one could not be taken).
pub(super) fn take_fingerprint() -> Option<Fingerprints> {
    let cpu = *crate::machine::numa::allowed_cpus().ok()?.first()?;
    Some((fingerprint::take(cpu)?, fingerprint::take_loads(cpu)))
}

/// What the results file says besides its cells.
pub struct Record {
    /// Where the results go.
    pub out: Destination,
    /// The machine and the run, read once at the start (host name, CPU,
    /// kernel, THP, ...); every write of the results updates only its
    /// duration.
    pub metadata: Metadata,
    /// The options after defaults.
    pub config: Config,
}

impl Record {
    /// Checks `output` ([`Destination::open`]) for a run on `machine` with
    /// `config`.
    pub fn open(
        output: Option<std::path::PathBuf>,
        force: bool,
        start: SystemTime,
        machine: &crate::machine::Machine,
        config: Config,
    ) -> Result<Self, super::output::OutputError> {
        Ok(Self {
            out: Destination::open(output, force, start)?,
            metadata: host::metadata(&machine.topology, machine.mem_available, start, 0.0),
            config,
        })
    }
}

/// What must be undone even when a second signal ends the process without
/// running destructors (a hugetlb pool grown for the run).
static AT_ABORT: std::sync::Mutex<Vec<fn()>> = std::sync::Mutex::new(Vec::new());

/// Runs `undo` if the session is aborted.
pub fn at_abort(undo: fn()) {
    if let Ok(mut hooks) = AT_ABORT.lock() {
        hooks.push(undo);
    }
}

fn run_at_abort() {
    let hooks = AT_ABORT.lock().map(|h| h.clone()).unwrap_or_default();
    for undo in hooks {
        undo();
    }
}

/// One measuring session.
pub struct Session {
    /// Wall-clock start, for the metadata.
    pub start: SystemTime,
    pub(super) t0: Instant,
    pub(super) stop: Arc<AtomicBool>,
    /// Takes the machine's fingerprints before and after the cells:
    /// [`take_fingerprint`], or in tests a stand-in, so that what a test
    /// asserts does not hang on the host's drift.
    pub(super) fingerprint: fn() -> Option<Fingerprints>,
}

impl Session {
    /// Starts a session: installs the signal handler first, so an early
    /// signal is already a request to stop, not a kill.
    pub fn begin() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = Arc::clone(&stop);
            // Relaxed: a lone flag; nothing else is published through it.
            let handler = move || {
                if stop.swap(true, Ordering::Relaxed) {
                    say_err("\npinbench: aborted; cells checkpointed so far stay beside the results file (none with -o -), kept by the next run of that name (of a default name: by the next run with a default name there)");
                    run_at_abort();
                    super::output::abort_after_write(130);
                }
                say_err("\npinbench: interrupted, stopping after this cell (again to abort)");
            };
            if let Err(e) = ctrlc::set_handler(handler) {
                say_err(&format!("pinbench: cannot catch SIGINT/SIGTERM/SIGHUP ({e}): an interrupted run keeps only its checkpoint"));
            }
        }
        if cfg!(debug_assertions) {
            say_err("pinbench: warning: a debug build (built without --release): its timings do not compare with a release build's; the results file says so (debug_build)");
        }
        Self {
            start: SystemTime::now(),
            t0: Instant::now(),
            stop,
            fingerprint: take_fingerprint,
        }
    }

    /// Whether a signal asked the run to stop (work between cells checks
    /// it, as the cells' runner does).
    pub fn stopped(&self) -> bool {
        // Relaxed: a lone flag, see the handler.
        self.stop.load(Ordering::Relaxed)
    }

    /// Prints each note once, on stderr.
    pub fn say(notes: &[String]) {
        for n in notes {
            say_err(&format!("pinbench: {n}"));
        }
    }

    /// Notes on counters this machine lacks.
    pub fn perf_notes(avail: &Availability) -> Vec<String> {
        let mut notes = Vec::new();
        if let Err(e) = &avail.hardware {
            notes.push(format!(
                "hardware perf counters unavailable here (perf_event_open: {e}): cycles, instructions and cache misses recorded as null"
            ));
        }
        if let Err(e) = &avail.software {
            notes.push(format!(
                "software perf counters unavailable ({e}): recorded as null"
            ));
        }
        notes
    }

    /// The results file of `record` holding `cells`.
    pub(super) fn results(
        &self,
        record: &Record,
        notes: &[String],
        measured: &Measured,
    ) -> Results {
        Results {
            schema_version: SCHEMA_VERSION,
            partial: measured.partial,
            metadata: Metadata {
                duration_s: self.t0.elapsed().as_secs_f64(),
                ..record.metadata.clone()
            },
            config: record.config.clone(),
            notes: notes.to_vec(),
            fingerprint: measured.fingerprint,
            quiet_floor_ns: measured.yardsticks.quiet_floor.clone(),
            quiet_probe_ns: measured.yardsticks.quiet.clone(),
            quiet_throughput_ns: measured.yardsticks.throughput.clone(),
            contention_probe_ns: measured.yardsticks.contention.clone(),
            handoff_probe_ns: measured.yardsticks.handoff.clone(),
            cells: measured.cells.clone(),
            effects: measured.effects.clone(),
        }
    }

    /// Writes the results, prints the summary, and returns the exit code:
    /// 130 after a signal, 3 when no cell was measured (nothing is then
    /// written or replaced), 1 when the results had to go elsewhere.
    pub fn finish(&self, record: Record, notes: Vec<String>, measured: Measured) -> ExitCode {
        let results = self.results(&record, &notes, &measured);
        let to_stdout = matches!(record.out, Destination::Stdout);
        let saved = record.out.commit(&results);
        let summary = pin_reports::summary::render_after_run(&results);
        // With the results on stdout the summary goes to stderr. A closed
        // pipe or a full device is not worth a panic.
        let _ = if to_stdout {
            std::io::stderr().write_all(summary.as_bytes())
        } else {
            std::io::stdout().write_all(summary.as_bytes())
        };
        let (n, secs) = (results.cells.len(), results.metadata.duration_s);
        let partial = if measured.partial { " (partial)" } else { "" };
        match saved {
            None => {
                say_err(&format!(
                    "pinbench: no cell was measured{}: nothing written, nothing replaced",
                    if notes.is_empty() {
                        ""
                    } else {
                        " (see the notes above)"
                    }
                ));
                if measured.partial {
                    exit_code(true)
                } else {
                    ExitCode::from(NOTHING_MEASURED)
                }
            }
            Some(Saved::Stdout) => {
                say_err(&format!(
                    "pinbench: {n} cells{partial} written to standard output in {secs:.1} s"
                ));
                lost_cells(&measured).unwrap_or(exit_code(measured.partial))
            }
            Some(Saved::AsAsked(p)) => {
                say_err(&format!(
                    "pinbench: {n} cells{partial} written to {} in {secs:.1} s",
                    p.display()
                ));
                lost_cells(&measured).unwrap_or(exit_code(measured.partial))
            }
            Some(Saved::Lost(why)) => {
                say_err(&format!(
                    "pinbench: {why}: the {n} cells could not be saved"
                ));
                ExitCode::FAILURE
            }
            Some(Saved::Elsewhere(p, why, false)) => {
                say_err(&format!(
                    "pinbench: {why}: what it holds is in {}; the rest of the {n} cells{partial} is lost",
                    p.display()
                ));
                ExitCode::FAILURE
            }
            Some(Saved::Elsewhere(p, why, _)) => {
                say_err(&format!(
                    "pinbench: {why}: the {n} cells{partial} were saved to {}",
                    p.display()
                ));
                ExitCode::FAILURE
            }
        }
    }
}

/// Exit code 1, said why, when a run that was not interrupted left cells
/// it was asked for unmeasured (every visit failed: see the notes).
fn lost_cells(measured: &Measured) -> Option<ExitCode> {
    let lost = &measured.unmeasured;
    if lost.is_empty() || measured.partial {
        return None;
    }
    say_err(&format!(
        "pinbench: {} of the cells asked for could not be measured (see the notes): {}",
        lost.len(),
        lost.join(", ")
    ));
    Some(ExitCode::FAILURE)
}

fn exit_code(partial: bool) -> ExitCode {
    if partial {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    }
}

/// A line on standard error; a closed or hung-up stderr (`2>&1 | tee`
/// after Ctrl-C, a dropped ssh session) is not worth a panic.
pub(super) fn say_err(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
