//! `flag`: a `PG_dma_pinned` page flag plus a pin count overlaid on
//! `page->lru`, the pinned page taken off the LRU.
//!
//! Mirrors: John Hubbard's RFC "mm/fs: gup: don't unmap or drop filesystem
//! buffers" (linux-mm, June-July 2018, v1-v2), which added `PG_dma_pinned`
//! and reused the `lru` list_head of a pinned page for `dma_pinned_flags` /
//! `dma_pinned_count`; since the lru words then no longer link the page,
//! the first pin must isolate the page from its LRU under the LRU lock
//! (`zone_lru_lock()` in 4.18, `lruvec->lru_lock` today) and the last unpin
//! must put it back. Here:
//! - pin: `try_get_folio()` (+refs on `_refcount`), then under the node's
//!   `lru_lock`: if PG_lru, `list_del()`; on the first pin set `lru[0]` to a
//!   marker, `PG_dma_pinned`; `lru[1] += refs`;
//! - unpin: under the lock `lru[1] -= refs`; on the last, clear
//!   `PG_dma_pinned` and `list_add_tail()` back; then drop the refcount;
//! - `maybe_dma_pinned` = `PageDmaPinned()`: one flag test, no lock.
//!
//! Every pin and unpin takes the node's LRU lock (the lru words are either
//! list links or the count, and only the lock tells which), so pins on one
//! node serialise on one cache line: that cost is the point of modelling
//! the LRU as a real list and lock. Batch calls (`pin_pages`,
//! `unpin_pages`) take the lock once per [`LRU_BATCH`] folios (a PMD's
//! worth) and update flags non-atomically under it (`__SetPageLRU`-style,
//! see lru::set_flags); single pins take it per page, as the RFC did.
//!
//! Memory: nothing beyond `struct page`.
//! Exactness: exact flag and count; unbalanced unpins are refused.
//! Limits: bounded by the i32 refcount (i32::MAX - 1 pins); a pinned page is
//! invisible to reclaim and compaction while off the LRU.

use super::SchemeInfo;
use crate::error::PinError;
use crate::memmap::{Folio, MemMap};
use crate::page::{pg, Pfn};
use crate::error::BatchPinError;
use crate::lru::{set_flags, LruList};
use crate::sync::SpinLockGuard;
use crate::scheme::{grab_refs, refs_i32, Exactness, FolioRuns, GupPath, PinScheme};
use crate::sync::Ordering;
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "flag",
    mirrors: "PG_dma_pinned + count on page->lru, LRU-isolated (RFC 2018)",
    build: |memmap| Box::new(Flag::new(memmap)),
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
}

/// Folios whose LRU work shares one lock acquisition in a batch call: one
/// PMD's worth of small pages (512), the unit gup-fast walks page tables in
/// (`gup_fast_pmd_range()`), so an implementation inside gup-fast would
/// batch exactly there. Measured on 2 CPUs of one node: 32 (vmscan's
/// `SWAP_CLUSTER_MAX`) gives 1.3x at 2 threads, 128 gives 1.9x, 512 2.0x;
/// the price is a longer lock hold (a few µs with IRQs off in a kernel).
pub const LRU_BATCH: usize = 512;

