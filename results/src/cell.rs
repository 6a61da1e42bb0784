//! One cell of a run: what it measured, per round and summed up, and
//! what names it.

use crate::{derive, Census, Estimate, KernelTimed, Pairs, DISTURBED_CPU_SHARE};
use serde::{Deserialize, Serialize};

/// One measurement: a subject (a scheme, or `noop`) running one workload at
/// one thread count, placement, batch size and folio order, paired slice by
/// slice with the floor over the same memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Scheme name, or `noop`; for kernel cells the gup flavour measured
    /// (`pin-fast`, `pin-longterm`, `register-buffers`, ...).
    pub subject: String,
    /// `model` for the simulated schemes, else the real-kernel backend
    /// (`gup-test`, `shim`, `io-uring`, `process-vm`).
    #[serde(default = "model")]
    pub backend: String,
    /// Real-kernel facts of a kernel cell; `null` for model cells.
    #[serde(default)]
    pub kernel: Option<KernelCell>,
    /// Workload name.
    pub workload: String,
    /// Threads.
    pub threads: usize,
    /// Where threads and memmap were.
    pub numa: NumaPlacement,
    /// Pages per batch call.
    pub pages_per_call: usize,
    /// Folio order of the pages worked on.
    pub folio_order: u8,
    /// Median over the subject's slices of the mean per-thread ns per page.
    pub ns_per_page: f64,
    /// Median over the floor's slices of the same.
    pub floor_ns_per_page: f64,
    /// Median over the subject's slices of pages per second, all measured
    /// threads.
    pub pages_per_sec: f64,
    /// The subject's ns/page over the floor's, one ratio per pair of
    /// adjacent slices: median and 95% confidence interval.
    pub x_floor: Estimate,
    /// Multi-thread cells: pages/s of all threads over pages/s of thread 0
    /// working alone, one ratio per round: median and 95% CI; `null` for one
    /// thread, or where the other threads are not measured (`mixed`).
    pub scaling: Option<Estimate>,
    /// The CI half-width of `x_floor` (or of `scaling`) passes 2% of its
    /// median.
    pub noisy: bool,
    /// Rounds set aside because the machine was busy in them (their floor
    /// slice ran more than [`QUIET_FLOOR`] slower than the run's quiet floor
    /// for that work) or their threads did not run together (their contention probe
    /// under [`CONCURRENT`] of the run's median); the figures above come
    /// from the other rounds.
    #[serde(default)]
    pub disturbed_rounds: usize,
    /// Fewer than [`MIN_QUIET_ROUNDS`] of the cell's rounds were quiet: its
    /// figures are over all rounds, mostly of a busy machine, and are not
    /// comparable with a quiet cell's.
    #[serde(default)]
    pub busy: bool,
    /// Several threads with a solo slice, but fewer than
    /// [`MIN_QUIET_ROUNDS`] rounds quiet in it too: `scaling` is withheld
    /// (`null`), not absent.
    #[serde(default)]
    pub scaling_withheld: bool,
    /// Task-clock of the measured threads over their elapsed time; below
    /// [`DISTURBED_CPU_SHARE`] other load shared their CPUs.
    pub cpu_share: Option<f64>,
    /// Per-call latency.
    pub latency_ns: LatencyNs,
    /// perf-event counters, summed over measured threads and repetitions.
    pub counters: Counters,
    /// Pages wrongly reported pinned in one pass (worst pass).
    pub false_positives: Option<u64>,
    /// Pinned pages reported unpinned in one pass (worst pass).
    pub false_negatives: Option<u64>,
    /// Fewest ordinary references that made an unpinned page read pinned.
    pub fp_threshold_refs: Option<u64>,
    /// `refstorm`: false positives by ordinary reference count, from an
    /// untimed pass at the end of the cell; `None` for other workloads.
    #[serde(default)]
    pub fp_by_refs: Option<Vec<FpByRefs>>,
    /// `mixed`: what a reclaim-like isolation round found; `None` for other
    /// workloads.
    #[serde(default)]
    pub isolation: Option<Isolation>,
    /// Pin calls refused.
    pub refused: u64,
    /// Most pins one page accepted (overflow).
    pub max_pins: Option<u64>,
    /// Bytes of pin tracking: bytes per page times memmap pages, plus side
    /// structures at the end of the cell.
    pub tracking_bytes: u64,
    /// Model cells: every byte of page metadata under the scheme's design,
    /// `struct page` included where the design keeps it (`memdesc` replaces
    /// it with its own words and descriptors); `null` for calibration and
    /// kernel cells.
    #[serde(default)]
    pub metadata_bytes: Option<u64>,
    /// Model cells: the most bytes of pin tracking held at once during the
    /// cell (side structures' high-water mark, nodes waiting for an RCU
    /// grace period included); `null` for calibration and kernel cells.
    #[serde(default)]
    pub tracking_peak_bytes: Option<u64>,
    /// Model cells: bytes of pin tracking after the cell released its pins
    /// and the grace periods of every freed node ended: the steady state.
    #[serde(default)]
    pub tracking_steady_bytes: Option<u64>,
    /// Model cells run with `--failslab`: allocations failed and what gup
    /// made of them; `null` otherwise.
    #[serde(default)]
    pub alloc_failures: Option<AllocFailures>,
    /// Pages in the memmap.
    pub memmap_pages: usize,
    /// Bytes of `struct page` in the memmap.
    pub memmap_bytes: u64,
    /// Bytes of the memmap resident in RAM at the end (`mincore`).
    pub memmap_rss_bytes: Option<u64>,
    /// Model cells: bytes of the memmap the host backed with 2 MiB pages
    /// (`AnonHugePages` in smaps), the least of the visits whose smaps
    /// could be read: 0, as the memmap refuses them (`MADV_NOHUGEPAGE`);
    /// `null` where smaps could not be read, and in files from before
    /// schema 9.
    #[serde(default)]
    pub memmap_thp_bytes: Option<u64>,
    /// Model cells: what the cell's code did per page, counted in an
    /// untimed pass (`null` for calibration and kernel cells, and in files
    /// from before the census).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub census: Option<Census>,
    /// Imported cells (`pinbench import gup-test`): what the kernel timed
    /// itself, unit by unit; absent otherwise. Such a cell has no rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_timed: Option<KernelTimed>,
    /// The raw per-slice values, so later tools can recompute.
    pub pairs: Pairs,
}

