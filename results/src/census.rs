//! `cells[].census`: what a model cell's code did, counted in an untimed
//! pass over a fresh memmap (the harness's `census` pass, from the
//! schemes' counted atomics: `pin_schemes::census`). Every count is a total
//! over the pass and [`Census::pages`] is their divisor, so the numbers are
//! integers, identical on every run of the same build and settings, and a
//! per-page figure is one division away.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Distinct 64-byte lines, split by where they lie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lines {
    /// In the memmap (`struct page`).
    pub memmap: u64,
    /// Elsewhere: side trees, counters, locks, vmstat, the mm.
    pub tracking: u64,
}

impl Lines {
    /// Both.
    pub fn total(&self) -> u64 {
        self.memmap + self.tracking
    }
}

/// A model cell's census.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// Pages the measured threads' calls covered in the counted pass (each
    /// pinned and unpinned once, or queried once): the divisor of every
    /// count below.
    pub pages: u64,
    /// Locked read-modify-writes (x86's `lock`-prefixed instructions and
    /// `xchg`), by what they hit: a `struct page` field (`_refcount`,
    /// `_pincount`, `flags`, `lru`), `vmstat`, `mm_struct`, `lock word`,
    /// `other` (a scheme's side structure).
    pub locked_rmw: BTreeMap<String, u64>,
    /// Full barriers (`smp_mb()`).
    pub fences: u64,
    /// Lock acquisitions, by lock (`xa_lock`, `zone_gup_lock`,
    /// `lru_lock`, `ptl`, `mmap_lock (read)`, ...).
    pub lock_acquisitions: BTreeMap<String, u64>,
    /// `rcu_read_lock()` calls, nested ones included.
    pub rcu_sections: u64,
    /// Lines each thread read, summed over threads.
    pub lines_read: Lines,
    /// Lines each thread wrote, summed over threads.
    pub lines_written: Lines,
    /// Lines written by more than one thread of the cell: each is a
    /// cache-line transfer per handover on real hardware.
    pub shared_lines_written: u64,
    /// Memmap lines the threads touched on a node other than theirs (from
    /// the cell's placement).
    pub remote_lines: u64,
    /// Tracking objects allocated.
    pub allocs: u64,
    /// Tracking objects freed.
    pub frees: u64,
    /// The vmstat threshold the pass ran with: how often a per-CPU diff
    /// folds into the shared counters (mm/vmstat.c), so a count of
    /// `vmstat` depends on it and it on the machine's CPUs and memory.
    pub stat_threshold: i8,
}

impl Census {
    /// All locked read-modify-writes.
    pub fn locked_rmw_total(&self) -> u64 {
        self.locked_rmw.values().sum()
    }

    /// All lock acquisitions.
    pub fn locks_total(&self) -> u64 {
        self.lock_acquisitions.values().sum()
    }

    /// `count` per page of the pass (0 for an empty pass).
    pub fn per_page(&self, count: u64) -> f64 {
        if self.pages == 0 {
            0.0
        } else {
            count as f64 / self.pages as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_per_page_figures() {
        let c = Census {
            pages: 4,
            locked_rmw: [("_refcount".to_string(), 8), ("flags".to_string(), 2)]
                .into_iter()
                .collect(),
            lock_acquisitions: [("xa_lock".to_string(), 2)].into_iter().collect(),
            ..Census::default()
        };
        assert_eq!(c.locked_rmw_total(), 10);
        assert_eq!(c.locks_total(), 2);
        assert_eq!(c.per_page(c.locked_rmw_total()), 2.5);
        assert_eq!(Census::default().per_page(3), 0.0);
    }
}
