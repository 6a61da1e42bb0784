//! `struct page`: the 64 bytes that every pin-tracking scheme must live in.
//!
//! [`Page`] has the kernel's x86-64 layout for the words pin tracking
//! touches (include/linux/mm_types.h, v6.12):
//!
//! | offset | field          | order-0 / head page            | first tail page of a folio |
//! |--------|----------------|--------------------------------|----------------------------|
//! | 0      | `flags`        | PG_* bits, node id in bits 56+  | folio order in bits 0..8 (`_flags_1`) |
//! | 8      | `lru[0]`       | LRU `next` (pfn << 1)           | `compound_head` = head pfn << 1 \| 1 |
//! | 16     | `lru[1]`       | LRU `prev` (pfn << 1)           | unused                     |
//! | 24     | `mapping`      | address_space / anon_vma       |                            |
//! | 32     | `index`        | page offset                    |                            |
//! | 40     | `_nr_pages_mapped`, `_pincount` | `private`     | `folio->_pincount` (exact large-folio pin count) |
//! | 48     | `_mapcount`    | page table mappings - 1        |                            |
//! | 52     | `_refcount`    | references                     | 0 (tail pages hold no refs) |
//! | 56     | `memcg_data`   | memcg                          |                            |
//!
//! As in the kernel, bit 0 of `lru[0]` tells a tail page (it holds
//! `compound_head | 1`) from a head or order-0 page (list pointers are even;
//! here list links are stored as `pfn << 1`). The page-flag scheme of the 2018
//! RFC reuses `lru` while a page is pinned and therefore off the LRU.
//!
//! Atomic orderings used on `_refcount` everywhere in this crate:
//! - adding a reference or pin: AcqRel. The kernel's value-returning atomics
//!   (`atomic_add_unless`, `atomic_add_return`) are fully ordered, and
//!   `try_grab_folio_fast()` adds `smp_mb__after_atomic()`; AcqRel is the
//!   closest a single Rust RMW gets, and costs the same `lock`ed instruction
//!   on x86.
//! - dropping one: Release, so that whoever later sees the count drop (reclaim
//!   via `maybe_dma_pinned`, or the freeing path) also sees every write the
//!   holder made to the page before dropping it.
//! - reading it (`maybe_dma_pinned`): Acquire, the other half of that pair.

use crate::sync::{AtomicI32, AtomicU64, Ordering};

/// `PAGE_SHIFT` on x86-64: 4 KiB base pages.
pub const PAGE_SHIFT: u32 = 12;
/// `PAGE_SIZE`.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// `GUP_PIN_COUNTING_BIAS` (include/linux/mm.h): what one FOLL_PIN adds to
/// `_refcount` of a small folio.
pub const GUP_PIN_COUNTING_BIAS: i32 = 1 << 10;
/// Order of a PMD-mapped THP (2 MiB).
pub const HPAGE_PMD_ORDER: u8 = 9;
/// Order of a PUD-mapped folio (1 GiB).
pub const HPAGE_PUD_ORDER: u8 = 18;
/// Largest folio order the model forms.
pub const MAX_FOLIO_ORDER: u8 = HPAGE_PUD_ORDER;

/// Page flag bits, numbered as in `enum pageflags` where the kernel has them.
pub mod pg {
    /// `PG_lru`: the page is on its node's LRU list.
    pub const LRU: u64 = 1 << 5;
    /// `PG_head`: the first page of a large folio.
    pub const HEAD: u64 = 1 << 6;
    /// `PG_dma_pinned`: the 2018 RFC's flag (never merged; bit chosen free).
    pub const DMA_PINNED: u64 = 1 << 24;
    /// `NODES_PGSHIFT`: the node id lives in the top byte of `flags`.
    pub const NODES_SHIFT: u32 = 56;
    /// Mask of the folio order kept in the first tail page's flags.
    pub const ORDER_MASK: u64 = 0xff;
}

/// A page frame number: an index into the [`MemMap`](crate::MemMap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub usize);

impl std::ops::Add<usize> for Pfn {
    type Output = Pfn;
    /// The pfn `nr` pages further on (`nth_page()`).
    #[inline]
    fn add(self, nr: usize) -> Pfn {
        Pfn(self.0 + nr)
    }
}

