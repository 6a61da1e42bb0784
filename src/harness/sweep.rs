//! What every measuring command (`run`, `kernel`) sweeps, checked against
//! the machine before anything is measured or written: the thread counts,
//! where threads run, the memory placements, and how each cell is sliced
//! ([`Params`]). A refusal names the bad value ([`PlanError`]; exit code 2).
//! The model's plan ([`super::plan`]) and the kernel's
//! ([`crate::kernel::plan`]) add what they cross it with.

use super::cell::Numa;
use super::paired::Params;
use super::visits::Visits;
use crate::machine::Machine;
use crate::metrics::counters::Availability;
use pin_results::{rounds_per_visit, Config};
use std::time::Duration;
use thiserror::Error;

/// Bad input, named.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    /// An unknown scheme.
    #[error("unknown scheme '{0}' (known: {1})")]
    UnknownScheme(String, String),
    /// An unknown workload.
    #[error("unknown workload '{0}' (known: {1})")]
    UnknownWorkload(String, String),
    /// A name given twice.
    #[error("{0} '{1}' given twice")]
    Duplicate(&'static str, String),
    /// Zero threads.
    #[error("--threads 0: a cell needs at least 1 thread")]
    ZeroThreads,
    /// More threads than CPUs.
    #[error("--threads {0}: only {1} CPUs available on node {2}")]
    TooManyThreads(usize, usize, u32),
    /// A zero that must not be.
    #[error("{0} 0: must be at least 1")]
    Zero(&'static str),
    /// A value past its bound.
    #[error("{0} {1}: at most {2}")]
    TooLarge(&'static str, u64, u64),
    /// `--pairs` whose visits, each measuring whole ABBA blocks, come to
    /// more rounds than a cell may measure.
    #[error("--pairs {0} in {1} visits: each visit measures {2} rounds (an even share), {3} in all; at most {4}")]
    PairsInVisits(usize, usize, usize, u64, u64),
    /// `--pages-per-call` larger than a thread's memory.
    #[error("--pages-per-call {0}: larger than the {1} pages per thread of -m/--mib")]
    PagesPerCall(usize, usize),
    /// A node that does not exist or cannot run threads.
    #[error("{0} {1}: {2}")]
    Node(&'static str, u32, &'static str),
    /// An unknown NUMA placement.
    #[error("--numa '{0}': expected local or remote")]
    Placement(String),
    /// A memory node with `--numa`.
    #[error("{0} {1} places the memory itself: drop --numa")]
    NodeAndSweep(&'static str, u32),
    /// A `--backend` that is unknown or cannot run here.
    #[error("--backend '{0}': {1}")]
    Backend(String, &'static str),
    /// A batch io_uring cannot register.
    #[error("--pages-per-call {0}: io_uring registers at most 1 GiB ({1} pages) per buffer; use fewer pages per call or drop io-uring from --backend")]
    IoUringBuffer(usize, usize),
    /// A `--thp` word.
    #[error("--thp '{0}': expected off, on, hugetlb or hugetlb-1g")]
    Thp(String),
    /// A `--dio-file` that direct-io cannot read, or that would not pin.
    #[error("--dio-file {0}: {1}")]
    DioFile(String, String),
    /// The memory would not fit.
    #[error("{0}: the cells need {1} MiB but MemAvailable is {2} MiB")]
    Memory(String, u64, u64),
}

/// The sweep's options as given (None = not given).
#[derive(Clone, Debug, Default)]
pub struct SweepOptions {
    /// `--quick`.
    pub quick: bool,
    /// `--threads`.
    pub threads: Option<Vec<usize>>,
    /// `--pairs`.
    pub pairs: Option<usize>,
    /// `--warmup`.
    pub warmup: Option<usize>,
    /// `--slice-ms`.
    pub slice_ms: Option<u64>,
    /// `--visits`.
    pub visits: Option<usize>,
    /// `--revisits`.
    pub revisits: Option<usize>,
    /// `--cpu-node`.
    pub cpu_node: Option<u32>,
    /// `--numa`.
    pub numa: Option<Vec<String>>,
    /// The node the command's memory goes on, and the flag that named it
    /// (`--memmap-node`, `--buffer-node`).
    pub memory_node: Option<(&'static str, u32)>,
}

/// The checked sweep.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// Thread counts, in order, each once.
    pub threads: Vec<usize>,
    /// Placements, each with the threads' CPUs and the memory's node.
    pub placements: Vec<Numa>,
    /// Measured rounds per cell.
    pub pairs: usize,
    /// Warm-up rounds at the start of each visit.
    pub warmup: usize,
    /// Slice length, ms.
    pub slice_ms: u64,
    /// Visits per cell: its rounds are measured in this many parts, spread
    /// over the run.
    pub visits: usize,
    /// Further visits, at most, to the cells still short of quiet rounds.
    pub revisits: usize,
    /// `--quick`: no revisit starts after this much of the run.
    pub revisit_until: Option<Duration>,
    /// Lines about what was left out.
    pub notes: Vec<String>,
}

/// What a plan adds to the sweep in the results file's config.
pub struct Scope {
    /// Schemes (the model) or backends (the kernel).
    pub schemes: Vec<String>,
    /// Workloads.
    pub workloads: Vec<String>,
    /// `--pages-per-call`.
    pub pages_per_call: usize,
    /// `-m/--mib`.
    pub mib: u64,
    /// Pages per thread.
    pub pages_per_thread: usize,
    /// `--cold`.
    pub cold: bool,
}

impl Sweep {
    /// The results file's config: `scope`, and the sweep after defaults.
    pub fn config(&self, quick: bool, scope: Scope) -> Config {
        Config {
            quick,
            schemes: scope.schemes,
            workloads: scope.workloads,
            threads: self.threads.clone(),
            pages_per_call: scope.pages_per_call,
            mib: scope.mib,
            pages_per_thread: scope.pages_per_thread,
            cold: scope.cold,
            pairs: self.pairs,
            warmup: self.warmup,
            slice_ms: self.slice_ms,
            visits: self.visits,
            revisits: self.revisits,
            numa: self
                .placements
                .iter()
                .map(|p| p.placement.to_string())
                .collect(),
            has_pinned_write: None,
            vmstat_threshold: Default::default(),
            failslab: None,
            on_alloc_fail: None,
        }
    }

    /// How often the session visits each cell.
    pub fn visits(&self) -> Visits {
        Visits {
            passes: self.visits,
            revisits: self.revisits,
            until: self.revisit_until,
        }
    }

    /// How each visit of a cell is measured, with the counters this machine
    /// has: its share of the rounds, and the warm-up every visit pays.
    pub fn params(&self, counters: Availability) -> Params {
        Params {
            warmup: self.warmup,
            pairs: rounds_per_visit(self.pairs, self.visits),
            slice: Duration::from_millis(self.slice_ms),
            counters,
        }
    }
}

/// Slice length, ms (why 2: docs/method.md, "How a cell is measured").
pub const DEFAULT_SLICE_MS: u64 = 2;
/// Measured rounds: 8 visits of 12, 6 ABBA blocks each (`--quick`: 5
/// visits of 8).
const DEFAULT_PAIRS: usize = 96;
const QUICK_PAIRS: usize = 40;
/// Warm-up rounds of each visit: the first slices after a memmap is built
/// pay its page faults and cache misses.
const DEFAULT_WARMUP: usize = 2;
/// `--quick`: 1, to keep the whole matrix within a minute (the 730 cell
/// visits of a full `--quick` run measured 44 s of its 58 on the 2-vCPU
/// EPYC VM, a fifth of it warm-up). Measured there in five runs with one
/// and five with two, interleaved: the first measured block of a visit
/// read within 0.25% of the visit's other blocks (the median over cells'
/// visits) in every workload at one thread, with one warm-up round as
/// with two.
const QUICK_WARMUP: usize = 1;
/// Visits per cell: the machine's state (an SMT sibling's load outside the
/// VM) changes on a scale of seconds and shifts ratios that pairing cannot
/// cancel; eight visits spread over the run let every cell see the same mix
/// and give each a chance of quiet rounds.
const DEFAULT_VISITS: usize = 8;
/// `--quick`: 5, to keep the whole sweep within a minute on 2 cores (a
/// visit costs its cell about 30 ms of building and warm-up: on the 2-vCPU
/// VM the whole `--quick` matrix without revisits took 52 s in 4 visits of
/// 10 rounds, 54 s in 5 of 8 and 63 s in 6 of 8). A fifth visit narrows
/// the interval over visits (`t(0.975, 4)` is 2.78, `t(0.975, 3)` 3.18).
const QUICK_VISITS: usize = 5;
// Revisits: a cell still short of quiet rounds after its visits (busy, or
// its scaling withheld) is visited again, by default up to half as many
// times more (`visits / 2`), each time adding its share of rounds: the
// machine's busy spells last seconds to minutes, and a later visit may find
// it quiet. None by default on an emulated machine, whose timings are no
// evidence.
/// `--quick`: 2 revisits, none started after 53 s, so the sweep still
/// ends within a minute.
const QUICK_REVISITS: usize = 2;
const QUICK_REVISIT_UNTIL: Duration = Duration::from_secs(53);
const MAX_VISITS: u64 = 1_000;
/// Bounds that keep a run finite and its arithmetic in range.
const MAX_PAIRS: u64 = 100_000;
const MAX_WARMUP: u64 = 10_000;
const MAX_SLICE_MS: u64 = 10_000;

/// Refuses a name given twice.
pub fn unique<T: PartialEq>(
    flag: &'static str,
    xs: &[T],
    name: impl Fn(&T) -> String,
) -> Result<(), PlanError> {
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(PlanError::Duplicate(flag, name(x)));
        }
    }
    Ok(())
}

/// Checks `opts` against `machine`.
pub fn sweep(opts: &SweepOptions, machine: &Machine) -> Result<Sweep, PlanError> {
    let topo = &machine.topology;
    let cpu_node = match opts.cpu_node {
        Some(n) => n,
        None => {
            topo.first_cpu_node()
                .ok_or(PlanError::Node("--cpu-node", 0, "no node has CPUs"))?
        }
    };
    let cpus = machine.node_cpus(cpu_node).ok_or(PlanError::Node(
        "--cpu-node",
        cpu_node,
        "no such NUMA node",
    ))?;
    if cpus.is_empty() {
        return Err(PlanError::Node(
            "--cpu-node",
            cpu_node,
            "has no CPUs this process may use",
        ));
    }
    let threads = threads(opts, cpus.len(), cpu_node)?;
    let (pairs, warmup, slice_ms, visits) = timing(opts)?;
    let emulated = crate::machine::host::emulated().is_some();
    let revisits = revisits(opts, pairs, visits, emulated)?;
    let mut notes = Vec::new();
    let mut placements = Vec::new();
    for (placement, node) in nodes(opts, machine, cpu_node, &mut notes)? {
        let memmap_cpus =
            machine
                .node_cpus(node)
                .ok_or(PlanError::Node("--numa", node, "no such NUMA node"))?;
        placements.push(Numa {
            placement,
            cpu_node,
            cpus: cpus.clone(),
            memmap_node: node,
            memmap_cpus,
        });
    }
    Ok(Sweep {
        threads,
        placements,
        pairs,
        warmup,
        slice_ms,
        visits,
        revisits,
        revisit_until: opts.quick.then_some(QUICK_REVISIT_UNTIL),
        notes,
    })
}

fn threads(opts: &SweepOptions, ncpus: usize, cpu_node: u32) -> Result<Vec<usize>, PlanError> {
    let threads: Vec<usize> = match &opts.threads {
        Some(t) => t.clone(),
        None if opts.quick => {
            let mut t = vec![1, ncpus];
            t.dedup();
            t
        }
        None => (1..=ncpus).collect(),
    };
    unique("--threads", &threads, |t| t.to_string())?;
    for &t in &threads {
        if t == 0 {
            return Err(PlanError::ZeroThreads);
        }
        if t > ncpus {
            return Err(PlanError::TooManyThreads(t, ncpus, cpu_node));
        }
    }
    Ok(threads)
}

fn timing(opts: &SweepOptions) -> Result<(usize, usize, u64, usize), PlanError> {
    let pairs = opts.pairs.unwrap_or(if opts.quick {
        QUICK_PAIRS
    } else {
        DEFAULT_PAIRS
    });
    let warmup = opts.warmup.unwrap_or(if opts.quick {
        QUICK_WARMUP
    } else {
        DEFAULT_WARMUP
    });
    let slice_ms = opts.slice_ms.unwrap_or(DEFAULT_SLICE_MS);
    let visits = opts
        .visits
        .unwrap_or(if opts.quick {
            QUICK_VISITS
        } else {
            DEFAULT_VISITS
        })
        .min(pairs.max(1));
    if opts.visits == Some(0) {
        return Err(PlanError::Zero("--visits"));
    }
    if pairs == 0 {
        return Err(PlanError::Zero("--pairs"));
    }
    if slice_ms == 0 {
        return Err(PlanError::Zero("--slice-ms"));
    }
    for (flag, value, max) in [
        ("--pairs", pairs as u64, MAX_PAIRS),
        ("--warmup", warmup as u64, MAX_WARMUP),
        ("--slice-ms", slice_ms, MAX_SLICE_MS),
        ("--visits", opts.visits.unwrap_or(0) as u64, MAX_VISITS),
    ] {
        if value > max {
            return Err(PlanError::TooLarge(flag, value, max));
        }
    }
    Ok((pairs, warmup, slice_ms, visits))
}

/// `--revisits`, or its default; refused if a cell revisited every time
/// could measure more than `MAX_PAIRS` rounds.
fn revisits(
    opts: &SweepOptions,
    pairs: usize,
    visits: usize,
    emulated: bool,
) -> Result<usize, PlanError> {
    let r = match opts.revisits {
        Some(r) => r,
        None if emulated => 0,
        None if opts.quick => QUICK_REVISITS,
        None => visits / 2,
    };
    let each = rounds_per_visit(pairs, visits);
    let per_visit = each as u64;
    let base = per_visit * visits as u64;
    if base > MAX_PAIRS {
        return Err(PlanError::PairsInVisits(
            pairs, visits, each, base, MAX_PAIRS,
        ));
    }
    if base + r as u64 * per_visit > MAX_PAIRS {
        let room = (MAX_PAIRS - base) / per_visit.max(1);
        return Err(PlanError::TooLarge("--revisits", r as u64, room));
    }
    Ok(r)
}

/// (placement, memory node) of every placement swept.
fn nodes(
    opts: &SweepOptions,
    machine: &Machine,
    cpu_node: u32,
    notes: &mut Vec<String>,
) -> Result<Vec<(&'static str, u32)>, PlanError> {
    let topo = &machine.topology;
    if let Some((flag, m)) = opts.memory_node {
        if opts.numa.is_some() {
            return Err(PlanError::NodeAndSweep(flag, m));
        }
        if topo.node(m).is_none() {
            return Err(PlanError::Node(flag, m, "no such NUMA node"));
        }
        return Ok(vec![(if m == cpu_node { "local" } else { "remote" }, m)]);
    }
    let words = opts.numa.clone().unwrap_or_else(|| vec!["local".into()]);
    unique("--numa", &words, String::clone)?;
    let mut out = Vec::new();
    for p in &words {
        match p.as_str() {
            "local" => out.push(("local", cpu_node)),
            "remote" => match topo.nearest_remote(cpu_node) {
                Some(r) => out.push(("remote", r)),
                None => notes.push(format!(
                    "remote NUMA cells skipped: this machine has one NUMA node (node {cpu_node})"
                )),
            },
            other => return Err(PlanError::Placement(other.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisits_default_to_half_the_visits_and_are_bounded() {
        let opts = |quick, revisits| SweepOptions {
            quick,
            revisits,
            ..Default::default()
        };
        assert_eq!(revisits(&opts(false, None), 100, 8, false), Ok(4));
        assert_eq!(revisits(&opts(false, None), 100, 5, false), Ok(2));
        assert_eq!(
            revisits(&opts(true, None), 40, 5, false),
            Ok(QUICK_REVISITS)
        );
        // Emulated: timings are no evidence, nothing to revisit for.
        assert_eq!(revisits(&opts(false, None), 100, 8, true), Ok(0));
        assert_eq!(revisits(&opts(false, Some(3)), 100, 8, true), Ok(3));
        // 100 rounds asked in 8 visits of 14 (13, made even), 112 in all:
        // at most (100000 - 112) / 14 more.
        assert_eq!(revisits(&opts(false, Some(7134)), 100, 8, false), Ok(7134));
        assert_eq!(
            revisits(&opts(false, Some(7135)), 100, 8, false),
            Err(PlanError::TooLarge("--revisits", 7135, 7134))
        );
        // Visits whose even shares pass the bound on their own.
        assert_eq!(
            revisits(&opts(false, Some(0)), 100_000, 999, false),
            Err(PlanError::PairsInVisits(
                100_000, 999, 102, 101_898, MAX_PAIRS
            ))
        );
        assert_eq!(
            (
                rounds_per_visit(96, 8),
                rounds_per_visit(40, 5),
                rounds_per_visit(1, 8)
            ),
            (12, 8, 2)
        );
    }

    #[test]
    fn quick_warms_each_visit_up_for_one_round_and_a_full_run_for_two() {
        let opts = |quick, warmup| SweepOptions {
            quick,
            warmup,
            ..Default::default()
        };
        let warmup = |o: &SweepOptions| timing(o).map(|(_, w, _, _)| w);
        assert_eq!(warmup(&opts(true, None)), Ok(QUICK_WARMUP));
        assert_eq!(warmup(&opts(false, None)), Ok(DEFAULT_WARMUP));
        assert_eq!(warmup(&opts(true, Some(3))), Ok(3));
        assert_eq!((QUICK_WARMUP, DEFAULT_WARMUP), (1, 2));
    }
}
