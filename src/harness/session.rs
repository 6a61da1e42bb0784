//! What every measuring command (`run`, `kernel`) does around its cells:
//! catch SIGINT, SIGTERM and SIGHUP first (the first asks the run to stop
//! after the current cell, a second aborts), say once which perf counters
//! are missing, take the machine's fingerprint, run the cells under a
//! progress bar, checkpointing the results after each ([`super::output`]),
//! take the fingerprint again, then write the results and print the
//! summary.

use super::fingerprint;
use super::output::{Destination, Saved};
use super::record::{derive_all, merge, Visit};
use crate::machine::host;
use crate::metrics::counters::Availability;
use indicatif::{ProgressBar, ProgressStyle};
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
}

/// How many times the session visits each cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visits {
    /// Passes over every cell.
    pub passes: usize,
    /// Further passes, at most, over the cells then short of quiet rounds
    /// (busy, or their scaling withheld).
    pub revisits: usize,
    /// No revisit starts after this much time since the session began.
    pub until: Option<std::time::Duration>,
}

/// The cells measured so far, and the progress bar.
struct Progress {
    /// Per spec, its visits merged.
    merged: Vec<Option<Visit>>,
    m: Measured,
    bar: ProgressBar,
}

impl Progress {
    /// Runs one visit of spec `i` (`what`: which, for a note if it
    /// fails), merges it, derives every cell again against the run's
    /// yardsticks, and checkpoints.
    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        session: &Session,
        i: usize,
        label: &str,
        what: &str,
        run: impl FnOnce() -> Result<Visit, String>,
        notes: &mut Vec<String>,
        record: &mut Record,
    ) {
        self.bar.set_message(label.to_string());
        match run() {
            Ok(v) => {
                self.merged[i] = Some(match self.merged[i].take() {
                    Some(acc) => merge(acc, v),
                    None => v,
                })
            }
            Err(e) => {
                let line = format!("{label}: {what} not measured: {e}");
                self.bar.suspend(|| say_err(&format!("pinbench: {line}")));
                notes.push(line);
            }
        }
        self.m.cells = self
            .merged
            .iter()
            .flatten()
            .map(|v| v.cell.clone())
            .collect();
        self.m.yardsticks = derive_all(&mut self.m.cells);
        if let Err(e) = record
            .out
            .checkpoint(&session.results(record, notes, &self.m))
        {
            self.bar
                .suspend(|| say_err(&format!("pinbench: checkpoint not written: {e}")));
        }
        self.bar.inc(1);
    }

    /// The specs whose cell is short of quiet rounds, judged against the
    /// run's yardsticks so far.
    fn short(&self) -> Vec<usize> {
        // `m.cells` holds the merged cells in spec order, derived against
        // the run's yardsticks after the last visit.
        let measured = self.merged.iter().enumerate().filter(|(_, v)| v.is_some());
        measured
            .zip(&self.m.cells)
            .filter(|(_, c)| c.busy || c.scaling_withheld)
            .map(|((i, _), _)| i)
            .collect()
    }
}

