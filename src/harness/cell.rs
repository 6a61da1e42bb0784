//! One model cell: builds its memmap on the chosen node, then runs the
//! subject (a scheme's workload, or `noop`) paired slice by slice with the
//! floor over the same pages ([`super::paired`]), and records the result
//! ([`super::record`]).

use super::calibration::{Floor, Noop};
use super::paired::{run_paired, Params, Shape};
use super::record::{record, Labels, Memory, Visit};
use crate::machine::numa::{self, NumaError};
use pin_results::{AllocFailures, NumaPlacement};
use pin_schemes::{with_scheme, Gup, SchemeVisitor};
use pin_schemes::{FailSlab, HasPinnedWrite, MemMap, MemMapError, OnAllocFail, Page};
use pin_workloads::{Layout, Slot, Worker, Workload};
use std::num::NonZeroU32;
use std::sync::Arc;
use thiserror::Error;

/// A cell could not be run.
#[derive(Debug, Error)]
pub enum RunError {
    /// The memmap could not be built or placed.
    #[error(transparent)]
    Numa(#[from] NumaError),
    /// The scheme could not be built.
    #[error(transparent)]
    Build(#[from] pin_schemes::BuildError),
    /// A worker thread panicked or could not be started.
    #[error("{0}: {1}")]
    Thread(String, super::paired::ThreadsFailed),
    /// A thread's workload could not be set up.
    #[error("{0}")]
    Setup(String),
    /// The heap the cell's workers and scheme need cannot be had (under
    /// `ulimit -v`, say): an allocation would abort the process instead.
    #[error("cannot allocate the {0} MiB of heap its workers and scheme need")]
    Heap(usize),
}

/// Heap per memmap page a cell may allocate besides the memmap: the
/// subject's and the floor's pfn arrays (8 bytes each), a ground-truth byte,
/// and a side array of up to 8 bytes (`exact` has 4).
const HEAP_PER_PAGE: usize = 8 + 8 + 1 + 8;

/// Whether `bytes` of heap can be had now: Rust aborts on a failed
/// allocation, so a cell checks first and fails into "not measured".
fn heap_available(bytes: usize) -> bool {
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).is_ok()
}

/// What runs in a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A registered scheme.
    Scheme(&'static str),
    /// The harness's empty loop.
    Noop,
}

impl Subject {
    /// The name recorded in the `subject` field.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Scheme(n) => n,
            Subject::Noop => "noop",
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
    /// Scheme or noop.
    pub subject: Subject,
    /// Workload.
    pub workload: Workload,
    /// Threads.
    pub threads: usize,
    /// Memmap layout (folio order, batch size).
    pub layout: Layout,
    /// Placement.
    pub numa: Numa,
    /// How the model's gup walk is set up.
    pub gup: GupModel,
}

/// The machine-dependent parts of the model's gup walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GupModel {
    /// The vmstat threshold of the memmap's node (see `Machine::vmstat_threshold`).
    pub stat_threshold: i8,
    /// How FOLL_PIN calls write MMF_HAS_PINNED (`--has-pinned-write`).
    pub has_pinned_write: HasPinnedWrite,
    /// failslab's interval for the side structures' allocations
    /// (`--failslab`), `None` when off.
    pub failslab: Option<NonZeroU32>,
    /// What gup does when they fail (`--on-alloc-fail`).
    pub on_alloc_fail: OnAllocFail,
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

    /// What names this cell in the results.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            subject: self.subject.name(),
            backend: pin_results::MODEL,
            workload: self.workload.name(),
            threads: self.threads,
            pages_per_call: self.layout.pages_per_call,
            folio_order: self.layout.order,
        }
    }

    /// Bytes of `struct page` this cell's memmap needs.
    pub fn memmap_bytes(&self) -> u64 {
        (self.layout.nr_pages(self.threads) * std::mem::size_of::<Page>()) as u64
    }
}

/// Sets up the gup model, then `prep_compound_page()` over every thread
/// region, in folios of the layout's order, mapped as the workload says.
fn form_folios(memmap: &mut MemMap, spec: &CellSpec) -> Result<(), MemMapError> {
    memmap.set_stat_threshold(spec.gup.stat_threshold);
    memmap
        .mm_mut()
        .set_has_pinned_write(spec.gup.has_pinned_write);
    memmap.set_failslab(FailSlab::new(spec.gup.failslab, spec.gup.on_alloc_fail));
    let layout = &spec.layout;
    if layout.order == 0 {
        return Ok(());
    }
    for t in 0..spec.threads {
        memmap.make_folios(layout.region(t), layout.order, spec.workload.pte_mapped())?;
    }
    Ok(())
}

