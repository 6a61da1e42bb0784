//! The paired runner: one thread per CPU slot, each with two workers over
//! the same memory (the cell's subject and the floor), run in short
//! alternating slices that every thread starts together at a barrier.
//!
//! Why: the machines pinbench runs on drift on a sub-second scale (a shared
//! host; one cell's 200 ms repetitions ran 11 to 16 ns/page), so two things
//! measured at different times carry that drift into their ratio. Measured
//! in adjacent slices of a few ms over the same pages, subject and floor
//! see the same machine, and their ratio does not move with it.
//!
//! A round is one slice of each kind: the subject on every thread, the floor
//! on every thread, and (multi-thread cells whose threads are all measured)
//! the subject on thread 0 alone while the others wait at the next barrier,
//! for paired thread scaling. Rounds alternate the order of their slices
//! (ABBA: subject-floor, then floor-subject), so neither side always runs
//! first after a barrier. `warmup` rounds are thrown away. Every round
//! starts with the clock probe on every thread ([`super::clock_probe`]),
//! which says which state the machine was in.
//!
//! Per-call latency and perf counters cover the subject's slices of the
//! measured rounds only.

use super::clock_probe::{
    clock_probe, contention_probe, handoff_probe, throughput_probe, SharedLine,
};
use crate::machine::numa::bind_thread;
use crate::metrics::counters::{Availability, ThreadCounters};
use crate::metrics::latency::Latency;
use pin_results::Counters;
use pin_workloads::{Tally, Worker};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How a cell is sliced.
#[derive(Clone, Debug)]
pub struct Params {
    /// Warm-up rounds (not recorded).
    pub warmup: usize,
    /// Measured rounds.
    pub pairs: usize,
    /// Duration of one slice.
    pub slice: Duration,
    /// Which perf counters to open.
    pub counters: Availability,
}

/// What one slice runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slice {
    /// The subject on every thread.
    Subject,
    /// The floor on every thread.
    Floor,
    /// The subject on thread 0 only.
    Solo,
}

/// The slices of round `r`: forward on even rounds, reversed on odd ones.
pub fn round(r: usize, solo: bool) -> &'static [Slice] {
    const TWO: [&[Slice]; 2] = [
        &[Slice::Subject, Slice::Floor],
        &[Slice::Floor, Slice::Subject],
    ];
    const THREE: [&[Slice]; 2] = [
        &[Slice::Subject, Slice::Floor, Slice::Solo],
        &[Slice::Solo, Slice::Floor, Slice::Subject],
    ];
    if solo {
        THREE[r % 2]
    } else {
        TWO[r % 2]
    }
}

/// Elapsed ns and pages of one thread in one slice (0, 0 when it sat out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timed {
    /// ns from the slice's start to the end of its last call.
    pub ns: u64,
    /// Pages covered.
    pub pages: u64,
}

/// One thread's measured rounds.
#[derive(Clone, Debug, Default)]
pub struct ThreadRounds {
    /// Subject slices, one per measured round.
    pub subject: Vec<Timed>,
    /// Floor slices.
    pub floor: Vec<Timed>,
    /// Solo slices (empty when the cell has none; zeros on threads > 0).
    pub solo: Vec<Timed>,
    /// ns of the clock probe at the start of each measured round.
    pub probe: Vec<u64>,
    /// ns of the contention probe after it (empty in 1-thread cells).
    pub contention: Vec<u64>,
    /// ns of the handoff probe after that (empty in 1-thread cells).
    pub handoff: Vec<u64>,
    /// ns of the clock probe thread 0 runs at the start of its solo slices.
    pub solo_probe: Vec<u64>,
    /// ns of the throughput probe thread 0 runs after that.
    pub solo_throughput: Vec<u64>,
    /// ns of the throughput probe: the slower of its runs before and after
    /// each measured round's slices.
    pub throughput: Vec<u64>,
}

