//! The one trait every pin-tracking scheme implements: the plug point of the
//! benchmark, as criterion's `Measurement` is of criterion.
//!
//! A scheme implements the two primitives the kernel builds everything on:
//! [`PinScheme::grab_folio`] (`try_grab_folio()` / `try_grab_folio_fast()` in
//! mm/gup.c) and [`PinScheme::put_folio`] (`gup_put_folio()`), plus the
//! query [`PinScheme::maybe_dma_pinned`] (`folio_maybe_dma_pinned()`).
//! gup's entry points (`pin_user_pages()`, `unpin_user_pages()`, ...) are
//! built on top of them in [`crate::gup::Gup`], which walks a pfn array the
//! way gup does, paying what gup pays around the grab.
//!
//! Ordinary references (FOLL_GET, `get_page()`/`put_page()`) are the same for
//! every scheme and are provided here.

use crate::error::PinError;
use crate::memmap::{Folio, MemMap};
use crate::page::{Pfn, RefCount, RefError};
use crate::rcu::ReadGuard;
use crate::slab::{FailSlab, Gfp, OnAllocFail};

/// Which gup path takes the pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GupPath {
    /// `get_user_pages_fast()`: no locks, interrupts off, the folio may be
    /// freed under us, so the first reference is speculative
    /// (`try_grab_folio_fast()`).
    Fast,
    /// `get_user_pages()`: under `mmap_read_lock()`, each page looked up
    /// under its page table's lock, the folio known live
    /// (`try_grab_folio()`).
    Slow,
}

impl GupPath {
    /// The gfp a scheme records a pin with on this path: GFP_ATOMIC in
    /// gup-fast (interrupts off) and, under the page-table lock, on the
    /// slow path, unless gup answers failures by falling back, in which
    /// case the slow path reserves its memory with GFP_KERNEL first.
    #[inline]
    pub fn gfp(self, failslab: &FailSlab) -> Gfp {
        match (self, failslab.on_fail()) {
            (GupPath::Slow, OnAllocFail::SlowPath) => Gfp::Kernel,
            _ => Gfp::Atomic,
        }
    }
}

/// What `maybe_dma_pinned` and `pin_count` can promise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exactness {
    /// Cannot tell pinned pages at all (FOLL_GET).
    Blind,
    /// No false negatives; false positives once ordinary references pile up.
    FalsePositives,
    /// Exact for large folios, false positives possible for small ones.
    ExactLargeOnly,
    /// Exact: no false positives or negatives, exact counts.
    Exact,
}

impl Exactness {
    /// A short word for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Exactness::Blind => "blind",
            Exactness::FalsePositives => "approx",
            Exactness::ExactLargeOnly => "exact-large",
            Exactness::Exact => "exact",
        }
    }

    /// A few words for the README's scheme table.
    pub fn describe(self) -> &'static str {
        match self {
            Exactness::Blind => "blind",
            Exactness::FalsePositives => "false positives at 1024 refs",
            Exactness::ExactLargeOnly => "exact for large folios",
            Exactness::Exact => "exact",
        }
    }
}

/// What the registry knows of a scheme without building it.
#[derive(Clone, Copy, Debug)]
pub struct SchemeInfo {
    /// Registry name, used on the command line and in results.
    pub name: &'static str,
    /// One line: the kernel source or patch series it models.
    pub mirrors: &'static str,
    /// The README's "mirrors" cell: sources with commit ids and versions.
    pub source: &'static str,
    /// What the answers of `maybe_dma_pinned`/`pin_count` are worth.
    pub exactness: Exactness,
    /// Fixed bytes the scheme adds to every page (0 if it fits in `struct page`).
    pub bytes_per_page: usize,
    /// Bytes of `struct page` the design keeps per page: 64 today, 0 where
    /// it replaces `struct page` (its own words are `bytes_per_page`).
    pub struct_page_bytes: usize,
    /// Pins one page (refcount 1, mapped once) accepts before a pin is refused.
    pub max_pins_per_page: u32,
}

/// A way of recording DMA pins. `Send + Sync`; usable as `&dyn PinScheme`
/// and generically.
///
/// A scheme implements the kernel's tracking primitives only:
/// [`PinScheme::grab_folio`] and [`PinScheme::put_folio`]. Everything gup
/// does around them (the mm flag, the locks of the slow path, the vmstat
/// counters, PG_referenced, the walk in folio runs) is the provided
/// methods' (see `gup`), the same for every scheme; a scheme does not
/// override them, except that a design recording many pins under one lock
/// (the batched `xarray`) routes `pin_pages` and `unpin_pages` through
/// `gup_batch`, the same walk with the record moved to the end of each
/// page table. A design that keeps the refcount or the folio elsewhere
/// than `struct page` (`memdesc`) overrides `folio` and `refcount`, which
/// say where; `ref_count`, `get` and `put` follow.
pub trait PinScheme: Send + Sync {
    /// What the registry knows of the scheme.
    fn info(&self) -> &'static SchemeInfo;

