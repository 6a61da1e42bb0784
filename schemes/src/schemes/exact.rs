//! `exact`: a dedicated 32-bit pin counter for every page, kept where the
//! kernel keeps per-page data that does not fit `struct page`: `page_ext`.
//!
//! Mirrors: no merged code; it is the "just add a field to struct page"
//! option rejected in the 2018-2019 threads (LSF/MM 2018, LPC 2018 RDMA MC)
//! because `struct page` must stay 64 bytes, built the way it would have to
//! be: as a `page_ext` client (mm/page_ext.c, v6.12; SPARSEMEM, x86-64). A
//! client registers `struct page_ext_operations { .size = 4, .need = …,
//! .need_shared_flags = false }` (as page_table_check does): with no client
//! asking for the shared `flags` word, `page_ext_size` is the clients'
//! sizes only (`invoke_need_callbacks()`), here 4 bytes per page at offset
//! 0, allocated per memory section (2^15 pages, 128 MiB) when the section
//! comes online. A lookup is `page_ext_get(page)`:
//! - `rcu_read_lock()` (a preemption-count increment on a non-preemptible
//!   kernel: a thread-local counter here);
//! - `lookup_page_ext()`: `__pfn_to_section(pfn)`, two dependent loads
//!   through `mem_section[root][nr]` (128 sections per root: `struct
//!   mem_section` is 32 bytes with CONFIG_PAGE_EXTENSION), then the
//!   section's `page_ext` base, and `base + page_ext_size * pfn`;
//! - the entry's counter at `ops->offset` (0);
//! - `page_ext_put()`: `rcu_read_unlock()`.
//!
//! A pin also holds `_refcount` (+refs) so the folio stays live, and adds
//! `refs` to the counter of the folio's head page (relaxed, ordered before
//! gup-fast's PTE re-check by `smp_mb__after_atomic()`); unpin subtracts
//! (checked, so an unbalanced unpin is refused), then `folio_put_refs()`.
//!
//! Memory: +4 bytes per page (the `page_ext` entry: 0.1% of RAM, 1 GiB per
//! TiB), fixed, plus one pointer per section and root; 12 if another client
//! wanted the shared flags word.
//! Exactness: exact, no false positives or negatives.
//! Limits: bounded by the i32 refcount, i32::MAX - 1 pins.
//! Not modelled: the other `page_ext` clients that would share the entry
//! (page_owner, page_idle, ...), the run-time loads of `page_ext_size` and
//! `ops->offset` (constants here), `page_ext_invalid()`'s hot-remove bit,
//! and `page_to_pfn()`. On a non-preemptible kernel without
//! CONFIG_PREEMPT_COUNT `rcu_read_lock()` is only a compiler barrier; the
//! thread-local counter here costs a little more.

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::Pfn;
use crate::scheme::{grab_refs, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use crate::sync::{smp_mb__after_atomic, AtomicU32, Ordering};
use std::cell::Cell;
use std::collections::TryReserveError;
use std::sync::Arc;

/// `PFN_SECTION_SHIFT` on x86-64: 128 MiB sections of 4 KiB pages.
pub const PFN_SECTION_SHIFT: u32 = 15;
/// `SECTIONS_PER_ROOT`: a page of 32-byte `struct mem_section`s (with
/// `page_ext` and its pad, include/linux/mmzone.h v6.12).
const SECTIONS_PER_ROOT: usize = 128;
/// `page_ext_size` in 32-bit words: the counter alone (no shared flags).
const ENTRY_WORDS: usize = 1;
/// The counter's word in an entry (`ops->offset` 0).
const COUNT_WORD: usize = 0;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "exact",
    mirrors: "baseline: a 32-bit counter per page as a page_ext client",
    source: "the rejected \"add a field to struct page\" baseline, built as a `page_ext` client (mm/page_ext.c, v6.12): a 32-bit counter per page in `page_ext` (no shared flags: 4-byte entries), found through `mem_section` under RCU",
    exactness: Exactness::Exact,
    bytes_per_page: 4 * ENTRY_WORDS,
    struct_page_bytes: crate::page::STRUCT_PAGE_BYTES,
    max_pins_per_page: (i32::MAX - 1) as u32,
};

#[cfg(not(loom))]
std::thread_local! {
    /// The calling thread's RCU read-side nesting.
    static RCU_NESTING: Cell<u32> = const { Cell::new(0) };
}
#[cfg(loom)]
loom::thread_local! {
    static RCU_NESTING: Cell<u32> = Cell::new(0);
}

/// Holds `rcu_read_lock()`; `rcu_read_unlock()` on drop.
struct RcuReadGuard;

impl RcuReadGuard {
    #[inline]
    fn lock() -> Self {
        crate::census::rcu_section();
        RCU_NESTING.with(|n| n.set(n.get() + 1));
        RcuReadGuard
    }
}

impl Drop for RcuReadGuard {
    #[inline]
    fn drop(&mut self) {
        RCU_NESTING.with(|n| n.set(n.get() - 1));
    }
}

