//! The results file: the one place its schema lives. Every other part of
//! pinbench writes or reads results only through these types; docs/results.md
//! documents them field by field (a test keeps the
//! two in step). Bump [`SCHEMA_VERSION`] on any change a reader would
//! notice (a field renamed, removed or given a new meaning).
//!
//! Files are written to a temporary file in the destination directory and
//! renamed into place, so a reader never sees half a file.

mod census;
pub mod derive;
mod effects;
mod estimate;
mod quiet;
mod timed;
mod validate;

pub use census::{Census, Lines};
pub use effects::{Collapse, Effects, ForkCost, Migration, PinAnswer};
pub use estimate::{Estimate, NOISY_HALF_WIDTH};
pub use quiet::{
    FloorNs, FloorWork, ProbeNs, Yardstick, Yardsticks, CONCURRENT, MIN_QUIET_ROUNDS, QUIET_FLOOR,
    QUIET_PROBE,
};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use thiserror::Error;
pub use timed::{Half, KernelTimed};

/// Version of the schema below.
pub const SCHEMA_VERSION: u32 = 7;

/// The earlier versions [`Results::read`] still reads: they kept every
/// round, and their figures are derived again by the current rules (their
/// rounds' visits inferred from the config: every visit measures
/// `pairs / visits` rounds, rounded up).
pub const REDERIVED_VERSIONS: [u32; 3] = [4, 5, 6];

/// A cell whose threads got less CPU time than this share of their elapsed
/// time was disturbed by other load on the machine.
pub const DISTURBED_CPU_SHARE: f64 = 0.95;

/// A results file could not be written or read.
#[derive(Debug, Error)]
pub enum ResultsError {
    /// Writing, syncing or renaming failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The destination.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a results file of this schema.
    #[error("{path}: not a pinbench results file: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The file parses but holds what no run can have written.
    #[error("{path}: refused: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, named.
        why: String,
    },
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// True when the run was interrupted: only finished cells are present.
    pub partial: bool,
    /// The machine and the run.
    pub metadata: Metadata,
    /// The options the run used, after defaults.
    pub config: Config,
    /// One line per thing the run left out or could not measure.
    pub notes: Vec<String>,
    /// The machine's state at the start and end of the run: a short paired
    /// measurement of a fixed operation against the floor (`null` for runs
    /// that measured none).
    #[serde(default)]
    pub fingerprint: Option<Fingerprint>,
    /// The floor of a quiet machine, per floor work: the 5th percentile of
    /// the floor slices of the run's cells doing that work. A round is quiet
    /// when its floor slice is within [`QUIET_FLOOR`] of it
    /// ([`Pairs::quiet`]).
    #[serde(default)]
    pub quiet_floor_ns: Vec<FloorNs>,
    /// The clock probe of a quiet machine, per thread count: the 5th
    /// percentile of every round's probe in the run's cells of that many
    /// threads. A solo slice is quiet when its probe is within
    /// [`QUIET_PROBE`] of it ([`Pairs::quiet_solo`]).
    #[serde(default)]
    pub quiet_probe_ns: Vec<ProbeNs>,
    /// The contention probe's median per thread count (multi-thread cells):
    /// a round whose probe took less than [`CONCURRENT`] of it did not run
    /// its threads together.
    #[serde(default)]
    pub contention_probe_ns: Vec<ProbeNs>,
    /// The measurements.
    pub cells: Vec<Cell>,
    /// `pinbench kernel --effects`: what pins did to the running kernel;
    /// absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effects: Option<Effects>,
}

/// A paired ratio of a fixed operation (a `try_get_folio`-style CAS-loop get
/// and put of `_refcount`) over the floor on one thread, taken before the
/// first cell and after the last. Pairing cancels drift, not the machine's
/// state (an SMT sibling's load changes how a locked CAS compares with a
/// locked add): runs whose fingerprints differ were made on a machine in
/// different states, and their ratios should not be read as code changes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Before the first cell.
    pub start: Estimate,
    /// After the last cell; `null` when the run was interrupted first.
    pub end: Option<Estimate>,
    /// The memory-bound fingerprint before the first cell: a chain of
    /// dependent loads through a 16 MiB memmap over the floor, paired;
    /// `null` in files from before it.
    #[serde(default)]
    pub loads_start: Option<Estimate>,
    /// The same after the last cell.
    #[serde(default)]
    pub loads_end: Option<Estimate>,
}

