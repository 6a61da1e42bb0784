//! `huge`: whole large folios pinned and unpinned, one folio per call:
//! 2 MiB (order 9, a PMD-mapped THP) and 1 GiB (order 18, a PUD-mapped
//! hugetlb page). gup walks the folio's subpages (`record_subpages()`) and
//! takes all its pins with one `try_grab_folio_fast(folio, refs)`, so the
//! cost per page is tiny and the per-folio counting is what differs
//! (`bias` adds 1024 per subpage to the head's refcount, `hybrid` uses
//! `_pincount`). Each thread's region is a whole number of folios, at
//! least one; the 1 GiB cell needs 16 MiB of memmap per thread and is
//! skipped where memory does not allow it.

use super::kit::{PinLoop, SetupError, Worker};
use super::{Info, Layout, Sizes, Slot};
use pin_schemes::{Gup, HPAGE_PMD_ORDER, HPAGE_PUD_ORDER};

/// Its name, its line for `--help` and `pinbench list`, its folio orders.
pub const INFO: Info = Info {
    name: "huge",
    description: "whole 2 MiB (order 9) and 1 GiB (order 18) folios pinned then unpinned",
    orders: &[HPAGE_PMD_ORDER, HPAGE_PUD_ORDER],
    pte_mapped: false,
};


/// Folios of `order` covering at least `pages_per_thread` pages; one folio
/// per call.
pub fn layout(s: Sizes) -> Layout {
    let Sizes {
        order,
        pages_per_thread,
        ..
    } = s;
    let folio = 1usize << order;
    Layout {
        shared_pages: 0,
        per_thread: pages_per_thread.div_ceil(folio).max(1) * folio,
        order,
        pages_per_call: folio,
    }
}

/// Pin and unpin the thread's folios, one whole folio per call.
pub fn worker<'a, S: Gup + ?Sized>(
    scheme: &'a S,
    slot: &Slot,
) -> Result<Box<dyn Worker + 'a>, SetupError> {
    Ok(Box::new(PinLoop::new(
        scheme,
        slot.region_pfns(),
        slot.layout.pages_per_call,
    )))
}
