//! `xarray`: pins recorded outside `struct page`, in an XArray per NUMA
//! node keyed by pfn: the side tree as a kernel developer would build it,
//! recording a page table's pins under one lock (`xarray`), or, as a first
//! patch might, each pin under its own (`xarray-per-page`).
//!
//! Mirrors: the 2018-2019 proposals to keep pins in a separate structure
//! (LSF/MM 2018 "get_user_pages() and DMA", LPC 2018 RDMA microconference;
//! Jerome Glisse and Dave Chinner argued for tracking outside `struct
//! page`), no patch of which was posted; built here on the kernel's own
//! XArray as of v6.12 (lib/xarray.c), see [`crate::xarray`].
//!
//! Per pin, both variants: the reference every pin holds
//! (`try_get_folio()` / `folio_ref_add()`), and, under the node's tree's
//! `xa_lock_irqsave()`, `__xa_store(xa, head_pfn, xa_mk_value(count +
//! refs), gfp)`; gfp is GFP_ATOMIC in gup-fast and under the slow path's
//! page-table lock (see `GupPath::gfp`). A store that cannot allocate
//! fails the pin with -ENOMEM after dropping the reference; gup then fails
//! the call or falls back to the slow path (`--on-alloc-fail`). On the fast
//! path an `smp_mb()` after `xa_unlock_irqrestore()`: readers take no lock,
//! and the unlock (a release) does not order the store before gup-fast's
//! PTE re-check.
//! - `xarray` (batched, [`crate::gup_batch`]): gup-fast already walks a PTE
//!   table with interrupts off; the references of its entries are taken per
//!   entry, then the table's records are stored under one `xa_lock` with
//!   one `xa_state` (the next index in the same node is reached without a
//!   walk from the root, as `xas_next()` reaches it), one `smp_mb()`
//!   follows, and the PTE re-checks of the table come after it. Unpin drops
//!   the records of up to 512 runs of `unpin_user_pages()`'s array under
//!   one lock per run of same-node folios, then puts the references.
//! - `xarray-per-page`: one `xa_lock` and one walk from `xa_head` per
//!   folio run, on pin and on unpin, and (fast path) one `smp_mb()` per
//!   folio run pinned.
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
//! A tree per memory section (128 MiB, as `page_ext` is found per section)
//! would keep threads pinning different sections off each other's lock
//! (at the default `-m 128` each thread of `private` has a section of its
//! own); it is not built. Batched, the lock is taken once per 512 pages,
//! and `private` at two threads read 6.4-6.5 x floor against 4.6-4.7 at
//! one (three runs each); what is left of that gap is an upper bound on
//! what per-section trees could win.
//!
//! Memory: no bytes in `struct page`; 576-byte `xa_node`s counted from
//! their allocations, live ones and those waiting for a grace period; an
//! unpin sweep frees them all after reclamation.
//! Exactness: exact; unbalanced unpins are refused.
//! Limits: bounded by the i32 refcount (i32::MAX - 1 pins).

use super::{Registered, SchemeInfo};
use crate::error::{BatchPinError, BuildError, PinError};
use crate::gup_batch::{self, BatchedRecord, Run};
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::scheme::{grab_refs_and_record, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use crate::sync::smp_mb;
use crate::slab::KmemCache;
use crate::rcu::ReadGuard;
use crate::xarray::{XArray, XaLocked, XaNode};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "xarray",
    mirrors: "pfn-keyed XArray per node, one xa_lock per page table's pins, RCU readers (2018 proposals, v6.12 XArray)",
    source: "the 2018-2019 proposals to track pins outside `struct page` (LSF/MM 2018, LPC 2018 RDMA MC), built on lib/xarray.c v6.12: a value entry per pinned pfn, a page table's entries stored under one `xa_lock` with one `xa_state`, GFP_ATOMIC nodes freed after RCU",
    exactness: Exactness::Exact,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: (i32::MAX - 1) as u32,
};

/// Registry entry of the per-run variant (`xarray_per_page` names it).
pub const PER_PAGE_INFO: SchemeInfo = SchemeInfo {
    name: "xarray-per-page",
    mirrors: "as `xarray`, but one xa_lock and one walk from the root per pin and per unpin",
    source: "as `xarray`, with each folio run stored under its own `xa_lock_irqsave()` by `__xa_store()` from `xa_head`, as a first patch would",
    ..INFO
};

