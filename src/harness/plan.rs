//! From `pinbench run`'s options and the machine to the list of cells:
//! every check of the input happens here, before anything is measured or
//! written, and a refusal names the bad value ([`PlanError`]; exit code 2).
//!
//! Cell order: for each NUMA placement and thread count, `noop`, then every
//! scheme × workload (× folio order for `huge`). Every cell carries its own
//! floor, measured in slices paired with it.

use super::cell::{CellSpec, Numa, Subject};
use super::paired::Params;
use crate::results::Config;
use crate::topology::Topology;
use crate::workloads::{Workload, WORKLOADS};
use pin_schemes::{PAGE_SIZE, SCHEMES};
use std::time::Duration;
use thiserror::Error;

/// `pinbench run`'s options as given (None = not given).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--quick`.
    pub quick: bool,
    /// `--schemes`.
    pub schemes: Option<Vec<String>>,
    /// `--workloads`.
    pub workloads: Option<Vec<String>>,
    /// `--threads`.
    pub threads: Option<Vec<usize>>,
    /// `--pages-per-call`.
    pub pages_per_call: usize,
    /// `-m/--mib`.
    pub mib: u64,
    /// `--cold`.
    pub cold: bool,
    /// `--pairs`.
    pub pairs: Option<usize>,
    /// `--warmup`.
    pub warmup: Option<usize>,
    /// `--slice-ms`.
    pub slice_ms: Option<u64>,
    /// `--memmap-node`.
    pub memmap_node: Option<u32>,
    /// `--cpu-node`.
    pub cpu_node: Option<u32>,
    /// `--numa`.
    pub numa: Option<Vec<String>>,
}

/// What the plan needs to know of the machine.
#[derive(Clone, Debug)]
pub struct Machine {
    /// NUMA topology.
    pub topology: Topology,
    /// CPUs this process may run on.
    pub allowed_cpus: Vec<usize>,
    /// `MemAvailable`, bytes.
    pub mem_available: Option<u64>,
}

impl Machine {
    /// This host: its NUMA topology from sysfs, the CPUs this process may
    /// use, and MemAvailable.
    pub fn this_host() -> anyhow::Result<Self> {
        use anyhow::Context;
        Ok(Self {
            topology: crate::topology::Topology::read(std::path::Path::new(
                crate::topology::SYSFS_ROOT,
            ))
            .context("reading the NUMA topology")?,
            allowed_cpus: crate::numa::allowed_cpus().context("sched_getaffinity")?,
            mem_available: crate::host::mem_available(),
        })
    }
}

/// Bad input, named.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    /// An unknown scheme.
    #[error("unknown scheme '{0}' (known: {1})")]
    UnknownScheme(String, String),
    /// An unknown workload.
    #[error("unknown workload '{0}' (known: {1})")]
    UnknownWorkload(String, String),
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
    /// `--pages-per-call` larger than a thread's memory.
    #[error("--pages-per-call {0}: larger than the {1} pages per thread of -m/--mib")]
    PagesPerCall(usize, usize),
    /// A node that does not exist or cannot run threads.
    #[error("{0} {1}: {2}")]
    Node(&'static str, u32, &'static str),
    /// An unknown NUMA placement.
    #[error("--numa '{0}': expected local or remote")]
    Placement(String),
    /// `--memmap-node` with `--numa`.
    #[error("--memmap-node {0} places the memmap itself: drop --numa")]
    NodeAndSweep(u32),
    /// The memmap would not fit.
    #[error("{0}: the memmap needs {1} MiB but MemAvailable is {2} MiB")]
    Memory(String, u64, u64),
}

/// The validated run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Cells in run order.
    pub cells: Vec<CellSpec>,
    /// Lines about cells left out.
    pub notes: Vec<String>,
    /// The options after defaults, for the results file.
    pub config: Config,
    /// Warm-up rounds.
    pub warmup: usize,
    /// Measured rounds.
    pub pairs: usize,
    /// Duration of one slice.
    pub slice: Duration,
}

impl Plan {
    /// How each cell is measured, with the counters this machine has.
    pub fn params(&self, counters: crate::metrics::counters::Availability) -> Params {
        Params {
            warmup: self.warmup,
            pairs: self.pairs,
            slice: self.slice,
            counters,
        }
    }
}