/// A section's `page_ext` array: `ENTRY_WORDS` words per page.
type SectionExt = Box<[AtomicU32]>;

/// A pin counter in every page's `page_ext` entry.
pub struct Exact {
    memmap: Arc<MemMap>,
    /// `mem_section[root][nr].page_ext`.
    roots: Box<[Box<[SectionExt]>]>,
}

impl Exact {
    /// Over `memmap`, or the allocation error when its 4 bytes per page
    /// cannot be had (under `ulimit -v`, say), so a harness can report the
    /// cell as not measured instead of aborting.
    pub fn try_new(memmap: Arc<MemMap>) -> Result<Self, TryReserveError> {
        let pages = memmap.nr_pages();
        let sections = pages.div_ceil(1 << PFN_SECTION_SHIFT);
        let mut roots = Vec::new();
        for root in 0..sections.div_ceil(SECTIONS_PER_ROOT) {
            let mut secs = Vec::new();
            for nr in 0..SECTIONS_PER_ROOT.min(sections - root * SECTIONS_PER_ROOT) {
                let first = (root * SECTIONS_PER_ROOT + nr) << PFN_SECTION_SHIFT;
                let len = (pages - first).min(1 << PFN_SECTION_SHIFT) * ENTRY_WORDS;
                let mut ext = Vec::new();
                ext.try_reserve_exact(len)?;
                ext.extend((0..len).map(|_| AtomicU32::new(0)));
                secs.try_reserve(1)?;
                secs.push(ext.into_boxed_slice());
            }
            roots.try_reserve(1)?;
            roots.push(secs.into_boxed_slice());
        }
        Ok(Self {
            memmap,
            roots: roots.into_boxed_slice(),
        })
    }

    /// `lookup_page_ext()`: the counter in `pfn`'s entry; the caller holds
    /// the RCU read lock.
    #[inline]
    fn counter(&self, pfn: Pfn, _rcu: &RcuReadGuard) -> Option<&AtomicU32> {
        let nr = pfn.0 >> PFN_SECTION_SHIFT;
        let section = self.roots.get(nr / SECTIONS_PER_ROOT)?.get(nr % SECTIONS_PER_ROOT)?;
        let index = (pfn.0 & ((1 << PFN_SECTION_SHIFT) - 1)) * ENTRY_WORDS + COUNT_WORD;
        section.get(index)
    }
}

impl Registered for Exact {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Self::try_new(memmap).map_err(|e| BuildError::Alloc(INFO.name, e))
    }
}

/// gup's entry points as they are.
impl Gup for Exact {}

impl PinScheme for Exact {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        grab_refs(&self.memmap, folio, refs, path)?;
        let rcu = RcuReadGuard::lock();
        if let Some(c) = self.counter(folio.head, &rcu) {
            // Relaxed: an unordered count; the barrier below orders it
            // before gup-fast's PTE re-check. Cannot overflow: the count is
            // below the refcount, whose add was just checked.
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
        {
            let rcu = RcuReadGuard::lock();
            let c = self
                .counter(folio.head, &rcu)
                .ok_or(PinError::NoPage(folio.head))?;
            // Relaxed: an unordered count (atomic_sub()-style, checked); the
            // folio_put_refs() after it is fully ordered.
            c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(refs))
                .map_err(|_| PinError::NotPinned(folio.head))?;
        }
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
        let rcu = RcuReadGuard::lock();
        // Relaxed: atomic_read().
        self.counter(folio.head, &rcu)
            .map(|c| c.load(Ordering::Relaxed))
    }

    /// The section and root tables (`mem_section`'s `page_ext` pointers).
    fn census_regions(&self) -> Vec<crate::census::Region> {
        use crate::census::{Kind, Region, OTHER};
        self.roots
            .iter()
            .flat_map(|root| root.iter())
            .map(|section| Region::of(&**section, Kind::Named(OTHER)))
            .collect()
    }

    fn tracking_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.roots)
            + self
                .roots
                .iter()
                .map(|r| std::mem::size_of_val(&**r))
                .sum::<usize>()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_across_sections_and_roots() {
        // Two sections and a bit: the third is partial.
        let pages = (2 << PFN_SECTION_SHIFT) + 100;
        let s = Exact::try_new(Arc::new(MemMap::with_pages(pages).expect("memmap"))).expect("exact");
        assert_eq!(s.roots.len(), 1);
        assert_eq!(s.roots[0].len(), 3);
        assert_eq!(s.roots[0][2].len(), 100 * ENTRY_WORDS);
        for pfn in [Pfn(0), Pfn((1 << PFN_SECTION_SHIFT) + 5), Pfn(pages - 1)] {
            s.pin(pfn, GupPath::Fast).expect("pin");
            assert_eq!(s.pin_count(pfn), Some(1));
            s.unpin(pfn).expect("unpin");
        }
        assert_eq!(s.pin_count(Pfn(pages)), None);
        RCU_NESTING.with(|n| assert_eq!(n.get(), 0, "every rcu_read_lock unlocked"));
    }
}