fn base_backing() -> String {
    "4k".into()
}

pub(crate) fn one() -> usize {
    1
}

fn model() -> String {
    MODEL.to_string()
}

/// `backend` of the model's cells.
pub const MODEL: &str = "model";

/// What a real-kernel cell adds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelCell {
    /// THP was asked for (`madvise(MADV_HUGEPAGE)`).
    pub thp: bool,
    /// How the buffers were backed: `4k`, `thp`, `hugetlb-2M`, `hugetlb-1G`.
    #[serde(default = "base_backing")]
    pub backing: String,
    /// Bytes of the buffers the kernel backed with THP (`AnonHugePages`).
    pub thp_bytes: Option<u64>,
    /// Bytes of each thread's buffer.
    pub buffer_bytes: u64,
    /// FOLL_PIN pins the kernel counted (`nr_foll_pin_acquired`) over the
    /// cell, warm-up included; `null` where /proc/vmstat lacks it.
    pub pins_acquired: Option<u64>,
    /// Pins it counted released (`nr_foll_pin_released`).
    pub pins_released: Option<u64>,
    /// `pins_acquired == pins_released` once the cell was done.
    pub pins_balanced: Option<bool>,
    /// Another process pinned or unpinned around the cell (seen in idle
    /// windows before it and, when unbalanced, after it): the counts are
    /// not this cell's alone, and an imbalance is not called a leak.
    #[serde(default)]
    pub foreign_pins: bool,
    /// Whether this path should take FOLL_PIN pins at all (FOLL_GET paths
    /// should not).
    pub expects_pins: bool,
    /// ns per page the kernel itself measured inside its gup calls
    /// (gup_test, pin_shim), without the syscall; `null` for other backends.
    pub in_kernel_ns_per_page: Option<f64>,
    /// A pin_shim twin's cell: its structure measured in the kernel while
    /// one thread's buffer was held with it and after release, and a timed
    /// `maybe_dma_pinned` pass over the held pages; `null` otherwise.
    #[serde(default)]
    pub twin: Option<TwinCensus>,
    /// io-uring only: FOLL_PIN pins the kernel keeps per page of one
    /// registered buffer, read from the refreshed counters while it is
    /// registered, after the cell: 1 for 4 KiB pages; for large folios
    /// `io_do_coalesce_buffer()` unpins all but one pin per folio, so
    /// 1/512 for PMD THPs. `null` for other backends, or where another
    /// process pinned meanwhile.
    #[serde(default)]
    pub pins_kept_per_page: Option<f64>,
}

