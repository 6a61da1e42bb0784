//! Which rounds ran on a quiet machine.
//!
//! The shared VMs pinbench runs on flip, for seconds to minutes, between a
//! quiet state and a busy one (another tenant on the host core's SMT
//! sibling, most likely). Pairing cancels drift within a state, not the
//! change of state: a ratio measured while busy is another number. Measured
//! on the 2-vCPU AMD EPYC VM, one run of `hybrid` `private` at 1 thread in
//! 16 visits: the floor's slices read 6.05 to 6.33 ns/page in the quiet
//! visits and 6.5 to 7.5 in the busy ones; the subject 13.1 to 13.9 against
//! 15 to 21, so x floor read 2.16 quiet and 2.85 busy.
//!
//! A round's state is judged by its own floor slice: 2 ms of the locked
//! adds every scheme's pin is built of, over the cell's own pages, beside
//! the subject's slice. The run's quiet floor for cells whose floors do the
//! same work ([`FloorWork`]: backend, workload, threads, pages per call,
//! memmap) is the 5th percentile of their rounds' floor slices, and a round
//! is quiet when its floor is within [`QUIET_FLOOR`] of it. The margin sits
//! in the gap between the states on both CPU types these VMs come as: on
//! the EPYC the quiet floor spread 4.6% over its lowest and the busy one
//! started 7% above it; on the Xeon the busy state slowed the floor's walk
//! by a quarter. Four of five runs of that EPYC series then read `hybrid`
//! 2.15 to 2.17 and `xarray` 4.59 to 4.66 (private, 1T), where the median
//! over all rounds spread 34% and 32%.
//!
//! The 1 us clock probe at the start of each round (512 locked adds on a
//! line of the thread's own) judged this before; on the EPYC its quiet and
//! busy values overlap (911 to 1262 ns quiet, 1002 to 1652 busy, in the run
//! above), which marked most rounds busy. It still judges the one slice
//! with no floor beside it: thread 0 alone, for `scaling`.
//!
//! A run that never saw the machine quiet has a busy 5th percentile, and
//! nothing in it can tell; its quiet floor then sits above that of a run of
//! the same work that did, which `summary` and `compare` check.
//!
//! The floor's locked adds wait on their own latency, and a tenant that
//! takes the core's issue width need not slow them: on 2026-12-07 the EPYC
//! spent most rounds with the floor 4 to 6% over its quiet value while
//! `hybrid` on `mixed` pages read 0.49 x floor against 0.36. A one-thread
//! block, and a solo slice, is quiet only if its throughput probe
//! (`Pairs::throughput_ns`, `Pairs::solo_throughput_ns`: eight
//! independent chains of one-cycle integer operations) is within
//! [`QUIET_THROUGHPUT`] of the run's quiet one for one thread alone too.
//!
//! A cell of several threads has a second state of its own: whether the
//! host ran its vCPUs at the same time. After the clock probe its threads
//! start together and do the same locked adds on one shared line
//! (`Pairs::contention_ns`): 14 to 20 us here while the line bounces
//! between two cores, 6 to 10 us in the rounds where the host ran both
//! vCPUs on one CPU in turn, and in those rounds `flag` on 2 threads cost
//! 10.6x the floor, its 1-thread figure, against 61x. A round whose
//! contention probe took less than [`CONCURRENT`] of the run's median for
//! its thread count did not run its threads together and is set aside.

use crate::{Cell, Pairs};
use serde::{Deserialize, Serialize};

/// The quiet clock probes of the thread counts may differ by this much:
/// each is capped at this share over the lowest of them.
pub const QUIET_PROBE: f64 = 0.05;

/// A solo slice whose clock probe (thread 0's, at its start; a block's
/// mean) ran more than this much slower than the run's quiet probe ran on
/// a core the host had given away while the other vCPUs idled. That state
/// slows the lone thread by half or more (`x 1T` read 3.0 on 2 CPUs); the
/// solo probe's quiet spread is wider than the round-start probe's it is
/// judged against, since it runs alone, right after a barrier the others
/// sleep at: on the 2-vCPU EPYC VM on 2026-12-08, in solo blocks that the
/// floor and both throughput probes judged quiet, it read 1.00 to 1.20
/// times the quiet probe with `x 1T` unmoved (each such block's over its
/// cell's median: 1.000 at the median in every 5% band of the probe up to
/// 1.20, nine five-run sets), and a 5% margin had set aside 87 to 92% of
/// one set's solo blocks and withheld `x 1T` in 82 of 135 two-thread
/// cell-runs. On the Xeon the clock probe's busy state read 3.6 to 4.4 us
/// against 3.1 quiet, 16% and more over it: 10% lies between the states on
/// both.
pub const QUIET_SOLO_PROBE: f64 = 0.10;

