//! The runner's plug point: a [`Worker`] is one thread's side of a cell
//! (a workload over a scheme, the floor, the harness's empty loop, or a
//! real-kernel path), driven slice by slice by pinbench's paired runner; the
//! [`Tally`] is what it counted besides time.

use pin_results::{FpByRefs, Isolation};

/// One thread's side of a workload, driven by the runner.
pub trait Worker {
    /// False for background threads whose load matters but whose calls are
    /// not the cell's measurement (the get/put traffic of `mixed`).
    fn measured(&self) -> bool {
        true
    }

    /// One call: the operation on the next batch of pages. Returns the
    /// pages it covered.
    fn batch(&mut self) -> u64;

    /// Undoes the setup (drops held pins and references) and reports.
    fn finish(self: Box<Self>) -> Tally;
}

/// A thread whose setup failed: it meets the others at every barrier and
/// does nothing, so the cell ends with the failure named instead of a
/// panic.
pub struct Idle;

impl Worker for Idle {
    fn batch(&mut self) -> u64 {
        0
    }
    fn finish(self: Box<Self>) -> Tally {
        Tally::default()
    }
}

/// What a worker counted besides time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Pages wrongly reported pinned in one pass (largest pass seen).
    pub false_positives: Option<u64>,
    /// Pinned pages reported unpinned in one pass (largest pass seen).
    pub false_negatives: Option<u64>,
    /// Fewest ordinary references on an unpinned page that read as pinned.
    pub fp_threshold_refs: Option<u64>,
    /// Pin calls refused.
    pub refused: u64,
    /// Most pins one page accepted.
    pub max_pins: Option<u64>,
    /// Indexed by ordinary references: (unpinned pages holding that many,
    /// how many of them read as pinned). Empty unless the workload added
    /// references (`refstorm`).
    pub fp_by_refs: Vec<(u64, u64)>,
    /// `mixed`'s isolation round.
    pub isolation: Option<Isolation>,
}

fn opt(a: Option<u64>, b: Option<u64>, f: fn(u64, u64) -> u64) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

impl Tally {
    /// Combines threads: counts add, thresholds and limits take the least.
    pub fn merge(self, o: Tally) -> Tally {
        Tally {
            false_positives: opt(self.false_positives, o.false_positives, |a, b| a + b),
            false_negatives: opt(self.false_negatives, o.false_negatives, |a, b| a + b),
            fp_threshold_refs: opt(self.fp_threshold_refs, o.fp_threshold_refs, u64::min),
            refused: self.refused + o.refused,
            max_pins: opt(self.max_pins, o.max_pins, u64::min),
            fp_by_refs: add_by_index(self.fp_by_refs, &o.fp_by_refs),
            isolation: match (self.isolation, o.isolation) {
                (Some(a), Some(b)) => Some(Isolation {
                    isolated: a.isolated + b.isolated,
                    false_negatives: a.false_negatives + b.false_negatives,
                    lru_lost: a.lru_lost + b.lru_lost,
                }),
                (a, b) => a.or(b),
            },
        }
    }

    /// Combines every thread's tally.
    pub fn merge_all(ts: &[Tally]) -> Tally {
        ts.iter().fold(Tally::default(), |a, b| a.merge(b.clone()))
    }

    /// `fp_by_refs` for the results file: consecutive reference counts with
    /// the same (pages, false positives) merged into one run; `None` when
    /// the workload added no references.
    pub fn fp_runs(&self) -> Option<Vec<FpByRefs>> {
        let mut runs: Vec<FpByRefs> = Vec::new();
        for (k, &(pages, fp)) in self.fp_by_refs.iter().enumerate() {
            let k = k as u64;
            match runs.last_mut() {
                Some(r) if r.refs_max + 1 == k && r.pages == pages && r.false_positives == fp => {
                    r.refs_max = k;
                }
                _ => runs.push(FpByRefs {
                    refs_min: k,
                    refs_max: k,
                    pages,
                    false_positives: fp,
                }),
            }
        }
        (!runs.is_empty()).then_some(runs)
    }
}

/// Sums `b` into `a` element by element, extending `a` as needed.
fn add_by_index(mut a: Vec<(u64, u64)>, b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    if a.len() < b.len() {
        a.resize(b.len(), (0, 0));
    }
    for (x, y) in a.iter_mut().zip(b) {
        x.0 += y.0;
        x.1 += y.1;
    }
    a
}
