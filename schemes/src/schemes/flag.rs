//! `flag`: John Hubbard's 2018 RFC as reposted in November 2018: a
//! "pinned" bit and a pin count overlaid on `page->lru`, the page taken off
//! its LRU while pinned.
//!
//! Mirrors: "[PATCH v2 0/6] RFC: gup+dma: tracking dma-pinned pages"
//! (<20181110085041.10071-1-jhubbard@nvidia.com>, 10 Nov 2018, against
//! v4.20-rc1): patch 4/6 "mm: introduce page->dma_pinned_flags, _count"
//! (<…-5-…>), 5/6 "mm: introduce zone_gup_lock, for dma-pinned pages"
//! (<…-6-…>), 6/6 "mm: track gup pages with page->dma_pinned_* fields"
//! (<20181110085041.10071-7-jhubbard@nvidia.com>). The complete version:
//! its July 2018 predecessor (<20180702005654.20369-6-jhubbard@nvidia.com>)
//! never put pages back on the LRU and skipped the flag on pages it could
//! not isolate. What it does, per page returned by gup:
//! - `struct page`: `unsigned long dma_pinned_flags; atomic_t
//!   dma_pinned_count;` in a union with `lru` (here `lru[0]` and `lru[1]`);
//!   `PAGE_DMA_PINNED` (0x2UL) and `PAGE_DMA_PINNED_WAS_LRU` (0x4UL) are
//!   passed as bit numbers to atomic `set_bit`/`clear_bit`/`test_bit` on
//!   `dma_pinned_flags`, so they are bits 2 and 4 (bit 0 is PageTail's);
//! - pin (`pin_page_for_dma()`, after gup took its reference), under
//!   `spin_lock(zone_gup_lock(zone))`, a new per-node `pinned_dma_lock`
//!   in `pglist_data`: if `PageDmaPinned`, `atomic_inc(count)`; otherwise
//!   `isolate_lru_page()` (the LRU lock, `get_page()`, `ClearPageLRU()`,
//!   `list_del()`), `SetPageDmaPinnedWasLru()` if that succeeded, then
//!   `atomic_set(count, 1)` and `SetPageDmaPinned()`, whether or not it
//!   succeeded;
//! - unpin (`put_user_page()`): `atomic_dec_and_test(count)`, lock-free; the
//!   last one takes the lock, re-checks the count, `ClearPageDmaPinned()`,
//!   and if `WasLru`, `putback_lru_page()`, which in v4.20 is
//!   `lru_cache_add()`: the page waits in this CPU's pagevec and the LRU
//!   lock is taken once per 15 pages ([`crate::lru_add`]); then
//!   `put_page()`;
//! - patch 6/6's early return in `__pagevec_lru_add_fn()` for a
//!   `PageDmaPinned()` page: a page pinned while it waited in a pagevec
//!   (its isolation failed, so no `WasLru`) is left off every LRU when the
//!   pagevec drains, and its last unpin does not put it back;
//! - `maybe_dma_pinned` = `PageDmaPinned()`: one bit test, no lock.
//!
//! Its known flaw, kept: a page already off the LRU when it is pinned
//! (isolated by reclaim, migration or compaction, so `lru` links it on
//! their private list) gets its `lru` words overwritten by the flags and
//! the count: that list is corrupted, and the page is never put back. Dave
//! Chinner's objections (<20181013035516.GA18822@dastard>,
//! <20181013230124.GB18822@dastard>) were about the same dual use.
//!
//! Not modelled: `page_evictable()`'s `rcu_read_lock()` when a pagevec
//! drains (one per page put back; a preempt-count increment under the
//! irq-off LRU lock, no locked operation; see [`crate::lru_add`]), the
//! pagevec's `get_cpu_var()` (the model takes a lock there, counted apart
//! by the census as a stand-in); the IRQ disabling Jan Kara asked for (the RFC used plain
//! `spin_lock`, <20181112135811.GF7175@quack2.suse.cz>), and
//! `isolate_lru_page()`'s `spin_lock_irq()` (the model's lock disables no
//! interrupts: a user-space model cannot run `cli`/`sti`); huge pages
//! (the RFC pinned each `pages[]` entry; the model flags the folio's head,
//! once per subpage pinned, as the RFC's per-entry loop would).
//! On the fast path the first pin's `set_bit` is followed by
//! `smp_mb__after_atomic()`, the barrier gup-fast needs before its PTE
//! re-check today (the RFC predates that pairing).
//!
//! Memory: nothing beyond `struct page`.
//! Exactness: exact flag and count; unbalanced unpins are refused.
//! Limits: bounded by the i32 refcount, less the isolation reference
//! (i32::MAX - 2 pins); a pinned page is invisible to reclaim and
//! compaction while off the LRU.

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::{Page, Pfn};
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use crate::lru_add::putback_lru_page;
use crate::sync::{smp_mb__after_atomic, Ordering, SpinLock};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "flag",
    mirrors: "dma_pinned_flags/_count on page->lru, LRU-isolated (RFC v2, Nov 2018)",
    source: "John Hubbard's RFC \"[PATCH v2 0/6] RFC: gup+dma: tracking dma-pinned pages\" (10 Nov 2018): `dma_pinned_flags`/`dma_pinned_count` overlaid on `page->lru`, the page isolated from its LRU under a per-node `zone_gup_lock`, lock-free unpin but for the last, `putback_lru_page()`",
    exactness: Exactness::Exact,
    bytes_per_page: 0,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    // One reference fewer than the others: isolate_lru_page() holds one
    // while the page is off its LRU.
    max_pins_per_page: (i32::MAX - 2) as u32,
};