/// A round whose floor slice ran more than this much slower than the run's
/// quiet floor for the same work was measured on a busy machine.
pub const QUIET_FLOOR: f64 = 0.05;

/// A block whose throughput probe (its rounds' mean; one-thread rounds and
/// solo slices) ran more than this much slower than the run's quiet one
/// for one thread alone shared its core's issue width with a busy SMT
/// sibling. On the 2-vCPU EPYC VM the
/// quiet probes of one-thread rounds lay within 6% of their 5th
/// percentile, and the busy ones from 12% (most of them 60 to 90%) above
/// it; the floor's locked adds, waiting on their own latency, moved 5% or
/// less in the same rounds while `hybrid` on `mixed` pages read 0.49
/// against 0.36.
pub const QUIET_THROUGHPUT: f64 = 0.1;

/// A multi-thread round whose contention probe took less than this share
/// of the run's median did not run its threads at the same time.
pub const CONCURRENT: f64 = 0.5;

/// A multi-thread block whose handoff probe (its rounds' mean) sat further
/// than this share above the run's median for its thread count, or as far
/// below (`1 / (1 + HANDOFF)` of it), ran its threads in another placement
/// on the host: on the 2-vCPU EPYC VM the probe read about 4.2 us in one
/// placement and about 20 us in the other, nearly five times as much.
pub const HANDOFF: f64 = 0.5;

/// A cell with fewer quiet rounds than this (or than its rounds, if fewer)
/// is reported over all its rounds and marked busy: 4 blocks, from which
/// no interval over visits says much.
pub const MIN_QUIET_ROUNDS: usize = 8;

/// The 5th percentile of the rounds' clock probes a state is judged by.
const QUIET_QUANTILE: f64 = 0.05;

/// A probe's yardstick for the cells of one thread count.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeNs {
    /// Threads of the cells.
    pub threads: usize,
    /// ns.
    pub ns: f64,
}

/// What a cell's floor does: cells alike in all of it run the same floor
/// loop over memory alike, so a quiet round of one reads what a quiet
/// round of another does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FloorWork {
    /// `model` or the kernel backend.
    pub backend: String,
    /// Workload.
    pub workload: String,
    /// Threads.
    pub threads: usize,
    /// Pages per call.
    pub pages_per_call: usize,
    /// Pages of the memmap.
    pub memmap_pages: usize,
    /// Node of the threads' CPUs.
    pub cpu_node: u32,
    /// Node of the memmap.
    pub memmap_node: u32,
}

impl FloorWork {
    /// That of `cell`.
    pub fn of(cell: &Cell) -> Self {
        Self {
            backend: cell.backend.clone(),
            workload: cell.workload.clone(),
            threads: cell.threads,
            pages_per_call: cell.pages_per_call,
            memmap_pages: cell.memmap_pages,
            cpu_node: cell.numa.cpu_node,
            memmap_node: cell.numa.memmap_node,
        }
    }
}

/// The quiet floor of one kind of floor work, ns per page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloorNs {
    /// The work.
    #[serde(flatten)]
    pub work: FloorWork,
    /// ns per page.
    pub ns: f64,
}

/// What judges one cell's rounds (`None`: not judged by it).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Yardstick {
    /// The quiet floor of the cell's floor work, ns per page.
    pub quiet_floor_ns: Option<f64>,
    /// The quiet clock probe of the cell's thread count (solo slices).
    pub quiet_ns: Option<f64>,
    /// The quiet throughput probe of the cell's rounds (one-thread cells).
    pub quiet_throughput_ns: Option<f64>,
    /// The quiet throughput probe of its solo slices (thread 0 alone).
    pub solo_throughput_ns: Option<f64>,
    /// The median contention probe of the cell's thread count.
    pub contention_ns: Option<f64>,
    /// The median handoff probe of the cell's thread count.
    pub handoff_ns: Option<f64>,
}