    /// The memmap the scheme tracks pins in.
    fn memmap(&self) -> &MemMap;

    /// The scheme's part of `try_grab_folio{,_fast}()`: takes `refs` pins
    /// on `folio` (one per subpage pinned), with the reference every pin
    /// holds and, on the fast path, the barrier that orders the pin before
    /// gup-fast's PTE re-check (`smp_mb__after_atomic()` or `smp_mb()`).
    /// On error the folio is exactly as it was.
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError>;

    /// The scheme's part of `gup_put_folio(folio, refs, FOLL_PIN)`: drops
    /// `refs` pins. Unpinning what was not pinned is a caller bug, as in
    /// the kernel; schemes that can see it return [`PinError::NotPinned`]
    /// and change nothing.
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError>;

    /// `folio_maybe_dma_pinned(page_folio(pfn))`. False for a pfn outside
    /// the memmap.
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool;

    /// The exact number of pins on `pfn`'s folio, where the scheme knows it.
    fn pin_count(&self, pfn: Pfn) -> Option<u32>;

    /// Bytes currently held by side structures (trees, tables), counted from
    /// the allocations the scheme made.
    fn tracking_bytes(&self) -> usize;

    /// The most bytes side structures have held (their high-water mark),
    /// nodes waiting for a grace period included.
    fn tracking_peak_bytes(&self) -> usize {
        self.tracking_bytes()
    }

    /// `rcu_barrier()`: lets the frees waiting for a grace period run, so
    /// that `tracking_bytes` is the steady state. False if some could not
    /// (a thread is still inside a read-side section).
    fn reclaim(&self) -> bool {
        true
    }

    /// The read-side section a lock-free side structure needs around its
    /// walks, held by gup for a whole call (gup-fast's interrupts-off
    /// section is one). `None` for designs without one.
    #[inline]
    fn rcu_read_lock(&self) -> Option<ReadGuard> {
        None
    }

    /// The read-side section a caller holds around many
    /// `maybe_dma_pinned()` lookups (a reclaim or writeback scan over a
    /// batch of folios), so that each lookup's own section nests in it:
    /// in the kernel an outermost `rcu_read_lock()` is a preempt-count
    /// increment, in the model's stand-in a full fence. The gup call's
    /// section by default.
    #[inline]
    fn scan_read_lock(&self) -> Option<ReadGuard> {
        self.rcu_read_lock()
    }

    /// `page_folio(pfn)`: the folio `pfn` belongs to, found the way the
    /// design finds it (`compound_head` in `struct page` by default).
    #[inline]
    fn folio(&self, pfn: Pfn) -> Result<Folio, PinError> {
        self.memmap().folio(pfn)
    }

    /// `folio_set_referenced()`: `set_bit(PG_referenced)` on the folio's
    /// flags, wherever the design keeps them (the head page's by default).
    #[inline]
    fn folio_set_referenced(&self, folio: Folio) {
        self.memmap().head_page(folio).set_referenced();
    }

    /// `folio_test_referenced()`: an unordered `test_bit()`.
    #[inline]
    fn folio_test_referenced(&self, folio: Folio) -> bool {
        // Relaxed: test_bit() is a plain read.
        self.memmap()
            .head_page(folio)
            .flags
            .load(crate::sync::Ordering::Relaxed)
            & crate::page::pg::REFERENCED
            != 0
    }

    /// `folio_nid()`: the node in the folio's flags, wherever the design
    /// keeps them (the head page's by default).
    #[inline]
    fn folio_nid(&self, folio: Folio) -> usize {
        self.memmap().head_page(folio).nid() as usize
    }