/// What `set_bit(PAGE_DMA_PINNED, …)` sets: the RFC defined
/// `PAGE_DMA_PINNED` as 0x2UL and passed it to `set_bit()` as a bit
/// number, so bit 2 (mask 0x4), not the bit 1 its comment meant.
pub const PAGE_DMA_PINNED: u64 = 1 << 0x2;
/// `PAGE_DMA_PINNED_WAS_LRU` (0x4UL) as a bit number: bit 4 (mask 0x10).
pub const PAGE_DMA_PINNED_WAS_LRU: u64 = 1 << 0x4;

/// `dma_pinned_count` is an `atomic_t` over the low half of `lru.prev`
/// (x86-64 is little-endian): the high half keeps whatever pointer was
/// there.
const COUNT_MASK: u64 = 0xffff_ffff;

/// The November 2018 page-flag RFC.
pub struct Flag {
    memmap: Arc<MemMap>,
    /// `pglist_data->pinned_dma_lock`, one per node.
    zone_gup_lock: Box<[SpinLock<()>]>,
}

impl Flag {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        let nodes = memmap.nodes().iter().map(|n| n.nid).max().unwrap_or(0) as usize + 1;
        // Patch 6/6's early return in __pagevec_lru_add_fn().
        memmap.lru_add_pvecs().keep_off(Self::page_dma_pinned);
        Self {
            zone_gup_lock: (0..nodes)
                .map(|_| SpinLock::named("zone_gup_lock", ()))
                .collect(),
            memmap,
        }
    }

    /// `PageDmaPinned()`: `test_bit(PAGE_DMA_PINNED, &dma_pinned_flags)`.
    #[inline]
    fn page_dma_pinned(head: &Page) -> bool {
        // Relaxed: test_bit() is a plain read.
        head.lru[0].load(Ordering::Relaxed) & PAGE_DMA_PINNED != 0
    }

    /// `pin_page_for_dma()` for `count` entries of one page at once (more
    /// than one only for the model's grabs larger than a folio); true if it
    /// set PageDmaPinned.
    fn pin_page_for_dma(&self, folio: Folio, count: u64) -> bool {
        let pages = self.memmap.pages();
        let head = &pages[folio.head.0];
        let nid = head.nid();
        let _gup = self.zone_gup_lock[nid as usize].lock();
        if Self::page_dma_pinned(head) {
            // Relaxed: atomic_inc(); the gup lock orders it against pinners.
            head.lru[1].fetch_add(count, Ordering::Relaxed);
            return false;
        }
        let isolated = self
            .memmap
            .lruvec(nid)
            .isolate_lru_page(pages, folio.head);
        if isolated {
            // Relaxed: set_bit() is an unordered RMW.
            head.lru[0]
                .fetch_or(PAGE_DMA_PINNED_WAS_LRU, Ordering::Relaxed);
        }
        // Relaxed: atomic_set() of the low 32 bits (a load and a store: no
        // one else writes the count of an unpinned page). Overwrites half of
        // lru.prev whatever list the page was on.
        let prev = head.lru[1].load(Ordering::Relaxed);
        head.lru[1].store((prev & !COUNT_MASK) | count, Ordering::Relaxed);
        // Relaxed: set_bit(); the barrier after it orders it on the fast
        // path. Overwrites lru.next's bit 1 whatever list it was on.
        head.lru[0].fetch_or(PAGE_DMA_PINNED, Ordering::Relaxed);
        true
    }

    /// `put_user_page()` for `count` entries of one page, without the final
    /// `put_page()`.
    fn unpin_page_for_dma(&self, folio: Folio, count: u64) -> Result<(), PinError> {
        let pages = self.memmap.pages();
        let head = &pages[folio.head.0];
        if !Self::page_dma_pinned(head) {
            return Err(PinError::NotPinned(folio.head));
        }
        // SeqCst: atomic_dec_and_test() is fully ordered. A decrement from
        // zero is refused (the model's check of an unbalanced unpin).
        let left = (head
            .lru[1]
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |c| {
                (c & COUNT_MASK >= count).then(|| c - count)
            })
            .map_err(|_| PinError::NotPinned(folio.head))?
            - count)
            & COUNT_MASK;
        if left != 0 {
            return Ok(());
        }
        let nid = head.nid();
        let _gup = self.zone_gup_lock[nid as usize].lock();
        // Relaxed under the lock: a pinner's atomic_inc is under it too.
        if head.lru[1].load(Ordering::Relaxed) & COUNT_MASK == 0 {
            // Relaxed (both): clear_bit() is unordered; the lock orders
            // them against a pinner. Two of them, as put_user_page() has:
            // ClearPageDmaPinned(), then, if PageDmaPinnedWasLru() (a
            // test_bit, a plain load), ClearPageDmaPinnedWasLru().
            head.lru[0].fetch_and(!PAGE_DMA_PINNED, Ordering::Relaxed);
            if head.lru[0].load(Ordering::Relaxed) & PAGE_DMA_PINNED_WAS_LRU != 0 {
                head.lru[0].fetch_and(!PAGE_DMA_PINNED_WAS_LRU, Ordering::Relaxed);
                putback_lru_page(&self.memmap, folio.head);
            }
        }
        Ok(())
    }
}

