//! A cell's measured rounds, index by index: what every figure of the
//! cell is derived from, and the ABBA blocks its ratios are estimated by.
//!
//! Rounds alternate the order of their slices (subject first in one round,
//! floor first in the next), and the order shows: on the 2-vCPU EPYC VM the
//! median ratio of a visit's forward rounds and of its reversed ones
//! differed by 2 to 5% in most cells and by 10% in `memdesc` on 1 GiB
//! folios (the slice after the other kind pays for what that one left in
//! the caches). The median of rounds that alternate so sits between two
//! humps and moves with which rounds were kept. A **block** is a forward
//! round and the reversed one after it, in one visit: its ratio, the
//! geometric mean of the two, has the order's effect cancelled, and the
//! cell's figures are estimated over blocks.

use serde::{Deserialize, Serialize};
use std::ops::Range;

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
    /// The throughput probe (eight independent chains of one-cycle integer operations, a
    /// core's issue width) before and after each round's slices, the slower
    /// of the two: the slowest thread's ns (`null` in files written before
    /// it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_ns: Option<Vec<f64>>,
    /// The contention probe after it (every thread's locked adds on one
    /// shared line, started together): the slowest thread's ns; `null` in
    /// 1-thread cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contention_ns: Option<Vec<f64>>,
    /// The handoff probe after it (a line passed round the threads in
    /// turn, 64 turns each): the slowest thread's ns; `null` in 1-thread
    /// cells and in files from before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_ns: Option<Vec<f64>>,
    /// The clock probe thread 0 ran at the start of its solo slice, ns;
    /// `null` where the cell has no scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solo_probe_ns: Option<Vec<f64>>,
    /// The throughput probe thread 0 ran after that clock probe, ns;
    /// `null` where the cell has no scaling, and in files from before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solo_throughput_ns: Option<Vec<f64>>,
    /// How many of the rounds, in order, each visit measured (each visit
    /// over a fresh memmap): the units a rerun varies by. `null` in files
    /// written before it was kept: rounds are then paired over the cell,
    /// each block its own unit.
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
            Some(v) if self.visits_sum() == Some(n) => v
                .iter()
                .enumerate()
                .flat_map(|(i, &k)| std::iter::repeat_n(i, k))
                .collect(),
            _ => (0..n).collect(),
        }
    }

    /// The rounds [`Pairs::visit_rounds`] add up to; `None` without them or
    /// where the sum overflows (a hostile file).
    pub fn visits_sum(&self) -> Option<usize> {
        self.visit_rounds
            .as_ref()?
            .iter()
            .try_fold(0usize, |a, &k| a.checked_add(k))
    }

    /// The rounds of each block, in order: rounds 2k and 2k+1 of each
    /// visit (a visit's odd last round is a block alone). Where the file
    /// has no visits, rounds 2k and 2k+1 of the cell.
    pub fn blocks(&self) -> Vec<Range<usize>> {
        let n = self.subject_ns_per_page.len();
        let visits = match &self.visit_rounds {
            Some(v) if self.visits_sum() == Some(n) => v.clone(),
            _ => vec![n],
        };
        let mut out = Vec::with_capacity(n.div_ceil(2));
        let mut start = 0;
        for len in visits {
            let end = start + len;
            for first in (start..end).step_by(2) {
                out.push(first..(first + 2).min(end));
            }
            start = end;
        }
        out
    }

    /// Per block that `mask` keeps whole, the geometric mean of the
    /// per-round values `xs` over its rounds, and the block's unit for the
    /// interval: its visit, or (a file without visits) the block itself.
    pub fn by_block(&self, xs: &[f64], mask: &[bool]) -> (Vec<f64>, Vec<usize>) {
        let visits = self.visit_rounds.is_some().then(|| self.visits());
        let mut values = vec![];
        let mut units = vec![];
        for (i, b) in self.blocks().into_iter().enumerate() {
            if !b.clone().all(|r| mask.get(r).copied().unwrap_or(false)) {
                continue;
            }
            let Some(v) = xs.get(b.clone()) else { continue };
            // A ratio of 0 or less (no pages measured) has no place in a
            // geometric mean: its block is left out.
            if !v.iter().all(|x| x.is_finite() && *x > 0.0) {
                continue;
            }
            values.push(geometric_mean(v));
            units.push(visits.as_ref().map_or(i, |vs| vs[b.start]));
        }
        (values, units)
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

/// The geometric mean of `xs`, all above 0.
fn geometric_mean(xs: &[f64]) -> f64 {
    match xs {
        [x] => *x,
        [a, b] => (a * b).sqrt(),
        _ => (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(x: &[f64], visit_rounds: Option<Vec<usize>>) -> Pairs {
        Pairs {
            subject_ns_per_page: x.to_vec(),
            floor_ns_per_page: vec![1.0; x.len()],
            visit_rounds,
            ..Pairs::default()
        }
    }

    #[test]
    fn blocks_pair_rounds_within_each_visit() {
        let p = pairs(&[1.0; 7], Some(vec![4, 3]));
        assert_eq!(p.blocks(), vec![0..2, 2..4, 4..6, 6..7]);
        // No visits: pairs over the cell.
        let p = pairs(&[1.0; 5], None);
        assert_eq!(p.blocks(), vec![0..2, 2..4, 4..5]);
        // Visits that do not add up to the rounds are no visits.
        let p = pairs(&[1.0; 4], Some(vec![3, 3]));
        assert_eq!(p.blocks(), vec![0..2, 2..4]);
    }

    #[test]
    fn a_blocks_value_cancels_the_order_of_its_slices() {
        // Forward rounds read 10% high, reversed ones 10% low: each block
        // reads the ratio's own 2.0 (to rounding), where the rounds'
        // median would sit wherever the kept rounds put it.
        let x = [2.2, 2.0 / 1.1, 2.2, 2.0 / 1.1, 2.2, 2.0 / 1.1];
        let p = pairs(&x, Some(vec![4, 2]));
        let (values, units) = p.by_block(&p.x_floor(), &[true; 6]);
        assert_eq!(units, vec![0, 0, 1]);
        assert!(values.iter().all(|v| (v - 2.0).abs() < 1e-12), "{values:?}");
        // A block with a round set aside is set aside whole.
        let mask = [true, false, true, true, true, true];
        let (values, units) = p.by_block(&p.x_floor(), &mask);
        assert_eq!((values.len(), units), (2, vec![0, 1]));
        // Without visits each block is its own unit.
        let p = pairs(&x, None);
        assert_eq!(p.by_block(&p.x_floor(), &[true; 6]).1, vec![0, 1, 2]);
        // A block with a ratio of 0 (no pages measured) is left out, not
        // averaged into a value no round read.
        let mut zero = x;
        zero[1] = 0.0;
        let p = pairs(&zero, Some(vec![4, 2]));
        assert_eq!(p.by_block(&p.x_floor(), &[true; 6]).1, vec![0, 1]);
        // Visits that overflow when added are no visits, not a panic.
        let p = pairs(&[1.0; 4], Some(vec![usize::MAX, 5]));
        assert_eq!((p.visits_sum(), p.blocks()), (None, vec![0..2, 2..4]));
    }
}
