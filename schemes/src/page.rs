//! `struct page`: the 64 bytes that every pin-tracking scheme must live in.
//!
//! [`Page`] has the kernel's x86-64 layout for the words pin tracking
//! touches (include/linux/mm_types.h, v6.12): `struct page`, and the first
//! tail page's half of `struct folio` (`_flags_1`, `_head_1`, ...):
//!
//! | offset | field          | order-0 / head page            | first tail page of a folio (folio offset) |
//! |--------|----------------|--------------------------------|----------------------------|
//! | 0      | `flags`        | PG_* bits, node id in bits 56+  | `_flags_1`: folio order in bits 0..8 (64) |
//! | 8      | `lru[0]`       | LRU `next` (pfn << 3)           | `_head_1` = head pfn << 1 \| 1 (72) |
//! | 16     | `lru[1]`       | LRU `prev` (pfn << 3)           | `_large_mapcount` (80), `_entire_mapcount` (84) |
//! | 24     | `_nr_pages_mapped` | `mapping`, low half         | `_nr_pages_mapped` (88) |
//! | 28     | `_pincount`    | `mapping`, high half            | `_pincount` (92): exact large-folio pin count |
//! | 32     | `index`        | page offset                    | `_folio_nr_pages` (96) |
//! | 40     | `private`      | fs/swap private                | zeroed by `prep_compound_tail()` |
//! | 48     | `_mapcount`    | page table mappings - 1        |                            |
//! | 52     | `_refcount`    | references                     | 0 (tail pages hold no refs) |
//! | 56     | `memcg_data`   | memcg                          |                            |
//!
//! As in the kernel, bit 0 of `lru[0]` tells a tail page (it holds
//! `compound_head | 1`) from a head or order-0 page (list pointers are
//! 8-byte aligned; here list links are stored as `pfn << 3`). The page-flag scheme of the 2018
//! RFC reuses `lru` while a page is pinned and therefore off the LRU.
//!
//! Atomic operations on `_refcount`, each the kernel's (include/linux/page_ref.h,
//! include/linux/atomic/atomic-instrumented.h, v6.12):
//! - [`RefCount::try_add`] = `folio_ref_try_add()` = `atomic_add_unless()`:
//!   a cmpxchg loop, fully ordered when it adds (a SeqCst cmpxchg and
//!   `smp_mb__after_atomic()`, which the abstract model needs to order the
//!   relaxed accesses after it and x86 gets for free).
//! - [`RefCount::add`] = `folio_ref_add()` = `atomic_add()`: one locked add
//!   (`lock xadd` here, since the model reads the old value to refuse overflow),
//!   no return value, no ordering (Relaxed). Where gup needs the add ordered
//!   it follows it with `smp_mb__after_atomic()` (see `sync`).
//! - [`RefCount::put`] = `folio_put_refs()` = `atomic_sub_and_test()`:
//!   fully ordered (SeqCst), so the last put sees every access before it.
//! - [`RefCount::sub`] = `page_ref_sub()` = `atomic_sub()`: no ordering.
//! - [`RefCount::get`] = `folio_ref_count()` = `atomic_read()`: a plain
//!   load (Relaxed); what orders it against a concurrent pin is the
//!   `smp_mb()` pair of gup-fast and the unsharer, not the load.
//!
//! One deviation, on purpose: the model refuses a reference that would pass
//! `i32::MAX` instead of wrapping. `ref_try_add` checks inside its cmpxchg
//! loop; `ref_add` adds, checks the value it returned, and on overflow
//! subtracts again (no retry loop, so a contended add costs what the
//! kernel's does; a concurrent reader may see the wrapped count for that
//! instant, as it would see upstream's for good).

use crate::sync::{smp_mb__after_atomic, AtomicI32, AtomicU64, Ordering};

/// `PAGE_SHIFT` on x86-64: 4 KiB base pages.
pub const PAGE_SHIFT: u32 = 12;
/// `PAGE_SIZE`.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// `GUP_PIN_COUNTING_BIAS` (include/linux/mm.h): what one FOLL_PIN adds to
/// `_refcount` of a small folio.
pub const GUP_PIN_COUNTING_BIAS: i32 = 1 << 10;
/// `sizeof(struct page)` on x86-64.
pub const STRUCT_PAGE_BYTES: usize = 64;
/// Order of a PMD-mapped THP (2 MiB).
pub const HPAGE_PMD_ORDER: u8 = 9;
/// Order of a PUD-mapped folio (1 GiB).
pub const HPAGE_PUD_ORDER: u8 = 18;
/// Largest folio order the model forms.
pub const MAX_FOLIO_ORDER: u8 = HPAGE_PUD_ORDER;

