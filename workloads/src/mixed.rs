//! `mixed`: long-term pins held (an RDMA registration of every
//! [`LONG_TERM_EVERY`]th page of every thread's region) while the other
//! threads do ordinary `get_page()`/`put_page()` traffic on their regions,
//! and thread 0 acts as the reclaim/writeback scanner, calling
//! `maybe_dma_pinned` on every page of the memmap (what `folio_maybe_dma_pinned()`
//! callers in mm/vmscan.c and the writeback path do). The cell's timing is
//! the scanner's query cost under that traffic; false positives and
//! negatives are counted against the pins this workload itself holds:
//! thread 0 takes them all, and a pin refused for want of memory is left
//! out of the truth and counted in the cell's `refused`.
//! With one thread the scanner runs alone.
//!
//! Before the timed loop each thread also runs one isolation round, a
//! reclaim-like isolator racing pins in its simplest interleaving: it takes
//! [`ISOLATE_BATCH`] pages of the thread's region off their LRU onto a
//! private list (`isolate_lru_pages()`, as `shrink_inactive_list()` does),
//! gup pins them (DMA into memory under reclaim), the pins are checked
//! with `maybe_dma_pinned`, the isolator puts its list back, the pins are
//! released. Counted: pins that read unpinned, and pages the isolator's
//! list lost because a scheme wrote their `lru` words (the 2018 page-flag
//! RFC's flaw); lost pages are then put back, so the run goes on.

use super::kit::{some_held, Cursor, Holding, Scan, SetupError, Tally, Worker};
use super::{Info, Layout, Sizes, Slot};
use pin_results::Isolation;
use pin_schemes::page::pg;
use pin_schemes::{Gup, GupPath, Pfn};

/// Its name, its line for `--help` and `pinbench list`, its folio orders.
pub const INFO: Info = Info {
    name: "mixed",
    description: "long-term pins held, get/put traffic, thread 0 scans maybe_dma_pinned vs ground truth",
    orders: &[0],
    pte_mapped: false,
};

/// One page in this many of each region is long-term pinned.
pub const LONG_TERM_EVERY: usize = 8;

/// Pages of an isolation round: `SWAP_CLUSTER_MAX`, what reclaim isolates
/// at a time.
pub const ISOLATE_BATCH: usize = 32;

/// A region of small folios per thread, a multiple of [`LONG_TERM_EVERY`].
pub fn layout(s: Sizes) -> Layout {
    let Sizes {
        pages_per_thread,
        pages_per_call,
        ..
    } = s;
    Layout {
        shared_pages: 0,
        per_thread: pages_per_thread
            .max(pages_per_call)
            .next_multiple_of(LONG_TERM_EVERY),
        order: 0,
        pages_per_call,
    }
}

/// The long-term pins: every [`LONG_TERM_EVERY`]th page of every region.
fn long_term(slot: &Slot) -> Vec<Pfn> {
    (0..slot.threads)
        .flat_map(|t| slot.layout.region(t).step_by(LONG_TERM_EVERY))
        .map(Pfn)
        .collect()
}

/// Ground truth over the memmap: the pins actually held.
fn truth(nr_pages: usize, held: &[Pfn]) -> Vec<bool> {
    let mut truth = vec![false; nr_pages];
    for &p in held {
        truth[p.0] = true;
    }
    truth
}

/// Ordinary references taken and dropped, page by page.
struct Traffic<'a, S: ?Sized> {
    scheme: &'a S,
    pfns: Vec<Pfn>,
    cursor: Cursor,
}

impl<S: Gup + ?Sized> Worker for Traffic<'_, S> {
    fn measured(&self) -> bool {
        false
    }

    #[inline]
    fn batch(&mut self) -> u64 {
        let (start, end, _) = self.cursor.next_window();
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

/// The isolation round (see the module doc) over the first
/// [`ISOLATE_BATCH`] pages of the thread's region that are not long-term
/// pinned.
fn isolation_round<S: Gup + ?Sized>(scheme: &S, slot: &Slot) -> Isolation {
    let mm = scheme.memmap();
    let start = slot.region().start;
    let pfns: Vec<Pfn> = slot
        .region()
        .filter(|p| !(p - start).is_multiple_of(LONG_TERM_EVERY))
        .take(ISOLATE_BATCH)
        .map(Pfn)
        .collect();
    let Some(nid) = pfns.first().and_then(|&p| mm.nid(p)) else {
        return Isolation::default();
    };
    let lru = mm.lruvec(nid);
    let list = lru.isolate_list(mm.pages(), &pfns);
    let pinned: Vec<Pfn> = pfns
        .iter()
        .copied()
        .filter(|&p| scheme.pin(p, GupPath::Fast).is_ok())
        .collect();
    let false_negatives = pinned
        .iter()
        .filter(|&&p| !scheme.maybe_dma_pinned(p))
        .count();
    let back = lru.putback_list(mm.pages(), list);
    for &p in &pinned {
        // Releasing a pin this round took cannot fail.
        let _ = scheme.unpin(p);
    }
    // What the list lost is still isolated: put it back, so the memmap
    // stays whole for the rest of the cell. First the pages waiting in
    // pagevecs go onto their LRUs (`flag` reads a lost page's list link
    // as its WasLru bit and puts it back through one), so that a page off
    // its LRU now is one the list lost.
    pin_schemes::lru_add::lru_add_drain_all(mm);
    for &p in &back.unreached {
        let off_lru = mm.page(p).is_some_and(|pg| pg.flags() & pg::LRU == 0);
        if off_lru {
            lru.putback_page(mm.pages(), p);
        }
    }
    Isolation {
        isolated: pinned.len() as u64,
        false_negatives: false_negatives as u64,
        lru_lost: back.unreached.len() as u64,
    }
}

/// A worker with the result of its thread's isolation round.
struct Isolated<'a> {
    inner: Box<dyn Worker + 'a>,
    isolation: Isolation,
}