impl CellSpec {
    /// How the runner lays out this cell's rounds.
    fn shape(&self) -> Shape<'_> {
        Shape {
            threads: self.threads,
            cpus: &self.numa.cpus,
            // Paired scaling; record() drops it where not every thread is
            // measured (`mixed`).
            solo: self.threads > 1,
        }
    }

    /// Thread `index`'s slot.
    fn slot(&self, index: usize) -> Slot {
        Slot {
            index,
            threads: self.threads,
            layout: self.layout,
        }
    }
}

/// Runs a scheme's cell with the scheme's concrete type.
struct SchemeRun<'a> {
    spec: &'a CellSpec,
    params: &'a Params,
    memmap: &'a MemMap,
}

impl SchemeVisitor for SchemeRun<'_> {
    type Output = Result<(Vec<super::paired::ThreadOutcome>, SchemeMemory), RunError>;

    fn visit<S: Gup>(self, scheme: &S) -> Self::Output {
        let (spec, memmap) = (self.spec, self.memmap);
        let setup: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
        let out = run_paired(
            spec.shape(),
            self.params,
            |i| match spec.workload.worker(scheme, &spec.slot(i)) {
                Ok(w) => w,
                Err(e) => {
                    if let Ok(mut slot) = setup.lock() {
                        slot.get_or_insert(e.0);
                    }
                    Box::new(pin_workloads::Idle)
                }
            },
            |i| -> Box<dyn Worker> { Box::new(Floor::new(memmap, &spec.slot(i))) },
        )
        .map_err(|e| RunError::Thread(spec.label(), e))?;
        if let Some(why) = setup.into_inner().ok().flatten() {
            return Err(RunError::Setup(why));
        }
        Ok((out, SchemeMemory::of(scheme, spec)))
    }
}

/// A scheme's memory over a cell, read after its workers released every
/// pin they held.
#[derive(Clone, Copy, Debug, Default)]
struct SchemeMemory {
    /// At the end of the cell, nodes awaiting a grace period included.
    tracking: u64,
    /// `struct page` as the design keeps it, plus `tracking`.
    metadata: Option<u64>,
    /// The side structures' high-water mark.
    peak: Option<u64>,
    /// After `rcu_barrier()`: the steady state.
    steady: Option<u64>,
    /// failslab's count, when it was on.
    failures: Option<AllocFailures>,
}

impl SchemeMemory {
    fn of<S: Gup>(scheme: &S, spec: &CellSpec) -> Self {
        let nr_pages = spec.layout.nr_pages(spec.threads);
        let fixed = scheme.bytes_per_page() * nr_pages;
        let tracking = fixed + scheme.tracking_bytes();
        let peak = fixed + scheme.tracking_peak_bytes();
        // Every worker has finished; no thread is inside a read-side
        // section, so the grace periods can end.
        let _ = scheme.reclaim();
        let steady = fixed + scheme.tracking_bytes();
        let f = scheme.memmap().failslab().stats();
        Self {
            tracking: tracking as u64,
            metadata: Some((scheme.info().struct_page_bytes * nr_pages + tracking) as u64),
            peak: Some(peak as u64),
            steady: Some(steady as u64),
            failures: spec.gup.failslab.map(|_| AllocFailures {
                injected: f.injected,
                fallbacks: f.fallbacks,
                failed_pins: f.failed_pins,
            }),
        }
    }
}

