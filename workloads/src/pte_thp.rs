//! `pte-thp`: 2 MiB folios mapped by PTEs (the state a THP is left in
//! after a partial munmap, an mremap or a failed collapse), pinned and
//! unpinned `pages_per_call` pages at a time as `private` does. gup-fast
//! grabs such a folio once per PTE (`gup_fast_pte_range()`), where a
//! PMD-mapped one (`huge/9`) is grabbed once per folio with
//! `record_subpages()`: every grab of the same head page's refcount (and
//! `_pincount`) is a separate atomic on one cache line.

use super::Layout;
use pin_schemes::HPAGE_PMD_ORDER;

/// One line for `--help` and the README.
pub const DESCRIPTION: &str =
    "PTE-mapped 2 MiB folios pinned then unpinned in batches: one grab per PTE";

/// The folio order measured.
pub const ORDERS: &[u8] = &[HPAGE_PMD_ORDER];

/// Folios of `order` covering at least `pages_per_thread` pages,
/// `pages_per_call` pages per call.
pub fn layout(order: u8, pages_per_thread: usize, pages_per_call: usize) -> Layout {
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
