//! Runs one cell: builds its memmap on the chosen node, starts one thread
//! per CPU slot (bound with `sched_setaffinity`), lets every thread set up
//! its worker, then runs warm-up and measured repetitions, all threads
//! starting each one together at a barrier.
//!
//! A repetition is time-bounded: each thread calls `batch()` until
//! `rep` has passed, reading the clock once per call (never per page) and
//! recording that call's latency. Per repetition the cell keeps the mean
//! per-thread ns/page and pages/s over all measured threads (pages of all
//! threads over the longest thread's time); the cell's values are medians
//! over repetitions, with the raw values kept.

use crate::calibration::{Floor, Noop};
use crate::dispatch::{with_scheme, SchemeVisitor};
use crate::metrics::counters::{Availability, ThreadCounters, Values};
use crate::metrics::latency::Latency;
use crate::metrics::stats::{cv, median, NOISY_CV};
use crate::numa::{self, bind_thread, NumaError};
use crate::results::{Cell, Counters, LatencyNs, NumaPlacement, Repetition};
use crate::workloads::{Layout, Slot, Tally, Worker, Workload};
use pin_schemes::{MemMap, MemMapError, Page, Pfn, PinScheme};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use thiserror::Error;

/// A cell could not be run.
#[derive(Debug, Error)]
pub enum RunError {
    /// The memmap could not be built or placed.
    #[error(transparent)]
    Numa(#[from] NumaError),
    /// The scheme is not in the registry.
    #[error("unknown scheme {0:?}")]
    UnknownScheme(String),
    /// A real-kernel subject has no memmap to run on (`pinbench kernel`).
    #[error("{0} is a real-kernel path, not a model cell")]
    NotModel(String),
    /// A worker thread panicked.
    #[error("a worker thread of {0} panicked")]
    Thread(String),
}

/// How long and how often a cell is measured.
#[derive(Clone, Debug)]
pub struct Params {
    /// Warm-up repetitions (not recorded).
    pub warmup: usize,
    /// Measured repetitions.
    pub repeat: usize,
    /// Duration of one repetition.
    pub rep: Duration,
    /// Which perf counters to open.
    pub counters: Availability,
}

/// What runs in a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A registered scheme.
    Scheme(&'static str),
    /// The `fetch_add`/`fetch_sub` floor.
    Floor,
    /// The harness's empty loop.
    Noop,
    /// A real-kernel path (`pinbench kernel`), named by its gup flavour.
    Kernel(&'static str),
}

impl Subject {
    /// The name recorded in the `scheme` field.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Scheme(n) => n,
            Subject::Floor => "floor",
            Subject::Noop => "noop",
            Subject::Kernel(n) => n,
        }
    }
}

/// Where a cell's threads and memmap go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Numa {
    /// `local` or `remote`.
    pub placement: &'static str,
    /// Node of the threads' CPUs.
    pub cpu_node: u32,
    /// CPUs the threads are bound to, one each, in order.
    pub cpus: Vec<usize>,
    /// Node the memmap goes on.
    pub memmap_node: u32,
    /// CPUs of that node (the memmap is built from a thread bound there).
    pub memmap_cpus: Vec<usize>,
}

/// One cell to run.
#[derive(Clone, Debug)]
pub struct CellSpec {
    /// Scheme, floor or noop.
    pub subject: Subject,
    /// Workload.
    pub workload: Workload,
    /// Threads.
    pub threads: usize,
    /// Memmap layout (folio order, batch size).
    pub layout: Layout,
    /// Placement.
    pub numa: Numa,
}

impl CellSpec {
    /// `scheme/workload[/order] threads=N numa` for progress lines.
    pub fn label(&self) -> String {
        let order = if self.layout.order > 0 {
            format!("/{}", self.layout.order)
        } else {
            String::new()
        };
        format!(
            "{}/{}{order} {}T {}",
            self.subject.name(),
            self.workload.name(),
            self.threads,
            self.numa.placement
        )
    }

    /// Bytes of `struct page` this cell's memmap needs.
    pub fn memmap_bytes(&self) -> u64 {
        (self.layout.nr_pages(self.threads) * std::mem::size_of::<Page>()) as u64
    }
}

/// One thread's measurements.
pub struct ThreadOutcome {
    measured: bool,
    /// (elapsed ns, pages) per measured repetition.
    reps: Vec<(u64, u64)>,
    latency: Latency,
    counters: Values,
    tally: Tally,
}