/// One thread's measurements.
pub struct ThreadOutcome {
    /// Whether the thread's subject calls are the cell's measurement.
    pub measured: bool,
    /// Its slices.
    pub rounds: ThreadRounds,
    /// Per-call latency of its subject slices.
    pub latency: Latency,
    /// Counters over its subject slices.
    pub counters: Counters,
    /// What its worker counted.
    pub tally: Tally,
}

/// A cell's threads failed.
#[derive(Debug, thiserror::Error)]
pub enum ThreadsFailed {
    /// A worker panicked.
    #[error("a worker thread panicked")]
    Panicked,
    /// The OS refused to create a thread; those already made were let go.
    #[error("a worker thread could not be started ({0})")]
    NotStarted(std::io::Error),
}

/// Holds a cell's threads until every one of them exists: one the OS
/// refuses to create would leave the others waiting for ever at a barrier
/// sized for all of them.
#[derive(Default)]
struct StartGate {
    open: Mutex<Option<bool>>,
    opened: Condvar,
}

impl StartGate {
    /// Lets the threads go (`true`) or sends them home (`false`).
    fn set(&self, go: bool) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        *open = Some(go);
        self.opened.notify_all();
    }

    /// Waits until [`set`](Self::set); whether to run.
    fn wait(&self) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *open {
                Some(go) => return go,
                None => open = self.opened.wait(open).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: the thread index whose creation is refused, as the OS would.
    static REFUSE_SPAWN: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Creates a scoped thread running `f`; an error where the OS (or, in
/// tests, [`REFUSE_SPAWN`]) refuses.
fn spawn<'scope, 'env, T: Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    index: usize,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, T>> {
    #[cfg(test)]
    if REFUSE_SPAWN.with(|r| r.get()) == Some(index) {
        return Err(std::io::Error::from_raw_os_error(libc::EAGAIN));
    }
    let _ = index;
    std::thread::Builder::new().spawn_scoped(s, f)
}

/// Runs calls of `worker` until `slice` has passed, reading the clock once
/// per call (never per page) and recording each call's latency.
#[inline(never)]
fn timed_loop(worker: &mut dyn Worker, latency: &mut Latency, slice: Duration) -> Timed {
    let start = Instant::now();
    let deadline = start + slice;
    let mut last = start;
    let mut pages = 0;
    loop {
        pages += worker.batch();
        let now = Instant::now();
        latency.record((now - last).as_nanos() as u64);
        last = now;
        if now >= deadline {
            break;
        }
    }
    Timed {
        ns: (last - start).as_nanos() as u64,
        pages,
    }
}

/// What a thread needs to know of its cell.
#[derive(Clone, Copy)]
pub struct Shape<'a> {
    /// Threads in the cell.
    pub threads: usize,
    /// CPUs to bind them to, in order (wrapping).
    pub cpus: &'a [usize],
    /// Whether rounds include a thread-0-alone slice.
    pub solo: bool,
}

/// Runs `shape.threads` threads, each bound to its CPU, with the subject
/// and floor workers `subject` and `floor` build for it on that thread (so
/// their memory is first touched there), in paired slices.
pub fn run_paired<'a, S, F>(
    shape: Shape<'_>,
    params: &Params,
    subject: S,
    floor: F,
) -> Result<Vec<ThreadOutcome>, ThreadsFailed>
where
    S: Fn(usize) -> Box<dyn Worker + 'a> + Sync,
    F: Fn(usize) -> Box<dyn Worker + 'a> + Sync,
{
    let barrier = Barrier::new(shape.threads);
    let line = SharedLine::default();
    // Every thread meets at every round's probes, every slice's barrier
    // and the throughput probe after the last slice, and once more at the
    // end.
    let meetings: usize = (0..params.warmup + params.pairs)
        .map(|r| 2 + round(r, shape.solo).len())
        .sum::<usize>()
        + 1;
    let gate = StartGate::default();
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(shape.threads);
        for index in 0..shape.threads {
            let (barrier, subject, floor, line, gate) = (&barrier, &subject, &floor, &line, &gate);
            let cpu = shape.cpus[index % shape.cpus.len()];
            let spawned = spawn(s, index, move || {
                if !gate.wait() {
                    return None;
                }
                // Unbound, the thread still runs; the placement recorded
                // for the cell is the memory's, checked separately.
                let _ = bind_thread(&[cpu]);
                let mut met = 0;
                let body = catch_unwind(AssertUnwindSafe(|| {
                    let thread = ThreadRun {
                        index,
                        shape,
                        params,
                        barrier,
                        line,
                        met: &mut met,
                    };
                    thread.run(subject(index), floor(index))
                }));
                // A panicking worker still meets the others at every
                // remaining barrier, so the cell fails instead of hanging.
                if body.is_err() {
                    line.release_all();
                    for _ in met..meetings {
                        barrier.wait();
                    }
                }
                body.ok()
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    gate.set(false);
                    return Err(ThreadsFailed::NotStarted(e));
                }
            }
        }
        gate.set(true);
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(Some(outcome)) => Ok(outcome),
                _ => Err(ThreadsFailed::Panicked),
            })
            .collect()
    })
}