/// The RFC's per-entry calls for `refs` pins of `folio`: one per subpage
/// entry, or a single step for a grab larger than the folio (only the
/// model's climbs to the pin limit make those).
fn entries(folio: Folio, refs: u32) -> impl Iterator<Item = u64> {
    let per_entry = refs as usize <= folio.nr_pages();
    let (n, count) = if per_entry { (refs, 1) } else { (1, u64::from(refs)) };
    (0..n).map(move |_| count)
}

impl Registered for Flag {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Ok(Self::new(memmap))
    }
}

/// gup's entry points as they are.
impl Gup for Flag {}

impl PinScheme for Flag {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        grab_refs(&self.memmap, folio, refs, path)?;
        // pin_page_for_dma() per pages[] entry, as the RFC looped.
        let mut first = false;
        for count in entries(folio, refs) {
            first |= self.pin_page_for_dma(folio, count);
        }
        if first && path == GupPath::Fast {
            smp_mb__after_atomic();
        }
        Ok(())
    }

    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        // Refuses refs that do not fit the refcount, so `count as i32` below
        // cannot wrap.
        refs_i32(folio, refs, 1)?;
        let head = self.memmap.head_page(folio);
        // Relaxed: a check of the model's, so an unbalanced unpin changes
        // nothing (the RFC would have hit VM_BUG_ON_PAGE).
        let count = head.lru[1].load(Ordering::Relaxed) & COUNT_MASK;
        if !Self::page_dma_pinned(head) || count < u64::from(refs) {
            return Err(PinError::NotPinned(folio.head));
        }
        for count in entries(folio, refs) {
            self.unpin_page_for_dma(folio, count)?;
            // put_page() per entry, as the RFC's put_user_page() did.
            head.put_refs(count as i32);
        }
        Ok(())
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        match self.memmap.folio(pfn) {
            Ok(folio) => Self::page_dma_pinned(self.memmap.head_page(folio)),
            Err(_) => false,
        }
    }

    fn pin_count(&self, pfn: Pfn) -> Option<u32> {
        let folio = self.memmap.folio(pfn).ok()?;
        let head = self.memmap.head_page(folio);
        let _gup = self.zone_gup_lock[head.nid() as usize].lock();
        if !Self::page_dma_pinned(head) {
            return Some(0);
        }
        // Relaxed under the lock.
        Some((head.lru[1].load(Ordering::Relaxed) & COUNT_MASK) as u32)
    }

    /// The per-node gup locks (a `spinlock_t` in `pglist_data` in the RFC;
    /// a cache line each here).
    fn tracking_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.zone_gup_lock)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::lru_add::lru_add_drain_all;
    use crate::page::pg;

    fn on_lru(s: &Flag, pfn: Pfn) -> bool {
        let mm = &s.memmap;
        mm.lruvec(0).lru_lock.lock().pfns(mm.pages()).contains(&pfn)
    }

    #[test]
    fn a_page_pinned_while_it_waits_in_a_pagevec_never_returns_to_the_lru() {
        let s = Flag::new(Arc::new(MemMap::with_pages(16).expect("memmap")));
        let pfn = Pfn(5);
        s.pin(pfn, GupPath::Fast).expect("pin");
        assert!(!on_lru(&s, pfn), "isolated while pinned");
        s.unpin(pfn).expect("unpin");
        let head = &s.memmap.pages()[pfn.0];
        assert!(head.flags() & pg::LRU == 0, "waits in this thread's pagevec");
        // Pinned again while it waits: isolation fails, no WasLru.
        s.pin(pfn, GupPath::Fast).expect("pin again");
        lru_add_drain_all(&s.memmap);
        assert!(!on_lru(&s, pfn), "patch 6/6's drain skips a pinned page");
        assert!(s.maybe_dma_pinned(pfn), "and its flag survives the drain");
        s.unpin(pfn).expect("unpin");
        lru_add_drain_all(&s.memmap);
        assert!(!on_lru(&s, pfn), "leaked: off every LRU for good");
        assert_eq!(head.ref_count(), 1, "no reference left behind");
        // A page unpinned before the drain goes back.
        s.pin(Pfn(6), GupPath::Fast).expect("pin");
        s.unpin(Pfn(6)).expect("unpin");
        lru_add_drain_all(&s.memmap);
        assert!(on_lru(&s, Pfn(6)));
    }
}