impl Worker for Isolated<'_> {
    fn measured(&self) -> bool {
        self.inner.measured()
    }

    #[inline]
    fn batch(&mut self) -> u64 {
        self.inner.batch()
    }

    fn finish(self: Box<Self>) -> Tally {
        let me = *self;
        Tally {
            isolation: Some(me.isolation),
            ..me.inner.finish()
        }
    }
}

/// Take this thread's long-term pins and run its isolation round, then
/// scan (thread 0) or make traffic.
pub fn worker<'a, S: Gup + ?Sized>(
    scheme: &'a S,
    slot: &Slot,
) -> Result<Box<dyn Worker + 'a>, SetupError> {
    let inner = holding(scheme, slot)?;
    let isolation = isolation_round(scheme, slot);
    Ok(Box::new(Isolated { inner, isolation }))
}

/// Thread 0 takes every region's long-term pins (one process registering
/// all the buffers) and scans against the pins it actually holds, so a pin
/// refused for want of memory (`--failslab` with `--on-alloc-fail fail`)
/// is counted as refused, never as the scheme's false negative; the other
/// threads make traffic.
fn holding<'a, S: Gup + ?Sized>(
    scheme: &'a S,
    slot: &Slot,
) -> Result<Box<dyn Worker + 'a>, SetupError> {
    let n = slot.layout.pages_per_call;
    if slot.index != 0 {
        let pfns = slot.region_pfns();
        let cursor = Cursor::new(pfns.len(), n);
        return Ok(Box::new(Traffic {
            scheme,
            pfns,
            cursor,
        }));
    }
    let pins = long_term(slot);
    let nr_pages = slot.nr_pages();
    let w = Holding::new(scheme, &pins, &[], |held, _| {
        let pfns: Vec<Pfn> = (0..nr_pages).map(Pfn).collect();
        Scan::new(scheme, pfns, truth(nr_pages, held), Vec::new(), n)
    });
    some_held("mixed", w.held(), pins.len())?;
    Ok(Box::new(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_schemes::{build, Folio, MemMap, PinError, PinScheme};
    use crate::Workload;
    use std::sync::Arc;

    /// An exact scheme that refuses every pin of one pfn for want of memory.
    struct Refusing {
        inner: Box<dyn Gup>,
        refused: Pfn,
    }

    impl Gup for Refusing {}

    impl PinScheme for Refusing {
        pin_schemes::delegate_pin_scheme!(inner);
        fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
            if folio.head == self.refused {
                return Err(PinError::NoMemory(folio.head));
            }
            self.inner.grab_folio(folio, refs, path)
        }
    }

    #[test]
    fn a_long_term_pin_refused_for_good_is_refused_not_a_false_negative() {
        let slot = Slot {
            index: 0,
            threads: 2,
            layout: Workload::Mixed.layout(0, 64, 16),
        };
        let mm = Arc::new(MemMap::with_pages(slot.nr_pages()).expect("memmap"));
        let scheme = Refusing {
            inner: build("exact", mm).expect("scheme"),
            refused: Pfn(72),
        };
        let mut w = holding(&scheme, &slot).expect("worker");
        for _ in 0..2 * slot.nr_pages() / 16 {
            w.batch();
        }
        let tally = w.finish();
        assert_eq!(tally.refused, 1, "pfn 72, in thread 1's region");
        assert_eq!(tally.false_negatives, Some(0));
        assert_eq!(tally.false_positives, Some(0));
        assert!(!scheme.maybe_dma_pinned(Pfn(8)), "released at finish");
    }

    #[test]
    fn long_term_pins_are_every_eighth_page_of_each_region() {
        let slot = Slot {
            index: 0,
            threads: 2,
            layout: Workload::Mixed.layout(0, 64, 16),
        };
        let pins = long_term(&slot);
        assert_eq!(pins, (0..128).step_by(8).map(Pfn).collect::<Vec<_>>());
        let t = truth(slot.nr_pages(), &pins[1..]);
        assert!(!t[0] && t[8] && t[120] && !t[121], "only the pins held");
    }
}
