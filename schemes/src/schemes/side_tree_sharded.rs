//! `side-tree-sharded`: pins recorded outside `struct page` in a lock-free
//! pfn-keyed radix tree that frees its empty nodes: the best side structure
//! for many CPUs we could build within gup-fast's rules (no sleeping, no
//! lock). This project's design, not a posted one.
//!
//! Mirrors: the same 2018-2019 "track pins outside struct page" proposals as
//! `xarray`, answering their objection to a lock: nodes are installed with
//! a CAS and counters are atomics in the leaves, so a pin is a walk plus
//! two atomics in its leaf (the leaf's `live` gate, then the pfn's counter)
//! that only CPUs pinning pfns of the same 64-pfn leaf ever touch. Empty
//! nodes are unlinked and freed after an RCU grace period (see pfn_tree.rs);
//! the RCU read-side section of each gup call, the gate and the frees are
//! paid in the timed loop.
//!
//! Each pin holds `_refcount` (+refs, as gup does) and adds `refs` to the
//! head pfn's counter; a fast-path pin then runs `smp_mb__after_atomic()`
//! (its last atomic is the counter's `lock xadd`). Unpin subtracts (checked,
//! so unbalanced unpins are refused), then drops the refcount.
//!
//! Memory: no bytes in `struct page`; tree nodes counted from their
//! allocations (`tracking_bytes`): a 264-byte leaf per 64 pfns pinned now,
//! plus 520-byte interior nodes, and what waits for a grace period.
//! Exactness: exact.
//! Limits: bounded by the i32 refcount (i32::MAX - 1 pins); the first pin in
//! a new range allocates with GFP_ATOMIC, which can fail (`--failslab`).

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::pfn_tree::{PfnTree, TreeError};
use crate::rcu::ReadGuard;
use crate::scheme::{grab_refs_and_record, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use crate::sync::smp_mb__after_atomic;
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "side-tree-sharded",
    mirrors: "pfn-keyed lock-free radix tree (XArray-shaped), RCU-freed nodes, this project",
    source: "this project's answer to the same proposals for many CPUs: a lock-free XArray-shaped radix tree of per-pfn atomic counters, empty nodes freed after RCU",
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

/// gup's entry points as they are.
impl Gup for SideTreeSharded {}

impl PinScheme for SideTreeSharded {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        let failslab = self.memmap.failslab();
        grab_refs_and_record(&self.memmap, folio, refs, path, || {
            self.tree
                .pin(folio.head.0, refs, path.gfp(failslab), failslab)
                .map_err(|e| match e {
                    TreeError::Overflow => PinError::Overflow {
                        pfn: folio.head,
                        refs,
                    },
                    TreeError::NoMemory | TreeError::NotPinned => PinError::NoMemory(folio.head),
                })
        })?;
        if path == GupPath::Fast {
            smp_mb__after_atomic();
        }
        Ok(())
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        self.tree
            .unpin(folio.head.0, refs)
            .map_err(|_| PinError::NotPinned(folio.head))?;
        // folio_put_refs() is fully ordered.
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
        Some(self.tree.count(folio.head.0))
    }

    fn census_regions(&self) -> Vec<crate::census::Region> {
        self.tree.census_regions()
    }

    fn tracking_bytes(&self) -> usize {
        self.tree.bytes()
    }

    fn tracking_peak_bytes(&self) -> usize {
        self.tree.peak_bytes()
    }

    fn reclaim(&self) -> bool {
        self.tree.rcu_barrier(super::xarray::RCU_BARRIER_TRIES)
    }

    #[inline]
    fn rcu_read_lock(&self) -> Option<ReadGuard> {
        Some(self.tree.read_lock())
    }
}
