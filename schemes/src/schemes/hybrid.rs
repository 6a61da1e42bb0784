//! `hybrid`: upstream FOLL_PIN, v6.12.
//!
//! Mirrors: mm/gup.c and include/linux/mm.h of v6.12 (`try_get_folio()`,
//! `try_grab_folio_fast()`, `try_grab_folio()`, `gup_put_folio()`,
//! `folio_maybe_dma_pinned()`), Documentation/core-api/pin_user_pages.rst.
//! History: the bias of 3faa52c03f44 (v5.7-rc1, see `bias`), exact counts
//! for huge pages from 47e29d32afba ("mm/gup: page->hpage_pinned_refcount:
//! exact pin counts for huge pages", the next commit, v5.7-rc1), now
//! `folio->_pincount` at offset 92 of the folio (+28 of the first tail
//! page), and the two-atomic fast path of c24d37322548 ("mm/gup: fix
//! try_grab_compound_head() race with split_huge_page()", v5.14-rc1).
//! - small folio, fast path: `try_get_folio(page, refs)` (a fully ordered
//!   `atomic_add_unless(+refs)`; the re-check that the page still belongs
//!   to the folio reads a line the walk just read), then
//!   `folio_ref_add(refs * (GUP_PIN_COUNTING_BIAS - 1))` and
//!   `smp_mb__after_atomic()`: two `lock`ed instructions;
//! - small folio, slow path: `folio_ref_add(refs * GUP_PIN_COUNTING_BIAS)`;
//! - large folio: `_refcount += refs` (the fast path's speculative
//!   reference kept as that) and `atomic_add(refs, &_pincount)`, then on the
//!   fast path `smp_mb__after_atomic()`;
//! - unpin: `atomic_sub(refs, &_pincount)` for a large folio, then
//!   `folio_put_refs(refs)` (times the bias for a small one), fully ordered;
//! - `folio_maybe_dma_pinned()`: `_pincount > 0` for large folios, the
//!   bias test for small ones.
//!
//! Since v6.15 `folio_has_pincount()` decides instead of
//! `folio_test_large()`: on 64-bit every large folio has `_pincount` (the
//! same as here); on 32-bit order-1 folios fall back to the bias. Not
//! modelled: the model is 64-bit.
//!
//! Memory: nothing beyond `struct page` (`_pincount` overlays a tail page).
//! Exactness: exact for large folios; small folios keep the bias's false
//! positives at 1024 ordinary references. `pin_count` is known for large
//! folios only.
//! Limits: small folios 2,097,151 pins (21 bits); large folios are bounded by
//! the i32 refcount (i32::MAX - 1 subpage pins).

use super::bias::{biased_maybe_dma_pinned, MAX_BIASED_PINS};
use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::{Pfn, GUP_PIN_COUNTING_BIAS};
use crate::scheme::{grab_refs, ref_error, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use crate::sync::{smp_mb__after_atomic, Ordering};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "hybrid",
    mirrors: "upstream v6.12: bias for small folios, _pincount for large",
    source: "upstream v6.12 (mm/gup.c `try_grab_folio_fast()`, `try_grab_folio()`, `gup_put_folio()`; include/linux/mm.h `folio_maybe_dma_pinned()`): the bias for small folios with the two-atomic fast path of c24d37322548 (v5.14-rc1), `folio->_pincount` (47e29d32afba, v5.7-rc1) for large ones",
    exactness: Exactness::ExactLargeOnly,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: MAX_BIASED_PINS,
};

/// Upstream FOLL_PIN accounting.
pub struct Hybrid {
    memmap: Arc<MemMap>,
}

impl Hybrid {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        Self { memmap }
    }

    /// The small-folio grab: the bias, in two steps on the fast path.
    #[inline]
    fn grab_small(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        let head = self.memmap.head_page(folio);
        let total = refs_i32(folio, refs, GUP_PIN_COUNTING_BIAS)?;
        match path {
            GupPath::Fast => {
                let first = total / GUP_PIN_COUNTING_BIAS;
                // try_get_folio(), refusing here a pin whose second step
                // would overflow (the model's deviation, see page.rs).
                head.ref_try_add_leaving(first, total - first)
                    .map_err(|e| ref_error(folio, refs, e))?;
                // A concurrent pin can still take the room in between.
                if let Err(e) = head.ref_add(total - first) {
                    head.put_refs(first);
                    return Err(ref_error(folio, refs, e));
                }
                smp_mb__after_atomic();
                Ok(())
            }
            GupPath::Slow => head
                .ref_add_live(total)
                .map(|_| ())
                .map_err(|e| ref_error(folio, refs, e)),
        }
    }
}

impl Registered for Hybrid {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Ok(Self::new(memmap))
    }
}

/// gup's entry points as they are.
impl Gup for Hybrid {}

impl PinScheme for Hybrid {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        if !folio.is_large() {
            return self.grab_small(folio, refs, path);
        }
        let nr = refs_i32(folio, refs, 1)?;
        grab_refs(&self.memmap, folio, refs, path)?;
        // Relaxed: atomic_add() is unordered; the barrier below orders it
        // on the fast path. Cannot overflow: _pincount <= _refcount - 1,
        // whose add was just checked.
        self.memmap
            .first_tail(folio)
            ._pincount
            .fetch_add(nr, Ordering::Relaxed);
        if path == GupPath::Fast {
            smp_mb__after_atomic();
        }
        Ok(())
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let head = self.memmap.head_page(folio);
        if !folio.is_large() {
            head.put_refs(refs_i32(folio, refs, GUP_PIN_COUNTING_BIAS)?);
            return Ok(());
        }
        let nr = refs_i32(folio, refs, 1)?;
        // Relaxed: atomic_sub() is unordered; folio_put_refs() after it is
        // fully ordered.
        self.memmap
            .first_tail(folio)
            ._pincount
            .fetch_sub(nr, Ordering::Relaxed);
        head.put_refs(nr);
        Ok(())
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        let Ok(folio) = self.memmap.folio(pfn) else {
            return false;
        };
        if folio.is_large() {
            // Relaxed: atomic_read().
            self.memmap.first_tail(folio)._pincount.load(Ordering::Relaxed) > 0
        } else {
            biased_maybe_dma_pinned(self.memmap.head_page(folio))
        }
    }

    fn pin_count(&self, pfn: Pfn) -> Option<u32> {
        let folio = self.memmap.folio(pfn).ok()?;
        folio.is_large().then(|| {
            // Relaxed: atomic_read().
            self.memmap.first_tail(folio)._pincount.load(Ordering::Relaxed) as u32
        })
    }

    fn tracking_bytes(&self) -> usize {
        0
    }
}