impl Flag {
    /// Under the node's `lru_lock`: the first pin isolates the folio from
    /// the LRU and sets PG_dma_pinned; every pin adds to the count.
    fn mark_pinned(&self, lru: &mut LruList, folio: Folio, refs: u32) {
        let pages = self.memmap.pages();
        let head = &pages[folio.head.0];
        // Relaxed loads/stores of flags and lru words under the lock: the
        // lock orders them against other pinners and unpinners.
        let flags = head.flags.load(Ordering::Relaxed);
        if flags & pg::DMA_PINNED == 0 {
            if flags & pg::LRU != 0 {
                lru.del(pages, folio.head);
            }
            head.lru[0].store(DMA_PINNED_MARKER, Ordering::Relaxed);
            head.lru[1].store(refs as u64, Ordering::Relaxed);
            // Under the lru_lock, see lru::set_flags.
            set_flags(head, (flags & !pg::LRU) | pg::DMA_PINNED);
        } else {
            let count = head.lru[1].load(Ordering::Relaxed);
            head.lru[1].store(count + refs as u64, Ordering::Relaxed);
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
            // Under the lru_lock, see lru::set_flags.
            set_flags(head, head.flags.load(Ordering::Relaxed) & !pg::DMA_PINNED);
            lru.add(pages, folio.head);
        } else {
            head.lru[1].store(count - refs as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs `f` on every folio run of `runs` under its node's LRU lock,
    /// taking the lock once per [`LRU_BATCH`] folios of one node. Stops at
    /// the first error, naming the entry: every run before it was done.
    fn under_lru_lock(
        &self,
        runs: FolioRuns<'_>,
        mut f: impl FnMut(&mut LruList, Folio, u32) -> Result<(), PinError>,
    ) -> Result<(), BatchPinError> {
        let mut held: Option<(u32, SpinLockGuard<'_, LruList>)> = None;
        let mut in_hold = 0;
        for run in runs {
            let (index, folio, nr) = run?;
            let nid = self.memmap.head_page(folio).nid();
            let lru = match held.take() {
                Some((n, guard)) if n == nid && in_hold < LRU_BATCH => {
                    in_hold += 1;
                    held.insert((n, guard))
                }
                other => {
                    // One lock at a time: drop the old hold first.
                    drop(other);
                    in_hold = 1;
                    held.insert((nid, self.memmap.lruvec(nid).lru_lock.lock()))
                }
            };
            f(&mut lru.1, folio, nr as u32).map_err(|cause| BatchPinError { index, cause })?;
        }
        Ok(())
    }

    /// Drops the `_refcount` references of every folio run in `runs`.
    fn put_refs(&self, runs: FolioRuns<'_>) {
        for (_, folio, nr) in runs.flatten() {
            self.memmap.head_page(folio).ref_sub(nr as i32);
        }
    }
}

impl PinScheme for Flag {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        grab_refs(&self.memmap, folio, refs, path)?;
        let nid = self.memmap.head_page(folio).nid();
        let mut lru = self.memmap.lruvec(nid).lru_lock.lock();
        self.mark_pinned(&mut lru, folio, refs);
        Ok(())
    }

    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        {
            let nid = self.memmap.head_page(folio).nid();
            let mut lru = self.memmap.lruvec(nid).lru_lock.lock();
            self.clear_pinned(&mut lru, folio, refs)?;
        }
        self.memmap.head_page(folio).ref_sub(nr);
        Ok(())
    }

    /// Batched: the references of the whole batch are taken lock-free
    /// first, then the LRU work is done under one acquisition of the node's
    /// lock per [`LRU_BATCH`] folios. The RFC took the lock per page;
    /// batching is the best this design can do, and is what lets it scale.
    fn pin_pages(&self, pfns: &[Pfn], path: GupPath) -> Result<usize, BatchPinError> {
        let mm = &*self.memmap;
        for run in FolioRuns::pin(mm, pfns) {
            let failed = match run {
                Ok((index, folio, nr)) => grab_refs(mm, folio, nr as u32, path)
                    .err()
                    .map(|cause| BatchPinError { index, cause }),
                Err(e) => Some(e),
            };
            if let Some(e) = failed {
                self.put_refs(FolioRuns::pin(mm, &pfns[..e.index]));
                return Err(e);
            }
        }
        // mark_pinned cannot fail: the references are held.
        self.under_lru_lock(FolioRuns::pin(mm, pfns), |lru, folio, refs| {
            self.mark_pinned(lru, folio, refs);
            Ok(())
        })?;
        Ok(pfns.len())
    }

    /// Batched like [`Flag::pin_pages`]: the LRU work under one lock hold
    /// per [`LRU_BATCH`] folios, then the references dropped lock-free.
    fn unpin_pages(&self, pfns: &[Pfn]) -> Result<(), PinError> {
        let mm = &*self.memmap;
        let result = self.under_lru_lock(FolioRuns::unpin(mm, pfns), |lru, folio, refs| {
            self.clear_pinned(lru, folio, refs)
        });
        let done = result.as_ref().map_or_else(|e| e.index, |()| pfns.len());
        self.put_refs(FolioRuns::unpin(mm, &pfns[..done]));
        result.map_err(|e| e.cause)
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
        Exactness::Exact
    }
}