/// The run's yardsticks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Yardsticks {
    /// Quiet floors: the 5th percentile of the floor slices of every cell
    /// doing that work.
    pub quiet_floor: Vec<FloorNs>,
    /// Quiet clock probes: the 5th percentile of each thread count's
    /// rounds' probes, capped at [`QUIET_PROBE`] over the lowest of them.
    pub quiet: Vec<ProbeNs>,
    /// The quiet throughput probe of one thread alone on its core
    /// (`threads` 1): the 5th percentile of the one-thread cells' rounds'
    /// probes and of every cell's solo slices'. It judges those rounds and
    /// solo slices; the rounds of cells of several threads are not judged
    /// by it: their threads probe at once, and on the 2-vCPU EPYC VM the
    /// slower of two read about 1.4 times the one-thread quiet value in
    /// most rounds and 0.8 to 0.85 times it in a few, whether from each
    /// other or from other tenants it cannot tell, and `x floor` was no
    /// steadier within either level than across them.
    pub throughput: Vec<ProbeNs>,
    /// Median contention probes (multi-thread cells only).
    pub contention: Vec<ProbeNs>,
    /// Median handoff probes (multi-thread cells only).
    pub handoff: Vec<ProbeNs>,
}

impl Yardsticks {
    /// From every round of `cells` (see the module's doc).
    pub fn of(cells: &[Cell]) -> Self {
        let mut quiet = per_threads(cells, QUIET_QUANTILE, |p| p.probe_ns.as_deref());
        let lowest = quiet.iter().map(|p| p.ns).min_by(f64::total_cmp);
        if let Some(lowest) = lowest {
            let cap = lowest * (1.0 + QUIET_PROBE);
            quiet.iter_mut().for_each(|p| p.ns = p.ns.min(cap));
        }
        Self {
            quiet_floor: quiet_floors(cells),
            quiet,
            throughput: alone_throughput(cells),
            contention: per_threads(cells, 0.5, |p| p.contention_ns.as_deref()),
            handoff: per_threads(cells, 0.5, |p| p.handoff_ns.as_deref()),
        }
    }

    /// Those that judge `cell`.
    pub fn for_cell(&self, cell: &Cell) -> Yardstick {
        let work = FloorWork::of(cell);
        Yardstick {
            quiet_floor_ns: self
                .quiet_floor
                .iter()
                .find(|f| f.work == work)
                .map(|f| f.ns),
            ..self.for_threads(cell.threads)
        }
    }

    /// The probes' yardsticks for cells of `threads` (no quiet floor).
    pub fn for_threads(&self, threads: usize) -> Yardstick {
        let of = |v: &[ProbeNs]| v.iter().find(|p| p.threads == threads).map(|p| p.ns);
        let of1 = |v: &[ProbeNs]| v.iter().find(|p| p.threads == 1).map(|p| p.ns);
        Yardstick {
            quiet_floor_ns: None,
            quiet_ns: of(&self.quiet),
            quiet_throughput_ns: (threads == 1).then(|| of1(&self.throughput)).flatten(),
            solo_throughput_ns: of1(&self.throughput),
            contention_ns: of(&self.contention),
            handoff_ns: of(&self.handoff),
        }
    }
}

/// The `q` quantile (nearest rank below) of the finite positive `xs`.
fn quantile(mut xs: Vec<f64>, q: f64) -> Option<f64> {
    xs.retain(|x| x.is_finite() && *x > 0.0);
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len().checked_sub(1)?) as f64 * q).floor() as usize;
    xs.get(i).copied()
}

/// Per floor work (ascending), the [`QUIET_QUANTILE`] of the floor slices
/// of every cell doing it.
fn quiet_floors(cells: &[Cell]) -> Vec<FloorNs> {
    let mut by: std::collections::BTreeMap<FloorWork, Vec<f64>> = Default::default();
    for c in cells {
        by.entry(FloorWork::of(c))
            .or_default()
            .extend_from_slice(&c.pairs.floor_ns_per_page);
    }
    by.into_iter()
        .filter_map(|(work, xs)| {
            let ns = quantile(xs, QUIET_QUANTILE)?;
            Some(FloorNs { work, ns })
        })
        .collect()
}

/// The quiet throughput probe of one thread alone on its core: the
/// [`QUIET_QUANTILE`] of the probes of the one-thread cells' rounds and of
/// every cell's solo slices (thread 0 alone while the others sleep at a
/// barrier), as `threads` 1; none without such probes.
fn alone_throughput(cells: &[Cell]) -> Vec<ProbeNs> {
    let xs: Vec<f64> = cells
        .iter()
        .flat_map(|c| {
            let rounds = (c.threads == 1).then_some(c.pairs.throughput_ns.as_deref());
            let solo = c.pairs.solo_throughput_ns.as_deref();
            rounds.flatten().into_iter().chain(solo).flatten()
        })
        .copied()
        .collect();
    quantile(xs, QUIET_QUANTILE)
        .map(|ns| ProbeNs { threads: 1, ns })
        .into_iter()
        .collect()
}

