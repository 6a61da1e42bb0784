//! Which rounds ran on a quiet machine.
//!
//! The shared VMs pinbench runs on flip, for seconds to minutes, between a
//! quiet state and a busy one (another tenant on the host core's SMT
//! sibling), in which a locked add on a private line costs 20 to 40% more
//! and code that hits one hot line up to twice as much, while the floor's
//! walk slows by a quarter. Pairing cancels drift within a state, not the
//! change of state: a ratio measured while busy is another number. Every
//! round therefore starts with a clock probe on every thread (512 locked
//! adds on a line of its own, `Pairs::probe_ns`, the slowest thread's);
//! the run's quiet probe for a thread count is the 5th percentile of its
//! rounds' probes, but no more than [`QUIET_PROBE`] over the lowest such
//! percentile of any thread count, and a round is quiet when its probe is
//! within [`QUIET_PROBE`] of it. Measured on the 2-vCPU Xeon VM: quiet
//! probes 3100 to 3130 ns, busy ones 3600 to 4400, in the same cells. The
//! cap, because a probe is one core's locked adds whatever the cell: on a
//! day when one vCPU or the other was always busy, the 2-thread rounds' own
//! 5th percentile was a busy probe (3446 ns against 3112 at 1 thread),
//! which judged busy rounds quiet. Not the lowest itself, because the
//! slowest of many threads may sit a little above one thread's probe on a
//! quiet machine (0.3 to 1% for 2 threads here), and with many threads
//! every round would read busy.
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

/// A round whose probe ran more than this much slower than the run's quiet
/// probe was measured on a busy machine.
pub const QUIET_PROBE: f64 = 0.05;

/// A multi-thread round whose contention probe took less than this share
/// of the run's median did not run its threads at the same time.
pub const CONCURRENT: f64 = 0.5;

/// A cell with fewer quiet rounds than this (or than its rounds, if fewer)
/// is reported over all its rounds and marked busy: fewer than 8 ratios
/// give no 95% interval of their median narrower than their range.
pub const MIN_QUIET_ROUNDS: usize = 8;

/// A probe's yardstick for the cells of one thread count.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeNs {
    /// Threads of the cells.
    pub threads: usize,
    /// ns.
    pub ns: f64,
}

/// What judges one cell's rounds: the run's quiet clock probe and median
/// contention probe for the cell's thread count (`None`: not judged by it).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Yardstick {
    /// The quiet clock probe.
    pub quiet_ns: Option<f64>,
    /// The median contention probe.
    pub contention_ns: Option<f64>,
}

/// The run's yardsticks, per thread count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Yardsticks {
    /// Quiet clock probes: the 5th percentile of each thread count's
    /// rounds' probes, capped at [`QUIET_PROBE`] over the lowest.
    pub quiet: Vec<ProbeNs>,
    /// Median contention probes (multi-thread cells only).
    pub contention: Vec<ProbeNs>,
}

impl Yardsticks {
    /// From every round of `cells`: each thread count's quiet probe is its
    /// rounds' 5th percentile, capped at [`QUIET_PROBE`] over the lowest of
    /// them (see the module's doc).
    pub fn of(cells: &[Cell]) -> Self {
        let mut quiet = per_threads(cells, 0.05, |p| p.probe_ns.as_deref());
        let lowest = quiet.iter().map(|p| p.ns).min_by(f64::total_cmp);
        if let Some(lowest) = lowest {
            let cap = lowest * (1.0 + QUIET_PROBE);
            quiet.iter_mut().for_each(|p| p.ns = p.ns.min(cap));
        }
        Self {
            quiet,
            contention: per_threads(cells, 0.5, |p| p.contention_ns.as_deref()),
        }
    }

    /// Those for cells of `threads`.
    pub fn for_threads(&self, threads: usize) -> Yardstick {
        let of = |v: &[ProbeNs]| v.iter().find(|p| p.threads == threads).map(|p| p.ns);
        Yardstick {
            quiet_ns: of(&self.quiet),
            contention_ns: of(&self.contention),
        }
    }
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
            let mut xs: Vec<f64> = cells
                .iter()
                .filter(|c| c.threads == t)
                .filter_map(|c| pick(&c.pairs))
                .flatten()
                .copied()
                .filter(|x| x.is_finite() && *x > 0.0)
                .collect();
            if xs.is_empty() {
                return None;
            }
            xs.sort_by(f64::total_cmp);
            let i = ((xs.len() - 1) as f64 * q).floor() as usize;
            Some(ProbeNs {
                threads: t,
                ns: xs[i],
            })
        })
        .collect()
}