impl std::fmt::Display for Pfn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// The model of `struct page`. All-zero bytes are a valid (free, unlinked)
/// page, so a caller may hand the memmap freshly mapped anonymous memory.
#[repr(C, align(64))]
pub struct Page {
    /// `page->flags`: PG_* bits and the node id.
    pub flags: AtomicU64,
    /// `page->lru`: LRU links, or `compound_head` in a tail page, or the
    /// page-flag scheme's pin count while the page is pinned.
    pub lru: [AtomicU64; 2],
    /// `page->mapping` (unused by pin tracking, kept for the layout).
    pub mapping: AtomicU64,
    /// `page->index` (unused by pin tracking, kept for the layout).
    pub index: AtomicU64,
    /// Low half of `page->private`; `folio->_nr_pages_mapped` in a first tail page.
    pub _nr_pages_mapped: AtomicI32,
    /// High half of `page->private`; `folio->_pincount` in a first tail page.
    pub _pincount: AtomicI32,
    /// `page->_mapcount`: number of page-table mappings minus one.
    pub _mapcount: AtomicI32,
    /// `page->_refcount`.
    pub _refcount: AtomicI32,
    /// `page->memcg_data` (unused by pin tracking, kept for the layout).
    pub memcg_data: AtomicU64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            flags: AtomicU64::new(0),
            lru: [AtomicU64::new(0), AtomicU64::new(0)],
            mapping: AtomicU64::new(0),
            index: AtomicU64::new(0),
            _nr_pages_mapped: AtomicI32::new(0),
            _pincount: AtomicI32::new(0),
            _mapcount: AtomicI32::new(-1),
            _refcount: AtomicI32::new(0),
            memcg_data: AtomicU64::new(0),
        }
    }
}

/// Why a reference could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefError {
    /// The count was zero or negative: the page is free or being freed
    /// (`folio_ref_try_add()` fails, `try_grab_folio()` warns).
    NotLive(i32),
    /// Adding would pass `i32::MAX`: refused instead of wrapped.
    Overflow(i32),
}

impl Page {
    /// `page_ref_count()`.
    #[inline]
    pub fn ref_count(&self) -> i32 {
        // Acquire: pairs with the Release in `ref_sub`, see the module doc.
        self._refcount.load(Ordering::Acquire)
    }

    /// `folio_ref_try_add()` with overflow refused: adds `nr` unless the
    /// count is `<= 0` or the sum would pass `i32::MAX`. One CAS loop.
    #[inline]
    pub fn ref_try_add(&self, nr: i32) -> Result<i32, RefError> {
        self.ref_add_checked(nr, true)
    }

    /// `folio_ref_add()` with overflow refused (the count may be anything
    /// positive or zero is refused only by [`Page::ref_try_add`]). One CAS loop.
    #[inline]
    pub fn ref_add(&self, nr: i32) -> Result<i32, RefError> {
        self.ref_add_checked(nr, false)
    }

    #[inline]
    fn ref_add_checked(&self, nr: i32, unless_zero: bool) -> Result<i32, RefError> {
        // Relaxed: only a first guess; the CAS validates it.
        let mut old = self._refcount.load(Ordering::Relaxed);
        loop {
            if unless_zero && old <= 0 {
                return Err(RefError::NotLive(old));
            }
            let new = old.checked_add(nr).ok_or(RefError::Overflow(old))?;
            // AcqRel on success: a new reference is fully ordered, see the
            // module doc. Relaxed on failure: we only retry with the value.
            match self._refcount.compare_exchange_weak(
                old,
                new,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(new),
                Err(cur) => old = cur,
            }
        }
    }

    /// `folio_put_refs()` without the freeing: drops `nr`, returns the new count.
    #[inline]
    pub fn ref_sub(&self, nr: i32) -> i32 {
        // Release: everything the holder wrote happens-before whoever sees
        // the lower count (Acquire in `ref_count`).
        self._refcount.fetch_sub(nr, Ordering::Release) - nr
    }

    /// The page's flags word.
    #[inline]
    pub fn flags(&self) -> u64 {
        // Acquire: pairs with the Release RMWs that set PG_dma_pinned/PG_lru.
        self.flags.load(Ordering::Acquire)
    }

    /// `page_to_nid()`.
    #[inline]
    pub fn nid(&self) -> u32 {
        // Relaxed: the node id is written once, before the memmap is shared.
        (self.flags.load(Ordering::Relaxed) >> pg::NODES_SHIFT) as u32
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn page_is_one_cache_line_with_the_kernel_layout() {
        assert_eq!(size_of::<Page>(), 64);
        assert_eq!(align_of::<Page>(), 64);
        assert_eq!(offset_of!(Page, flags), 0);
        assert_eq!(offset_of!(Page, lru), 8);
        assert_eq!(offset_of!(Page, mapping), 24);
        assert_eq!(offset_of!(Page, index), 32);
        assert_eq!(offset_of!(Page, _pincount), 44);
        assert_eq!(offset_of!(Page, _mapcount), 48);
        assert_eq!(offset_of!(Page, _refcount), 52);
        assert_eq!(offset_of!(Page, memcg_data), 56);
    }

    #[test]
    fn ref_try_add_refuses_dead_pages_and_overflow_without_change() {
        let page = Page::default();
        assert_eq!(page.ref_try_add(1), Err(RefError::NotLive(0)));
        assert_eq!(page.ref_count(), 0);
        page._refcount.store(i32::MAX - 1, Ordering::Relaxed);
        assert_eq!(page.ref_try_add(1), Ok(i32::MAX));
        assert_eq!(page.ref_try_add(1), Err(RefError::Overflow(i32::MAX)));
        assert_eq!(page.ref_count(), i32::MAX);
        assert_eq!(page.ref_sub(2), i32::MAX - 2);
    }
}