impl Fingerprint {
    /// Whether the two estimates disagree: their confidence intervals do not
    /// overlap and their medians differ by more than [`NOISY_HALF_WIDTH`].
    pub fn differs(a: &Estimate, b: &Estimate) -> bool {
        let apart = a.ci_high < b.ci_low || b.ci_high < a.ci_low;
        apart && (a.median / b.median - 1.0).abs() > NOISY_HALF_WIDTH
    }

    /// Whether the machine changed state during the run, by the atomic
    /// fingerprint.
    pub fn drifted(&self) -> bool {
        self.end.is_some_and(|end| Self::differs(&self.start, &end))
    }
}

/// The machine and the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Host name.
    pub host: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Online CPUs.
    pub cores: usize,
    /// NUMA nodes and their CPUs.
    pub numa_nodes: Vec<NumaNode>,
    /// SLIT distances, `numa_distance[i][j]` from `numa_nodes[i]` to `[j]`.
    pub numa_distance: Vec<Vec<u32>>,
    /// Last-level cache size of CPU 0, bytes.
    pub llc_bytes: Option<u64>,
    /// `MemAvailable` at the start, bytes.
    pub mem_available_bytes: Option<u64>,
    /// Transparent hugepage settings.
    pub thp: Thp,
    /// pinbench version.
    pub pinbench_version: String,
    /// Git commit pinbench was built from (`-dirty` if modified).
    pub git_commit: String,
    /// The full command line.
    pub command_line: Vec<String>,
    /// Start, UTC, RFC 3339.
    pub start_time: String,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// Set when the run was inside an emulated machine (`qemu-tcg`, from
    /// `PINBENCH_VM`): its timings are functional evidence only.
    #[serde(default)]
    pub emulated: Option<String>,
    /// The kernel's build (`uname -v`: on Debian it names the package
    /// version, e.g. `#1 SMP PREEMPT_DYNAMIC Debian 6.1.170-3`), so runs on
    /// kernels of the same release but different builds can be told apart.
    #[serde(default)]
    pub kernel_version: Option<String>,
}

/// One NUMA node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumaNode {
    /// Node id.
    pub id: u32,
    /// Its CPUs.
    pub cpus: Vec<usize>,
}

/// `/sys/kernel/mm/transparent_hugepage` settings (the selected word).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thp {
    /// `enabled`: always, madvise or never.
    pub enabled: Option<String>,
    /// `defrag`.
    pub defrag: Option<String>,
}

/// The options of the run, after defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `--quick` was given.
    pub quick: bool,
    /// Schemes run.
    pub schemes: Vec<String>,
    /// Workloads run.
    pub workloads: Vec<String>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// `--pages-per-call`.
    pub pages_per_call: usize,
    /// `-m/--mib`: simulated memory per thread, MiB.
    pub mib: u64,
    /// Simulated 4 KiB pages per thread (after `--cold`).
    pub pages_per_thread: usize,
    /// `--cold`.
    pub cold: bool,
    /// Measured rounds per cell (each one slice of the subject and one of
    /// the floor, plus a one-thread slice for multi-thread cells).
    pub pairs: usize,
    /// Warm-up rounds per cell (not recorded).
    pub warmup: usize,
    /// Duration of one slice, ms.
    pub slice_ms: u64,
    /// Visits per cell: its rounds measured in this many parts spread over
    /// the run (1 in files of runs before visits).
    #[serde(default = "one")]
    pub visits: usize,
    /// Further visits, at most, to each cell still short of quiet rounds
    /// after its visits (0 in files from before them).
    #[serde(default)]
    pub revisits: usize,
    /// NUMA placements swept.
    pub numa: Vec<String>,
    /// Model runs: how FOLL_PIN calls write MMF_HAS_PINNED
    /// (`--has-pinned-write`): `test-then-set` (v5.14 on) or `always`
    /// (v5.9-v5.13); `null` for kernel runs.
    #[serde(default)]
    pub has_pinned_write: Option<String>,
    /// Model runs: the vmstat threshold at which each memmap node's per-CPU
    /// NR_FOLL_PIN_* diffs fold into the shared counters, by node id.
    #[serde(default)]
    pub vmstat_threshold: std::collections::BTreeMap<u32, i32>,
    /// Model runs: failslab's interval (`--failslab N`: every N-th
    /// allocation that cannot sleep fails); `null` when off.
    #[serde(default)]
    pub failslab: Option<u32>,
    /// Model runs with `--failslab`: what gup does when a pin's record
    /// cannot be allocated, `fail` or `slow-path` (`--on-alloc-fail`).
    #[serde(default)]
    pub on_alloc_fail: Option<String>,
}

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