/// Runs one visit of a cell and returns its results.
pub fn run_cell(spec: &CellSpec, params: &Params) -> Result<Visit, RunError> {
    let nr_pages = spec.layout.nr_pages(spec.threads);
    let heap = nr_pages
        .saturating_mul(HEAP_PER_PAGE)
        .saturating_add(1 << 20);
    let (memmap, placement) = numa::build_memmap(
        nr_pages,
        spec.numa.memmap_node,
        &spec.numa.memmap_cpus,
        |mm| form_folios(mm, spec),
    )?;
    let memmap = Arc::new(memmap);
    if !heap_available(heap) {
        return Err(RunError::Heap(heap >> 20));
    }
    let (outcomes, mem) = match spec.subject {
        Subject::Scheme(name) => {
            let run = SchemeRun {
                spec,
                params,
                memmap: &memmap,
            };
            with_scheme(name, Arc::clone(&memmap), run)??
        }
        Subject::Noop => (
            run_paired(
                spec.shape(),
                params,
                |i| -> Box<dyn Worker> { Box::new(Noop::new(&spec.slot(i))) },
                |i| -> Box<dyn Worker> { Box::new(Floor::new(&memmap, &spec.slot(i))) },
            )
            .map_err(|e| RunError::Thread(spec.label(), e))?,
            SchemeMemory::default(),
        ),
    };
    let memory = Memory {
        tracking_bytes: mem.tracking,
        metadata_bytes: mem.metadata,
        tracking_peak_bytes: mem.peak,
        tracking_steady_bytes: mem.steady,
        alloc_failures: mem.failures,
        memmap_pages: nr_pages,
        memmap_bytes: spec.memmap_bytes(),
        memmap_rss_bytes: numa::resident_bytes(&memmap),
        memmap_thp_bytes: numa::thp_bytes(&memmap),
    };
    let numa = NumaPlacement {
        placement: spec.numa.placement.to_string(),
        cpu_node: spec.numa.cpu_node,
        memmap_node: placement.requested,
        memmap_node_verified: placement.verified,
        verified_fraction: placement.fraction,
        method: placement.method.to_string(),
    };
    Ok(record(spec.labels(), &outcomes, memory, numa, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::numa::allowed_cpus;
    use crate::metrics::counters::probe;
    use pin_results::FpByRefs;
    use std::time::Duration;

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
            gup: GupModel {
                stat_threshold: 28,
                has_pinned_write: HasPinnedWrite::TestThenSet,
                failslab: None,
                on_alloc_fail: OnAllocFail::SlowPath,
            },
        }
    }

    fn params() -> Params {
        Params {
            warmup: 1,
            pairs: 6,
            slice: Duration::from_millis(1),
            counters: probe(),
        }
    }

    #[test]
    fn a_two_thread_cell_keeps_every_pair_and_its_ratios() {
        let s = spec(Subject::Scheme("bias"), Workload::Private, 0, 2);
        let cell = run_cell(&s, &params()).expect("cell").cell;
        let p = &cell.pairs;
        assert_eq!(p.subject_ns_per_page.len(), 6);
        assert_eq!(p.floor_ns_per_page.len(), 6);
        assert_eq!(p.pages_per_sec.len(), 6);
        assert_eq!(p.solo_pages_per_sec.as_ref().map(Vec::len), Some(6));
        assert!(p
            .subject_ns_per_page
            .iter()
            .chain(&p.floor_ns_per_page)
            .all(|&x| x > 0.0));
        assert_eq!(p.probe_ns.as_ref().map(Vec::len), Some(6));
        let throughput = p.throughput_ns.as_ref().expect("throughput probes");
        assert_eq!(throughput.len(), 6);
        assert!(throughput.iter().all(|&ns| ns > 0.0), "{throughput:?}");
        // The headline figures are the estimates of the kept pairs' quiet
        // rounds (all of them in a busy cell); the set-aside ones are
        // counted.
        assert_eq!(p.contention_ns.as_ref().map(Vec::len), Some(6));
        // The handoff probe, one per round, each a time.
        let handoff = p
            .handoff_ns
            .as_ref()
            .expect("a 2-thread cell's handoff probes");
        assert_eq!(handoff.len(), 6);
        assert!(handoff.iter().all(|&ns| ns > 0.0), "{handoff:?}");
        let y = pin_results::Yardsticks::of(std::slice::from_ref(&cell));
        let kept = cell.kept(y.for_cell(&cell));
        let (mask, solo_mask) = (kept.rounds, kept.solo_rounds);
        assert_eq!(cell.busy, kept.busy);
        // Over the ABBA blocks the kept rounds make.
        let (blocks, visits) = p.by_block(&p.x_floor(), &mask);
        assert_eq!(
            Some(cell.x_floor),
            pin_results::Estimate::over_visits(&blocks, &visits)
        );
        // Scaling from the rounds quiet in thread 0's solo slice too, or
        // withheld when fewer than MIN_QUIET_ROUNDS (here all 6) were.
        let solo_quiet = p
            .quiet_solo(y.for_cell(&cell))
            .iter()
            .filter(|q| **q)
            .count();
        assert_eq!(cell.scaling_withheld, solo_quiet < 6);
        assert_eq!(cell.scaling.is_none(), cell.scaling_withheld);
        if let (Some(s), Some(m)) = (p.scaling(), solo_mask) {
            let (blocks, _) = p.by_block(&s, &m);
            assert_eq!(cell.scaling.map(|e| e.n), Some(blocks.len()));
        }
        let kept = mask.iter().filter(|q| **q).count();
        assert_eq!(kept + cell.disturbed_rounds, 6);
        assert!(cell.ns_per_page > 0.0 && cell.floor_ns_per_page > 0.0 && cell.pages_per_sec > 0.0);
        assert!(cell.latency_ns.p50 > 0 && cell.latency_ns.max >= cell.latency_ns.p99);
        assert_eq!(cell.memmap_pages, 2048);
        assert_eq!(cell.numa.memmap_node_verified, Some(0));
        assert_eq!(cell.refused, 0);
    }

    #[test]
    fn held_pins_refused_for_want_of_memory_are_never_the_schemes_false_negatives() {
        // Every 3rd node allocation fails and gup fails the pin: the setup
        // retries, and the exact side tree shows no false answer (a pin
        // refused for good is left out of the truth: see mixed.rs's test).
        for (workload, threads) in [(Workload::Mixed, 2), (Workload::Refstorm, 1)] {
            let mut s = spec(Subject::Scheme("side-tree-sharded"), workload, 0, threads);
            s.gup.failslab = NonZeroU32::new(3);
            s.gup.on_alloc_fail = OnAllocFail::Fail;
            let cell = run_cell(&s, &params()).expect("cell").cell;
            assert_eq!(cell.false_negatives, Some(0), "{workload:?}");
            assert_eq!(cell.false_positives, Some(0), "{workload:?}");
            let failures = cell.alloc_failures.expect("failslab was on");
            assert!(failures.injected > 0, "{workload:?}: {failures:?}");
        }
        // With every allocation failing no pin can be held: nothing to
        // judge the scan by, and the cell says so.
        let mut s = spec(Subject::Scheme("side-tree-sharded"), Workload::Mixed, 0, 2);
        s.gup.failslab = NonZeroU32::new(1);
        s.gup.on_alloc_fail = OnAllocFail::Fail;
        // Named as a refusal, not a panicked thread (no backtrace).
        match run_cell(&s, &params()) {
            Err(RunError::Setup(why)) => assert!(why.contains("none of the"), "{why}"),
            other => panic!("{:?}", other.map(|v| v.cell.subject)),
        }
    }

    #[test]
    fn mixed_and_refstorm_find_the_schemes_false_answers() {
        let mixed = run_cell(
            &spec(Subject::Scheme("plain"), Workload::Mixed, 0, 2),
            &params(),
        )
        .expect("cell")
        .cell;
        // plain is blind: every long-term pin (1 in 8 of 2 x 1024) is missed.
        assert_eq!(mixed.false_negatives, Some(256));
        assert_eq!(mixed.false_positives, Some(0));
        let storm = run_cell(
            &spec(Subject::Scheme("bias"), Workload::Refstorm, 0, 1),
            &params(),
        )
        .expect("cell")
        .cell;
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
        .expect("cell")
        .cell;
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
        .expect("cell")
        .cell;
        assert_eq!(o.max_pins, Some(2_097_151));
        assert!(o.refused > 0);
        let g = run_cell(
            &spec(Subject::Scheme("hybrid"), Workload::Huge, 18, 1),
            &params(),
        )
        .expect("cell")
        .cell;
        assert_eq!(g.folio_order, 18);
        assert_eq!(g.pages_per_call, 1 << 18);
        assert_eq!(g.refused, 0);
    }

    #[test]
    fn noop_runs_over_the_private_layout_and_one_thread_has_no_scaling() {
        let cell = run_cell(&spec(Subject::Noop, Workload::Private, 0, 1), &params())
            .expect("cell")
            .cell;
        assert_eq!(cell.subject, "noop");
        assert!(cell.ns_per_page > 0.0);
        assert_eq!(cell.scaling, None);
        assert_eq!(cell.pairs.solo_pages_per_sec, None);
    }

    #[test]
    fn mixed_has_no_scaling_its_background_threads_are_not_measured() {
        let cell = run_cell(
            &spec(Subject::Scheme("plain"), Workload::Mixed, 0, 2),
            &params(),
        )
        .expect("cell")
        .cell;
        assert_eq!(cell.scaling, None);
    }
}