/// Per thread count (ascending), the `q` quantile (nearest rank below) of
/// the values `pick` finds in the rounds of the cells with that many
/// threads; none where no cell has them.
fn per_threads(cells: &[Cell], q: f64, pick: fn(&Pairs) -> Option<&[f64]>) -> Vec<ProbeNs> {
    let mut threads: Vec<usize> = cells.iter().map(|c| c.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    threads
        .into_iter()
        .filter_map(|t| {
            let xs: Vec<f64> = cells
                .iter()
                .filter(|c| c.threads == t)
                .filter_map(|c| pick(&c.pairs))
                .flatten()
                .copied()
                .collect();
            let ns = quantile(xs, q)?;
            Some(ProbeNs { threads: t, ns })
        })
        .collect()
}

impl Pairs {
    /// Whether each round ran on a quiet machine, judged block by block
    /// ([`Pairs::blocks`]): the block's floor (the mean of its floor
    /// slices) within [`QUIET_FLOOR`] of the quiet floor, (one thread) its
    /// throughput probes' mean within [`QUIET_THROUGHPUT`] of the quiet
    /// one, and (several
    /// threads) each of its contention probes at least [`CONCURRENT`] of
    /// the median and its handoff probes' mean within [`HANDOFF`] of the
    /// median, above or below. Both rounds of a block share its state. A yardstick or
    /// probe that is missing (a file from before the probes) judges
    /// nothing.
    pub fn quiet(&self, y: Yardstick) -> Vec<bool> {
        let all = vec![true; self.subject_ns_per_page.len()];
        let floor = Some(&self.floor_ns_per_page[..]);
        let mask = self.block_mean_within(all, floor, y.quiet_floor_ns, QUIET_FLOOR);
        let mut mask = self.block_mean_within(
            mask,
            self.throughput_ns.as_deref(),
            y.quiet_throughput_ns,
            QUIET_THROUGHPUT,
        );
        and_each(
            &mut mask,
            self.contention_ns.as_deref(),
            y.contention_ns,
            |p, c| p >= c * CONCURRENT,
        );
        let usual = y
            .handoff_ns
            .map(|h| move |mean: f64| mean <= h * (1.0 + HANDOFF) && mean * (1.0 + HANDOFF) >= h);
        let mask = self.blocks_where(mask, self.handoff_ns.as_deref(), usual);
        self.whole_blocks(mask)
    }

    /// `mask` with every block cleared where one of its rounds is.
    fn whole_blocks(&self, mut mask: Vec<bool>) -> Vec<bool> {
        for b in self.blocks() {
            let whole = mask[b.clone()].iter().all(|m| *m);
            mask[b].iter_mut().for_each(|m| *m = whole);
        }
        mask
    }

    /// [`Pairs::quiet`], and thread 0's clock probe at the start of its
    /// solo slice within [`QUIET_SOLO_PROBE`] of the quiet one, and its
    /// throughput probe after it within [`QUIET_THROUGHPUT`] of the quiet
    /// one (a busy SMT sibling, which the clock probe does not see, made
    /// `x 1T` read 2.85 on 2 CPUs in one of five runs): while the other
    /// threads wait their vCPUs idle, and a host that hands an idle vCPU's
    /// core to another tenant slows the lone thread (here by half, which
    /// made `x 1T` read 3.0 on 2 CPUs). The rounds a cell's `scaling`
    /// comes from. The solo probe runs alone but is judged by the quiet
    /// probe of all the cell's threads probing at once: why its margin is
    /// wider than the others', [`QUIET_SOLO_PROBE`].
    pub fn quiet_solo(&self, y: Yardstick) -> Vec<bool> {
        self.solo_of(self.quiet(y), y)
    }

    /// `quiet` (this cell's [`Pairs::quiet`]) narrowed by the solo probes,
    /// a block at a time: the mean of its rounds' solo probes.
    fn solo_of(&self, quiet: Vec<bool>, y: Yardstick) -> Vec<bool> {
        let clock = self.block_mean_within(
            quiet,
            self.solo_probe_ns.as_deref(),
            y.quiet_ns,
            QUIET_SOLO_PROBE,
        );
        self.block_mean_within(
            clock,
            self.solo_throughput_ns.as_deref(),
            y.solo_throughput_ns,
            QUIET_THROUGHPUT,
        )
    }

    /// `mask` with every block cleared whose mean of `values` ran more than
    /// `margin` over `yardstick`; missing values or yardstick clear nothing.
    fn block_mean_within(
        &self,
        mask: Vec<bool>,
        values: Option<&[f64]>,
        yardstick: Option<f64>,
        margin: f64,
    ) -> Vec<bool> {
        let ok = yardstick.map(|y| move |mean: f64| mean <= y * (1.0 + margin));
        self.blocks_where(mask, values, ok)
    }

    /// `mask` with every block cleared whose mean of `values` fails `ok`;
    /// missing values or no `ok` clear nothing.
    fn blocks_where(
        &self,
        mut mask: Vec<bool>,
        values: Option<&[f64]>,
        ok: Option<impl Fn(f64) -> bool>,
    ) -> Vec<bool> {
        let (Some(values), Some(ok)) = (values, ok) else {
            return mask;
        };
        for b in self.blocks() {
            let Some(v) = values.get(b.clone()) else {
                continue;
            };
            let pass = ok(v.iter().sum::<f64>() / v.len() as f64);
            mask[b].iter_mut().for_each(|m| *m &= pass);
        }
        mask
    }
}

/// Clears each round of `mask` whose probe fails `ok` against the
/// yardstick; a missing probe or yardstick clears nothing.
fn and_each(
    mask: &mut [bool],
    probes: Option<&[f64]>,
    yardstick: Option<f64>,
    ok: fn(f64, f64) -> bool,
) {
    if let (Some(probes), Some(y)) = (probes, yardstick) {
        for (m, p) in mask.iter_mut().zip(probes) {
            *m &= ok(*p, y);
        }
    }
}

/// The rounds a cell's figures come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    /// Those of every figure but `scaling`: the quiet rounds, or every
    /// round when fewer than [`MIN_QUIET_ROUNDS`] were quiet.
    pub rounds: Vec<bool>,
    /// Those of `scaling` ([`Pairs::quiet_solo`]); none when fewer than
    /// [`MIN_QUIET_ROUNDS`] were quiet so: a lone thread on a busy machine
    /// is slowed by the host, not by the scheme, and its scaling (2.86 on
    /// 2 CPUs, measured) would be no figure at all, so it is withheld.
    pub solo_rounds: Option<Vec<bool>>,
    /// Whether `rounds` fell back to every round: the cell's figures are
    /// mostly a busy machine's.
    pub busy: bool,
}

