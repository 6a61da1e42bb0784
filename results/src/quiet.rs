//! Which rounds ran on a quiet machine.
//!
//! The shared VMs pinbench runs on flip, for seconds to minutes, between a
//! quiet state and a busy one (another tenant on the host core's SMT
//! sibling), in which a locked add on a private line costs 20 to 40% more
//! and code that hits one hot line up to twice as much, while the floor's
//! walk slows by a quarter. Pairing cancels drift within a state, not the
//! change of state: a ratio measured while busy is another number. Every
//! round therefore starts with a clock probe on every thread (512 locked
//! adds on a line of its own, `Pairs::probe_ns`); the run's quiet probe is
//! the 5th percentile over its cells of the same thread count, and a round
//! is quiet when its probe is within [`QUIET_PROBE`] of that. Measured on
//! the 2-vCPU Xeon VM: quiet probes 3100 to 3130 ns, busy ones 3600 to
//! 4400, in the same cells.

use crate::{Cell, Pairs};
use serde::{Deserialize, Serialize};

/// A round whose probe ran more than this much slower than the run's quiet
/// probe was measured on a busy machine.
pub const QUIET_PROBE: f64 = 0.05;

/// A cell with fewer quiet rounds than this (or than its rounds, if fewer)
/// is reported over all its rounds and marked busy: fewer than 8 ratios
/// give no 95% interval of their median narrower than their range.
pub const MIN_QUIET_ROUNDS: usize = 8;

/// The quiet probe of the cells of one thread count.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuietProbe {
    /// Threads of the cells.
    pub threads: usize,
    /// The 5th percentile of their rounds' probes, ns.
    pub ns: f64,
}

/// The run's quiet probes: per thread count (ascending), the 5th
/// percentile of the probes of every round of every cell with that many
/// threads; none for cells without probes.
pub fn quiet_probes(cells: &[Cell]) -> Vec<QuietProbe> {
    let mut threads: Vec<usize> = cells.iter().map(|c| c.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    threads
        .into_iter()
        .filter_map(|t| {
            let mut probes: Vec<f64> = cells
                .iter()
                .filter(|c| c.threads == t)
                .filter_map(|c| c.pairs.probe_ns.as_ref())
                .flatten()
                .copied()
                .filter(|x| x.is_finite() && *x > 0.0)
                .collect();
            if probes.is_empty() {
                return None;
            }
            probes.sort_by(f64::total_cmp);
            let i = ((probes.len() - 1) as f64 * 0.05).floor() as usize;
            Some(QuietProbe {
                threads: t,
                ns: probes[i],
            })
        })
        .collect()
}

impl QuietProbe {
    /// The quiet probe for `threads` among `probes`.
    pub fn of(probes: &[QuietProbe], threads: usize) -> Option<f64> {
        probes.iter().find(|p| p.threads == threads).map(|p| p.ns)
    }
}

impl Pairs {
    /// Whether each round ran on a quiet machine: its probe within
    /// [`QUIET_PROBE`] of `quiet_ns`. Every round is quiet when either is
    /// missing (a file from before the probe).
    pub fn quiet(&self, quiet_ns: Option<f64>) -> Vec<bool> {
        let n = self.subject_ns_per_page.len();
        match (&self.probe_ns, quiet_ns) {
            (Some(probe), Some(q)) => probe
                .iter()
                .map(|p| *p <= q * (1.0 + QUIET_PROBE))
                .collect(),
            _ => vec![true; n],
        }
    }
}

impl Cell {
    /// The rounds its figures come from: the quiet ones against
    /// `quiet_ns`, or every round of a busy cell.
    pub fn kept_rounds(&self, quiet_ns: Option<f64>) -> Vec<bool> {
        let mut mask = self.pairs.quiet(quiet_ns);
        if self.busy {
            mask.fill(true);
        }
        mask
    }
}

impl crate::Results {
    /// The per-round values `xs` of `cell` (one of this run's) that its
    /// figures come from.
    pub fn kept(&self, cell: &Cell, xs: &[f64]) -> Vec<f64> {
        let q = QuietProbe::of(&self.quiet_probe_ns, cell.threads);
        Pairs::keep(xs, &cell.kept_rounds(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    #[test]
    fn rounds_with_a_slow_probe_are_not_quiet() {
        let mut c = sample::cell("plain", "private", 1, 1.0, 1.0);
        let n = 4;
        c.pairs.subject_ns_per_page = vec![1.0; n];
        let mut probe = vec![3100.0; n];
        probe[0] = 3300.0; // 6% slower: busy
        probe[n - 1] = 3250.0; // 4.8%: still quiet
        c.pairs.probe_ns = Some(probe);
        let q = c.pairs.quiet(Some(3100.0));
        assert!(!q[0] && q[n - 1]);
        assert_eq!(q.iter().filter(|q| **q).count(), n - 1);
        // Without a reference, or without probes, nothing is set aside.
        assert!(c.pairs.quiet(None).iter().all(|q| *q));
        c.pairs.probe_ns = None;
        assert!(c.pairs.quiet(Some(3100.0)).iter().all(|q| *q));
    }

    #[test]
    fn the_quiet_probe_is_the_fifth_percentile_per_thread_count() {
        let mut one = sample::cell("plain", "private", 1, 1.0, 1.0);
        let mut two = sample::cell("plain", "private", 2, 1.0, 1.0);
        // 100 probes 3000..3099 on one thread; the 5th percentile is 3004.
        one.pairs.probe_ns = Some((0..100).map(|i| 3000.0 + f64::from(i)).collect());
        two.pairs.probe_ns = Some(vec![4000.0; 3]);
        let bare = sample::cell("bias", "private", 1, 1.0, 1.0);
        let q = quiet_probes(&[two, bare, one]);
        assert_eq!(
            q,
            vec![
                QuietProbe {
                    threads: 1,
                    ns: 3004.0
                },
                QuietProbe {
                    threads: 2,
                    ns: 4000.0
                },
            ]
        );
        assert_eq!(QuietProbe::of(&q, 2), Some(4000.0));
        assert_eq!(QuietProbe::of(&q, 3), None);
    }
}
