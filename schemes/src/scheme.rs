//! The one trait every pin-tracking scheme implements: the plug point of the
//! benchmark, as criterion's `Measurement` is of criterion.
//!
//! A scheme implements the two primitives the kernel builds everything on:
//! [`PinScheme::grab_folio`] (`try_grab_folio()` / `try_grab_folio_fast()` in
//! mm/gup.c) and [`PinScheme::put_folio`] (`gup_put_folio()`), plus the
//! query [`PinScheme::maybe_dma_pinned`] (`folio_maybe_dma_pinned()`).
//! The batch calls are provided on top of them and walk a pfn array the way
//! gup does: consecutive pages of one folio are taken with one grab of
//! `refs` pages (`record_subpages()`), and released with one put
//! (`gup_folio_next()`).
//!
//! Ordinary references (FOLL_GET, `get_page()`/`put_page()`) are the same for
//! every scheme and are provided here.

use crate::error::{BatchPinError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::{Pfn, RefError};

/// Which gup path takes the pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GupPath {
    /// `get_user_pages_fast()`: no locks, interrupts off, the folio may be
    /// freed under us, so the first reference is speculative
    /// (`try_grab_folio_fast()`).
    Fast,
    /// `get_user_pages()`: page table lock held, the folio is known live
    /// (`try_grab_folio()`).
    Slow,
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
}

/// A way of recording DMA pins. `Send + Sync`; usable as `&dyn PinScheme`
/// and generically.
pub trait PinScheme: Send + Sync {
    /// The registry name, e.g. `"bias"`.
    fn name(&self) -> &'static str;

    /// The memmap the scheme tracks pins in.
    fn memmap(&self) -> &MemMap;

    /// Takes `refs` pins on `folio` (one per subpage pinned). On error the
    /// folio is exactly as it was.
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError>;

    /// Drops `refs` pins from `folio` (`gup_put_folio(folio, refs, FOLL_PIN)`).
    /// Unpinning what was not pinned is a caller bug, as in the kernel;
    /// schemes that can see it return [`PinError::NotPinned`] and change
    /// nothing.
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError>;

    /// `folio_maybe_dma_pinned(page_folio(pfn))`. False for a pfn outside
    /// the memmap.
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool;

    /// The exact number of pins on `pfn`'s folio, where the scheme knows it.
    fn pin_count(&self, pfn: Pfn) -> Option<u32>;

    /// Fixed bytes the scheme adds to every page (0 if it fits in `struct page`).
    fn bytes_per_page(&self) -> usize;

    /// Bytes currently held by side structures (trees, tables), counted from
    /// the allocations the scheme made.
    fn tracking_bytes(&self) -> usize;

    /// Pins one page (refcount 1, mapped once) accepts before a pin is refused.
    fn max_pins_per_page(&self) -> u32;

    /// What the answers of `maybe_dma_pinned`/`pin_count` are worth.
    fn exactness(&self) -> Exactness;

    /// `pin_user_pages(…, 1 page)`: pins the page at `pfn`.
    #[inline]
    fn pin(&self, pfn: Pfn, path: GupPath) -> Result<(), PinError> {
        let folio = self.memmap().folio(pfn)?;
        self.grab_folio(folio, 1, path)
    }

    /// `unpin_user_page()`.
    #[inline]
    fn unpin(&self, pfn: Pfn) -> Result<(), PinError> {
        let folio = self.memmap().folio(pfn)?;
        self.put_folio(folio, 1)
    }

