//! `hybrid`: upstream FOLL_PIN since v5.7 and today.
//!
//! Mirrors: mm/gup.c and include/linux/mm.h of v6.12 (`try_grab_folio()`,
//! `try_grab_folio_fast()`, `gup_put_folio()`, `folio_maybe_dma_pinned()`),
//! Documentation/core-api/pin_user_pages.rst; large-folio counting from
//! "mm/gup: page->hpage_pinned_refcount: exact pin counts for huge pages"
//! (v5.7), now `folio->_pincount` in the first tail page.
//! - small folio: the refcount bias, exactly as the `bias` scheme;
//! - large folio: `_refcount += refs` (the fast path's speculative
//!   `try_get_folio()` reference is kept as that) and
//!   `_pincount += refs`; unpin subtracts both;
//!   `maybe_dma_pinned` = `_pincount > 0`.
//!
//! Memory: nothing beyond `struct page` (`_pincount` overlays a tail page).
//! Exactness: exact for large folios; small folios keep the bias's false
//! positives at 1024 ordinary references. `pin_count` is known for large
//! folios only.
//! Limits: small folios 2,097,151 pins (21 bits); large folios are bounded by
//! the i32 refcount (i32::MAX - 1 subpage pins).

use super::bias::{biased_maybe_dma_pinned, grab_biased, put_biased, MAX_BIASED_PINS};
use super::SchemeInfo;
use crate::error::PinError;
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use crate::sync::Ordering;
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "hybrid",
    mirrors: "upstream: bias small, _pincount large (mm/gup.c v5.7..v6.12)",
    build: |memmap| Box::new(Hybrid::new(memmap)),
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
}

impl PinScheme for Hybrid {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        if !folio.is_large() {
            return grab_biased(self.memmap.head_page(folio), folio, refs, path);
        }
        let nr = refs_i32(folio, refs, 1)?;
        grab_refs(&self.memmap, folio, refs, path)?;
        // AcqRel: the pin is fully ordered like the refcount (the kernel's
        // smp_mb__after_atomic() after the _pincount add). Cannot overflow:
        // _pincount <= _refcount - 1, whose add was just checked.
        self.memmap
            .first_tail(folio)
            ._pincount
            .fetch_add(nr, Ordering::AcqRel);
        Ok(())
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        if !folio.is_large() {
            return put_biased(self.memmap.head_page(folio), folio, refs);
        }
        let nr = refs_i32(folio, refs, 1)?;
        // Release: pairs with the Acquire in maybe_dma_pinned.
        self.memmap
            .first_tail(folio)
            ._pincount
            .fetch_sub(nr, Ordering::Release);
        self.memmap.head_page(folio).ref_sub(nr);
        Ok(())
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        let Ok(folio) = self.memmap.folio(pfn) else {
            return false;
        };
        if folio.is_large() {
            // Acquire: pairs with the Release in put_folio.
            self.memmap.first_tail(folio)._pincount.load(Ordering::Acquire) > 0
        } else {
            biased_maybe_dma_pinned(self.memmap.head_page(folio))
        }
    }

    fn pin_count(&self, pfn: Pfn) -> Option<u32> {
        let folio = self.memmap.folio(pfn).ok()?;
        folio.is_large().then(|| {
            // Acquire: as in maybe_dma_pinned.
            self.memmap.first_tail(folio)._pincount.load(Ordering::Acquire) as u32
        })
    }

    fn bytes_per_page(&self) -> usize {
        0
    }

    fn tracking_bytes(&self) -> usize {
        0
    }

    fn max_pins_per_page(&self) -> u32 {
        MAX_BIASED_PINS
    }

    fn exactness(&self) -> Exactness {
        Exactness::ExactLargeOnly
    }
}