impl Cell {
    /// The rounds its figures come from, judged by `y`.
    pub fn kept(&self, y: Yardstick) -> Kept {
        let p = &self.pairs;
        let quiet = p.quiet(y);
        let solo = p.solo_of(quiet.clone(), y);
        let busy = p.too_few(&quiet);
        Kept {
            busy,
            solo_rounds: (!p.too_few(&solo)).then_some(solo),
            rounds: if busy { vec![true; quiet.len()] } else { quiet },
        }
    }
}

impl Pairs {
    /// Whether `mask` keeps too few rounds to judge by: fewer than
    /// [`MIN_QUIET_ROUNDS`] (or than the cell's rounds, if fewer), or, in a
    /// cell measured in several visits, rounds of one visit only: the
    /// interval is drawn over visits ([`crate::Estimate::over_visits`]),
    /// and one visit cannot show how a rerun's would differ.
    fn too_few(&self, mask: &[bool]) -> bool {
        let kept = mask.iter().filter(|q| **q).count();
        if kept < MIN_QUIET_ROUNDS.min(mask.len()) {
            return true;
        }
        let visits = self.visits();
        let first = visits.iter().zip(mask).find(|(_, k)| **k).map(|(v, _)| *v);
        let several = visits.first() != visits.last();
        let one_kept = visits
            .iter()
            .zip(mask)
            .all(|(v, k)| !*k || Some(*v) == first);
        self.visit_rounds.is_some() && several && one_kept
    }
}

