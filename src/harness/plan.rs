//! From `pinbench run`'s options and the machine to the list of cells:
//! the sweep ([`super::sweep`]: threads, placements, slicing) crossed with
//! schemes, workloads and folio orders. Every check of the input happens
//! here, before anything is measured or written, and a refusal names the
//! bad value ([`PlanError`]; exit code 2).
//!
//! Cell order: for each NUMA placement and thread count, `noop`, then every
//! scheme × workload (× folio order for `huge`). Every cell carries its own
//! floor, measured in slices paired with it.

use super::cell::{CellSpec, GupModel, Subject};
pub use super::sweep::PlanError;
use super::sweep::{sweep, unique, Scope, Sweep, SweepOptions};
use crate::machine::Machine;
use pin_schemes::{HasPinnedWrite, OnAllocFail, PAGE_SIZE, SCHEMES};
use pin_workloads::{Workload, WORKLOADS};
use std::num::NonZeroU32;

/// `pinbench run`'s options as given (None = not given).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Threads, placements and slicing; the memory node is `--memmap-node`.
    pub sweep: SweepOptions,
    /// `--schemes`.
    pub schemes: Option<Vec<String>>,
    /// `--workloads`.
    pub workloads: Option<Vec<String>>,
    /// `--pages-per-call`.
    pub pages_per_call: usize,
    /// `-m/--mib`.
    pub mib: u64,
    /// `--cold`.
    pub cold: bool,
    /// `--has-pinned-write`.
    pub has_pinned_write: HasPinnedWrite,
    /// `--failslab`.
    pub failslab: Option<NonZeroU32>,
    /// `--on-alloc-fail`.
    pub on_alloc_fail: OnAllocFail,
}

/// The validated run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Cells in run order.
    pub cells: Vec<CellSpec>,
    /// Threads, placements, slicing, and notes on what was left out.
    pub sweep: Sweep,
    /// The options after defaults, for the results file.
    pub config: pin_results::Config,
}

/// Simulated memory per thread by default, MiB (gup_test's `-m`).
pub const DEFAULT_MIB: u64 = 128;
/// Pages per call by default (gup_test's `-n`).
pub const DEFAULT_PAGES_PER_CALL: usize = 512;

fn names<T>(xs: &[T], f: impl Fn(&T) -> &str) -> String {
    xs.iter().map(f).collect::<Vec<_>>().join(", ")
}

/// The schemes and workloads asked for, each known and given once.
fn subjects(opts: &Options) -> Result<(Vec<&'static str>, Vec<Workload>), PlanError> {
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
    unique("--schemes", &schemes, |s| s.to_string())?;
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
    unique("--workloads", &workloads, |w| w.name().to_string())?;
    Ok((schemes, workloads))
}

/// Simulated 4 KiB pages per thread.
fn pages_per_thread(opts: &Options, machine: &Machine) -> Result<usize, PlanError> {
    if opts.mib == 0 {
        return Err(PlanError::Zero("-m/--mib"));
    }
    if opts.pages_per_call == 0 {
        return Err(PlanError::Zero("--pages-per-call"));
    }
    let mut pages =
        usize::try_from(opts.mib.saturating_mul(1 << 20) / PAGE_SIZE as u64).unwrap_or(usize::MAX);
    if opts.cold {
        // Each thread's memmap alone twice the last-level cache.
        let llc = machine.topology.llc_bytes.unwrap_or(64 << 20) as usize;
        pages = pages.max(2 * llc / std::mem::size_of::<pin_schemes::Page>());
    }
    if opts.pages_per_call > pages {
        return Err(PlanError::PagesPerCall(opts.pages_per_call, pages));
    }
    Ok(pages)
}

