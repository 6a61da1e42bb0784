//! The report's tables, built once and rendered by `text` as plain text
//! and as Markdown: one per workload shape (schemes as rows, thread counts
//! and runs as column groups), then false positives against ordinary
//! references, memory cost, and NUMA local against remote.

mod false_positives;
mod memory;
mod numa;
mod overview;
mod workloads;

pub use false_positives::{false_positives, rate_segments};
pub use memory::{bytes_per_page, gib_per_tib, memory, memory_cells, metadata};
pub use numa::{find, numa, numa_pairs};
pub use overview::overview;
pub use workloads::{kernel_paths, marks, workloads, COLUMNS};

use crate::runs::Run;
use crate::table::{num, Table};
use pin_results::Cell;

/// A table with what the reader needs to read it.
pub struct Titled {
    /// One line naming it.
    pub heading: String,
    /// What its numbers are (wrapped by the renderer).
    pub about: String,
    /// The table.
    pub table: Table,
    /// Explanations of the marks it uses.
    pub footnotes: Vec<String>,
    /// Which plots belong beside it ([`crate::plots::Figure::section`]).
    pub section: String,
}

pub use crate::legend::{BUSY, BUSY_WORD as WITHHELD, DISTURBED, WIDE};

pub(crate) fn run_prefix(runs: &[Run], run: &Run) -> String {
    if runs.len() > 1 {
        format!("[{}] ", run.label)
    } else {
        String::new()
    }
}

pub(crate) fn threads(t: usize) -> String {
    if t == 1 {
        "1 thread".into()
    } else {
        format!("{t} threads")
    }
}

/// `1.62+-0.01`: a median and the half-width of its 95% CI, or `-` for
/// an estimate of no samples.
pub fn estimate(e: &pin_results::Estimate) -> String {
    if e.n == 0 {
        return "-".into();
    }
    let hw = (e.ci_high - e.ci_low) / 2.0;
    // The half-width to the median's own precision.
    let digits = num(e.median).split('.').nth(1).map_or(0, str::len);
    format!("{}+-{hw:.digits$}", num(e.median))
}

/// Cells of `workload` at the run's smallest thread count, memmap local.
pub(crate) fn at_fewest_threads<'a>(run: &'a Run, workload: &str) -> Vec<&'a Cell> {
    let cells = || {
        run.results
            .cells
            .iter()
            .filter(move |c| c.workload == workload && c.numa.placement == "local")
    };
    let fewest = cells().map(|c| c.threads).min();
    cells().filter(|c| Some(c.threads) == fewest).collect()
}
