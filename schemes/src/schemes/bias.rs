//! `bias`: FOLL_PIN as a refcount bias on every folio, huge ones included,
//! with the one-atomic fast path it was merged with.
//!
//! Mirrors: commit 3faa52c03f44 "mm/gup: track FOLL_PIN pages" (John
//! Hubbard, v5.7-rc1; posted as patch 6/12 of "mm/gup: track FOLL_PIN
//! pages" v6, <20200211001536.1027652-7-jhubbard@nvidia.com>, 10 Feb 2020),
//! the design proposed in "RFC v2: mm: gup/dma tracking"
//! (<20190204052135.25784-1-jhubbard@nvidia.com>, Feb 2019), which first
//! added `GUP_PIN_COUNTING_BIAS`. In v5.6 `unpin_user_page()` was still
//! `put_page()`; tracking shipped in v5.7, and the very next commit of the
//! same series, 47e29d32afba ("mm/gup: page->hpage_pinned_refcount: exact
//! pin counts for huge pages"), gave huge pages an exact count. So the bias
//! on every folio is the design as proposed, never released; this scheme
//! shows why (a 2 MiB folio pinned whole adds 512 x 1024 to one refcount
//! and overflows after 4,095 such pins).
//!
//! As 3faa52c03f44 had it (mm/gup.c, include/linux/mm.h):
//! - fast path: `try_grab_compound_head()` = `try_get_compound_head(page,
//!   refs * GUP_PIN_COUNTING_BIAS)`: the `WARN_ON_ONCE(count < 0)` read and
//!   **one** `atomic_add_unless(&head->_refcount, refs * 1024, 0)`, fully
//!   ordered, which is also what orders the pin before the PTE re-check;
//! - slow path: `try_grab_page()`: `WARN_ON_ONCE(count <= 0)`, then
//!   `page_ref_add(head, GUP_PIN_COUNTING_BIAS)` per page;
//! - unpin: `unpin_user_pages()` looped `unpin_user_page()` over every
//!   entry ("TODO: this can be optimized for huge pages"), each
//!   `page_ref_sub_and_test(head, GUP_PIN_COUNTING_BIAS)`: one fully
//!   ordered atomic per page, huge folios included;
//! - `page_maybe_dma_pinned()`: `(unsigned int)page_ref_count(head) >=
//!   GUP_PIN_COUNTING_BIAS`, the cast keeping an overflowed count pinned.
//!
//! The race it had: `try_get_compound_head()` read `compound_head(page)`
//! and added to that head without re-checking that the page still belonged
//! to it, so a concurrent `split_huge_page()` (or a free and reallocation
//! as order-0 pages) could leave the pin on an unrelated page. Jann Horn's
//! c24d37322548 ("mm/gup: fix try_grab_compound_head() race with
//! split_huge_page()", v5.14-rc1) fixed it by taking a speculative `+refs`,
//! re-checking, and only then adding the rest: `refs * (BIAS - 1)`, a
//! second atomic. `hybrid` is that code; on order-0 pages `hybrid - bias`
//! is the price of the fix. The model has no splits, so the race itself is
//! not exercised.
//!
//! gup's walk around the grab (gup.rs) is today's for every scheme: the
//! NR_FOLL_PIN_* counters (1970dc6f5226, two commits later in the same
//! series), MMF_HAS_PINNED (v5.9) and PG_referenced, so that `bias` and
//! `hybrid` differ only in the grab and put.
//!
//! Deviation, on purpose: an add that would pass `i32::MAX` is refused
//! (inside the cmpxchg loop of the fast path; by add-check-undo on the slow
//! path) and the folio left unchanged; upstream wrapped and warned later.
//!
//! Memory: nothing beyond `struct page`.
//! Exactness: no false negatives; false positives on any folio with 1024 or
//! more ordinary references (a THP mapped by 1024 PTEs, a page shared by
//! 1024 processes). No exact count.
//! Limits: 31 - 10 = 21 bits of pins: 2,097,151 on a page mapped once; on a
//! 2 MiB folio pinned whole, 4,095 pins (2^21 subpage pins).

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::{Page, Pfn, GUP_PIN_COUNTING_BIAS};
use crate::scheme::{ref_error, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use std::sync::Arc;

/// Pins that fit in a refcount of 1: `(i32::MAX - 1) / 1024`.
pub(crate) const MAX_BIASED_PINS: u32 = ((i32::MAX - 1) / GUP_PIN_COUNTING_BIAS) as u32;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "bias",
    mirrors: "GUP_PIN_COUNTING_BIAS on all folios, one atomic (3faa52c03f44, v5.7-rc1)",
    source: "`GUP_PIN_COUNTING_BIAS` on every folio, huge ones included, with the one-atomic fast path of 3faa52c03f44 \"mm/gup: track FOLL_PIN pages\" (v5.7-rc1), as proposed in \"RFC v2: mm: gup/dma tracking\" (Feb 2019); never released for huge pages (47e29d32afba, the next commit, added exact huge-page counts)",
    exactness: Exactness::FalsePositives,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: MAX_BIASED_PINS,
};

/// Pins recorded as `GUP_PIN_COUNTING_BIAS` on the head page's refcount.
pub struct Bias {
    memmap: Arc<MemMap>,
}

impl Bias {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        Self { memmap }
    }
}

impl Registered for Bias {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Ok(Self::new(memmap))
    }
}

/// `folio_maybe_dma_pinned()` / `page_maybe_dma_pinned()` for a biased
/// folio, unsigned cast included.
#[inline]
pub(crate) fn biased_maybe_dma_pinned(head: &Page) -> bool {
    (head.ref_count() as u32) >= GUP_PIN_COUNTING_BIAS as u32
}

/// gup's entry points as they are.
impl Gup for Bias {}

impl PinScheme for Bias {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        let head = self.memmap.head_page(folio);
        let total = refs_i32(folio, refs, GUP_PIN_COUNTING_BIAS)?;
        match path {
            // try_get_compound_head(page, refs * BIAS): one fully ordered
            // atomic_add_unless(), no barrier after it needed.
            GupPath::Fast => head.ref_try_add(total),
            // try_grab_page(): the WARN_ON_ONCE(count <= 0) read, then
            // page_ref_add(BIAS).
            GupPath::Slow => head.ref_add_live(total),
        }
        .map(|_| ())
        .map_err(|e| ref_error(folio, refs, e))
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        refs_i32(folio, refs, GUP_PIN_COUNTING_BIAS)?;
        let head = self.memmap.head_page(folio);
        // unpin_user_page() per entry: page_ref_sub_and_test(BIAS), fully
        // ordered, once for every page of the run.
        for _ in 0..refs {
            head.put_refs(GUP_PIN_COUNTING_BIAS);
        }
        Ok(())
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        match self.memmap.folio(pfn) {
            Ok(folio) => biased_maybe_dma_pinned(self.memmap.head_page(folio)),
            Err(_) => false,
        }
    }

    fn pin_count(&self, _pfn: Pfn) -> Option<u32> {
        None
    }

    fn tracking_bytes(&self) -> usize {
        0
    }
}
