//! `plain`: FOLL_GET. A "pin" is an ordinary reference, `get_page()` (+1 on
//! `_refcount`), released with `put_page()`.
//!
//! Mirrors: `get_user_pages_fast()` / `put_page()` before FOLL_PIN existed
//! (mm/gup.c up to v5.6, `try_get_compound_head()`), and today's FOLL_GET
//! branch of `try_grab_folio{,_fast}()` (v6.12): `try_get_folio()` on the
//! fast path (one fully ordered `atomic_add_unless`), `folio_ref_add()` on
//! the slow path, `folio_put_refs()` to release. The walk around it is
//! gup's (see gup.rs): PG_referenced on every fast grab, the slow path's
//! locks; no FOLL_PIN counters and no mm flag, which FOLL_GET never touches.
//! Memory: nothing beyond `struct page`.
//! Exactness: blind. `maybe_dma_pinned` is always false, which is the
//! problem FOLL_PIN was invented to solve; this is the lower bound on cost.
//! Limits: `_refcount` is an `int`: i32::MAX - 1 pins on a page mapped once.

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "plain",
    mirrors: "FOLL_GET get_page/put_page (mm/gup.c <= v5.6, FOLL_GET today)",
    source: "FOLL_GET `get_page()`/`put_page()`: mm/gup.c up to v5.6, and the FOLL_GET branch of `try_grab_folio{,_fast}()` in v6.12",
    exactness: Exactness::Blind,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: (i32::MAX - 1) as u32,
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

impl Registered for Plain {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Ok(Self::new(memmap))
    }
}

/// gup's entry points as they are.
impl Gup for Plain {}

impl PinScheme for Plain {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
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
        self.memmap.head_page(folio).put_refs(nr);
        Ok(())
    }

    fn maybe_dma_pinned(&self, _pfn: Pfn) -> bool {
        false
    }

    fn pin_count(&self, _pfn: Pfn) -> Option<u32> {
        None
    }

    fn tracking_bytes(&self) -> usize {
        0
    }
}
