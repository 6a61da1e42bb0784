//! The two reference workers:
//! - `floor`: a bare `fetch_add(1)` over each page's `_refcount` in the
//!   batch, then a `fetch_sub(1)` over each: two atomic read-modify-writes
//!   per page, the physical limit any pin-tracking scheme is read against.
//!   Every cell runs it in slices paired with its subject, over the same
//!   pages of the same memmap with the same batch size;
//! - `noop`: the harness's own loop (window arithmetic, the call, one clock
//!   read and one histogram record per call) with no work, measured as a
//!   subject of its own to show that the harness does not blur few-ns
//!   differences.

use pin_schemes::{MemMap, Pfn};
use pin_workloads::{Cursor, Slot, Tally, Worker};
use std::sync::atomic::Ordering;

/// `fetch_add`/`fetch_sub` over `_refcount`.
pub struct Floor<'a> {
    memmap: &'a MemMap,
    pfns: Vec<Pfn>,
    cursor: Cursor,
}

impl<'a> Floor<'a> {
    /// Over the pages the thread's workload works on: its region of
    /// `memmap`, or the hot pages every thread shares where it has no region
    /// of its own (`shared`).
    pub fn new(memmap: &'a MemMap, slot: &Slot) -> Self {
        let pfns = if slot.region().is_empty() {
            slot.shared().map(Pfn).collect()
        } else {
            slot.region_pfns()
        };
        let cursor = Cursor::new(pfns.len(), slot.layout.pages_per_call);
        Self {
            memmap,
            pfns,
            cursor,
        }
    }
}

impl Worker for Floor<'_> {
    #[inline]
    fn batch(&mut self) -> u64 {
        let (start, end, _) = self.cursor.next_window();
        let pages = self.memmap.pages();
        let batch = &self.pfns[start..end];
        for pfn in batch {
            // AcqRel: the ordering every scheme's pin uses on `_refcount`
            // (see pin-schemes page.rs), so the floor pays what they pay.
            pages[pfn.0]._refcount.fetch_add(1, Ordering::AcqRel);
        }
        for pfn in batch {
            // Release: the ordering every scheme's unpin uses.
            pages[pfn.0]._refcount.fetch_sub(1, Ordering::Release);
        }
        (end - start) as u64
    }

    fn finish(self: Box<Self>) -> Tally {
        Tally::default()
    }
}

/// The harness loop with nothing inside.
pub struct Noop {
    pfns: Vec<Pfn>,
    cursor: Cursor,
}

impl Noop {
    /// Over the thread's region (walked, not touched).
    pub fn new(slot: &Slot) -> Self {
        let pfns = slot.region_pfns();
        let cursor = Cursor::new(pfns.len(), slot.layout.pages_per_call);
        Self { pfns, cursor }
    }
}

impl Worker for Noop {
    #[inline]
    fn batch(&mut self) -> u64 {
        let (start, end, _) = self.cursor.next_window();
        std::hint::black_box(&self.pfns[start..end]);
        (end - start) as u64
    }

    fn finish(self: Box<Self>) -> Tally {
        Tally::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_workloads::Workload;

    #[test]
    fn floor_leaves_refcounts_as_it_found_them() {
        let layout = Workload::Private.layout(0, 256, 64);
        let mm = MemMap::with_pages(layout.nr_pages(1)).expect("memmap");
        let slot = Slot {
            index: 0,
            threads: 1,
            layout,
        };
        let mut f = Box::new(Floor::new(&mm, &slot));
        let mut n = Box::new(Noop::new(&slot));
        for _ in 0..5 {
            assert_eq!(f.batch(), 64);
            assert_eq!(n.batch(), 64);
        }
        assert_eq!(f.finish(), Tally::default());
        assert!(mm.pages().iter().all(|p| p.ref_count() == 1));
    }
}