/// One thread's walk through the rounds.
struct ThreadRun<'b> {
    index: usize,
    shape: Shape<'b>,
    params: &'b Params,
    barrier: &'b Barrier,
    line: &'b SharedLine,
    met: &'b mut usize,
}

impl ThreadRun<'_> {
    fn meet(&mut self) {
        self.barrier.wait();
        *self.met += 1;
    }

    fn run(
        mut self,
        mut subject: Box<dyn Worker + '_>,
        mut floor: Box<dyn Worker + '_>,
    ) -> ThreadOutcome {
        let params = self.params;
        let mut counters = ThreadCounters::open(&params.counters);
        let mut latency = Latency::new();
        let mut floor_latency = Latency::new();
        let mut rounds = ThreadRounds::default();
        for r in 0..params.warmup + params.pairs {
            let measured = r >= params.warmup;
            // All threads start the round's probes together, after the
            // last slice of the one before (a thread that sat out a solo
            // slice waits here, asleep, not spinning beside thread 0).
            self.meet();
            let probe = clock_probe();
            let before = throughput_probe();
            let threads = self.shape.threads;
            let contention = (threads > 1).then(|| contention_probe(self.line, threads, r));
            let handoff = (threads > 1).then(|| handoff_probe(self.line, threads, self.index, r));
            if measured {
                rounds.probe.push(probe);
                rounds.contention.extend(contention);
                rounds.handoff.extend(handoff);
            }
            for &kind in round(r, self.shape.solo) {
                self.meet();
                let t = match kind {
                    Slice::Floor => timed_loop(&mut *floor, &mut floor_latency, params.slice),
                    Slice::Solo if self.index != 0 => Timed::default(),
                    Slice::Solo | Slice::Subject => {
                        if kind == Slice::Solo && measured {
                            // The others wait at the next barrier, their
                            // vCPUs idle: what the host does with an idle
                            // vCPU's core shows here, not in the round's
                            // first probe.
                            rounds.solo_probe.push(clock_probe());
                            rounds.solo_throughput.push(throughput_probe());
                        }
                        if measured {
                            counters.enable();
                        }
                        let t = timed_loop(&mut *subject, &mut latency, params.slice);
                        if measured {
                            counters.disable();
                        }
                        t
                    }
                };
                if measured {
                    match kind {
                        Slice::Subject => rounds.subject.push(t),
                        Slice::Floor => rounds.floor.push(t),
                        Slice::Solo => rounds.solo.push(t),
                    }
                }
            }
            // After every thread's last slice: a thread that sat out a
            // solo slice would otherwise probe beside thread 0's.
            self.meet();
            let after = throughput_probe();
            if measured {
                rounds.throughput.push(before.max(after));
            } else {
                latency.reset();
            }
        }
        // Nobody drops held pins while another thread still scans.
        self.meet();
        let measured = subject.measured();
        drop(floor);
        ThreadOutcome {
            measured,
            rounds,
            latency,
            counters: counters.read(),
            tally: subject.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::numa::allowed_cpus;
    use crate::metrics::counters::probe;

    /// Counts its calls; one page each.
    struct Count(u64);

    impl Worker for Count {
        fn batch(&mut self) -> u64 {
            self.0 += 1;
            1
        }
        fn finish(self: Box<Self>) -> Tally {
            Tally {
                refused: self.0,
                ..Tally::default()
            }
        }
    }

    /// Panics in its third call.
    struct Faulty(u32);

    impl Worker for Faulty {
        fn batch(&mut self) -> u64 {
            self.0 += 1;
            assert!(self.0 < 3, "injected fault");
            1
        }
        fn finish(self: Box<Self>) -> Tally {
            Tally::default()
        }
    }

    fn params(pairs: usize) -> Params {
        Params {
            warmup: 1,
            pairs,
            slice: Duration::from_millis(1),
            counters: probe(),
        }
    }

    #[test]
    fn rounds_alternate_their_order() {
        assert_eq!(round(0, false), &[Slice::Subject, Slice::Floor]);
        assert_eq!(round(1, false), &[Slice::Floor, Slice::Subject]);
        assert_eq!(round(2, true), &[Slice::Subject, Slice::Floor, Slice::Solo]);
        assert_eq!(round(3, true), &[Slice::Solo, Slice::Floor, Slice::Subject]);
    }

    #[test]
    fn every_thread_records_every_measured_slice_and_only_thread_0_works_alone() {
        let cpus = allowed_cpus().expect("affinity");
        let shape = Shape {
            threads: 2,
            cpus: &cpus,
            solo: true,
        };
        let out = run_paired(
            shape,
            &params(4),
            |_| -> Box<dyn Worker> { Box::new(Count(0)) },
            |_| -> Box<dyn Worker> { Box::new(Count(0)) },
        )
        .expect("threads");
        assert_eq!(out.len(), 2);
        for (i, o) in out.iter().enumerate() {
            assert_eq!(o.rounds.subject.len(), 4);
            assert_eq!(o.rounds.floor.len(), 4);
            assert_eq!(o.rounds.solo.len(), 4);
            assert!(o.rounds.subject.iter().all(|t| t.pages > 0 && t.ns > 0));
            assert!(o.rounds.floor.iter().all(|t| t.pages > 0));
            assert_eq!(o.rounds.solo.iter().all(|t| t.pages > 0), i == 0);
            assert_eq!(o.rounds.solo.iter().all(|t| t.pages == 0), i != 0);
            // The subject worker made every subject and solo call, warm-up
            // included; the floor's calls are not in its count.
            let made: u64 = o
                .rounds
                .subject
                .iter()
                .chain(&o.rounds.solo)
                .map(|t| t.pages)
                .sum();
            assert!(o.tally.refused > made, "{} <= {made}", o.tally.refused);
        }
    }

    #[test]
    fn a_panicking_worker_fails_its_cell_without_hanging_the_others() {
        let cpus = allowed_cpus().expect("affinity");
        let shape = Shape {
            threads: 2,
            cpus: &cpus,
            solo: true,
        };
        let r = run_paired(
            shape,
            &params(3),
            |i| -> Box<dyn Worker> {
                if i == 1 {
                    Box::new(Faulty(0))
                } else {
                    Box::new(Count(0))
                }
            },
            |_| -> Box<dyn Worker> { Box::new(Count(0)) },
        );
        assert!(r.is_err());
    }

    #[test]
    fn a_thread_the_os_refuses_fails_its_cell_without_hanging_the_others() {
        let cpus = allowed_cpus().expect("affinity");
        let shape = Shape {
            threads: 3,
            cpus: &cpus,
            solo: true,
        };
        REFUSE_SPAWN.with(|r| r.set(Some(2)));
        let r = run_paired(
            shape,
            &params(3),
            |_| -> Box<dyn Worker> { Box::new(Count(0)) },
            |_| -> Box<dyn Worker> { Box::new(Count(0)) },
        );
        REFUSE_SPAWN.with(|r| r.set(None));
        assert!(
            matches!(r, Err(ThreadsFailed::NotStarted(_))),
            "{:?}",
            r.err()
        );
    }
}
