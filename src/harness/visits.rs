//! How a session visits its cells: `passes` passes over every cell, each
//! measuring its share of the cell's rounds, then up to `revisits` passes
//! over the cells still short of quiet rounds (busy, or their x 1T
//! withheld), each adding a visit's rounds, while the run's time allows.
//! After every visit the cells are merged, judged again against the whole
//! run's yardsticks, and checkpointed.

use super::record::{merge, Visit};
use super::session::{say_err, Measured, Record, Session};
use indicatif::{ProgressBar, ProgressStyle};
use pin_results::derive::derive_all;
use pin_results::{Fingerprint, Yardsticks};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How many times the session visits each cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visits {
    /// Passes over every cell.
    pub passes: usize,
    /// Further passes, at most, over the cells then short of quiet rounds.
    pub revisits: usize,
    /// No revisit starts after this much time since the session began.
    pub until: Option<Duration>,
}

/// A reason visits failed for.
struct Failure {
    why: String,
    /// Its note's index.
    at: usize,
    /// Visits that failed for it after the first.
    more: usize,
    /// The first failure's note.
    first: String,
}

/// A session's visits in progress: the cells measured so far, where they
/// are written, and the progress bar.
struct Progress<'a> {
    session: &'a Session,
    record: &'a mut Record,
    notes: &'a mut Vec<String>,
    /// Per spec, its visits merged.
    merged: Vec<Option<Visit>>,
    /// Each distinct reason a visit failed (said once, counted after).
    failures: Vec<Failure>,
    m: Measured,
    bar: ProgressBar,
}

impl Session {
    /// Runs the specs' visits ([`Visits`]) between two fingerprints of the
    /// machine. A failed visit becomes a note; after each visit the results
    /// so far are checkpointed, so an abort keeps them.
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
            session: self,
            record,
            notes,
            merged: specs.iter().map(|_| None).collect(),
            failures: Vec::new(),
            m: Measured {
                cells: Vec::new(),
                partial: true,
                fingerprint: (self.fingerprint)().map(|(start, loads_start)| Fingerprint {
                    start,
                    end: None,
                    loads_start,
                    loads_end: None,
                }),
                yardsticks: Yardsticks::default(),
                effects: None,
                unmeasured: Vec::new(),
            },
            bar: ProgressBar::new((specs.len() * visits.passes) as u64).with_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} cell visits, {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
        };
        let all: Vec<usize> = (0..specs.len()).collect();
        let mut interrupted = false;
        for pass in 0..visits.passes {
            let what = format!("visit {} of {}", pass + 1, visits.passes);
            if p.pass(&all, &what, &label, &mut run, specs).is_err() {
                interrupted = true;
                break;
            }
        }
        if !interrupted {
            interrupted = p.revisit(specs, visits, &label, &mut run);
        }
        p.bar.finish_and_clear();
        let (notes, mut m) = (p.notes, p.m);
        m.partial = interrupted;
        m.unmeasured = specs
            .iter()
            .zip(&p.merged)
            .filter(|(_, v)| v.is_none())
            .map(|(s, _)| label(s))
            .collect();
        if let (Some(f), false) = (m.fingerprint.as_mut(), interrupted) {
            let end = (self.fingerprint)();
            f.end = end.map(|e| e.0);
            f.loads_end = end.and_then(|e| e.1);
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
        // Relaxed: a lone flag, see the handler.
        self.stop.load(Ordering::Relaxed)
    }
}

/// A signal asked the run to stop.
struct Interrupted;

