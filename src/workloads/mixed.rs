//! `mixed`: long-term pins held (an RDMA registration of every
//! [`LONG_TERM_EVERY`]th page of every thread's region) while the other
//! threads do ordinary `get_page()`/`put_page()` traffic on their regions,
//! and thread 0 acts as the reclaim/writeback scanner, calling
//! `maybe_dma_pinned` on every page of the memmap (what `folio_maybe_dma_pinned()`
//! callers in mm/vmscan.c and the writeback path do). The cell's timing is
//! the scanner's query cost under that traffic; false positives and
//! negatives are counted against the pins this workload itself holds.
//! With one thread the scanner runs alone.

use super::kit::{Cursor, Holding, Scan, Tally, Worker};
use super::{Layout, Slot};
use pin_schemes::{Pfn, PinScheme};

/// One line for `--help` and the README.
pub const DESCRIPTION: &str =
    "long-term pins held, get/put traffic, thread 0 scans maybe_dma_pinned vs ground truth";

/// One page in this many of each region is long-term pinned.
pub const LONG_TERM_EVERY: usize = 8;

/// A region of small folios per thread, a multiple of [`LONG_TERM_EVERY`].
pub fn layout(pages_per_thread: usize, pages_per_call: usize) -> Layout {
    Layout {
        shared_pages: 0,
        per_thread: pages_per_thread
            .max(pages_per_call)
            .next_multiple_of(LONG_TERM_EVERY),
        order: 0,
        pages_per_call,
    }
}

/// Ground truth: `truth[pfn]` is true for the long-term pinned pages.
fn long_term(slot: &Slot) -> Vec<bool> {
    let mut truth = vec![false; slot.nr_pages()];
    for t in 0..slot.threads {
        for pfn in slot.layout.region(t).step_by(LONG_TERM_EVERY) {
            truth[pfn] = true;
        }
    }
    truth
}

/// Ordinary references taken and dropped, page by page.
struct Traffic<'a, S: ?Sized> {
    scheme: &'a S,
    pfns: Vec<Pfn>,
    cursor: Cursor,
}

impl<S: PinScheme + ?Sized> Worker for Traffic<'_, S> {
    fn measured(&self) -> bool {
        false
    }

    #[inline]
    fn batch(&mut self) -> u64 {
        let (start, end, _) = self.cursor.next();
        for &pfn in &self.pfns[start..end] {
            if self.scheme.get(pfn).is_ok() {
                let _ = self.scheme.put(pfn);
            }
        }
        (end - start) as u64
    }

    fn finish(self: Box<Self>) -> Tally {
        Tally::default()
    }
}

/// Take this thread's long-term pins, then scan (thread 0) or make traffic.
pub fn worker<'a, S: PinScheme + ?Sized>(scheme: &'a S, slot: &Slot) -> Box<dyn Worker + 'a> {
    let n = slot.layout.pages_per_call;
    let pins: Vec<Pfn> = slot.region().step_by(LONG_TERM_EVERY).map(Pfn).collect();
    if slot.index == 0 {
        let pfns: Vec<Pfn> = (0..slot.nr_pages()).map(Pfn).collect();
        let truth = long_term(slot);
        let (w, refused) = Holding::new(scheme, &pins, &[], |_| {
            Scan::new(scheme, pfns, truth, Vec::new(), n)
        });
        debug_assert_eq!(refused, 0);
        Box::new(w)
    } else {
        let pfns = slot.region_pfns();
        let cursor = Cursor::new(pfns.len(), n);
        let (w, _) = Holding::new(scheme, &pins, &[], |_| Traffic {
            scheme,
            pfns,
            cursor,
        });
        Box::new(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_marks_every_eighth_page_of_each_region() {
        let slot = Slot {
            index: 0,
            threads: 2,
            layout: layout(64, 16),
        };
        let truth = long_term(&slot);
        let pinned: Vec<usize> = (0..slot.nr_pages()).filter(|&p| truth[p]).collect();
        assert_eq!(pinned, (0..128).step_by(8).collect::<Vec<_>>());
    }
}