/// Simulated memory per thread by default, MiB (gup_test's `-m`).
pub const DEFAULT_MIB: u64 = 128;
/// Pages per call by default (gup_test's `-n`).
pub const DEFAULT_PAGES_PER_CALL: usize = 512;
/// Slice length, ms. SLICE_MS_WHY.
pub const DEFAULT_SLICE_MS: u64 = 2;
/// Measured rounds: enough for a 95% CI of the median between the 40th and
/// 61st of 100 ratios (`--quick`: the 12th and 29th of 40).
const DEFAULT_PAIRS: usize = 100;
const QUICK_PAIRS: usize = 40;
/// Warm-up rounds: the first slices after a memmap is built pay its page
/// faults and cache misses.
const DEFAULT_WARMUP: usize = 2;
/// Bounds that keep a run finite and its arithmetic in range.
const MAX_PAIRS: usize = 100_000;
const MAX_WARMUP: usize = 10_000;
const MAX_SLICE_MS: u64 = 10_000;

fn names<T>(xs: &[T], f: impl Fn(&T) -> &str) -> String {
    xs.iter().map(f).collect::<Vec<_>>().join(", ")
}

/// Checks `opts` against `machine` and lists the cells.
pub fn plan(opts: &Options, machine: &Machine) -> Result<Plan, PlanError> {
    let topo = &machine.topology;
    let schemes: Vec<&'static str> = match &opts.schemes {
        None => SCHEMES.iter().map(|s| s.name).collect(),
        Some(list) => list
            .iter()
            .map(|n| {
                pin_schemes::find(n)
                    .map(|s| s.name)
                    .ok_or_else(|| PlanError::UnknownScheme(n.clone(), names(SCHEMES, |s| s.name)))
            })
            .collect::<Result<_, _>>()?,
    };
    let workloads: Vec<Workload> = match &opts.workloads {
        None => WORKLOADS.to_vec(),
        Some(list) => list
            .iter()
            .map(|n| {
                Workload::from_name(n).ok_or_else(|| {
                    PlanError::UnknownWorkload(n.clone(), names(WORKLOADS, |w| w.name()))
                })
            })
            .collect::<Result<_, _>>()?,
    };

    // Where threads run.
    let cpu_node = match opts.cpu_node {
        Some(n) => n,
        None => {
            topo.first_cpu_node()
                .ok_or(PlanError::Node("--cpu-node", 0, "no node has CPUs"))?
        }
    };
    let node_cpus = |n: u32, flag: &'static str| -> Result<Vec<usize>, PlanError> {
        let node = topo
            .node(n)
            .ok_or(PlanError::Node(flag, n, "no such NUMA node"))?;
        Ok(node
            .cpus
            .iter()
            .copied()
            .filter(|c| machine.allowed_cpus.contains(c))
            .collect())
    };
    let cpus = node_cpus(cpu_node, "--cpu-node")?;
    if cpus.is_empty() {
        return Err(PlanError::Node(
            "--cpu-node",
            cpu_node,
            "has no CPUs this process may use",
        ));
    }
    let threads: Vec<usize> = match &opts.threads {
        Some(t) => t.clone(),
        None if opts.quick => {
            let mut t = vec![1, cpus.len()];
            t.dedup();
            t
        }
        None => (1..=cpus.len()).collect(),
    };
    for &t in &threads {
        if t == 0 {
            return Err(PlanError::ZeroThreads);
        }
        if t > cpus.len() {
            return Err(PlanError::TooManyThreads(t, cpus.len(), cpu_node));
        }
    }

    // Memory per thread.
    if opts.mib == 0 {
        return Err(PlanError::Zero("-m/--mib"));
    }
    if opts.pages_per_call == 0 {
        return Err(PlanError::Zero("--pages-per-call"));
    }
    let mut pages_per_thread =
        usize::try_from(opts.mib.saturating_mul(1 << 20) / PAGE_SIZE as u64).unwrap_or(usize::MAX);
    if opts.cold {
        // Each thread's memmap alone twice the last-level cache.
        let llc = topo.llc_bytes.unwrap_or(64 << 20) as usize;
        pages_per_thread = pages_per_thread.max(2 * llc / std::mem::size_of::<pin_schemes::Page>());
    }
    if opts.pages_per_call > pages_per_thread {
        return Err(PlanError::PagesPerCall(
            opts.pages_per_call,
            pages_per_thread,
        ));
    }
    let pairs = opts.pairs.unwrap_or(if opts.quick {
        QUICK_PAIRS
    } else {
        DEFAULT_PAIRS
    });
    if pairs == 0 {
        return Err(PlanError::Zero("--pairs"));
    }
    let warmup = opts.warmup.unwrap_or(DEFAULT_WARMUP);
    let slice_ms = opts.slice_ms.unwrap_or(DEFAULT_SLICE_MS);
    if slice_ms == 0 {
        return Err(PlanError::Zero("--slice-ms"));
    }
    for (flag, value, max) in [
        ("--pairs", pairs as u64, MAX_PAIRS as u64),
        ("--warmup", warmup as u64, MAX_WARMUP as u64),
        ("--slice-ms", slice_ms, MAX_SLICE_MS),
    ] {
        if value > max {
            return Err(PlanError::TooLarge(flag, value, max));
        }
    }

    // NUMA placements.
    let mut notes = Vec::new();
    let mut placements: Vec<(&'static str, u32)> = Vec::new();
    if let Some(m) = opts.memmap_node {
        if opts.numa.is_some() {
            return Err(PlanError::NodeAndSweep(m));
        }
        if topo.node(m).is_none() {
            return Err(PlanError::Node("--memmap-node", m, "no such NUMA node"));
        }
        placements.push((if m == cpu_node { "local" } else { "remote" }, m));
    } else {
        let sweep = opts.numa.clone().unwrap_or_else(|| vec!["local".into()]);
        for p in &sweep {
            match p.as_str() {
                "local" => placements.push(("local", cpu_node)),
                "remote" => match topo.nearest_remote(cpu_node) {
                    Some(r) => placements.push(("remote", r)),
                    None => notes.push(format!(
                        "remote NUMA cells skipped: this machine has one NUMA node (node {cpu_node})"
                    )),
                },
                other => return Err(PlanError::Placement(other.to_string())),
            }
        }
    }

    // The cells.
    let mut cells = Vec::new();
    let mut gig_skipped = false;
    for &(placement, memmap_node) in &placements {
        let memmap_cpus = node_cpus(memmap_node, "--memmap-node")?;
        for &t in &threads {
            let numa = Numa {
                placement,
                cpu_node,
                cpus: cpus.clone(),
                memmap_node,
                memmap_cpus: memmap_cpus.clone(),
            };
            cells.push(CellSpec {
                subject: Subject::Noop,
                workload: Workload::Private,
                threads: t,
                layout: Workload::Private.layout(0, pages_per_thread, opts.pages_per_call),
                numa: numa.clone(),
            });
            for &scheme in &schemes {
                for &w in &workloads {
                    for &order in w.orders() {
                        let layout = w.layout(order, pages_per_thread, opts.pages_per_call);
                        let cell = CellSpec {
                            subject: Subject::Scheme(scheme),
                            workload: w,
                            threads: t,
                            layout,
                            numa: numa.clone(),
                        };
                        // 1 GiB folios only where memory allows.
                        let fits = match machine.mem_available {
                            Some(avail) => cell.memmap_bytes() <= avail / 2,
                            None => true,
                        };
                        if order >= pin_schemes::HPAGE_PUD_ORDER && !fits {
                            gig_skipped = true;
                            continue;
                        }
                        cells.push(cell);
                    }
                }
            }
        }
    }
    if gig_skipped {
        notes.push("huge order-18 (1 GiB folio) cells skipped: their memmap would not fit in half of MemAvailable".into());
    }
    if let (Some(avail), Some(big)) = (
        machine.mem_available,
        cells.iter().max_by_key(|c| c.memmap_bytes()),
    ) {
        // The memmap plus the `exact` scheme's 4 bytes per page.
        let need = big.memmap_bytes() + big.memmap_bytes() / 16;
        if need > avail {
            let what = if opts.cold && opts.mib == DEFAULT_MIB {
                "--cold".to_string()
            } else {
                format!("-m/--mib {}", opts.mib)
            };
            return Err(PlanError::Memory(what, need >> 20, avail >> 20));
        }
    }

    let config = Config {
        quick: opts.quick,
        schemes: schemes.iter().map(|s| s.to_string()).collect(),
        workloads: workloads.iter().map(|w| w.name().to_string()).collect(),
        threads,
        pages_per_call: opts.pages_per_call,
        mib: opts.mib,
        pages_per_thread,
        cold: opts.cold,
        pairs,
        warmup,
        slice_ms,
        numa: placements.iter().map(|p| p.0.to_string()).collect(),
    };
    Ok(Plan {
        cells,
        notes,
        config,
        warmup,
        pairs,
        slice: Duration::from_millis(slice_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::fixture;

    fn two_node_machine() -> Machine {
        let dir = tempfile::tempdir().expect("tempdir");
        fixture::two_nodes(dir.path());
        Machine {
            topology: Topology::read(dir.path()).expect("fixture"),
            allowed_cpus: vec![0, 1, 2, 3],
            mem_available: Some(24 << 30),
        }
    }

    fn opts() -> Options {
        Options {
            pages_per_call: DEFAULT_PAGES_PER_CALL,
            mib: DEFAULT_MIB,
            ..Options::default()
        }
    }

    #[test]
    fn quick_runs_every_scheme_and_workload_at_1_and_n_threads() {
        let m = two_node_machine();
        let p = plan(
            &Options {
                quick: true,
                ..opts()
            },
            &m,
        )
        .expect("plan");
        assert_eq!(p.config.threads, vec![1, 2]);
        // per thread count: noop, every scheme x (6 workloads + huge's 2nd order)
        assert_eq!(p.cells.len(), 2 * (1 + SCHEMES.len() * 7));
        assert!(p.cells.iter().all(|c| c.numa.cpus == vec![0, 1]));
        assert_eq!(p.pairs, QUICK_PAIRS);
    }

    #[test]
    fn a_numa_sweep_places_remote_memmaps_on_the_other_node() {
        let m = two_node_machine();
        let o = Options {
            numa: Some(vec!["local".into(), "remote".into()]),
            cpu_node: Some(1),
            threads: Some(vec![2]),
            schemes: Some(vec!["plain".into()]),
            workloads: Some(vec!["private".into()]),
            ..opts()
        };
        let p = plan(&o, &m).expect("plan");
        let placed: Vec<_> = p
            .cells
            .iter()
            .map(|c| (c.numa.placement, c.numa.memmap_node, c.numa.cpus.clone()))
            .collect();
        assert_eq!(placed.len(), 4);
        assert_eq!(placed[0], ("local", 1, vec![2, 3]));
        assert_eq!(placed[2], ("remote", 0, vec![2, 3]));
        assert_eq!(p.cells[2].numa.memmap_cpus, vec![0, 1]);
        assert!(p.notes.is_empty());
    }

    #[test]
    fn one_node_skips_remote_cells_with_a_note() {
        let mut m = two_node_machine();
        m.topology.nodes.truncate(1);
        m.topology.distance = vec![vec![10]];
        let o = Options {
            numa: Some(vec!["local".into(), "remote".into()]),
            ..opts()
        };
        let p = plan(&o, &m).expect("plan");
        assert!(p.cells.iter().all(|c| c.numa.placement == "local"));
        assert_eq!(p.notes.len(), 1);
        assert!(p.notes[0].contains("one NUMA node"), "{:?}", p.notes);
    }

    #[test]
    fn bad_input_is_refused_by_name() {
        let m = two_node_machine();
        let bad = |o: Options| plan(&o, &m).expect_err("bad input").to_string();
        assert!(bad(Options {
            schemes: Some(vec!["nope".into()]),
            ..opts()
        })
        .contains("'nope'"));
        assert!(bad(Options {
            workloads: Some(vec!["x".into()]),
            ..opts()
        })
        .contains("'x'"));
        assert!(bad(Options {
            threads: Some(vec![0]),
            ..opts()
        })
        .contains("--threads 0"));
        assert!(bad(Options {
            threads: Some(vec![3]),
            ..opts()
        })
        .contains("--threads 3"));
        assert!(bad(Options {
            cpu_node: Some(7),
            ..opts()
        })
        .contains("--cpu-node 7"));
        assert!(bad(Options {
            memmap_node: Some(9),
            ..opts()
        })
        .contains("--memmap-node 9"));
        assert!(bad(Options {
            numa: Some(vec!["far".into()]),
            ..opts()
        })
        .contains("'far'"));
        assert!(bad(Options {
            mib: 1 << 40,
            ..opts()
        })
        .contains("-m/--mib 1099511627776"));
        assert!(bad(Options {
            pages_per_call: 1 << 20,
            ..opts()
        })
        .contains("--pages-per-call"));
        assert!(bad(Options {
            pairs: Some(0),
            ..opts()
        })
        .contains("--pairs 0"));
        // Huge values are refused by name, not left to hang or overflow.
        assert!(bad(Options {
            slice_ms: Some(u64::MAX),
            ..opts()
        })
        .contains("--slice-ms 18446744073709551615"));
        assert!(bad(Options {
            pairs: Some(usize::MAX),
            ..opts()
        })
        .contains("--pairs"));
        assert!(bad(Options {
            warmup: Some(usize::MAX),
            ..opts()
        })
        .contains("--warmup"));
    }

    #[test]
    fn cold_sizes_each_thread_past_the_llc_and_gig_folios_need_memory() {
        let mut m = two_node_machine();
        let p = plan(
            &Options {
                cold: true,
                ..opts()
            },
            &m,
        )
        .expect("plan");
        // fixture LLC 32 MiB: 2 x 32 MiB of memmap = 1 Mi pages per thread
        assert_eq!(p.config.pages_per_thread, 1 << 20);
        m.mem_available = Some(24 << 20);
        let p = plan(&opts(), &m).expect("plan");
        assert!(p.cells.iter().all(|c| c.layout.order < 18));
        assert!(p.notes[0].contains("order-18"), "{:?}", p.notes);
    }
}