impl crate::Results {
    /// The run's yardsticks as recorded.
    pub fn yardsticks(&self) -> Yardsticks {
        Yardsticks {
            quiet_floor: self.quiet_floor_ns.clone(),
            quiet: self.quiet_probe_ns.clone(),
            throughput: self.quiet_throughput_ns.clone(),
            contention: self.contention_probe_ns.clone(),
            handoff: self.handoff_probe_ns.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    fn quiet_floor(ns: f64) -> Yardstick {
        Yardstick {
            quiet_floor_ns: Some(ns),
            ..Yardstick::default()
        }
    }

    fn quiet_probe(ns: f64) -> Yardstick {
        Yardstick {
            quiet_ns: Some(ns),
            ..Yardstick::default()
        }
    }

    #[test]
    fn blocks_with_a_slow_floor_are_not_quiet() {
        let mut c = sample::cell("plain", "private", 1, 1.0, 1.0);
        let n = 4;
        c.pairs.subject_ns_per_page = vec![1.0; n];
        // Two blocks: the first's floor averages 5.8% over the quiet one
        // (busy), the second's 4.6% (quiet), though its last round alone
        // reads 9% over.
        c.pairs.floor_ns_per_page = vec![6.7, 6.0, 6.0, 6.55];
        // A slow clock probe no longer judges a round's x floor.
        c.pairs.probe_ns = Some(vec![9000.0; n]);
        let q = c.pairs.quiet(Yardstick {
            quiet_ns: Some(3100.0),
            ..quiet_floor(6.0)
        });
        // Both rounds of a block share its state.
        assert_eq!(q, vec![false, false, true, true]);
        // Without a yardstick nothing is set aside.
        assert!(c.pairs.quiet(Yardstick::default()).iter().all(|q| *q));
        // A cell with too few quiet rounds keeps every round, and is busy.
        c.pairs.floor_ns_per_page = vec![9.0; n];
        let kept = c.kept(quiet_floor(6.0));
        assert!(kept.rounds.iter().all(|q| *q));
        assert!(kept.busy);
        c.pairs.floor_ns_per_page = vec![6.0; n];
        assert!(!c.kept(quiet_floor(6.0)).busy);
    }

    #[test]
    fn blocks_on_a_shared_core_are_not_quiet_though_their_floor_is() {
        let mut c = sample::cell("hybrid", "mixed", 1, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![3.0; 6];
        // The floor within 5% of its quiet value throughout.
        c.pairs.floor_ns_per_page = vec![6.3; 6];
        // Three blocks: the core's own, one averaging 9% over the quiet
        // probe (quiet), and one whose sibling ran (busy).
        c.pairs.throughput_ns = Some(vec![3000.0, 3050.0, 3300.0, 3240.0, 5400.0, 3100.0]);
        let y = Yardstick {
            quiet_throughput_ns: Some(3000.0),
            ..quiet_floor(6.1)
        };
        assert_eq!(c.pairs.quiet(y), vec![true, true, true, true, false, false]);
        // The run's yardstick: one-thread cells only.
        let mut two = c.clone();
        two.threads = 2;
        two.pairs.throughput_ns = Some(vec![5400.0; 6]);
        let ys = Yardsticks::of(&[c.clone(), two.clone()]);
        assert_eq!(ys.for_cell(&c).quiet_throughput_ns, Some(3000.0));
        assert_eq!(ys.for_cell(&two).quiet_throughput_ns, None);
    }

    #[test]
    fn solo_slices_on_a_shared_core_give_no_scaling() {
        let mut c = sample::cell("hybrid", "private", 2, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; 4];
        c.pairs.floor_ns_per_page = vec![1.0; 4];
        c.pairs.solo_probe_ns = Some(vec![1000.0; 4]);
        // The clock probe quiet throughout; thread 0's core shared in the
        // second block's solo slices.
        c.pairs.solo_throughput_ns = Some(vec![2400.0, 2350.0, 4000.0, 4100.0]);
        let mut one = sample::cell("plain", "private", 1, 1.0, 1.0);
        one.pairs.throughput_ns = Some(vec![2300.0; 4]);
        let ys = Yardsticks::of(&[c.clone(), one]);
        let y = ys.for_cell(&c);
        assert_eq!(y.solo_throughput_ns, Some(2300.0));
        assert_eq!(
            y.quiet_throughput_ns, None,
            "its rounds are not judged by it"
        );
        let y = Yardstick {
            quiet_ns: Some(1000.0),
            ..y
        };
        assert_eq!(c.pairs.quiet(y), vec![true; 4]);
        assert_eq!(c.pairs.quiet_solo(y), vec![true, true, false, false]);
        // With no one-thread cell, the solo slices are their own yardstick.
        let alone = Yardsticks::of(std::slice::from_ref(&c));
        assert_eq!(alone.for_cell(&c).solo_throughput_ns, Some(2350.0));
    }

    #[test]
    fn each_floor_work_has_its_own_quiet_floor() {
        let mut a = sample::cell("plain", "private", 1, 1.0, 1.0);
        let mut b = sample::cell("hybrid", "private", 1, 1.0, 1.0);
        let mut huge = sample::cell("plain", "huge", 1, 1.0, 1.0);
        // 100 floors 6.00..6.99 over two cells of one work: the 5th
        // percentile (nearest rank below) is 6.04.
        a.pairs.floor_ns_per_page = (0..50).map(|i| 6.0 + 0.02 * f64::from(i)).collect();
        b.pairs.floor_ns_per_page = (0..50).map(|i| 6.01 + 0.02 * f64::from(i)).collect();
        huge.pairs.floor_ns_per_page = vec![7.5; 10];
        let y = Yardsticks::of(&[a.clone(), huge.clone(), b.clone()]);
        let of = |c: &Cell| y.for_cell(c).quiet_floor_ns;
        assert_eq!(of(&a), Some(6.04));
        assert_eq!(of(&b), Some(6.04));
        assert_eq!(of(&huge), Some(7.5));
        // Another thread count, batch or memmap is other work.
        for change in [
            (|c: &mut Cell| c.threads = 2) as fn(&mut Cell),
            |c| c.pages_per_call = 1,
            |c| c.memmap_pages *= 2,
            |c| c.backend = "shim".into(),
        ] {
            let mut other = a.clone();
            change(&mut other);
            assert_eq!(of(&other), None);
        }
        // So the huge cell's slower floor is its own quiet, not busy.
        assert!(!huge.kept(y.for_cell(&huge)).busy);
        assert_eq!(y.quiet_floor.len(), 2);
    }

    #[test]
    fn rounds_whose_threads_did_not_run_together_are_set_aside() {
        let mut c = sample::cell("plain", "private", 2, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; 3];
        c.pairs.floor_ns_per_page = vec![1.0; 3];
        c.pairs.probe_ns = Some(vec![3100.0; 3]);
        c.pairs.contention_ns = Some(vec![16_000.0, 7_000.0, 9_000.0]);
        let y = Yardstick {
            quiet_floor_ns: Some(1.0),
            quiet_ns: Some(3100.0),
            contention_ns: Some(16_000.0),
            ..Yardstick::default()
        };
        // 7 us is under half the median: the vCPUs took turns, and the
        // block of that round is set aside whole.
        assert_eq!(c.pairs.quiet(y), vec![false, false, true]);
        // Thread 0 slow in its solo slice: that block's scaling is set
        // aside, its x floor is not.
        c.pairs.solo_probe_ns = Some(vec![3100.0, 3100.0, 4000.0]);
        assert_eq!(c.pairs.quiet_solo(y), vec![false, false, false]);
        assert_eq!(c.pairs.quiet(y), vec![false, false, true]);
    }

    #[test]
    fn blocks_whose_threads_sat_in_another_placement_are_set_aside() {
        let mut c = sample::cell("flag", "private", 2, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; 8];
        c.pairs.floor_ns_per_page = vec![1.0; 8];
        // Probes of 64 turns at 34 ns a turn, then 99, then 17, then 34 and
        // 50 (a block's mean of 42: the same placement, within half).
        let per = |ns: f64| ns * 64.0;
        c.pairs.handoff_ns = Some(
            [34.0, 34.0, 99.0, 99.0, 17.0, 17.0, 34.0, 50.0]
                .map(per)
                .to_vec(),
        );
        let y = Yardstick {
            handoff_ns: Some(per(34.0)),
            ..Yardstick::default()
        };
        let q = c.pairs.quiet(y);
        assert_eq!(q, [true, true, false, false, false, false, true, true]);
        // The run's median, from the cells of its thread count.
        let ys = Yardsticks::of(std::slice::from_ref(&c));
        assert_eq!(
            ys.handoff,
            vec![ProbeNs {
                threads: 2,
                ns: per(34.0)
            }]
        );
    }

    #[test]
    fn no_thread_counts_quiet_probe_is_far_above_the_lowest() {
        let mut one = sample::cell("plain", "private", 1, 1.0, 1.0);
        let mut two = sample::cell("plain", "private", 2, 1.0, 1.0);
        // 100 probes 3000..3099 on one thread; the 5th percentile is 3004.
        one.pairs.probe_ns = Some((0..100).map(|i| 3000.0 + f64::from(i)).collect());
        // Two threads that were never quiet at once: their own 5th
        // percentile would be a busy probe.
        two.pairs.probe_ns = Some(vec![4000.0; 3]);
        two.pairs.contention_ns = Some(vec![15_000.0, 17_000.0, 16_000.0]);
        let bare = sample::cell("bias", "private", 1, 1.0, 1.0);
        let y = Yardsticks::of(&[two.clone(), bare, one.clone()]);
        let at = |threads, ns| ProbeNs { threads, ns };
        let cap = 3004.0 * (1.0 + QUIET_PROBE);
        assert_eq!(y.quiet, vec![at(1, 3004.0), at(2, cap)]);
        assert_eq!(y.contention, vec![at(2, 16_000.0)]);
        assert_eq!(
            y.for_threads(2),
            Yardstick {
                quiet_floor_ns: None,
                quiet_ns: Some(cap),
                quiet_throughput_ns: None,
                solo_throughput_ns: None,
                contention_ns: Some(16_000.0),
                handoff_ns: None,
            }
        );
        assert_eq!(y.for_threads(3), Yardstick::default());
        // So its solo slices are busy, not quiet among themselves.
        two.pairs.solo_probe_ns = Some(vec![4000.0; 3]);
        assert!(two.pairs.quiet_solo(y.for_threads(2)).iter().all(|q| !q));
        // A run of 2-thread cells only has its own.
        let alone = Yardsticks::of(std::slice::from_ref(&two));
        assert_eq!(alone.quiet, vec![at(2, 4000.0)]);
        // Two threads a little slower than one, as on a quiet machine:
        // their own.
        two.pairs.probe_ns = Some(vec![3050.0; 3]);
        let y = Yardsticks::of(&[two, one]);
        assert_eq!(y.quiet, vec![at(1, 3004.0), at(2, 3050.0)]);
    }

    #[test]
    fn quiet_rounds_of_one_visit_only_are_too_few() {
        let mut c = sample::cell("plain", "private", 1, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; 16];
        // Two visits of 8: the second ran busy throughout.
        let mut floor = vec![6.0; 16];
        floor[8..].fill(9.0);
        c.pairs.floor_ns_per_page = floor;
        c.pairs.visit_rounds = Some(vec![8, 8]);
        assert!(c.kept(quiet_floor(6.0)).busy, "8 quiet rounds, one visit");
        // One quiet block in the second visit: two visits to draw on.
        c.pairs.floor_ns_per_page[8..10].fill(6.0);
        assert!(!c.kept(quiet_floor(6.0)).busy);
        // A file without visits: every round its own unit, 8 are enough.
        c.pairs.floor_ns_per_page[8..10].fill(9.0);
        c.pairs.visit_rounds = None;
        assert!(!c.kept(quiet_floor(6.0)).busy);
    }

    #[test]
    fn a_solo_probe_within_its_margin_is_quiet_and_one_past_it_is_not() {
        let mut c = sample::cell("hybrid", "private", 2, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; 6];
        c.pairs.floor_ns_per_page = vec![1.0; 6];
        // 8% over the quiet probe: the lone thread's usual spread after
        // its barrier; 12%: past it; 50%: a core given away.
        c.pairs.solo_probe_ns = Some(vec![1080.0, 1080.0, 1120.0, 1120.0, 1500.0, 1500.0]);
        let y = quiet_probe(1000.0);
        assert_eq!(c.pairs.quiet(y), vec![true; 6]);
        assert_eq!(
            c.pairs.quiet_solo(y),
            vec![true, true, false, false, false, false]
        );
    }

    #[test]
    fn scaling_is_withheld_when_too_few_solo_slices_were_quiet() {
        let n = 10;
        let mut c = sample::cell("plain", "private", 2, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; n];
        c.pairs.floor_ns_per_page = vec![1.0; n];
        c.pairs.pages_per_sec = vec![2.0; n];
        c.pairs.solo_pages_per_sec = Some(vec![1.0; n]);
        c.pairs.probe_ns = Some(vec![3100.0; n]);
        // Thread 0 slow alone in 3 rounds, of the first two blocks: 6
        // rounds quiet, under MIN_QUIET_ROUNDS.
        let mut solo = vec![3100.0; n];
        solo[..3].fill(4000.0);
        c.pairs.solo_probe_ns = Some(solo);
        let kept = c.kept(quiet_probe(3100.0));
        assert!(!kept.busy, "x floor's rounds are all quiet");
        assert_eq!(kept.solo_rounds, None);
        crate::derive::derive(&mut c, quiet_probe(3100.0));
        assert_eq!(c.scaling, None);
        assert!(c.scaling_withheld && !c.busy);
        // Its second block quiet and it is given, from those 8 rounds'
        // 4 blocks.
        if let Some(s) = c.pairs.solo_probe_ns.as_mut() {
            s[2] = 3100.0;
        }
        crate::derive::derive(&mut c, quiet_probe(3100.0));
        assert_eq!(c.scaling.map(|s| s.n), Some(4));
        assert!(!c.scaling_withheld);
    }
}
