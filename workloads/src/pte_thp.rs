//! `pte-thp`: 2 MiB folios mapped by PTEs (the state a THP is left in
//! after a partial munmap, an mremap or a failed collapse), pinned and
//! unpinned `pages_per_call` pages at a time as `private` does. gup-fast
//! grabs such a folio once per PTE (`gup_fast_pte_range()`), where a
//! PMD-mapped one (`huge/9`) is grabbed once per folio with
//! `record_subpages()`: every grab of the same head page's refcount (and
//! `_pincount`) is a separate atomic on one cache line.

use super::{Info, Layout, Sizes};
use pin_schemes::HPAGE_PMD_ORDER;

/// Its name, its line for `--help` and `pinbench list`, its folio orders.
pub const INFO: Info = Info {
    name: "pte-thp",
    description: "PTE-mapped 2 MiB folios pinned then unpinned in batches: one grab per PTE",
    orders: &[HPAGE_PMD_ORDER],
    pte_mapped: true,
};


/// Folios of `order` covering at least `pages_per_thread` pages,
/// `pages_per_call` pages per call.
pub fn layout(s: Sizes) -> Layout {
    let Sizes {
        order,
        pages_per_thread,
        pages_per_call,
    } = s;
    let folio = 1usize << order;
    Layout {
        shared_pages: 0,
        per_thread: pages_per_thread.max(pages_per_call).div_ceil(folio) * folio,
        order,
        pages_per_call,
    }
}

/// Pin and unpin the thread's pages, batch by batch: `private`'s loop.
pub use super::private::worker;