impl Pairs {
    /// Whether each round ran on a quiet machine: its clock probe within
    /// [`QUIET_PROBE`] of the quiet one, and (several threads) its
    /// contention probe at least [`CONCURRENT`] of the median. A probe or
    /// yardstick that is missing (a file from before the probes) judges
    /// nothing.
    pub fn quiet(&self, y: Yardstick) -> Vec<bool> {
        let mut mask = vec![true; self.subject_ns_per_page.len()];
        and_each(&mut mask, &self.probe_ns, y.quiet_ns, |p, q| {
            p <= q * (1.0 + QUIET_PROBE)
        });
        and_each(&mut mask, &self.contention_ns, y.contention_ns, |p, c| {
            p >= c * CONCURRENT
        });
        mask
    }

    /// [`Pairs::quiet`], and thread 0's probe at the start of its solo
    /// slice within [`QUIET_PROBE`] of the quiet one: while the other
    /// threads wait their vCPUs idle, and a host that hands an idle vCPU's
    /// core to another tenant slows the lone thread (here by half, which
    /// made `x 1T` read 3.0 on 2 CPUs). The rounds a cell's `scaling`
    /// comes from. The solo probe runs alone but is judged by the quiet
    /// probe of all the cell's threads probing at once, which read 0.3%
    /// slower here: negligible against the 5% margin.
    pub fn quiet_solo(&self, y: Yardstick) -> Vec<bool> {
        self.solo_of(self.quiet(y), y)
    }

    /// `quiet` (this cell's [`Pairs::quiet`]) narrowed by the solo probes.
    fn solo_of(&self, mut quiet: Vec<bool>, y: Yardstick) -> Vec<bool> {
        and_each(&mut quiet, &self.solo_probe_ns, y.quiet_ns, |p, q| {
            p <= q * (1.0 + QUIET_PROBE)
        });
        quiet
    }
}

/// Clears each round of `mask` whose probe fails `ok` against the
/// yardstick; a missing probe or yardstick clears nothing.
fn and_each(
    mask: &mut [bool],
    probes: &Option<Vec<f64>>,
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
        let quiet = self.pairs.quiet(y);
        let solo = self.pairs.solo_of(quiet.clone(), y);
        Kept {
            busy: too_few(&quiet),
            solo_rounds: (!too_few(&solo)).then_some(solo),
            rounds: all_if_few(quiet),
        }
    }
}

fn too_few(mask: &[bool]) -> bool {
    mask.iter().filter(|q| **q).count() < MIN_QUIET_ROUNDS.min(mask.len())
}

fn all_if_few(mut mask: Vec<bool>) -> Vec<bool> {
    if too_few(&mask) {
        mask.fill(true);
    }
    mask
}

impl crate::Results {
    /// The run's yardsticks as recorded.
    pub fn yardsticks(&self) -> Yardsticks {
        Yardsticks {
            quiet: self.quiet_probe_ns.clone(),
            contention: self.contention_probe_ns.clone(),
        }
    }

    /// The per-round values `xs` of `cell` (one of this run's) that its
    /// `x_floor` comes from.
    pub fn kept(&self, cell: &Cell, xs: &[f64]) -> Vec<f64> {
        let y = self.yardsticks().for_threads(cell.threads);
        Pairs::keep(xs, &cell.kept(y).rounds)
    }

