//! A cell's measured rounds, index by index: what every figure of the
//! cell is derived from.

use serde::{Deserialize, Serialize};

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
