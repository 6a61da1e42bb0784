//! `flag`: a `PG_dma_pinned` page flag plus a pin count overlaid on
//! `page->lru`, the pinned page taken off the LRU.
//!
//! Mirrors: John Hubbard's RFC "mm/fs: gup: don't unmap or drop filesystem
//! buffers" (linux-mm, June-July 2018, v1-v2), which added `PG_dma_pinned`
//! and reused the `lru` list_head of a pinned page for `dma_pinned_flags` /
//! `dma_pinned_count`; since the lru words then no longer link the page,
//! the first pin must isolate the page from its LRU under the LRU lock
//! (`zone_lru_lock()` in 4.18, `lruvec->lru_lock` today) and the last unpin
//! must put it back. Here, per folio grab and put:
//! - pin: `try_get_folio()` (+refs on `_refcount`), then under the node's
//!   `lru_lock`: if PG_lru, `list_del()` and `ClearPageLRU()`; on the first
//!   pin set `lru[0]` to a marker, `lru[1] = refs`, `SetPageDmaPinned()`
//!   (atomic bit operations: other flag bits change without the lock);
//!   later pins add to `lru[1]`;
//! - unpin: under the lock `lru[1] -= refs`; on the last, clear
//!   `PG_dma_pinned` and `list_add_tail()` back; then `folio_put_refs()`;
//! - `maybe_dma_pinned` = `PageDmaPinned()`: one flag test, no lock.
//! - fast path: the first pin's `set_bit` is followed by
//!   `smp_mb__after_atomic()`, as gup-fast needs before its PTE re-check
//!   (the RFC predates that pairing; any port of it would need the barrier).
//!
//! Every pin and unpin takes the node's LRU lock, once per folio, as the
//! RFC did (the lru words are either list links or the count, and only the
//! lock tells which): pins on one node serialise on one cache line, which
//! is the cost this scheme shows. The RFC's separate steps (the
//! `isolate_lru_page()` reference, the November 2018 version's per-zone
//! lock) are not modelled yet.
//!
//! Memory: nothing beyond `struct page`.
//! Exactness: exact flag and count; unbalanced unpins are refused.
//! Limits: bounded by the i32 refcount (i32::MAX - 1 pins); a pinned page is
//! invisible to reclaim and compaction while off the LRU.

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::lru::{clear_flag, set_flag, LruList};
use crate::memmap::{Folio, MemMap};
use crate::page::{pg, Pfn};
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use crate::sync::{smp_mb__after_atomic, Ordering};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "flag",
    mirrors: "PG_dma_pinned + count on page->lru, LRU-isolated (RFC 2018)",
    source: "John Hubbard's RFC \"mm/fs: gup: don't unmap or drop filesystem buffers\" (linux-mm, June-July 2018): `PG_dma_pinned` plus a count overlaid on `page->lru`, the page isolated from its node's LRU under the LRU lock, per folio",
    exactness: Exactness::Exact,
    bytes_per_page: 0,
    max_pins_per_page: (i32::MAX - 1) as u32,
};

/// What `lru[0]` holds while the page is pinned (`dma_pinned_flags`); even,
/// so it never reads as a tail page's `compound_head | 1`.
pub const DMA_PINNED_MARKER: u64 = 0xd3a0_0000_0000_0000;

/// The 2018 page-flag scheme.
pub struct Flag {
    memmap: Arc<MemMap>,
}

impl Flag {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        Self { memmap }
    }

    /// Under the node's `lru_lock`: the first pin isolates the folio from
    /// the LRU and sets PG_dma_pinned; every pin adds to the count. True
    /// when this was the first pin.
    fn mark_pinned(&self, lru: &mut LruList, folio: Folio, refs: u32) -> bool {
        let pages = self.memmap.pages();
        let head = &pages[folio.head.0];
        // Relaxed loads/stores of the lru words under the lock: the lock
        // orders them against other pinners and unpinners.
        let flags = head.flags.load(Ordering::Relaxed);
        if flags & pg::DMA_PINNED == 0 {
            if flags & pg::LRU != 0 {
                lru.del(pages, folio.head);
            }
            head.lru[0].store(DMA_PINNED_MARKER, Ordering::Relaxed);
            head.lru[1].store(refs as u64, Ordering::Relaxed);
            set_flag(head, pg::DMA_PINNED);
            true
        } else {
            let count = head.lru[1].load(Ordering::Relaxed);
            head.lru[1].store(count + refs as u64, Ordering::Relaxed);
            false
        }
    }

    /// Under the node's `lru_lock`: drops `refs` from the count; the last
    /// unpin clears PG_dma_pinned and puts the folio back on the LRU.
    fn clear_pinned(&self, lru: &mut LruList, folio: Folio, refs: u32) -> Result<(), PinError> {
        let pages = self.memmap.pages();
        let head = &pages[folio.head.0];
        // Relaxed under the lock, as in mark_pinned.
        let pinned = head.flags.load(Ordering::Relaxed) & pg::DMA_PINNED != 0;
        let count = head.lru[1].load(Ordering::Relaxed);
        if !pinned || count < refs as u64 {
            return Err(PinError::NotPinned(folio.head));
        }
        if count == refs as u64 {
            clear_flag(head, pg::DMA_PINNED);
            lru.add(pages, folio.head);
        } else {
            head.lru[1].store(count - refs as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Registered for Flag {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Ok(Self::new(memmap))
    }
}

impl PinScheme for Flag {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        grab_refs(&self.memmap, folio, refs, path)?;
        let nid = self.memmap.head_page(folio).nid();
        let first = {
            let mut lru = self.memmap.lruvec(nid).lru_lock.lock();
            self.mark_pinned(&mut lru, folio, refs)
        };
        if first && path == GupPath::Fast {
            smp_mb__after_atomic();
        }
        Ok(())
    }

    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        {
            let nid = self.memmap.head_page(folio).nid();
            let mut lru = self.memmap.lruvec(nid).lru_lock.lock();
            self.clear_pinned(&mut lru, folio, refs)?;
        }
        self.memmap.head_page(folio).put_refs(nr);
        Ok(())
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        match self.memmap.folio(pfn) {
            Ok(folio) => self.memmap.head_page(folio).flags() & pg::DMA_PINNED != 0,
            Err(_) => false,
        }
    }

    fn pin_count(&self, pfn: Pfn) -> Option<u32> {
        let folio = self.memmap.folio(pfn).ok()?;
        let head = self.memmap.head_page(folio);
        let _lru = self.memmap.lruvec(head.nid()).lru_lock.lock();
        // Relaxed under the lock.
        if head.flags.load(Ordering::Relaxed) & pg::DMA_PINNED == 0 {
            return Some(0);
        }
        Some(head.lru[1].load(Ordering::Relaxed) as u32)
    }

    fn tracking_bytes(&self) -> usize {
        0
    }
}
