//! `xarray`: pins recorded outside `struct page`, in an XArray per NUMA
//! node keyed by pfn: the side tree as a kernel developer would build it.
//!
//! Mirrors: the 2018-2019 proposals to keep pins in a separate structure
//! (LSF/MM 2018 "get_user_pages() and DMA", LPC 2018 RDMA microconference;
//! Jerome Glisse and Dave Chinner argued for tracking outside `struct
//! page`), no patch of which was posted; built here on the kernel's own
//! XArray as of v6.12 (lib/xarray.c), see [`crate::xarray`].
//!
//! Per pin (`try_grab_folio{,_fast}()`): the reference every pin holds
//! (`try_get_folio()` / `folio_ref_add()`), then, under the node's tree's
//! `xa_lock_irqsave()`, `__xa_store(xa, head_pfn, xa_mk_value(count +
//! refs), gfp)`; gfp is GFP_ATOMIC in gup-fast and under the slow path's
//! page-table lock (see `FailSlab::gfp`). A store that cannot allocate
//! fails the pin with -ENOMEM after dropping the reference; gup then fails
//! the call or falls back to the slow path (`--on-alloc-fail`). On the fast
//! path, `smp_mb()` after `xa_unlock_irqrestore()`: readers take no lock,
//! and the unlock (a release) does not order the store before gup-fast's
//! PTE re-check.
//!
//! Per unpin: under the lock, the value minus `refs`, erased at 0
//! (`__xa_erase()`, which deletes emptied nodes and frees them after an
//! RCU grace period); then `folio_put_refs()`.
//!
//! `folio_maybe_dma_pinned()`: `xa_load()` under `rcu_read_lock()`, no lock;
//! a scan of many folios holds one section around its batch
//! (`scan_read_lock`), in which each load's nests.
//!
//! Trees: one per node in the memmap, a pin of a node-N page going to node
//! N's tree. The nodes are allocated from the allocating thread's node, not
//! placed on N (`kmem_cache_alloc_node()` would; the model does not place
//! memory), and `xa_lock_irqsave()`'s interrupt disabling is not modelled.
//!
//! Memory: no bytes in `struct page`; 576-byte `xa_node`s counted from
//! their allocations, live ones and those waiting for a grace period; an
//! unpin sweep frees them all after reclamation.
//! Exactness: exact; unbalanced unpins are refused.
//! Limits: bounded by the i32 refcount (i32::MAX - 1 pins).

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::scheme::{grab_refs_and_record, refs_i32, Exactness, GupPath, PinScheme};
use crate::sync::smp_mb;
use crate::slab::KmemCache;
use crate::rcu::ReadGuard;
use crate::xarray::{XArray, XaNode};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "xarray",
    mirrors: "pfn-keyed XArray per node, xa_lock writers, RCU readers (2018 proposals, v6.12 XArray)",
    source: "the 2018-2019 proposals to track pins outside `struct page` (LSF/MM 2018, LPC 2018 RDMA MC), built on lib/xarray.c v6.12: a value entry per pinned pfn, GFP_ATOMIC nodes freed after RCU",
    exactness: Exactness::Exact,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: (i32::MAX - 1) as u32,
};

/// One XArray per node.
pub struct XArrayScheme {
    memmap: Arc<MemMap>,
    trees: Vec<XArray>,
}

impl XArrayScheme {
    /// Over `memmap`: one tree per node id up to the largest.
    pub fn new(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        let nodes = memmap.nodes().iter().map(|n| n.nid).max().unwrap_or(0) as usize + 1;
        let mut trees = Vec::new();
        trees
            .try_reserve_exact(nodes)
            .map_err(|e| BuildError::Alloc(INFO.name, e))?;
        trees.extend((0..nodes).map(|_| XArray::default()));
        Ok(Self { memmap, trees })
    }

    /// The trees themselves, and their node caches.
    fn fixed_bytes(&self) -> usize {
        self.trees.capacity() * (std::mem::size_of::<XArray>() + KmemCache::<XaNode>::OVERHEAD)
    }

    /// The tree of `folio`'s node.
    #[inline]
    fn tree(&self, folio: Folio) -> &XArray {
        &self.trees[self.memmap.head_page(folio).nid() as usize]
    }
}

impl Registered for XArrayScheme {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Self::new(memmap)
    }
}

impl PinScheme for XArrayScheme {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        let failslab = self.memmap.failslab();
        grab_refs_and_record(&self.memmap, folio, refs, path, || {
            self.tree(folio)
                .lock()
                .add(folio.head.0, u64::from(refs), failslab.gfp(path), failslab)
                .map(|_| ())
                // Only NoMemory: an add has nothing to underflow.
                .map_err(|_| PinError::NoMemory(folio.head))
        })?;
        if path == GupPath::Fast {
            smp_mb();
        }
        Ok(())
    }

    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        // Only Underflow: a sub allocates nothing.
        self.tree(folio)
            .lock()
            .sub(folio.head.0, u64::from(refs))
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
        let pins = self.tree(folio).load(folio.head.0).unwrap_or(0);
        Some(u32::try_from(pins).unwrap_or(u32::MAX))
    }

    fn tracking_bytes(&self) -> usize {
        self.fixed_bytes() + self.trees.iter().map(|t| t.node_stats().live()).sum::<usize>()
    }

    fn tracking_peak_bytes(&self) -> usize {
        // The per-tree peaks may fall at different times: their sum bounds
        // the true peak from above; with one node it is exact.
        self.fixed_bytes() + self.trees.iter().map(|t| t.node_stats().peak()).sum::<usize>()
    }

    fn reclaim(&self) -> bool {
        self.trees.iter().all(|t| t.rcu_barrier(RCU_BARRIER_TRIES))
    }

    /// A scan's lookups nest in one section (every tree's RCU is the same
    /// stand-in, whose sections are per thread). gup's calls take none:
    /// its writers work under `xa_lock`.
    #[inline]
    fn scan_read_lock(&self) -> Option<ReadGuard> {
        self.trees.first().map(XArray::read_lock)
    }
}

/// Grace periods `reclaim` drives before it gives up.
pub(crate) const RCU_BARRIER_TRIES: u32 = 10_000;