/// Checks `opts` against `machine` and lists the cells.
pub fn plan(opts: &Options, machine: &Machine) -> Result<Plan, PlanError> {
    let (schemes, workloads) = subjects(opts)?;
    let pages_per_thread = pages_per_thread(opts, machine)?;
    let mut sweep = sweep(&opts.sweep, machine)?;
    let mut cells = Vec::new();
    let mut gig_skipped = false;
    let mut thresholds = std::collections::BTreeMap::new();
    for numa in &sweep.placements {
        let gup = GupModel {
            stat_threshold: machine.vmstat_threshold(numa.memmap_node),
            has_pinned_write: opts.has_pinned_write,
            failslab: opts.failslab,
            on_alloc_fail: opts.on_alloc_fail,
        };
        thresholds.insert(numa.memmap_node, i32::from(gup.stat_threshold));
        for &t in &sweep.threads {
            cells.push(CellSpec {
                subject: Subject::Noop,
                workload: Workload::Private,
                threads: t,
                layout: Workload::Private.layout(0, pages_per_thread, opts.pages_per_call),
                numa: numa.clone(),
                gup,
            });
            for &scheme in &schemes {
                for &w in &workloads {
                    for &order in w.orders() {
                        let cell = CellSpec {
                            subject: Subject::Scheme(scheme),
                            workload: w,
                            threads: t,
                            layout: w.layout(order, pages_per_thread, opts.pages_per_call),
                            numa: numa.clone(),
                            gup,
                        };
                        // 1 GiB folios only where memory allows.
                        let fits = machine
                            .mem_available
                            .is_none_or(|avail| cell.memmap_bytes() <= avail / 2);
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
        sweep.notes.push("huge order-18 (1 GiB folio) cells skipped: their memmap would not fit in half of MemAvailable".into());
    }
    check_memory(opts, machine, &cells)?;
    let mut config = sweep.config(
        opts.sweep.quick,
        Scope {
            schemes: schemes.iter().map(|s| s.to_string()).collect(),
            workloads: workloads.iter().map(|w| w.name().to_string()).collect(),
            pages_per_call: opts.pages_per_call,
            mib: opts.mib,
            pages_per_thread,
            cold: opts.cold,
        },
    );
    config.has_pinned_write = Some(opts.has_pinned_write.as_str().to_string());
    config.vmstat_threshold = thresholds;
    config.failslab = opts.failslab.map(NonZeroU32::get);
    config.on_alloc_fail = opts
        .failslab
        .map(|_| opts.on_alloc_fail.as_str().to_string());
    Ok(Plan {
        cells,
        sweep,
        config,
    })
}

/// Refuses a plan whose largest cell would not fit in MemAvailable.
fn check_memory(opts: &Options, machine: &Machine, cells: &[CellSpec]) -> Result<(), PlanError> {
    let (Some(avail), Some(big)) = (
        machine.mem_available,
        cells.iter().max_by_key(|c| c.memmap_bytes()),
    ) else {
        return Ok(());
    };
    // The memmap plus up to 96 bytes per page of a scheme's own (`memdesc`:
    // an 8-byte word and an 80-byte descriptor per order-0 folio).
    let need = big.memmap_bytes() + big.memmap_bytes() * 3 / 2;
    if need > avail {
        let what = if opts.cold && opts.mib == DEFAULT_MIB {
            "--cold".to_string()
        } else {
            format!("-m/--mib {}", opts.mib)
        };
        return Err(PlanError::Memory(what, need >> 20, avail >> 20));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_node_machine() -> Machine {
        Machine::two_node_fixture()
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
                sweep: SweepOptions {
                    quick: true,
                    ..SweepOptions::default()
                },
                ..opts()
            },
            &m,
        )
        .expect("plan");
        assert_eq!(p.config.threads, vec![1, 2]);
        // per thread count: noop, every scheme x every workload's orders
        let cells_per_scheme: usize = WORKLOADS.iter().map(|w| w.orders().len()).sum();
        assert_eq!(cells_per_scheme, 8, "7 workloads, huge at two orders");
        assert_eq!(p.cells.len(), 2 * (1 + SCHEMES.len() * cells_per_scheme));
        assert!(p.config.has_pinned_write.as_deref() == Some("test-then-set"));
        assert_eq!(p.config.vmstat_threshold.len(), 1, "one memmap node");
        assert!(p.cells.iter().all(|c| c.numa.cpus == vec![0, 1]));
        assert_eq!(p.sweep.pairs, 40);
    }

    #[test]
    fn a_numa_sweep_places_remote_memmaps_on_the_other_node() {
        let m = two_node_machine();
        let o = Options {
            sweep: SweepOptions {
                numa: Some(vec!["local".into(), "remote".into()]),
                cpu_node: Some(1),
                threads: Some(vec![2]),
                ..SweepOptions::default()
            },
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
        assert!(p.sweep.notes.is_empty());
    }

    #[test]
    fn one_node_skips_remote_cells_with_a_note() {
        let mut m = two_node_machine();
        m.topology.nodes.truncate(1);
        m.topology.distance = vec![vec![10]];
        let o = Options {
            sweep: SweepOptions {
                numa: Some(vec!["local".into(), "remote".into()]),
                ..SweepOptions::default()
            },
            ..opts()
        };
        let p = plan(&o, &m).expect("plan");
        assert!(p.cells.iter().all(|c| c.numa.placement == "local"));
        assert_eq!(p.sweep.notes.len(), 1);
        assert!(
            p.sweep.notes[0].contains("one NUMA node"),
            "{:?}",
            p.sweep.notes
        );
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
            sweep: SweepOptions {
                threads: Some(vec![0]),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--threads 0"));
        assert!(bad(Options {
            sweep: SweepOptions {
                threads: Some(vec![3]),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--threads 3"));
        assert!(bad(Options {
            sweep: SweepOptions {
                cpu_node: Some(7),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--cpu-node 7"));
        assert!(bad(Options {
            sweep: SweepOptions {
                memory_node: Some(("--memmap-node", 9)),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--memmap-node 9"));
        // A name given twice would make two identical cells.
        assert!(bad(Options {
            schemes: Some(vec!["plain".into(), "plain".into()]),
            ..opts()
        })
        .contains("--schemes 'plain' given twice"));
        assert!(bad(Options {
            sweep: SweepOptions {
                threads: Some(vec![1, 1]),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--threads '1' given twice"));
        assert!(bad(Options {
            sweep: SweepOptions {
                numa: Some(vec!["far".into()]),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("'far'"));
    }

    #[test]
    fn bad_numbers_are_refused_by_name() {
        let m = two_node_machine();
        let bad = |o: Options| plan(&o, &m).expect_err("bad input").to_string();
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
            sweep: SweepOptions {
                pairs: Some(0),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--pairs 0"));
        // Huge values are refused by name, not left to hang or overflow.
        assert!(bad(Options {
            sweep: SweepOptions {
                slice_ms: Some(u64::MAX),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--slice-ms 18446744073709551615"));
        assert!(bad(Options {
            sweep: SweepOptions {
                pairs: Some(usize::MAX),
                ..SweepOptions::default()
            },
            ..opts()
        })
        .contains("--pairs"));
        assert!(bad(Options {
            sweep: SweepOptions {
                warmup: Some(usize::MAX),
                ..SweepOptions::default()
            },
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
        assert!(p.sweep.notes[0].contains("order-18"), "{:?}", p.sweep.notes);
    }
}