/// The timed loop of one repetition: returns elapsed ns and pages.
#[inline(never)]
fn timed_loop(worker: &mut dyn Worker, latency: &mut Latency, rep: Duration) -> (u64, u64) {
    let start = Instant::now();
    let deadline = start + rep;
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
    ((last - start).as_nanos() as u64, pages)
}

/// Runs `spec.threads` threads, each bound to its CPU, with the worker
/// `make` builds for it on that thread (so its memory is first touched
/// there).
pub fn run_threads<'a, F>(
    spec: &CellSpec,
    params: &Params,
    make: F,
) -> Result<Vec<ThreadOutcome>, RunError>
where
    F: Fn(&Slot) -> Box<dyn Worker + 'a> + Sync,
{
    let barrier = Barrier::new(spec.threads);
    let total = params.warmup + params.repeat;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..spec.threads)
            .map(|index| {
                let (barrier, make) = (&barrier, &make);
                let cpu = spec.numa.cpus[index % spec.numa.cpus.len()];
                let slot = Slot {
                    index,
                    threads: spec.threads,
                    layout: spec.layout,
                };
                s.spawn(move || {
                    // Unbound, the thread still runs; the placement recorded
                    // for the cell is the memmap's, checked separately.
                    let _ = bind_thread(&[cpu]);
                    let mut waited = 0;
                    let body = catch_unwind(AssertUnwindSafe(|| {
                        let mut counters = ThreadCounters::open(&params.counters);
                        let mut worker = make(&slot);
                        let mut latency = Latency::new();
                        let mut reps = Vec::with_capacity(params.repeat);
                        for r in 0..total {
                            let measured = r >= params.warmup;
                            barrier.wait();
                            waited += 1;
                            if measured {
                                counters.enable();
                            }
                            let rep = timed_loop(&mut *worker, &mut latency, params.rep);
                            if measured {
                                counters.disable();
                                reps.push(rep);
                            } else {
                                latency.reset();
                            }
                        }
                        // Nobody drops held pins while another thread still scans.
                        barrier.wait();
                        waited += 1;
                        let measured = worker.measured();
                        let tally = worker.finish();
                        ThreadOutcome {
                            measured,
                            reps,
                            latency,
                            counters: counters.read(),
                            tally,
                        }
                    }));
                    // A panicking worker still meets the others at every
                    // remaining barrier, so the cell fails instead of hanging.
                    if body.is_err() {
                        for _ in waited..=total {
                            barrier.wait();
                        }
                    }
                    body.ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(Some(outcome)) => Ok(outcome),
                _ => Err(RunError::Thread(spec.label())),
            })
            .collect()
    })
}

/// Runs a scheme's cell with the scheme's concrete type.
struct SchemeRun<'a> {
    spec: &'a CellSpec,
    params: &'a Params,
    nr_pages: usize,
}

impl SchemeVisitor for SchemeRun<'_> {
    type Output = Result<(Vec<ThreadOutcome>, u64), RunError>;

    fn visit<S: PinScheme + ?Sized>(self, scheme: &S) -> Self::Output {
        let workload = self.spec.workload;
        let out = run_threads(self.spec, self.params, |slot| workload.worker(scheme, slot))?;
        let tracking = scheme.bytes_per_page() * self.nr_pages + scheme.tracking_bytes();
        Ok((out, tracking as u64))
    }
}

/// `prep_compound_page()` over every thread region, in folios of `order`.
fn form_folios(memmap: &mut MemMap, layout: &Layout, threads: usize) -> Result<(), MemMapError> {
    if layout.order == 0 {
        return Ok(());
    }
    for t in 0..threads {
        for head in layout.region(t).step_by(1 << layout.order) {
            memmap.make_folio(Pfn(head), layout.order)?;
        }
    }
    Ok(())
}