fn one() -> usize {
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

/// The measured rounds of a cell, index by index: round `i`'s subject
/// slice, floor slice and (multi-thread cells) one-thread slice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pairs {
    /// The subject's slices: mean over measured threads of elapsed ns /
    /// pages.
    pub subject_ns_per_page: Vec<f64>,
    /// The floor's slices, the same.
    pub floor_ns_per_page: Vec<f64>,
    /// The subject's slices: pages of all measured threads / the longest
    /// thread's elapsed time.
    pub pages_per_sec: Vec<f64>,
    /// The one-thread slices' pages/s (thread 0 alone); `null` where the
    /// cell has no scaling.
    pub solo_pages_per_sec: Option<Vec<f64>>,
    /// The clock probe at the start of each round: the slowest thread's ns
    /// (`null` in files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ns: Option<Vec<f64>>,
    /// The contention probe after it (every thread's locked adds on one
    /// shared line, started together): the slowest thread's ns; `null` in
    /// 1-thread cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contention_ns: Option<Vec<f64>>,
    /// The clock probe thread 0 ran at the start of its solo slice, ns;
    /// `null` where the cell has no scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solo_probe_ns: Option<Vec<f64>>,
    /// How many of the rounds, in order, each visit measured (each visit
    /// over a fresh memmap): the units a rerun varies by. `null` in files
    /// written before it was kept: every round is then its own unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit_rounds: Option<Vec<usize>>,
}

impl Pairs {
    /// Each round's visit (0, 1, ...), from [`Pairs::visit_rounds`]; each
    /// round its own where the file has none or it disagrees with the
    /// rounds.
    pub fn visits(&self) -> Vec<usize> {
        let n = self.subject_ns_per_page.len();
        match &self.visit_rounds {
            Some(v) if v.iter().sum::<usize>() == n => v
                .iter()
                .enumerate()
                .flat_map(|(i, &k)| std::iter::repeat_n(i, k))
                .collect(),
            _ => (0..n).collect(),
        }
    }

    /// The values of `xs` (one per round) whose round `mask` keeps.
    pub fn keep(xs: &[f64], mask: &[bool]) -> Vec<f64> {
        xs.iter()
            .zip(mask)
            .filter(|(_, q)| **q)
            .map(|(x, _)| *x)
            .collect()
    }

    /// The per-round ratios subject / floor.
    pub fn x_floor(&self) -> Vec<f64> {
        let floor = &self.floor_ns_per_page;
        self.subject_ns_per_page
            .iter()
            .zip(floor)
            .map(|(s, f)| s / f)
            .collect()
    }

    /// The per-round ratios all threads / thread 0 alone.
    pub fn scaling(&self) -> Option<Vec<f64>> {
        let solo = self.solo_pages_per_sec.as_ref()?;
        Some(
            self.pages_per_sec
                .iter()
                .zip(solo)
                .map(|(all, one)| all / one)
                .collect(),
        )
    }
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

/// The largest results file read (a long default run writes a few MB; a
/// hostile one of 200 MB is still read).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The text of the regular file `path`, refused if it is anything else (a
/// device such as /dev/zero, a FIFO) or larger than [`MAX_FILE_BYTES`].
fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut text = String::new();
    f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        ));
    }
    Ok(text)
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

