//! `side-tree-locked`: pins recorded outside `struct page`, in one tree
//! keyed by pfn under one lock — the straightforward design.
//!
//! Mirrors: the "keep pins in a separate data structure" proposals of the
//! 2018-2019 gup/DMA threads (LSF/MM 2018 "get_user_pages() and DMA",
//! LPC 2018 RDMA microconference; Jerome Glisse and Dave Chinner argued
//! for tracking outside `struct page`). The objection it illustrates:
//! gup-fast runs with interrupts off and cannot take a sleeping lock, and
//! one global lock serialises every pin in the machine. The lock here is
//! a spinlock ([`SpinLock`]), so gup-fast could legally take it; its cost
//! under contention is what this scheme measures.
//!
//! Each pin holds `_refcount` (+refs, as gup does) and adds `refs` to the
//! head pfn's counter in a [`PfnTree`], all tree accesses (pin, unpin and
//! `maybe_dma_pinned`) under the one lock.
//!
//! Memory: no bytes in `struct page`; the tree's nodes, counted from its
//! allocations (`tracking_bytes`), grow with the range of pfns ever pinned
//! (see pfn_tree.rs: nodes are not freed until the scheme is dropped).
//! Exactness: exact; unbalanced unpins are refused.
//! Limits: bounded by the i32 refcount (i32::MAX - 1 pins).

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::pfn_tree::PfnTree;
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use crate::sync::{Ordering, SpinLock};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "side-tree-locked",
    mirrors: "pfn-keyed side tree, one global lock (2018 proposals)",
    source: "the 2018-2019 proposals to track pins outside `struct page` (LSF/MM 2018, LPC 2018 RDMA MC): a pfn-keyed tree under one global spinlock",
    exactness: Exactness::Exact,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: (i32::MAX - 1) as u32,
};

/// One tree, one lock.
pub struct SideTreeLocked {
    memmap: Arc<MemMap>,
    tree: SpinLock<PfnTree>,
}

impl SideTreeLocked {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        let tree = SpinLock::new(PfnTree::new(memmap.nr_pages()));
        Self { memmap, tree }
    }
}

impl Registered for SideTreeLocked {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Ok(Self::new(memmap))
    }
}

impl PinScheme for SideTreeLocked {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        grab_refs(&self.memmap, folio, refs, path)?;
        let tree = self.tree.lock();
        // Relaxed under the lock: the lock's Acquire/Release order the count
        // for every other locked access. Cannot overflow: bounded by the
        // refcount just checked.
        if let Some(c) = tree.counter(folio.head.0, true) {
            c.store(c.load(Ordering::Relaxed) + refs, Ordering::Relaxed);
        }
        // No barrier before gup-fast's PTE re-check: maybe_dma_pinned takes
        // the same lock, so an unsharer either sees this pin or held the
        // lock before us, and then its PTE change is visible to us.
        Ok(())
    }

    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        {
            let tree = self.tree.lock();
            let c = tree
                .counter(folio.head.0, false)
                .ok_or(PinError::NotPinned(folio.head))?;
            // Relaxed under the lock, as in grab_folio.
            let count = c.load(Ordering::Relaxed);
            if count < refs {
                return Err(PinError::NotPinned(folio.head));
            }
            c.store(count - refs, Ordering::Relaxed);
        }
        self.memmap.head_page(folio).put_refs(nr);
        Ok(())
    }

    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        self.pin_count(pfn).is_some_and(|c| c > 0)
    }

    fn pin_count(&self, pfn: Pfn) -> Option<u32> {
        let folio = self.memmap.folio(pfn).ok()?;
        let tree = self.tree.lock();
        // Relaxed under the lock.
        Some(
            tree.counter(folio.head.0, false)
                .map_or(0, |c| c.load(Ordering::Relaxed)),
        )
    }


    fn tracking_bytes(&self) -> usize {
        self.tree.lock().bytes()
    }


}