impl Progress<'_> {
    /// One visit to each spec of `which`, in order.
    fn pass<T>(
        &mut self,
        which: &[usize],
        what: &str,
        label: &impl Fn(&T) -> String,
        run: &mut impl FnMut(&T) -> Result<Visit, String>,
        specs: &[T],
    ) -> Result<(), Interrupted> {
        for &i in which {
            if self.session.stopping() {
                return Err(Interrupted);
            }
            let outcome = run(&specs[i]);
            self.visit(i, &label(&specs[i]), what, outcome);
        }
        Ok(())
    }

    /// The revisits: passes over the cells short of quiet rounds, until
    /// none is, `visits.revisits` passes were made, or the time ran out.
    /// Returns whether a signal interrupted them.
    fn revisit<T>(
        &mut self,
        specs: &[T],
        visits: Visits,
        label: &impl Fn(&T) -> String,
        run: &mut impl FnMut(&T) -> Result<Visit, String>,
    ) -> bool {
        let mut made = 0;
        for extra in 0..visits.revisits {
            let short = self.short();
            if short.is_empty() {
                return false;
            }
            self.bar.inc_length(short.len() as u64);
            let what = format!("revisit {} of {}", extra + 1, visits.revisits);
            for i in short {
                let late = visits.until.is_some_and(|t| self.session.t0.elapsed() >= t);
                if late {
                    let line = format!(
                        "the run's time ran out after {made} revisits; cells still short \
                         of quiet rounds: {}",
                        self.short().len()
                    );
                    self.notes.push(line);
                    return false;
                }
                if self.pass(&[i], &what, label, run, specs).is_err() {
                    return true;
                }
                made += 1;
            }
        }
        false
    }

    /// Merges one visit's `outcome` into spec `i`'s cell (`what`: which
    /// visit, for a note if it failed), derives every cell again against
    /// the run's yardsticks, and checkpoints.
    fn visit(&mut self, i: usize, label: &str, what: &str, outcome: Result<Visit, String>) {
        self.bar.set_message(label.to_string());
        match outcome {
            Ok(v) => {
                self.merged[i] = Some(match self.merged[i].take() {
                    Some(acc) => merge(acc, v),
                    None => v,
                })
            }
            Err(e) => self.failed(label, what, e),
        }
        self.m.cells = self
            .merged
            .iter()
            .flatten()
            .map(|v| v.cell.clone())
            .collect();
        self.m.yardsticks = derive_all(&mut self.m.cells);
        let results = self.session.results(self.record, self.notes, &self.m);
        if let Err(e) = self.record.out.checkpoint(&results) {
            self.bar
                .suspend(|| say_err(&format!("pinbench: checkpoint not written: {e}")));
        }
        self.bar.inc(1);
    }

    /// A visit that failed for `why`: said and noted the first time, then
    /// only counted in that note (a missing memlock allowance fails every
    /// visit of every io-uring cell for the same reason).
    fn failed(&mut self, label: &str, what: &str, why: String) {
        // Kernel cells' errors name their cell: the reason is what follows.
        let why = why
            .strip_prefix(&format!("{label}: "))
            .map_or(why.clone(), str::to_string);
        let first = format!("{label}: {what} not measured: {why}");
        match self.failures.iter_mut().find(|f| f.why == why) {
            Some(f) => {
                f.more += 1;
                if let Some(note) = self.notes.get_mut(f.at) {
                    *note = format!(
                        "{} (and {} more cell visits, for the same reason)",
                        f.first, f.more
                    );
                }
            }
            None => {
                self.bar.suspend(|| say_err(&format!("pinbench: {first}")));
                self.failures.push(Failure {
                    why,
                    at: self.notes.len(),
                    more: 0,
                    first: first.clone(),
                });
                self.notes.push(first);
            }
        }
    }

    /// The specs whose cell is short of quiet rounds, judged against the
    /// run's yardsticks so far.
    fn short(&self) -> Vec<usize> {
        // `m.cells` holds the specs' merged cells in spec order (specs never
        // measured left out), derived against the run's yardsticks.
        let measured = self.merged.iter().enumerate().filter(|(_, v)| v.is_some());
        measured
            .zip(&self.m.cells)
            .filter(|(_, c)| c.busy || c.scaling_withheld)
            .map(|((i, _), _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::output::Destination;
    use crate::metrics::latency::Latency;
    use pin_results::sample;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::{Instant, SystemTime};

    /// A visit of 8 rounds of a cell of `threads` whose clock probes read
    /// `probe_ns` and whose floor slices read as much slower than a quiet
    /// one (the floor judges a round), and (2 threads) whose solo probes
    /// read `solo_ns`.
    fn visit(subject: &str, threads: usize, probe_ns: f64, solo_ns: f64) -> Visit {
        let n = 8;
        let mut cell = sample::cell(subject, "private", threads, 2.0, 1e8);
        let p = &mut cell.pairs;
        p.subject_ns_per_page = vec![2.0; n];
        p.floor_ns_per_page = vec![probe_ns / QUIET; n];
        p.pages_per_sec = vec![1e8; n];
        p.probe_ns = Some(vec![probe_ns; n]);
        p.solo_pages_per_sec = (threads > 1).then(|| vec![0.6e8; n]);
        p.solo_probe_ns = (threads > 1).then(|| vec![solo_ns; n]);
        p.contention_ns = (threads > 1).then(|| vec![16_000.0; n]);
        Visit {
            cell,
            latency: Latency::new(),
        }
    }

    /// Runs `visits` over `specs`, each visit made by `run(spec, how many
    /// visits it had before)`; the rounds each measured cell got, by
    /// subject, and the notes.
    fn sweep(
        visits: Visits,
        specs: &[&'static str],
        mut run: impl FnMut(&str, usize) -> Result<Visit, String>,
    ) -> (HashMap<String, usize>, Vec<String>) {
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
            // No fingerprint: the host's drift is not what these test.
            fingerprint: || None,
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut notes = vec![];
        let m = session.run_cells(
            specs,
            visits,
            |s| s.to_string(),
            |s| {
                let before = seen.entry(s).or_default();
                *before += 1;
                run(s, *before - 1)
            },
            &mut notes,
            &mut record,
        );
        let rounds = m
            .cells
            .iter()
            .map(|c| (c.subject.clone(), c.pairs.x_floor().len()));
        (rounds.collect(), notes)
    }

    const QUIET: f64 = 3100.0;
    const BUSY: f64 = 4000.0;

    /// A cell always quiet and one busy in its first two visits.
    fn quiet_then_busy(s: &str, before: usize) -> Result<Visit, String> {
        let busy = s == "busy" && before < 2;
        Ok(visit(s, 1, if busy { BUSY } else { QUIET }, QUIET))
    }

    #[test]
    fn a_reason_many_visits_failed_for_is_noted_once_and_counted() {
        let visits = Visits {
            passes: 2,
            revisits: 0,
            until: None,
        };
        // As kernel cells do, the error names its cell first.
        let (rounds, notes) = sweep(visits, &["a", "b", "c"], |s, _| {
            if s == "c" {
                Ok(visit(s, 1, QUIET, QUIET))
            } else {
                Err(format!("{s}: no memlock allowance"))
            }
        });
        assert_eq!(rounds.len(), 1);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("a: visit 1 of 2 not measured: no memlock allowance")
                && notes[0].ends_with("(and 3 more cell visits, for the same reason)"),
            "{notes:?}"
        );
    }

    #[test]
    fn cells_short_of_quiet_rounds_are_revisited_until_they_have_them() {
        let visits = Visits {
            passes: 2,
            revisits: 3,
            until: None,
        };
        let (rounds, notes) = sweep(visits, &["quiet", "busy"], quiet_then_busy);
        // The busy cell's third visit found the machine quiet: 8 quiet
        // rounds, but of one visit, which gives no interval over visits;
        // the fourth made two, enough, so no fifth. The quiet cell was
        // never revisited.
        assert_eq!((rounds["quiet"], rounds["busy"]), (16, 32));
        assert!(notes.is_empty(), "{notes:?}");
        let none = Visits {
            revisits: 0,
            ..visits
        };
        let (rounds, _) = sweep(none, &["quiet", "busy"], quiet_then_busy);
        assert_eq!((rounds["quiet"], rounds["busy"]), (16, 16));
    }

    #[test]
    fn a_withheld_scaling_is_revisited_and_a_cell_never_measured_is_not() {
        let visits = Visits {
            passes: 2,
            revisits: 3,
            until: None,
        };
        let specs = ["failing", "solo-busy", "quiet"];
        let (rounds, notes) = sweep(visits, &specs, |s, before| match s {
            "failing" => Err("no memory".into()),
            // x floor quiet, thread 0 slow alone in its first two visits.
            "solo-busy" => Ok(visit(s, 2, QUIET, if before < 2 { BUSY } else { QUIET })),
            _ => Ok(visit(s, 2, QUIET, QUIET)),
        });
        assert!(!rounds.contains_key("failing"));
        // Quiet alone from its third visit on: two such visits make enough.
        assert_eq!((rounds["solo-busy"], rounds["quiet"]), (32, 16));
        assert_eq!(notes.len(), 1, "one note for both visits: {notes:?}");
        assert!(notes[0].contains("failing: visit 1 of 2 not measured: no memory"));
        assert!(notes[0].contains("(and 1 more cell visits"), "{notes:?}");
    }

    #[test]
    fn no_revisit_starts_after_the_runs_time() {
        let visits = Visits {
            passes: 2,
            revisits: 3,
            until: Some(Duration::ZERO),
        };
        let (rounds, notes) = sweep(visits, &["quiet", "busy"], quiet_then_busy);
        assert_eq!((rounds["quiet"], rounds["busy"]), (16, 16));
        assert!(
            notes[0].contains("after 0 revisits") && notes[0].contains("short of quiet rounds: 1"),
            "{notes:?}"
        );
    }
}