/// Page flag bits, numbered as in `enum pageflags` where the kernel has them.
pub mod pg {
    /// `PG_referenced`: set by every gup-fast grab (`folio_set_referenced()`).
    pub const REFERENCED: u64 = 1 << 2;
    /// `PG_lru`: the page is on its node's LRU list.
    pub const LRU: u64 = 1 << 5;
    /// `PG_head`: the first page of a large folio.
    pub const HEAD: u64 = 1 << 6;
    /// `PG_unevictable`: never set by the model; cleared as the kernel
    /// clears it when a page goes onto an LRU.
    pub const UNEVICTABLE: u64 = 1 << 18;
    /// `NODES_PGSHIFT`: the node id lives in the top byte of `flags`.
    pub const NODES_SHIFT: u32 = 56;
    /// Mask of the folio order kept in the first tail page's flags.
    pub const ORDER_MASK: u64 = 0xff;
}

/// The field of [`Page`] at byte `offset` of a page (0 to 63), as the
/// census names what a locked operation hit.
pub fn field_at(offset: usize) -> &'static str {
    use std::mem::offset_of;
    let fields = [
        (offset_of!(Page, flags), "flags"),
        (offset_of!(Page, lru), "lru"),
        (offset_of!(Page, _nr_pages_mapped), "_nr_pages_mapped"),
        (offset_of!(Page, _pincount), "_pincount"),
        (offset_of!(Page, index), "index"),
        (offset_of!(Page, private), "private"),
        (offset_of!(Page, _mapcount), "_mapcount"),
        (offset_of!(Page, _refcount), "_refcount"),
        (offset_of!(Page, memcg_data), "memcg_data"),
    ];
    fields
        .iter()
        .rev()
        .find(|(at, _)| *at <= offset)
        .map_or("flags", |(_, name)| name)
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
    /// Low half of `page->mapping`; `folio->_nr_pages_mapped` in a first
    /// tail page (unused by pin tracking, kept for the layout).
    pub _nr_pages_mapped: AtomicI32,
    /// High half of `page->mapping`; `folio->_pincount` in a first tail page.
    pub _pincount: AtomicI32,
    /// `page->index` (unused by pin tracking, kept for the layout).
    pub index: AtomicU64,
    /// `page->private` (unused by pin tracking, kept for the layout).
    pub private: AtomicU64,
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
            _nr_pages_mapped: AtomicI32::new(0),
            _pincount: AtomicI32::new(0),
            index: AtomicU64::new(0),
            private: AtomicU64::new(0),
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

/// A `_refcount` word, wherever it lives (a `struct page`, or a separately
/// allocated folio descriptor), with the kernel's operations on it.
#[derive(Clone, Copy)]
pub struct RefCount<'a>(pub &'a AtomicI32);

impl RefCount<'_> {
    /// `folio_ref_count()`.
    #[inline]
    pub fn get(&self) -> i32 {
        // Relaxed: atomic_read(), see the module doc.
        self.0.load(Ordering::Relaxed)
    }

    /// `folio_ref_try_add()` with overflow refused: adds `nr` unless the
    /// count is `<= 0` (`try_get_folio()`'s `WARN_ON_ONCE(count < 0)` and
    /// `atomic_add_unless(.., 0)` in one) or the sum would pass `i32::MAX`.
    /// Returns the new count.
    #[inline]
    pub fn try_add(&self, nr: i32) -> Result<i32, RefError> {
        self.try_add_leaving(nr, 0)
    }

    /// [`RefCount::try_add`] that also refuses when fewer than `more`
    /// references would be left below `i32::MAX` after it: the model's way
    /// of refusing a two-step pin (`try_get_folio()`, then
    /// `folio_ref_add(more)`) before its first step, so a refused pin costs
    /// one failed cmpxchg, as a refused `atomic_add_unless()` does.
    #[inline]
    pub fn try_add_leaving(&self, nr: i32, more: i32) -> Result<i32, RefError> {
        // Relaxed: only a first guess; the cmpxchg validates it.
        let mut old = self.0.load(Ordering::Relaxed);
        loop {
            if old <= 0 {
                return Err(RefError::NotLive(old));
            }
            let new = old.checked_add(nr).ok_or(RefError::Overflow(old))?;
            new.checked_add(more).ok_or(RefError::Overflow(old))?;
            // SeqCst on success: atomic_add_unless() is fully ordered.
            // Relaxed on failure: we only retry with the value.
            match self
                .0
                .compare_exchange_weak(old, new, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => {
                    // The trailing half of "fully ordered": a kernel RMW
                    // that returns a value orders the accesses after it
                    // (gup-fast's PTE re-check) too. Free on x86.
                    smp_mb__after_atomic();
                    return Ok(new);
                }
                Err(cur) => old = cur,
            }
        }
    }

    /// `folio_ref_add()`: one `lock add`, with overflow refused after the
    /// fact (see the module doc). Returns the new count.
    #[inline]
    pub fn add(&self, nr: i32) -> Result<i32, RefError> {
        // Relaxed: atomic_add() is unordered; callers that need order add
        // smp_mb__after_atomic(), as gup-fast does.
        let old = self.0.fetch_add(nr, Ordering::Relaxed);
        match old.checked_add(nr) {
            Some(new) => Ok(new),
            None => {
                // Relaxed: undoes our own add; nothing is published by it.
                self.0.fetch_sub(nr, Ordering::Relaxed);
                Err(RefError::Overflow(old))
            }
        }
    }

    /// `try_grab_folio()`'s `WARN_ON_ONCE(folio_ref_count() <= 0)` read
    /// (and `try_get_page()`'s), then [`RefCount::add`]: the slow path's
    /// reference on a folio known live.
    #[inline]
    pub fn add_live(&self, nr: i32) -> Result<i32, RefError> {
        match self.get() {
            c if c <= 0 => Err(RefError::NotLive(c)),
            _ => self.add(nr),
        }
    }

    /// `folio_put_refs()` without the freeing: drops `nr`, returns the new
    /// count.
    #[inline]
    pub fn put(&self, nr: i32) -> i32 {
        // SeqCst: folio_ref_sub_and_test() is a value-returning atomic,
        // fully ordered, so whoever drops the last reference sees every
        // access made under the others.
        self.0.fetch_sub(nr, Ordering::SeqCst) - nr
    }

    /// `page_ref_sub()`: drops `nr` that are not the last (`atomic_sub()`).
    #[inline]
    pub fn sub(&self, nr: i32) {
        // Relaxed: atomic_sub() is unordered; a put_refs() follows.
        self.0.fetch_sub(nr, Ordering::Relaxed);
    }
}