impl Results {
    /// Serialises into `tmp` (a file in `dest`'s directory) and renames it
    /// to `dest`.
    pub fn write(&self, mut tmp: tempfile::NamedTempFile, dest: &Path) -> Result<(), ResultsError> {
        let err = |source| ResultsError::Write {
            path: dest.display().to_string(),
            source,
        };
        serde_json::to_writer_pretty(&mut tmp, self).map_err(|e| err(e.into()))?;
        tmp.write_all(b"\n").map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(dest).map_err(|e| err(e.error))?;
        Ok(())
    }

    /// Gives every cell without [`Pairs::visit_rounds`] those of its run's
    /// config: visits of `pairs / visits` rounds (rounded up; revisits
    /// measure as many), the last holding what is left.
    fn infer_visits(&mut self) {
        let per = self.config.pairs.div_ceil(self.config.visits.max(1)).max(1);
        for c in &mut self.cells {
            if c.pairs.visit_rounds.is_none() {
                let n = c.pairs.subject_ns_per_page.len();
                let mut v = vec![per; n / per];
                if n % per > 0 {
                    v.push(n % per);
                }
                c.pairs.visit_rounds = Some(v);
            }
        }
    }

    /// Why its values cannot be believed, or `Ok`: what [`Results::read`]
    /// checks of every file.
    pub fn check(&self) -> Result<(), String> {
        validate::check(self)
    }

    /// Reads a results file and checks its version and values.
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let text = read_text(path).map_err(|source| ResultsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        // The version first: a file of another version fails to parse on
        // some renamed field, which would hide the real reason.
        let version = serde_json::from_str::<Version>(&text).map(|v| v.schema_version);
        if let Ok(v) = version {
            if v != SCHEMA_VERSION && !REDERIVED_VERSIONS.contains(&v) {
                return Err(ResultsError::Invalid {
                    path: path.display().to_string(),
                    why: format!(
                        "schema_version {v}: this pinbench reads versions \
                         {REDERIVED_VERSIONS:?} and {SCHEMA_VERSION}"
                    ),
                });
            }
        }
        let mut r: Results = serde_json::from_str(&text).map_err(|source| ResultsError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        if let Some(v) = version.ok().filter(|v| REDERIVED_VERSIONS.contains(v)) {
            r.schema_version = SCHEMA_VERSION;
            r.infer_visits();
            r.derive_again();
            r.notes.push(format!(
                "written as schema_version {v}: its figures were derived again from its rounds \
                 by version {SCHEMA_VERSION}'s rules (rounds judged quiet by their floor slice \
                 against the run's quiet floor for that work; intervals over visits, each of \
                 pairs / visits rounds where the file kept none; scaling withheld where too \
                 few solo slices were quiet)"
            ));
        }
        validate::check(&r).map_err(|why| ResultsError::Invalid {
            path: path.display().to_string(),
            why,
        })?;
        Ok(r)
    }
}

/// Just the version of a results file.
#[derive(Deserialize)]
struct Version {
    schema_version: u32,
}

/// Small synthetic results for tests of the harness and the reports.
#[doc(hidden)]
pub mod sample {
    use super::*;

    /// Threads and memmap on node 0, verified there.
    pub fn numa() -> NumaPlacement {
        NumaPlacement {
            placement: "local".into(),
            cpu_node: 0,
            memmap_node: 0,
            memmap_node_verified: Some(0),
            verified_fraction: 1.0,
            method: "mbind".into(),
        }
    }