/// One XArray per node; `BATCHED`: a page table's records under one lock
/// (`xarray`), or one lock per run (`xarray-per-page`).
pub struct XArrayScheme<const BATCHED: bool = true> {
    memmap: Arc<MemMap>,
    trees: Vec<XArray>,
}

impl<const BATCHED: bool> XArrayScheme<BATCHED> {
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
        &self.trees[self.folio_nid(folio)]
    }
}

impl Registered for XArrayScheme<true> {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Self::new(memmap)
    }
}

/// gup's entry points, but for the batched walk, which records a page
/// table's pins under one `xa_lock` ([`gup_batch`]).
impl<const BATCHED: bool> Gup for XArrayScheme<BATCHED> {
    fn pin_pages(&self, pfns: &[Pfn], path: GupPath) -> Result<usize, BatchPinError> {
        if BATCHED {
            gup_batch::pin_user_pages(self, pfns, path)
        } else {
            crate::gup::pin_user_pages(self, pfns, path)
        }
    }

    fn unpin_pages(&self, pfns: &[Pfn]) -> Result<(), PinError> {
        if BATCHED {
            gup_batch::unpin_user_pages(self, pfns)
        } else {
            crate::gup::unpin_user_pages(self, pfns)
        }
    }
}

impl<const BATCHED: bool> PinScheme for XArrayScheme<BATCHED> {
    fn info(&self) -> &'static SchemeInfo {
        if BATCHED {
            &INFO
        } else {
            &PER_PAGE_INFO
        }
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        let failslab = self.memmap.failslab();
        grab_refs_and_record(&self.memmap, folio, refs, path, || {
            self.tree(folio)
                .lock()
                .add(folio.head.0, u64::from(refs), path.gfp(failslab), failslab)
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

    fn census_regions(&self) -> Vec<crate::census::Region> {
        use crate::census::{Kind, Region, OTHER};
        vec![Region::of(&*self.trees, Kind::Named(OTHER))]
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

impl<const BATCHED: bool> BatchedRecord for XArrayScheme<BATCHED> {
    fn record_runs(&self, runs: &[Run], path: GupPath) -> Result<(), (usize, PinError)> {
        let failslab = self.memmap.failslab();
        let gfp = path.gfp(failslab);
        let mut held: Option<(usize, XaLocked<'_>)> = None;
        for (k, run) in runs.iter().enumerate() {
            let locked = self.lock_for(&mut held, run.folio);
            locked
                .add(run.folio.head.0, u64::from(run.nr), gfp, failslab)
                // Only NoMemory: an add has nothing to underflow.
                .map_err(|_| (k, PinError::NoMemory(run.folio.head)))?;
        }
        Ok(())
    }

    fn unrecord_runs(&self, runs: &[Run]) -> Result<(), (usize, PinError)> {
        let mut held: Option<(usize, XaLocked<'_>)> = None;
        for (k, run) in runs.iter().enumerate() {
            let locked = self.lock_for(&mut held, run.folio);
            // Only Underflow: a sub allocates nothing.
            locked
                .sub(run.folio.head.0, u64::from(run.nr))
                .map_err(|_| (k, PinError::NotPinned(run.folio.head)))?;
        }
        Ok(())
    }
}

impl<const BATCHED: bool> XArrayScheme<BATCHED> {
    /// The lock of `folio`'s node's tree: the one `held` if it is that
    /// tree's, else `held`'s is dropped (`xas_unlock`) and that one taken.
    #[inline]
    fn lock_for<'a, 'b>(
        &'a self,
        held: &'b mut Option<(usize, XaLocked<'a>)>,
        folio: Folio,
    ) -> &'b mut XaLocked<'a> {
        let nid = self.folio_nid(folio);
        if held.as_ref().is_some_and(|(n, _)| *n != nid) {
            *held = None;
        }
        &mut held.get_or_insert_with(|| (nid, self.trees[nid].lock())).1
    }
}

/// Grace periods `reclaim` drives before it gives up.
pub(crate) const RCU_BARRIER_TRIES: u32 = 10_000;