/// What a pin_shim twin's own structure held, read from the module
/// (`PIN_SHIM_TWIN_STATS`) after the cell, around one untimed hold of a
/// thread's buffer with the twin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TwinCensus {
    /// Pages held.
    pub pages: u64,
    /// Bytes of the twin's structure before the hold.
    pub bytes_before: u64,
    /// While the pages were held.
    pub bytes_held: u64,
    /// After they were released: equal to `bytes_before` unless the twin
    /// leaks.
    pub bytes_after: u64,
    /// Records the twin held while the pages were held: one per folio.
    pub entries_held: u64,
    /// xarray: `xa_node`s in its trees while held; exact: 0.
    pub nodes_held: u64,
    /// ns per page of the twin's `maybe_dma_pinned` over the held pages
    /// (`PIN_SHIM_LOOKUP`, in the kernel).
    pub lookup_ns_per_page: f64,
    /// Pins the twin failed for want of memory since the module was loaded.
    pub alloc_failures: u64,
    /// pfns a fixed structure covers (exact's arrays: its bytes do not grow
    /// with pins); 0 for a structure that grows with them (xarray).
    #[serde(default)]
    pub pfns_covered: u64,
}

impl TwinCensus {
    /// The twin's bytes per 4 KiB page: a fixed structure over the pfns it
    /// covers, a growing one by what the hold added per page held.
    pub fn bytes_per_page(&self) -> f64 {
        if self.pfns_covered > 0 {
            self.bytes_held as f64 / self.pfns_covered as f64
        } else {
            self.bytes_held.saturating_sub(self.bytes_before) as f64 / self.pages.max(1) as f64
        }
    }
}

/// Consecutive ordinary reference counts that gave the same answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FpByRefs {
    /// Fewest ordinary references in the run.
    pub refs_min: u64,
    /// Most ordinary references in the run.
    pub refs_max: u64,
    /// Unpinned pages holding each reference count of the run.
    pub pages: u64,
    /// Of those, how many read as pinned, at each count of the run.
    pub false_positives: u64,
}

/// `mixed`'s isolation round: pages a reclaim-like isolator took off their
/// LRU onto a private list, then pinned, checked and put back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// Pages isolated and pinned (all threads).
    pub isolated: u64,
    /// Of those, pinned pages that read as unpinned.
    pub false_negatives: u64,
    /// Pages the isolator's private list lost: their `lru` words were
    /// overwritten while they were on it.
    pub lru_lost: u64,
}

impl Isolation {
    /// `false negatives/lost of isolated`, as the report and summary print it.
    pub fn short(&self) -> String {
        format!(
            "{}/{} of {}",
            self.false_negatives, self.lru_lost, self.isolated
        )
    }
}

/// Side-structure allocations failslab failed in a cell, and what gup did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocFailures {
    /// Allocations failed.
    pub injected: u64,
    /// gup-fast calls finished on the slow path after a failure.
    pub fallbacks: u64,
    /// Pin calls that failed with -ENOMEM.
    pub failed_pins: u64,
}

impl std::ops::Add for AllocFailures {
    type Output = Self;

    /// The counts of two visits or cells together.
    fn add(self, o: Self) -> Self {
        Self {
            injected: self.injected + o.injected,
            fallbacks: self.fallbacks + o.fallbacks,
            failed_pins: self.failed_pins + o.failed_pins,
        }
    }
}

/// Where a cell ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumaPlacement {
    /// `local` or `remote`.
    pub placement: String,
    /// Node whose CPUs ran the threads.
    pub cpu_node: u32,
    /// Node the memmap was asked for.
    pub memmap_node: u32,
    /// Node `move_pages` found most of the memmap on.
    pub memmap_node_verified: Option<u32>,
    /// Share of sampled memmap pages on that node.
    pub verified_fraction: f64,
    /// `mbind` or `first-touch`.
    pub method: String,
}

