//! `refstorm`: pages with many ordinary references, as a page mapped by
//! thousands of processes has. Each thread's region holds, for every
//! `k` in `0..MAX_REFS`, an unpinned page and a pinned page each carrying
//! `k` extra `get_page()` references; the timed operation is a scan of
//! `maybe_dma_pinned` over the region. A scheme that keeps pins in
//! `_refcount` (`bias`, `hybrid` on small folios) starts reporting the
//! unpinned pages as pinned once `1 + k >= GUP_PIN_COUNTING_BIAS`; the cell
//! records how many pages were wrong and the smallest `k` that fooled it.

use super::kit::{some_held, Holding, Scan, SetupError, Worker};
use super::{Info, Layout, Sizes, Slot};
use pin_schemes::{Gup, Pfn};

/// Its name, its line for `--help` and `pinbench list`, its folio orders.
pub const INFO: Info = Info {
    name: "refstorm",
    description: "pages with 0..2047 ordinary references scanned with maybe_dma_pinned: where false positives start",
    orders: &[0],
    pte_mapped: false,
};

/// References swept: `0..MAX_REFS`, two pages per count.
pub const MAX_REFS: usize = 2048;

/// Two pages per reference count per thread.
pub fn layout(s: Sizes) -> Layout {
    let pages_per_call = s.pages_per_call;
    Layout {
        shared_pages: 0,
        per_thread: 2 * MAX_REFS,
        order: 0,
        pages_per_call: pages_per_call.min(2 * MAX_REFS),
    }
}

/// Pin the odd pages, give page `2k` and `2k + 1` `k` references, scan.
pub fn worker<'a, S: Gup + ?Sized>(
    scheme: &'a S,
    slot: &Slot,
) -> Result<Box<dyn Worker + 'a>, SetupError> {
    let pfns = slot.region_pfns();
    let pins: Vec<Pfn> = pfns.iter().skip(1).step_by(2).copied().collect();
    let refs: Vec<(Pfn, u32)> = pfns
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, (i / 2) as u32))
        .collect();
    let n = slot.layout.pages_per_call;
    let start = slot.region().start;
    let w = Holding::new(scheme, &pins, &refs, |held, taken| {
        let mut truth = vec![false; pfns.len()];
        for &p in held {
            truth[p.0 - start] = true;
        }
        let counts = taken.iter().map(|&(_, k)| k).collect();
        Scan::new(scheme, pfns, truth, counts, n)
    });
    some_held("refstorm", w.held(), pins.len())?;
    Ok(Box::new(w))
}