    /// `folio->_refcount`, wherever the design keeps it (the head page's
    /// by default).
    #[inline]
    fn refcount(&self, folio: Folio) -> Result<RefCount<'_>, PinError> {
        Ok(self.memmap().head_page(folio).refcount())
    }

    /// `folio_ref_count()` of `pfn`'s folio; `None` past the memmap.
    fn ref_count(&self, pfn: Pfn) -> Option<i32> {
        let folio = self.folio(pfn).ok()?;
        self.refcount(folio).ok().map(|r| r.get())
    }

    /// The registry name, e.g. `"bias"`.
    fn name(&self) -> &'static str {
        self.info().name
    }

    /// What the answers of `maybe_dma_pinned`/`pin_count` are worth.
    fn exactness(&self) -> Exactness {
        self.info().exactness
    }

    /// Fixed bytes the scheme adds to every page (0 if it fits in `struct page`).
    fn bytes_per_page(&self) -> usize {
        self.info().bytes_per_page
    }

    /// Pins one page (refcount 1, mapped once) accepts before a pin is refused.
    fn max_pins_per_page(&self) -> u32 {
        self.info().max_pins_per_page
    }

    /// The scheme takes FOLL_PIN pins (every scheme but FOLL_GET's
    /// `plain`): gup then keeps the FOLL_PIN counters and the mm flag.
    #[inline]
    fn foll_pin(&self) -> bool {
        self.exactness() != Exactness::Blind
    }

    /// `try_get_page()`: an ordinary reference: the `WARN_ON_ONCE(count <=
    /// 0)` read, then `page_ref_inc()` (one `lock inc`, unordered).
    #[inline]
    fn get(&self, pfn: Pfn) -> Result<(), PinError> {
        let folio = self.folio(pfn)?;
        self.refcount(folio)?
            .add_live(1)
            .map(|_| ())
            .map_err(|e| ref_error(folio, 1, e))
    }

    /// The scheme's own arrays, for a census ([`crate::census`]): memory
    /// allocated at build time that a pin touches (side arrays,
    /// descriptors), so its lines are counted by offset, not by address.
    fn census_regions(&self) -> Vec<crate::census::Region> {
        Vec::new()
    }

    /// `put_page()`: drops an ordinary reference.
    #[inline]
    fn put(&self, pfn: Pfn) -> Result<(), PinError> {
        let folio = self.folio(pfn)?;
        self.refcount(folio)?.put(1);
        Ok(())
    }
}

/// Implements every required method of [`PinScheme`] but `grab_folio` by
/// handing it to the field `$inner`: for wrappers that change one step of
/// a scheme (a test's refused pin, a failed record) and keep the rest.
#[macro_export]
macro_rules! delegate_pin_scheme {
    ($inner:ident) => {
        fn info(&self) -> &'static $crate::SchemeInfo {
            self.$inner.info()
        }
        fn memmap(&self) -> &$crate::MemMap {
            self.$inner.memmap()
        }
        fn put_folio(&self, folio: $crate::Folio, refs: u32) -> Result<(), $crate::PinError> {
            self.$inner.put_folio(folio, refs)
        }
        fn maybe_dma_pinned(&self, pfn: $crate::Pfn) -> bool {
            self.$inner.maybe_dma_pinned(pfn)
        }
        fn pin_count(&self, pfn: $crate::Pfn) -> Option<u32> {
            self.$inner.pin_count(pfn)
        }
        fn tracking_bytes(&self) -> usize {
            self.$inner.tracking_bytes()
        }
        fn census_regions(&self) -> Vec<$crate::census::Region> {
            self.$inner.census_regions()
        }
    };
}

/// Maps a refcount refusal to the pin error naming the folio.
#[inline]
pub(crate) fn ref_error(folio: Folio, refs: u32, e: RefError) -> PinError {
    match e {
        RefError::NotLive(refcount) => PinError::NotLive {
            pfn: folio.head,
            refcount,
        },
        RefError::Overflow(_) => PinError::Overflow {
            pfn: folio.head,
            refs,
        },
    }
}

/// `refs` as the i32 the refcount adds, refusing what cannot fit.
#[inline]
pub(crate) fn refs_i32(folio: Folio, refs: u32, scale: i32) -> Result<i32, PinError> {
    i32::try_from(refs)
        .ok()
        .and_then(|r| r.checked_mul(scale))
        .ok_or(PinError::Overflow {
            pfn: folio.head,
            refs,
        })
}

/// The reference every pin also holds on `_refcount`, taken the way the gup
/// path takes it: `try_get_folio()` (add unless zero, fully ordered) on the
/// fast path, the `folio_ref_count() <= 0` check and one `folio_ref_add()`
/// on the slow path. Overflow is refused, not wrapped.
#[inline]
pub(crate) fn grab_refs(
    memmap: &MemMap,
    folio: Folio,
    refs: u32,
    path: GupPath,
) -> Result<(), PinError> {
    let nr = refs_i32(folio, refs, 1)?;
    let head = memmap.head_page(folio);
    let r = match path {
        GupPath::Fast => head.ref_try_add(nr),
        GupPath::Slow => head.ref_add_live(nr),
    };
    r.map(|_| ()).map_err(|e| ref_error(folio, refs, e))
}

/// [`grab_refs`], then `record` the pin in the scheme's own structure; if
/// recording fails (a side structure out of memory), the reference is
/// dropped again, so the folio is exactly as it was.
#[inline]
pub(crate) fn grab_refs_and_record(
    memmap: &MemMap,
    folio: Folio,
    refs: u32,
    path: GupPath,
    record: impl FnOnce() -> Result<(), PinError>,
) -> Result<(), PinError> {
    let nr = refs_i32(folio, refs, 1)?;
    grab_refs(memmap, folio, refs, path)?;
    record().inspect_err(|_| {
        memmap.head_page(folio).put_refs(nr);
    })
}