/// Quantiles of per-call latency, ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyNs {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

/// perf-event counter totals; `null` where unsupported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// CPU cycles.
    pub cycles: Option<u64>,
    /// Instructions.
    pub instructions: Option<u64>,
    /// Cache misses.
    pub cache_misses: Option<u64>,
    /// Task clock, ns.
    pub task_clock_ns: Option<u64>,
    /// Context switches.
    pub context_switches: Option<u64>,
}

impl Counters {
    /// Sums two threads' counts; a counter missing on either side is missing.
    pub fn sum(self, o: Counters) -> Counters {
        fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            Some(a? + b?)
        }
        Counters {
            cycles: add(self.cycles, o.cycles),
            instructions: add(self.instructions, o.instructions),
            cache_misses: add(self.cache_misses, o.cache_misses),
            task_clock_ns: add(self.task_clock_ns, o.task_clock_ns),
            context_switches: add(self.context_switches, o.context_switches),
        }
    }
}

/// Kernel backends whose calls sleep (on the device's I/O): their threads'
/// CPU share is low by design, not because of other load.
pub const SLEEPING_BACKENDS: [&str; 1] = ["direct-io"];

/// What names a cell: the subject, where and how it ran.
#[derive(Clone, Debug, PartialEq)]
pub struct CellName {
    /// Scheme or flavour.
    pub subject: String,
    /// `model` or the backend.
    pub backend: String,
    /// Workload.
    pub workload: String,
    /// Threads.
    pub threads: usize,
    /// Pages per call.
    pub pages_per_call: usize,
    /// Folio order.
    pub folio_order: u8,
}

impl Cell {
    /// A cell of `name` at `numa` with nothing measured yet: every figure
    /// 0 or absent, for its measurer (or importer) to fill.
    pub fn unmeasured(name: CellName, numa: NumaPlacement, kernel: Option<KernelCell>) -> Cell {
        Cell {
            subject: name.subject,
            backend: name.backend,
            kernel,
            workload: name.workload,
            threads: name.threads,
            numa,
            pages_per_call: name.pages_per_call,
            folio_order: name.folio_order,
            ns_per_page: 0.0,
            floor_ns_per_page: 0.0,
            pages_per_sec: 0.0,
            x_floor: derive::or_zero(None),
            scaling: None,
            noisy: false,
            disturbed_rounds: 0,
            busy: false,
            scaling_withheld: false,
            cpu_share: None,
            latency_ns: LatencyNs::default(),
            counters: Counters::default(),
            false_positives: None,
            false_negatives: None,
            fp_threshold_refs: None,
            fp_by_refs: None,
            isolation: None,
            refused: 0,
            max_pins: None,
            tracking_bytes: 0,
            metadata_bytes: None,
            tracking_peak_bytes: None,
            tracking_steady_bytes: None,
            alloc_failures: None,
            memmap_pages: 0,
            memmap_bytes: 0,
            memmap_rss_bytes: None,
            memmap_thp_bytes: None,
            census: None,
            kernel_timed: None,
            pairs: Pairs::default(),
        }
    }

    /// What tells this cell from every other of its run: backend, subject,
    /// backing, workload, folio order, pages per call, threads, placement.
    pub fn identity(&self) -> String {
        format!(
            "{}/{}{} {} order {} {} pages/call {}T {}",
            self.backend,
            self.subject,
            self.kernel.as_ref().map_or(String::new(), |k| format!(
                " [{} {} MiB]",
                k.backing,
                k.buffer_bytes >> 20
            )),
            self.workload,
            self.folio_order,
            self.pages_per_call,
            self.threads,
            self.numa.placement
        )
    }

    /// True when other load took a noticeable share of the cell's CPUs
    /// (never for a backend whose calls sleep on I/O).
    pub fn disturbed(&self) -> bool {
        !SLEEPING_BACKENDS.contains(&self.backend.as_str())
            && self.cpu_share.is_some_and(|s| s < DISTURBED_CPU_SHARE)
    }
}