    /// `pin_user_pages()` of a batch: pins every pfn in `pfns` and returns
    /// how many were pinned (all of them). If one is refused, the pins
    /// already taken by this call are released and the error names the entry.
    fn pin_pages(&self, pfns: &[Pfn], path: GupPath) -> Result<usize, BatchPinError> {
        for run in FolioRuns::pin(self.memmap(), pfns) {
            let failed = match run {
                Ok((i, folio, nr)) => self
                    .grab_folio(folio, nr as u32, path)
                    .err()
                    .map(|cause| BatchPinError { index: i, cause }),
                Err(e) => Some(e),
            };
            if let Some(e) = failed {
                // The entries before the failed one were all pinned by us
                // and are valid, so releasing them cannot fail.
                let _ = self.unpin_pages(&pfns[..e.index]);
                return Err(e);
            }
        }
        Ok(pfns.len())
    }

    /// `unpin_user_pages()`: adjacent entries of one folio are released with
    /// one put (`gup_folio_next()`). Stops at the first error.
    fn unpin_pages(&self, pfns: &[Pfn]) -> Result<(), PinError> {
        for run in FolioRuns::unpin(self.memmap(), pfns) {
            let (_, folio, nr) = run.map_err(|e| e.cause)?;
            self.put_folio(folio, nr as u32)?;
        }
        Ok(())
    }

    /// `try_get_page()`: an ordinary (FOLL_GET) reference.
    #[inline]
    fn get(&self, pfn: Pfn) -> Result<(), PinError> {
        let memmap = self.memmap();
        let folio = memmap.folio(pfn)?;
        memmap
            .head_page(folio)
            .ref_try_add(1)
            .map(|_| ())
            .map_err(|e| ref_error(folio, 1, e))
    }

    /// `put_page()`: drops an ordinary reference.
    #[inline]
    fn put(&self, pfn: Pfn) -> Result<(), PinError> {
        let memmap = self.memmap();
        let folio = memmap.folio(pfn)?;
        memmap.head_page(folio).ref_sub(1);
        Ok(())
    }
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
/// path takes it: `try_get_folio()` (add unless zero) on the fast path, the
/// `folio_ref_count() <= 0` check and one add on the slow path. Overflow is
/// refused, not wrapped.
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
        GupPath::Slow => match head.ref_count() {
            c if c <= 0 => Err(RefError::NotLive(c)),
            _ => head.ref_add(nr),
        },
    };
    r.map(|_| ()).map_err(|e| ref_error(folio, refs, e))
}

/// Walks a pfn array in runs that one grab or put handles: for pins, the
/// consecutive subpages of one folio (`record_subpages()` in gup-fast); for
/// unpins, adjacent entries of one folio (`gup_folio_next()`). Yields
/// `(index of the run's first entry, folio, entries in the run)`.
pub struct FolioRuns<'a> {
    memmap: &'a MemMap,
    pfns: &'a [Pfn],
    i: usize,
    contiguous: bool,
}

impl<'a> FolioRuns<'a> {
    /// Runs for `pin_pages`.
    pub fn pin(memmap: &'a MemMap, pfns: &'a [Pfn]) -> Self {
        Self {
            memmap,
            pfns,
            i: 0,
            contiguous: true,
        }
    }

    /// Runs for `unpin_pages`.
    pub fn unpin(memmap: &'a MemMap, pfns: &'a [Pfn]) -> Self {
        Self {
            memmap,
            pfns,
            i: 0,
            contiguous: false,
        }
    }
}

impl Iterator for FolioRuns<'_> {
    type Item = Result<(usize, Folio, usize), BatchPinError>;

    // always: without it the walk is an out-of-line call per run and costs
    // ~3 ns/page on every scheme's batch path (measured with `run --quick`).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (pfns, i) = (self.pfns, self.i);
        let first = *pfns.get(i)?;
        let folio = match self.memmap.folio(first) {
            Ok(f) => f,
            Err(cause) => {
                self.i = pfns.len();
                return Some(Err(BatchPinError { index: i, cause }));
            }
        };
        let mut nr = 1;
        while i + nr < pfns.len()
            && folio.contains(pfns[i + nr])
            && (!self.contiguous || pfns[i + nr] == first + nr)
        {
            nr += 1;
        }
        self.i += nr;
        Some(Ok((i, folio, nr)))
    }
}