/// Runs one cell and returns its results.
pub fn run_cell(spec: &CellSpec, params: &Params) -> Result<Cell, RunError> {
    let nr_pages = spec.layout.nr_pages(spec.threads);
    let (memmap, placement) = numa::build_memmap(
        nr_pages,
        spec.numa.memmap_node,
        &spec.numa.memmap_cpus,
        |mm| form_folios(mm, &spec.layout, spec.threads),
    )?;
    let memmap = Arc::new(memmap);
    let (outcomes, tracking_bytes) = match spec.subject {
        Subject::Scheme(name) => {
            let run = SchemeRun {
                spec,
                params,
                nr_pages,
            };
            with_scheme(name, Arc::clone(&memmap), run)
                .ok_or_else(|| RunError::UnknownScheme(name.to_string()))??
        }
        Subject::Floor => (
            run_threads(spec, params, |slot| Box::new(Floor::new(&memmap, slot)))?,
            0,
        ),
        Subject::Noop => (
            run_threads(spec, params, |slot| Box::new(Noop::new(slot)))?,
            0,
        ),
        Subject::Kernel(name) => return Err(RunError::NotModel(name.to_string())),
    };
    let rss = numa::resident_bytes(&memmap);
    Ok(summarise(
        spec,
        params,
        &outcomes,
        tracking_bytes,
        rss,
        NumaPlacement {
            placement: spec.numa.placement.to_string(),
            cpu_node: spec.numa.cpu_node,
            memmap_node: placement.requested,
            memmap_node_verified: placement.verified,
            verified_fraction: placement.fraction,
            method: placement.method.to_string(),
        },
    ))
}