    /// A cell of `subject`/`workload` at `threads` with the given timing,
    /// against a floor of 10 ns/page.
    pub fn cell(subject: &str, workload: &str, threads: usize, ns: f64, pps: f64) -> Cell {
        let ratio = ns / FLOOR_NS;
        let estimate = |median: f64| Estimate {
            median,
            ci_low: median * 0.99,
            ci_high: median * 1.01,
            n: 1,
        };
        let name = CellName {
            subject: subject.into(),
            backend: MODEL.into(),
            workload: workload.into(),
            threads,
            pages_per_call: 512,
            folio_order: 0,
        };
        Cell {
            ns_per_page: ns,
            floor_ns_per_page: FLOOR_NS,
            pages_per_sec: pps,
            x_floor: estimate(ratio),
            scaling: (threads > 1).then(|| estimate(threads as f64 * 0.95)),
            cpu_share: Some(1.0),
            latency_ns: LatencyNs {
                p50: 1,
                p90: 2,
                p99: 3,
                p999: 4,
                max: 5,
            },
            counters: Counters {
                task_clock_ns: Some(1),
                context_switches: Some(0),
                ..Counters::default()
            },
            false_positives: Some(0),
            false_negatives: Some(0),
            metadata_bytes: Some(64),
            tracking_peak_bytes: Some(0),
            tracking_steady_bytes: Some(0),
            memmap_pages: 1,
            memmap_bytes: 64,
            memmap_rss_bytes: Some(4096),
            pairs: Pairs {
                subject_ns_per_page: vec![ns],
                floor_ns_per_page: vec![FLOOR_NS],
                pages_per_sec: vec![pps],
                solo_pages_per_sec: (threads > 1).then(|| vec![pps / (threads as f64 * 0.95)]),
                probe_ns: None,
                contention_ns: None,
                solo_probe_ns: None,
                visit_rounds: None,
            },
            ..Cell::unmeasured(name, numa(), None)
        }
    }

    /// The floor of [`cell`]'s cells, ns/page.
    pub const FLOOR_NS: f64 = 10.0;

    /// A real-kernel cell of `backend`.
    pub fn kernel_cell(backend: &str, subject: &str, threads: usize, ns: f64, pps: f64) -> Cell {
        let mut c = cell(subject, "private", threads, ns, pps);
        c.backend = backend.into();
        c.kernel = Some(KernelCell {
            thp: false,
            backing: "4k".into(),
            thp_bytes: Some(0),
            buffer_bytes: 2 << 20,
            pins_acquired: Some(512),
            pins_released: Some(512),
            pins_balanced: Some(true),
            foreign_pins: false,
            expects_pins: true,
            in_kernel_ns_per_page: None,
            twin: None,
            pins_kept_per_page: None,
        });
        c
    }