/// The fingerprint on the first CPU this process may use.
fn take_fingerprint() -> Option<pin_results::Estimate> {
    let cpu = *crate::machine::numa::allowed_cpus().ok()?.first()?;
    fingerprint::take(cpu)
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

/// One measuring session.
pub struct Session {
    /// Wall-clock start, for the metadata.
    pub start: SystemTime,
    t0: Instant,
    stop: Arc<AtomicBool>,
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
                    say_err("\npinbench: aborted; the finished cells stay in the checkpoint beside the results file, kept by the next run of the same name");
                    super::output::abort_after_write(130);
                }
                say_err("\npinbench: interrupted, stopping after this cell (again to abort)");
            };
            if let Err(e) = ctrlc::set_handler(handler) {
                say_err(&format!("pinbench: cannot catch SIGINT/SIGTERM/SIGHUP ({e}): an interrupted run keeps only its checkpoint"));
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
    fn results(&self, record: &Record, notes: &[String], measured: &Measured) -> Results {
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
            quiet_probe_ns: measured.yardsticks.quiet.clone(),
            contention_probe_ns: measured.yardsticks.contention.clone(),
            cells: measured.cells.clone(),
        }
    }

    /// Runs every spec in `visits.passes` passes, between two fingerprints
    /// of the machine; each pass measures every cell's share of its rounds,
    /// and the visits of a cell are merged. Then up to `visits.revisits`
    /// more passes over the cells still short of quiet rounds, while
    /// `visits.until` allows. A failed visit becomes a note. After each
    /// visit the results so far are checkpointed, so an abort keeps them.
    pub fn run_cells<T>(
        &self,
        specs: &[T],
        visits: Visits,
        label: impl Fn(&T) -> String,
        mut run: impl FnMut(&T) -> Result<Visit, String>,
        notes: &mut Vec<String>,
        record: &mut Record,
    ) -> Measured {
        let mut p = Progress {
            merged: specs.iter().map(|_| None).collect(),
            m: Measured {
                cells: Vec::new(),
                partial: true,
                fingerprint: take_fingerprint().map(|start| Fingerprint { start, end: None }),
                yardsticks: Yardsticks::default(),
            },
            bar: ProgressBar::new((specs.len() * visits.passes) as u64).with_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} cell visits, {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        };
        let mut interrupted = false;
        'passes: for pass in 0..visits.passes {
            for (i, spec) in specs.iter().enumerate() {
                if self.stopping() {
                    interrupted = true;
                    break 'passes;
                }
                let what = format!("visit {} of {}", pass + 1, visits.passes);
                p.visit(self, i, &label(spec), &what, || run(spec), notes, record);
            }
        }
        if !interrupted {
            interrupted = self.revisit(specs, visits, &label, &mut run, &mut p, notes, record);
        }
        p.bar.finish_and_clear();
        let mut m = p.m;
        m.partial = interrupted;
        if let (Some(f), false) = (m.fingerprint.as_mut(), interrupted) {
            f.end = take_fingerprint();
        }
        if m.fingerprint.is_some_and(|f| f.drifted()) {
            notes.push(
                "the machine changed state during the run: its fingerprint (a paired \
                 CAS-loop get against the floor) differs at start and end"
                    .into(),
            );
        }
        m
    }

    /// Whether a signal asked the run to stop.
    fn stopping(&self) -> bool {
        // Relaxed: see the handler.
        self.stop.load(Ordering::Relaxed)
    }

    /// The revisits of [`Session::run_cells`]: passes over the cells that
    /// are busy or had their scaling withheld, each visit adding its rounds.
    /// Returns whether a signal interrupted them.
    #[allow(clippy::too_many_arguments)]
    fn revisit<T>(
        &self,
        specs: &[T],
        visits: Visits,
        label: &impl Fn(&T) -> String,
        run: &mut impl FnMut(&T) -> Result<Visit, String>,
        p: &mut Progress,
        notes: &mut Vec<String>,
        record: &mut Record,
    ) -> bool {
        let mut revisited = 0;
        for extra in 0..visits.revisits {
            let short = p.short();
            if short.is_empty() {
                break;
            }
            p.bar.inc_length(short.len() as u64);
            for i in short {
                if self.stopping() {
                    return true;
                }
                if visits.until.is_some_and(|t| self.t0.elapsed() >= t) {
                    notes.push(format!(
                        "the run's time ran out after {revisited} revisits; cells still \
                         short of quiet rounds: {}",
                        p.short().len()
                    ));
                    return false;
                }
                let what = format!("revisit {} of {}", extra + 1, visits.revisits);
                p.visit(
                    self,
                    i,
                    &label(&specs[i]),
                    &what,
                    || run(&specs[i]),
                    notes,
                    record,
                );
                revisited += 1;
            }
        }
        false
    }

    /// Writes the results, prints the summary, and returns the exit code:
    /// 130 after a signal, 3 when no cell was measured (nothing is then
    /// written or replaced), 1 when the results had to go elsewhere.
    pub fn finish(&self, record: Record, notes: Vec<String>, measured: Measured) -> ExitCode {
        let results = self.results(&record, &notes, &measured);
        let to_stdout = matches!(record.out, Destination::Stdout);
        let saved = record.out.commit(&results);
        let summary = pin_reports::summary::render(&results);
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
                exit_code(measured.partial)
            }
            Some(Saved::AsAsked(p)) => {
                say_err(&format!(
                    "pinbench: {n} cells{partial} written to {} in {secs:.1} s",
                    p.display()
                ));
                exit_code(measured.partial)
            }
            Some(Saved::Lost(why)) => {
                say_err(&format!(
                    "pinbench: {why}: the {n} cells could not be saved"
                ));
                ExitCode::FAILURE
            }
            Some(Saved::Elsewhere(p, why)) => {
                say_err(&format!(
                    "pinbench: {why}: the {n} cells{partial} were saved to {}",
                    p.display()
                ));
                ExitCode::FAILURE
            }
        }
    }
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
fn say_err(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::latency::Latency;
    use pin_results::sample;
    use std::time::Duration;

    /// A visit of 8 rounds whose clock probes all read `probe_ns`.
    fn visit(subject: &str, probe_ns: f64) -> Visit {
        let n = 8;
        let mut cell = sample::cell(subject, "private", 1, 2.0, 1e8);
        cell.pairs.subject_ns_per_page = vec![2.0; n];
        cell.pairs.floor_ns_per_page = vec![1.0; n];
        cell.pairs.pages_per_sec = vec![1e8; n];
        cell.pairs.solo_pages_per_sec = None;
        cell.pairs.probe_ns = Some(vec![probe_ns; n]);
        Visit {
            cell,
            latency: Latency::new(),
        }
    }

    /// Runs `visits` over a cell always quiet and one busy in its first
    /// two visits; the rounds each got, and the notes.
    fn sweep(visits: Visits) -> (Vec<usize>, Vec<String>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = sample::results(vec![]);
        let mut record = Record {
            out: Destination::open(Some(dir.path().join("r.json")), false, SystemTime::now())
                .expect("open"),
            metadata: base.metadata,
            config: base.config,
        };
        // Not begin(): one signal handler per process, and no signal here.
        let session = Session {
            start: SystemTime::now(),
            t0: Instant::now(),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let mut busy_visits = 0;
        let mut notes = vec![];
        let m = session.run_cells(
            &["quiet", "busy"],
            visits,
            |s| s.to_string(),
            |s| {
                if *s == "quiet" {
                    return Ok(visit(s, 3100.0));
                }
                busy_visits += 1;
                Ok(visit(s, if busy_visits <= 2 { 4000.0 } else { 3100.0 }))
            },
            &mut notes,
            &mut record,
        );
        let rounds = m.cells.iter().map(|c| c.pairs.x_floor().len()).collect();
        (rounds, notes)
    }

    #[test]
    fn cells_short_of_quiet_rounds_are_revisited_until_they_have_them() {
        let visits = Visits {
            passes: 2,
            revisits: 3,
            until: None,
        };
        let (rounds, notes) = sweep(visits);
        // The busy cell's third visit found the machine quiet: 8 quiet
        // rounds, enough, so no fourth. The quiet cell was never revisited.
        assert_eq!(rounds, vec![16, 24]);
        assert!(notes.is_empty(), "{notes:?}");
        let (rounds, _) = sweep(Visits {
            revisits: 0,
            ..visits
        });
        assert_eq!(rounds, vec![16, 16]);
    }

    #[test]
    fn no_revisit_starts_after_the_runs_time() {
        let (rounds, notes) = sweep(Visits {
            passes: 2,
            revisits: 3,
            until: Some(Duration::ZERO),
        });
        assert_eq!(rounds, vec![16, 16]);
        assert!(
            notes[0].contains("after 0 revisits") && notes[0].contains("short of quiet rounds: 1"),
            "{notes:?}"
        );
    }
}
