//! `plain`: FOLL_GET. A "pin" is an ordinary reference, `get_page()` (+1 on
//! `_refcount`), released with `put_page()`.
//!
//! Mirrors: `get_user_pages_fast()` / `put_page()` before FOLL_PIN existed
//! (mm/gup.c up to v5.5, `try_get_compound_head()`), and today's FOLL_GET
//! branch of `try_grab_folio{,_fast}()` (v6.12).
//! Memory: nothing beyond `struct page`.
//! Exactness: blind. `maybe_dma_pinned` is always false, which is the
//! problem FOLL_PIN was invented to solve; this is the lower bound on cost.
//! Limits: `_refcount` is an `int`: i32::MAX - 1 pins on a page mapped once.

use super::SchemeInfo;
use crate::error::PinError;
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "plain",
    mirrors: "FOLL_GET get_page/put_page (mm/gup.c <= v5.5)",
    build: |memmap| Box::new(Plain::new(memmap)),
};

/// FOLL_GET references only.
pub struct Plain {
    memmap: Arc<MemMap>,
}

impl Plain {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        Self { memmap }
    }
}

impl PinScheme for Plain {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        // The FOLL_GET branch of try_grab_folio{,_fast}(): +refs, one atomic.
        grab_refs(&self.memmap, folio, refs, path)
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        self.memmap.head_page(folio).ref_sub(nr);
        Ok(())
    }

    fn maybe_dma_pinned(&self, _pfn: Pfn) -> bool {
        false
    }

    fn pin_count(&self, _pfn: Pfn) -> Option<u32> {
        None
    }

    fn bytes_per_page(&self) -> usize {
        0
    }

    fn tracking_bytes(&self) -> usize {
        0
    }

    fn max_pins_per_page(&self) -> u32 {
        (i32::MAX - 1) as u32
    }

    fn exactness(&self) -> Exactness {
        Exactness::Blind
    }
}