    /// A run holding `cells`.
    pub fn results(cells: Vec<Cell>) -> Results {
        Results {
            schema_version: SCHEMA_VERSION,
            partial: false,
            metadata: Metadata {
                host: "h".into(),
                kernel: "6.18".into(),
                cpu_model: "cpu".into(),
                cores: 2,
                numa_nodes: vec![NumaNode {
                    id: 0,
                    cpus: vec![0, 1],
                }],
                numa_distance: vec![vec![10]],
                llc_bytes: Some(1),
                mem_available_bytes: Some(1),
                thp: Thp {
                    enabled: Some("madvise".into()),
                    defrag: Some("madvise".into()),
                },
                pinbench_version: "0".into(),
                git_commit: "x".into(),
                command_line: vec!["pinbench".into()],
                start_time: "2025-01-01T00:00:00Z".into(),
                duration_s: 1.0,
                emulated: None,
                kernel_version: Some("#1 SMP PREEMPT_DYNAMIC".into()),
            },
            config: Config {
                quick: true,
                schemes: vec![],
                workloads: vec![],
                threads: vec![1, 2],
                pages_per_call: 512,
                mib: 128,
                pages_per_thread: 32768,
                cold: false,
                pairs: 5,
                warmup: 1,
                slice_ms: 2,
                visits: 4,
                revisits: 2,
                numa: vec!["local".into()],
                has_pinned_write: Some("test-then-set".into()),
                vmstat_threshold: Default::default(),
                failslab: None,
                on_alloc_fail: None,
            },
            notes: vec![],
            fingerprint: Some(Fingerprint {
                start: Estimate {
                    median: 1.15,
                    ci_low: 1.14,
                    ci_high: 1.16,
                    n: 20,
                },
                end: None,
                loads_start: None,
                loads_end: None,
            }),
            quiet_floor_ns: crate::Yardsticks::of(&cells).quiet_floor,
            quiet_probe_ns: vec![ProbeNs {
                threads: 1,
                ns: 3100.0,
            }],
            contention_probe_ns: vec![],
            cells,
            effects: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(v: &serde_json::Value, out: &mut BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.insert(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    #[test]
    fn results_round_trip_through_a_renamed_file() {
        let r = sample::results(vec![sample::cell("plain", "private", 1, 4.0, 2.5e8)]);
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        std::fs::write(&dest, "old").expect("write");
        let tmp = tempfile::NamedTempFile::new_in(dir.path()).expect("tmp");
        r.write(tmp, &dest).expect("write");
        assert_eq!(Results::read(&dest).expect("read"), r);
        // only the destination is left
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
        let text = std::fs::read_to_string(&dest).expect("text");
        assert!(text.contains("\"cycles\": null"), "{text}");
    }

    #[test]
    fn a_version_4_file_is_derived_again_and_others_are_refused() {
        let mut one = sample::cell("plain", "private", 1, 4.0, 2.5e8);
        let mut two = sample::cell("bias", "private", 1, 4.0, 2.5e8);
        let n = 8;
        for c in [&mut one, &mut two] {
            c.pairs.subject_ns_per_page = vec![4.0; n];
            c.pairs.floor_ns_per_page = vec![2.0; n];
            c.pairs.pages_per_sec = vec![2.5e8; n];
            c.pairs.solo_pages_per_sec = None;
        }
        // Schema 6 judged rounds by the clock probe: these read quiet.
        one.pairs.probe_ns = Some(vec![3100.0; n]);
        two.pairs.probe_ns = Some(vec![3100.0; n]);
        // The floor says the second cell ran busy throughout.
        two.pairs.floor_ns_per_page = vec![2.5; n];
        let mut r = sample::results(vec![one, two]);
        r.schema_version = REDERIVED_VERSIONS[0];
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v4.json");
        let write = |r: &Results| {
            std::fs::write(&path, serde_json::to_string(r).expect("json")).expect("write")
        };
        write(&r);
        let read = Results::read(&path).expect("a version 4 file is read");
        assert_eq!(read.schema_version, SCHEMA_VERSION);
        assert!(read.notes.iter().any(|n| n.contains("derived again")));
        let busy: Vec<bool> = read.cells.iter().map(|c| c.busy).collect();
        assert_eq!(
            busy,
            vec![false, true],
            "judged by the quiet floor of the work both cells do"
        );
        assert_eq!(read.quiet_floor_ns.len(), 1);
        assert_eq!(read.cells[0].x_floor.median, 2.0);
        for v in [3, SCHEMA_VERSION + 1] {
            r.schema_version = v;
            write(&r);
            let e = Results::read(&path).expect_err("refused").to_string();
            assert!(e.contains(&format!("schema_version {v}")), "{e}");
        }
    }

    #[test]
    fn docs_results_documents_every_field() {
        let section = include_str!("../../docs/results.md");
        let mut storm = sample::cell("bias", "refstorm", 1, 1.0, 1.0);
        storm.fp_by_refs = Some(vec![FpByRefs {
            refs_min: 0,
            refs_max: 1022,
            pages: 1,
            false_positives: 0,
        }]);
        let mut mixed = sample::cell("flag", "mixed", 1, 1.0, 1.0);
        mixed.isolation = Some(Isolation {
            isolated: 32,
            false_negatives: 0,
            lru_lost: 32,
        });
        let mut r = sample::results(vec![
            mixed,
            sample::cell("plain", "private", 1, 1.0, 1.0),
            sample::kernel_cell("io-uring", "register-buffers", 1, 1.0, 1.0),
            storm,
        ]);
        r.metadata.emulated = Some("qemu-tcg".into());
        let v = serde_json::to_value(r).expect("json");
        let mut all = BTreeSet::new();
        keys(&v, &mut all);
        let missing: Vec<_> = all
            .iter()
            .filter(|k| !section.contains(&format!("`{k}`")))
            .collect();
        assert!(missing.is_empty(), "docs/results.md lacks {missing:?}");
    }
}
