//! `side-tree-sharded`: pins recorded outside `struct page` in a lock-free
//! pfn-keyed radix tree — the best side structure for many CPUs we could
//! build within gup-fast's rules (no sleeping, no global lock).
//!
//! Mirrors: the same 2018-2019 "track pins outside struct page" proposals as
//! `side-tree-locked`, answering their objection: nodes are installed with
//! a CAS and counters are atomics in the leaves, so a pin is a lookup plus
//! one atomic add on a counter that only CPUs pinning pfns within the same
//! 16-pfn cache line ever touch. The tree is in effect sharded by pfn down
//! to the cache line, with no lock at all. Shaped like the kernel's XArray
//! (64-way nodes).
//!
//! Each pin holds `_refcount` (+refs, as gup does) and adds `refs` to the
//! head pfn's counter; unpin subtracts (a checked CAS, so unbalanced unpins
//! are refused), then drops the refcount.
//!
//! Memory: no bytes in `struct page`; tree nodes counted from their
//! allocations (`tracking_bytes`): 256 B per 64 pfns pinned at least once,
//! plus interior nodes. Nodes are kept until the scheme is dropped (no RCU
//! in this model), so memory tracks the high-water range, not current pins.
//! Exactness: exact.
//! Limits: bounded by the i32 refcount (i32::MAX - 1 pins); the first pin in
//! a new range allocates (GFP_ATOMIC in a kernel, which can fail).

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::pfn_tree::PfnTree;
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use crate::sync::{smp_mb__after_atomic, Ordering};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "side-tree-sharded",
    mirrors: "pfn-keyed lock-free radix tree (XArray-shaped), this project",
    source: "the same, built for many CPUs: a lock-free XArray-shaped radix tree of per-pfn atomic counters",
    exactness: Exactness::Exact,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: (i32::MAX - 1) as u32,
};

/// A lock-free pfn tree of pin counters.
pub struct SideTreeSharded {
    memmap: Arc<MemMap>,
    tree: PfnTree,
}

impl SideTreeSharded {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        let tree = PfnTree::new(memmap.nr_pages());
        Self { memmap, tree }
    }
}

impl Registered for SideTreeSharded {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Ok(Self::new(memmap))
    }
}

impl PinScheme for SideTreeSharded {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        grab_refs(&self.memmap, folio, refs, path)?;
        if let Some(c) = self.tree.counter(folio.head.0, true) {
            // Relaxed: an unordered count, ordered before gup-fast's PTE
            // re-check by the barrier below. Cannot overflow: bounded by
            // the refcount just checked.
            c.fetch_add(refs, Ordering::Relaxed);
        }
        if path == GupPath::Fast {
            smp_mb__after_atomic();
        }
        Ok(())
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        let c = self
            .tree
            .counter(folio.head.0, false)
            .ok_or(PinError::NotPinned(folio.head))?;
        // Relaxed: an unordered count (atomic_sub()-style, checked); the
        // folio_put_refs() after it is fully ordered.
        c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(refs))
            .map_err(|_| PinError::NotPinned(folio.head))?;
        self.memmap.head_page(folio).put_refs(nr);
        Ok(())
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        self.pin_count(pfn).is_some_and(|c| c > 0)
    }

    #[inline]
    fn pin_count(&self, pfn: Pfn) -> Option<u32> {
        let folio = self.memmap.folio(pfn).ok()?;
        // Relaxed: atomic_read().
        Some(
            self.tree
                .counter(folio.head.0, false)
                .map_or(0, |c| c.load(Ordering::Relaxed)),
        )
    }


    fn tracking_bytes(&self) -> usize {
        self.tree.bytes()
    }


}
