//! The results file: the one place its schema lives. Every other part of
//! pinbench writes or reads results only through these types; docs/results.md
//! documents them field by field (a test keeps the
//! two in step). Bump [`SCHEMA_VERSION`] on any change a reader would
//! notice (a field renamed, removed or given a new meaning).
//!
//! The run and its metadata live here, a cell in `cell.rs`, reading and
//! writing in `file.rs` (written to a temporary file in the destination
//! directory and renamed into place, so a reader never sees half a file).

mod cell;
mod census;
pub mod derive;
mod effects;
mod estimate;
mod file;
mod pairs;
mod quiet;
pub mod sample;
mod timed;
mod validate;

pub use cell::{
    AllocFailures, Cell, CellName, Counters, FpByRefs, Isolation, KernelCell, LatencyNs,
    NumaPlacement, TwinCensus, MODEL, SLEEPING_BACKENDS,
};
pub use census::{Census, Lines};
pub use effects::{Collapse, Effects, ForkCost, Migration, PinAnswer};
pub use estimate::{Estimate, NOISY_HALF_WIDTH};
pub use file::{ResultsError, MAX_FILE_BYTES};
pub use pairs::Pairs;
pub use quiet::{
    FloorNs, FloorWork, ProbeNs, Yardstick, Yardsticks, CONCURRENT, HANDOFF, MIN_QUIET_ROUNDS,
    QUIET_FLOOR, QUIET_PROBE, QUIET_SOLO_PROBE, QUIET_THROUGHPUT,
};
use serde::{Deserialize, Serialize};
pub use timed::{Half, KernelTimed};

/// Version of the schema below.
pub const SCHEMA_VERSION: u32 = 10;

/// The earlier versions [`Results::read`] still reads: they kept every
/// round, and their figures are derived again by the current rules (their
/// rounds' visits inferred from the config: every visit measures
/// `pairs / visits` rounds, rounded up).
pub const REDERIVED_VERSIONS: [u32; 6] = [4, 5, 6, 7, 8, 9];

/// Rounds each visit of a run of `pairs` rounds in `visits` visits
/// measures: its share, rounded up to an even number so that its rounds
/// make whole ABBA blocks ([`Pairs::blocks`]).
pub fn rounds_per_visit(pairs: usize, visits: usize) -> usize {
    pairs.div_ceil(visits.max(1)).next_multiple_of(2)
}

/// A cell whose threads got less CPU time than this share of their elapsed
/// time was disturbed by other load on the machine.
pub const DISTURBED_CPU_SHARE: f64 = 0.95;

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
    /// [`QUIET_SOLO_PROBE`] of it ([`Pairs::quiet_solo`]).
    #[serde(default)]
    pub quiet_probe_ns: Vec<ProbeNs>,
    /// The throughput probe of one thread alone on a quiet core (`threads`
    /// 1): the 5th percentile of the probes of the one-thread cells' rounds
    /// and of every cell's solo slices. A one-thread block, or a solo
    /// slice's, is quiet only where its probes are within
    /// [`QUIET_THROUGHPUT`] of it ([`Pairs::quiet`], [`Pairs::quiet_solo`]).
    #[serde(default)]
    pub quiet_throughput_ns: Vec<ProbeNs>,
    /// The contention probe's median per thread count (multi-thread cells):
    /// a round whose probe took less than [`CONCURRENT`] of it did not run
    /// its threads together.
    #[serde(default)]
    pub contention_probe_ns: Vec<ProbeNs>,
    /// The handoff probe's median per thread count (multi-thread cells): a
    /// block whose probe sat more than [`HANDOFF`] above it, or as far
    /// below, ran its threads in another placement on the host.
    #[serde(default)]
    pub handoff_probe_ns: Vec<ProbeNs>,
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
    /// The binary was built without `--release` (debug assertions on, and
    /// the test profile's optimisation): its timings are not a release
    /// build's, and its ratios do not compare with one's.
    #[serde(default)]
    pub debug_build: bool,
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
    #[serde(default = "cell::one")]
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