/// Turns the threads' raw measurements into a cell.
pub fn summarise(
    spec: &CellSpec,
    params: &Params,
    outcomes: &[ThreadOutcome],
    tracking_bytes: u64,
    rss: Option<u64>,
    numa: NumaPlacement,
) -> Cell {
    let measured: Vec<&ThreadOutcome> = outcomes.iter().filter(|o| o.measured).collect();
    let repetitions: Vec<Repetition> = (0..params.repeat)
        .map(|r| {
            let per_thread: Vec<f64> = measured
                .iter()
                .map(|o| o.reps[r].0 as f64 / o.reps[r].1.max(1) as f64)
                .collect();
            let pages: u64 = measured.iter().map(|o| o.reps[r].1).sum();
            let elapsed_ns = measured.iter().map(|o| o.reps[r].0).max().unwrap_or(0);
            Repetition {
                ns_per_page: per_thread.iter().sum::<f64>() / per_thread.len().max(1) as f64,
                pages_per_sec: pages as f64 / (elapsed_ns.max(1) as f64 / 1e9),
                pages,
                elapsed_ns,
            }
        })
        .collect();
    let ns: Vec<f64> = repetitions.iter().map(|r| r.ns_per_page).collect();
    let pps: Vec<f64> = repetitions.iter().map(|r| r.pages_per_sec).collect();
    let mut latency = Latency::new();
    let mut counters: Option<Values> = None;
    for o in &measured {
        latency.merge(&o.latency);
        counters = Some(counters.map_or(o.counters, |c| c.sum(o.counters)));
    }
    let c = counters.unwrap_or_default();
    let thread_ns: u64 = measured
        .iter()
        .flat_map(|o| o.reps.iter().map(|r| r.0))
        .sum();
    let q = latency.quantiles();
    let tally = Tally::merge_all(&outcomes.iter().map(|o| o.tally.clone()).collect::<Vec<_>>());
    let variation = cv(&ns);
    Cell {
        scheme: spec.subject.name().to_string(),
        backend: crate::results::MODEL.to_string(),
        kernel: None,
        workload: spec.workload.name().to_string(),
        threads: spec.threads,
        numa,
        pages_per_call: spec.layout.pages_per_call,
        folio_order: spec.layout.order,
        ns_per_page: median(&ns),
        pages_per_sec: median(&pps),
        cv: variation,
        noisy: variation > NOISY_CV,
        cpu_share: c.task_clock_ns.map(|t| t as f64 / thread_ns.max(1) as f64),
        latency_ns: LatencyNs {
            p50: q.p50,
            p90: q.p90,
            p99: q.p99,
            p999: q.p999,
            max: q.max,
        },
        counters: Counters {
            cycles: c.cycles,
            instructions: c.instructions,
            cache_misses: c.cache_misses,
            task_clock_ns: c.task_clock_ns,
            context_switches: c.context_switches,
        },
        false_positives: tally.false_positives,
        false_negatives: tally.false_negatives,
        fp_threshold_refs: tally.fp_threshold_refs,
        fp_by_refs: tally.fp_runs(),
        refused: tally.refused,
        max_pins: tally.max_pins,
        tracking_bytes,
        memmap_pages: spec.layout.nr_pages(spec.threads),
        memmap_bytes: spec.memmap_bytes(),
        memmap_rss_bytes: rss,
        repetitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::counters::probe;
    use crate::numa::allowed_cpus;
    use crate::results::FpByRefs;

    fn spec(subject: Subject, workload: Workload, order: u8, threads: usize) -> CellSpec {
        let cpus = allowed_cpus().expect("affinity");
        CellSpec {
            subject,
            workload,
            threads,
            layout: workload.layout(order, 1024, 64),
            numa: Numa {
                placement: "local",
                cpu_node: 0,
                cpus: cpus.clone(),
                memmap_node: 0,
                memmap_cpus: cpus,
            },
        }
    }

    fn params() -> Params {
        Params {
            warmup: 1,
            repeat: 2,
            rep: Duration::from_millis(5),
            counters: probe(),
        }
    }

    #[test]
    fn a_two_thread_cell_counts_pages_and_keeps_every_repetition() {
        let s = spec(Subject::Scheme("bias"), Workload::Private, 0, 2);
        let cell = run_cell(&s, &params()).expect("cell");
        assert_eq!(cell.repetitions.len(), 2);
        assert!(cell
            .repetitions
            .iter()
            .all(|r| r.pages > 0 && r.elapsed_ns > 0));
        assert!(cell.ns_per_page > 0.0 && cell.pages_per_sec > 0.0);
        assert!(cell.latency_ns.p50 > 0 && cell.latency_ns.max >= cell.latency_ns.p99);
        assert_eq!(cell.memmap_pages, 2048);
        assert_eq!(cell.numa.memmap_node_verified, Some(0));
        assert_eq!(cell.refused, 0);
    }

    #[test]
    fn mixed_and_refstorm_find_the_schemes_false_answers() {
        let mixed = run_cell(
            &spec(Subject::Scheme("plain"), Workload::Mixed, 0, 2),
            &params(),
        )
        .expect("cell");
        // plain is blind: every long-term pin (1 in 8 of 2 x 1024) is missed.
        assert_eq!(mixed.false_negatives, Some(256));
        assert_eq!(mixed.false_positives, Some(0));
        let storm = run_cell(
            &spec(Subject::Scheme("bias"), Workload::Refstorm, 0, 1),
            &params(),
        )
        .expect("cell");
        // refcount 1 + k >= 1024 reads pinned: k = 1023..2047 are wrong.
        assert_eq!(storm.fp_threshold_refs, Some(1023));
        assert_eq!(storm.false_positives, Some(1025));
        assert_eq!(storm.false_negatives, Some(0));
        // One unpinned page per count: a step from none to all at 1023.
        let run = |refs_min, refs_max, false_positives| FpByRefs {
            refs_min,
            refs_max,
            pages: 1,
            false_positives,
        };
        assert_eq!(
            storm.fp_by_refs,
            Some(vec![run(0, 1022, 0), run(1023, 2047, 1)])
        );
        assert_eq!(mixed.fp_by_refs, None);
        let exact = run_cell(
            &spec(Subject::Scheme("exact"), Workload::Refstorm, 0, 1),
            &params(),
        )
        .expect("cell");
        assert_eq!(exact.false_positives, Some(0));
        assert_eq!(exact.fp_threshold_refs, None);
        assert_eq!(exact.fp_by_refs, Some(vec![run(0, 2047, 0)]));
    }

    #[test]
    fn overflow_reaches_the_documented_limit_and_gig_folios_form() {
        let o = run_cell(
            &spec(Subject::Scheme("hybrid"), Workload::Overflow, 0, 1),
            &params(),
        )
        .expect("cell");
        assert_eq!(o.max_pins, Some(2_097_151));
        assert!(o.refused > 0);
        let g = run_cell(
            &spec(Subject::Scheme("hybrid"), Workload::Huge, 18, 1),
            &params(),
        )
        .expect("cell");
        assert_eq!(g.folio_order, 18);
        assert_eq!(g.pages_per_call, 1 << 18);
        assert_eq!(g.refused, 0);
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

    #[test]
    fn a_panicking_worker_fails_its_cell_without_hanging_the_others() {
        let s = spec(Subject::Noop, Workload::Private, 0, 2);
        let r = run_threads(&s, &params(), |slot| -> Box<dyn Worker> {
            if slot.index == 1 {
                Box::new(Faulty(0))
            } else {
                Box::new(Noop::new(slot))
            }
        });
        assert!(matches!(r, Err(RunError::Thread(_))));
    }

    #[test]
    fn floor_and_noop_run_over_the_private_layout() {
        for subject in [Subject::Floor, Subject::Noop] {
            let cell = run_cell(&spec(subject, Workload::Private, 0, 1), &params()).expect("cell");
            assert_eq!(cell.scheme, subject.name());
            assert!(cell.ns_per_page > 0.0);
        }
    }
}