impl Page {
    /// This page's `_refcount`.
    #[inline]
    pub fn refcount(&self) -> RefCount<'_> {
        RefCount(&self._refcount)
    }

    /// `folio_ref_count()` ([`RefCount::get`]).
    #[inline]
    pub fn ref_count(&self) -> i32 {
        self.refcount().get()
    }

    /// `folio_ref_try_add()` ([`RefCount::try_add`]).
    #[inline]
    pub fn ref_try_add(&self, nr: i32) -> Result<i32, RefError> {
        self.refcount().try_add(nr)
    }

    /// [`RefCount::try_add_leaving`].
    #[inline]
    pub fn ref_try_add_leaving(&self, nr: i32, more: i32) -> Result<i32, RefError> {
        self.refcount().try_add_leaving(nr, more)
    }

    /// `folio_ref_add()` ([`RefCount::add`]).
    #[inline]
    pub fn ref_add(&self, nr: i32) -> Result<i32, RefError> {
        self.refcount().add(nr)
    }

    /// [`RefCount::add_live`].
    #[inline]
    pub fn ref_add_live(&self, nr: i32) -> Result<i32, RefError> {
        self.refcount().add_live(nr)
    }

    /// `folio_put_refs()` ([`RefCount::put`]).
    #[inline]
    pub fn put_refs(&self, nr: i32) -> i32 {
        self.refcount().put(nr)
    }

    /// `page_ref_sub()` ([`RefCount::sub`]).
    #[inline]
    pub fn ref_sub(&self, nr: i32) {
        self.refcount().sub(nr)
    }

    /// The page's flags word.
    #[inline]
    pub fn flags(&self) -> u64 {
        // Acquire: pairs with the Release RMWs that set PG_dma_pinned/PG_lru.
        self.flags.load(Ordering::Acquire)
    }

    /// `folio_set_referenced()`: `set_bit(PG_referenced)`, one `lock or`,
    /// done by gup-fast on every folio it grabs, FOLL_GET and FOLL_PIN alike.
    #[inline]
    pub fn set_referenced(&self) {
        // Relaxed: set_bit() is an unordered atomic RMW.
        self.flags.fetch_or(pg::REFERENCED, Ordering::Relaxed);
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
        assert_eq!(size_of::<Page>(), STRUCT_PAGE_BYTES);
        assert_eq!(align_of::<Page>(), 64);
        assert_eq!(offset_of!(Page, flags), 0);
        assert_eq!(offset_of!(Page, lru), 8);
        assert_eq!(offset_of!(Page, _nr_pages_mapped), 24);
        assert_eq!(offset_of!(Page, _pincount), 28);
        assert_eq!(offset_of!(Page, index), 32);
        assert_eq!(offset_of!(Page, private), 40);
        // The first tail page is the folio's second 64 bytes: _pincount at
        // folio offset 92, _nr_pages_mapped at 88 (struct folio, v6.12).
        assert_eq!(size_of::<Page>() + offset_of!(Page, _pincount), 92);
        assert_eq!(size_of::<Page>() + offset_of!(Page, _nr_pages_mapped), 88);
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
        assert_eq!(page.put_refs(2), i32::MAX - 2);
    }

    #[test]
    fn ref_add_refuses_overflow_and_leaves_the_count() {
        let page = Page::default();
        page._refcount.store(i32::MAX - 3, Ordering::Relaxed);
        assert_eq!(page.ref_add(3), Ok(i32::MAX));
        assert_eq!(page.ref_add(1), Err(RefError::Overflow(i32::MAX)));
        assert_eq!(page.ref_count(), i32::MAX);
        page.ref_sub(5);
        assert_eq!(page.ref_count(), i32::MAX - 5);
    }
}