    /// Those its `scaling` comes from (none where it was withheld).
    pub fn kept_solo(&self, cell: &Cell, xs: &[f64]) -> Vec<f64> {
        let y = self.yardsticks().for_threads(cell.threads);
        cell.kept(y)
            .solo_rounds
            .map_or_else(Vec::new, |mask| Pairs::keep(xs, &mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    fn quiet_only(quiet_ns: f64) -> Yardstick {
        Yardstick {
            quiet_ns: Some(quiet_ns),
            contention_ns: None,
        }
    }

    #[test]
    fn rounds_with_a_slow_probe_are_not_quiet() {
        let mut c = sample::cell("plain", "private", 1, 1.0, 1.0);
        let n = 4;
        c.pairs.subject_ns_per_page = vec![1.0; n];
        let mut probe = vec![3100.0; n];
        probe[0] = 3300.0; // 6% slower: busy
        probe[n - 1] = 3250.0; // 4.8%: still quiet
        c.pairs.probe_ns = Some(probe);
        let q = c.pairs.quiet(quiet_only(3100.0));
        assert!(!q[0] && q[n - 1]);
        assert_eq!(q.iter().filter(|q| **q).count(), n - 1);
        // Without a yardstick, or without probes, nothing is set aside.
        assert!(c.pairs.quiet(Yardstick::default()).iter().all(|q| *q));
        c.pairs.probe_ns = None;
        assert!(c.pairs.quiet(quiet_only(3100.0)).iter().all(|q| *q));
        // A cell with too few quiet rounds keeps every round, and is busy.
        c.pairs.probe_ns = Some(vec![9000.0; n]);
        let kept = c.kept(quiet_only(3100.0));
        assert!(kept.rounds.iter().all(|q| *q));
        assert!(kept.busy);
        c.pairs.probe_ns = Some(vec![3100.0; n]);
        assert!(!c.kept(quiet_only(3100.0)).busy);
    }

    #[test]
    fn rounds_whose_threads_did_not_run_together_are_set_aside() {
        let mut c = sample::cell("plain", "private", 2, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; 3];
        c.pairs.probe_ns = Some(vec![3100.0; 3]);
        c.pairs.contention_ns = Some(vec![16_000.0, 7_000.0, 9_000.0]);
        let y = Yardstick {
            quiet_ns: Some(3100.0),
            contention_ns: Some(16_000.0),
        };
        // 7 us is under half the median: the vCPUs took turns.
        assert_eq!(c.pairs.quiet(y), vec![true, false, true]);
        // Thread 0 slow in its solo slice: that round's scaling is set
        // aside, its x floor is not.
        c.pairs.solo_probe_ns = Some(vec![3100.0, 3100.0, 4000.0]);
        assert_eq!(c.pairs.quiet_solo(y), vec![true, false, false]);
        assert_eq!(c.pairs.quiet(y), vec![true, false, true]);
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
                quiet_ns: Some(cap),
                contention_ns: Some(16_000.0)
            }
        );
        assert_eq!(y.for_threads(3), Yardstick::default());
        // So its rounds are busy, not quiet among themselves.
        assert!(two.pairs.quiet(y.for_threads(2)).iter().all(|q| !q));
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
    fn scaling_is_withheld_when_too_few_solo_slices_were_quiet() {
        let n = 10;
        let mut c = sample::cell("plain", "private", 2, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![1.0; n];
        c.pairs.floor_ns_per_page = vec![1.0; n];
        c.pairs.pages_per_sec = vec![2.0; n];
        c.pairs.solo_pages_per_sec = Some(vec![1.0; n]);
        c.pairs.probe_ns = Some(vec![3100.0; n]);
        // Thread 0 slow alone in 3 rounds: 7 quiet, under MIN_QUIET_ROUNDS.
        let mut solo = vec![3100.0; n];
        solo[..3].fill(4000.0);
        c.pairs.solo_probe_ns = Some(solo);
        let kept = c.kept(quiet_only(3100.0));
        assert!(!kept.busy, "x floor's rounds are all quiet");
        assert_eq!(kept.solo_rounds, None);
        crate::derive::derive(&mut c, quiet_only(3100.0));
        assert_eq!(c.scaling, None);
        assert!(c.scaling_withheld && !c.busy);
        // One more quiet solo slice and it is given, from those 8.
        if let Some(s) = c.pairs.solo_probe_ns.as_mut() {
            s[2] = 3100.0;
        }
        crate::derive::derive(&mut c, quiet_only(3100.0));
        assert_eq!(c.scaling.map(|s| s.n), Some(8));
        assert!(!c.scaling_withheld);
    }
}
