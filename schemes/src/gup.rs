//! The gup walk every scheme is driven through: what mm/gup.c (v6.12) does
//! around a scheme's grab and put, the same for every scheme, so that each
//! pays the per-call and per-page costs upstream pays.
//!
//! Per call: FOLL_PIN's `mm_set_has_pinned_flag()` ([`crate::mm::Mm::set_has_pinned`];
//! `gup_fast_fallback()` on the fast path). The slow path is
//! `pin_user_pages_unlocked()` (FOLL_TOUCH, as the fallback of
//! `pin_user_pages_fast()` also passes): `mmap_read_lock()` held for the
//! call, `__get_user_pages_locked()`.
//!
//! Per folio run (`FolioRuns`): on the fast path one grab per PTE, or per
//! PMD/PUD leaf with `record_subpages()` batching the subpages:
//! - `try_grab_folio_fast()`: the scheme's grab (its speculative reference,
//!   its record and `smp_mb__after_atomic()`), then, FOLL_PIN only,
//!   `node_stat_mod_folio(NR_FOLL_PIN_ACQUIRED, refs)` ([`crate::vmstat`]);
//! - `folio_set_referenced()`: `set_bit(PG_referenced)` on the folio's
//!   flags (the head page's, or a memdesc's descriptor's), FOLL_GET and
//!   FOLL_PIN alike.
//!
//! On the slow path each page is looked up by `follow_page_pte()` under its
//! PTE table's lock, grabbed with `try_grab_folio(folio, 1)` and marked with
//! `mark_page_accessed()`; a leaf-mapped large folio is looked up once under
//! `pmd_lock()` (or the mm's `page_table_lock` for a PUD), and its further
//! subpages in that leaf are grabbed with one `try_grab_folio(folio,
//! page_increm - 1)` (`__get_user_pages()`, v6.12; v5.7 looked up every
//! subpage).
//!
//! Unpin (`unpin_user_pages()`): one `gup_put_folio()` per run of adjacent
//! entries of one folio (`gup_folio_next()`, which reads every entry's
//! `struct page`): `node_stat_mod_folio(NR_FOLL_PIN_RELEASED, refs)`, then
//! the scheme's put. FOLL_GET pages are released with `put_page()` each.

use crate::error::{BatchPinError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::{Pfn, HPAGE_PMD_ORDER, HPAGE_PUD_ORDER};
use crate::scheme::{GupPath, PinScheme};
use crate::slab::OnAllocFail;
use crate::vmstat::NodeStatItem;

/// gup's entry points over a scheme: what `pin_user_pages()`,
/// `unpin_user_pages()` and their kin do around the scheme's
/// [`PinScheme::grab_folio`] and [`PinScheme::put_folio`]. Every scheme
/// takes them as they are (`impl Gup for Scheme {}`, beside its
/// `PinScheme`), but for a scheme whose gup walks differently (the batched
/// `xarray` records a page table's pins together, [`crate::gup_batch`]).
pub trait Gup: PinScheme {
    /// `try_grab_folio{,_fast}()`: [`PinScheme::grab_folio`] plus the
    /// FOLL_PIN vmstat accounting, without the walk's per-call costs.
    #[inline]
    fn try_grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        try_grab_folio(self, folio, refs, path)
    }

    /// `gup_put_folio()`: [`PinScheme::put_folio`] plus the accounting.
    #[inline]
    fn gup_put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        gup_put_folio(self, folio, refs)
    }

    /// `pin_user_pages{,_fast}(…, 1 page)`: pins the page at `pfn`.
    #[inline]
    fn pin(&self, pfn: Pfn, path: GupPath) -> Result<(), PinError> {
        pin_user_pages(self, std::slice::from_ref(&pfn), path)
            .map(|_| ())
            .map_err(|e| e.cause)
    }

    /// `unpin_user_page()`.
    #[inline]
    fn unpin(&self, pfn: Pfn) -> Result<(), PinError> {
        let folio = self.folio(pfn)?;
        gup_put_folio(self, folio, 1)
    }

    /// `pin_user_pages{,_fast}()` of a batch: pins every pfn in `pfns` and
    /// returns how many were pinned (all of them). If one is refused, the
    /// pins already taken by this call are released and the error names
    /// the entry.
    fn pin_pages(&self, pfns: &[Pfn], path: GupPath) -> Result<usize, BatchPinError> {
        pin_user_pages(self, pfns, path)
    }

    /// `unpin_user_pages()`: adjacent entries of one folio are released with
    /// one put (`gup_folio_next()`). Stops at the first error.
    fn unpin_pages(&self, pfns: &[Pfn]) -> Result<(), PinError> {
        unpin_user_pages(self, pfns)
    }
}

/// `try_grab_folio{,_fast}()`: the scheme's grab, then the FOLL_PIN
/// accounting.
// always: called once per folio run; left out of line (as the compiler
// chose for some schemes) its Result came back through the stack and a
// store-forwarding stall cost a refused pin 12 ns (perf annotate).
#[inline(always)]
pub(crate) fn try_grab_folio<S: PinScheme + ?Sized>(
    s: &S,
    folio: Folio,
    refs: u32,
    path: GupPath,
) -> Result<(), PinError> {
    s.grab_folio(folio, refs, path)?;
    if s.foll_pin() {
        node_stat_mod_folio(s, folio, NodeStatItem::FollPinAcquired, refs);
    }
    Ok(())
}

/// `gup_put_folio(folio, refs, FOLL_PIN)`. The model counts the release
/// after the scheme's put instead of before it, so that a put the model
/// refuses (an unbalanced unpin) leaves the counters balanced.
#[inline]
pub(crate) fn gup_put_folio<S: PinScheme + ?Sized>(
    s: &S,
    folio: Folio,
    refs: u32,
) -> Result<(), PinError> {
    s.put_folio(folio, refs)?;
    if s.foll_pin() {
        node_stat_mod_folio(s, folio, NodeStatItem::FollPinReleased, refs);
    }
    Ok(())
}

/// `node_stat_mod_folio()`: the counter of the folio's node.
#[inline]
pub(crate) fn node_stat_mod_folio<S: PinScheme + ?Sized>(
    s: &S,
    folio: Folio,
    item: NodeStatItem,
    refs: u32,
) {
    s.memmap()
        .vmstat()
        .mod_node_page_state(s.folio_nid(folio), item, i64::from(refs));
}

/// `pin_user_pages{,_fast}()` (or `get_user_pages{,_fast}()` for a FOLL_GET
/// scheme) of `pfns`; on a refused entry, releases what the call took.
pub(crate) fn pin_user_pages<S: PinScheme + ?Sized>(
    s: &S,
    pfns: &[Pfn],
    path: GupPath,
) -> Result<usize, BatchPinError> {
    let memmap = s.memmap();
    if s.foll_pin() {
        memmap.mm().set_has_pinned();
    }
    // One read-side section for the call, where the scheme's side structure
    // is read locklessly (gup-fast's interrupts-off section is one).
    let _rcu = s.rcu_read_lock();
    let mut path = path;
    let mut _mmap_lock = (path == GupPath::Slow).then(|| memmap.mm().mmap_read_lock());
    for run in FolioRuns::pin(s, pfns) {
        let failed = match run {
            Ok((index, folio, nr)) => {
                let mut r = grab_run(s, pfns[index], folio, nr as u32, path);
                if path == GupPath::Fast
                    && matches!(r, Err(PinError::NoMemory(_)))
                    && fall_back(memmap)
                {
                    // gup_fast_fallback(): the rest of the call on the slow
                    // path, under mmap_read_lock().
                    path = GupPath::Slow;
                    _mmap_lock = Some(memmap.mm().mmap_read_lock());
                    r = grab_run(s, pfns[index], folio, nr as u32, path);
                }
                r.err().map(|cause| BatchPinError { index, cause })
            }
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            if matches!(e.cause, PinError::NoMemory(_)) {
                memmap.failslab().count_failed_pin();
            }
            // The entries before the failed one were all pinned by us and
            // are valid, so releasing them cannot fail.
            let _ = unpin_user_pages(s, &pfns[..e.index]);
            return Err(e);
        }
    }
    Ok(pfns.len())
}

/// Whether a gup-fast grab that ran out of memory goes on on the slow
/// path (gup answers failures by falling back). Out of line: the hot loop
/// only tests the grab's result.
#[cold]
pub(crate) fn fall_back(memmap: &MemMap) -> bool {
    let fallback = memmap.failslab().on_fail() == OnAllocFail::SlowPath;
    if fallback {
        memmap.failslab().count_fallback();
    }
    fallback
}

/// One run of `pin_user_pages`: `nr` subpages of `folio` from `first`.
#[inline(always)]
fn grab_run<S: PinScheme + ?Sized>(
    s: &S,
    first: Pfn,
    folio: Folio,
    nr: u32,
    path: GupPath,
) -> Result<(), PinError> {
    let memmap = s.memmap();
    match path {
        GupPath::Fast => {
            try_grab_folio(s, folio, nr, GupPath::Fast)?;
            s.folio_set_referenced(folio);
        }
        GupPath::Slow => {
            let leaf = leaf_order(memmap, folio);
            {
                let _ptl = memmap.mm().ptl(first.0, leaf.unwrap_or(0));
                try_grab_folio(s, folio, 1, GupPath::Slow)?;
                // follow_page_pte(): mark_page_accessed(); a leaf's
                // touch_pmd() (an access-flag update of the PMD entry) is
                // not modelled, the model has no page tables.
                if leaf.is_none() {
                    mark_page_accessed(s, folio);
                }
            }
            if nr > 1 {
                // page_increm - 1 more subpages of a leaf-mapped folio; on
                // failure the first one is released, as upstream does.
                if let Err(e) = try_grab_folio(s, folio, nr - 1, GupPath::Slow) {
                    let _ = gup_put_folio(s, folio, 1);
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// The order of the page-table leaf that maps `folio`, `None` where it is
/// mapped by PTEs: folios below PMD order (mTHP), and large folios mapped
/// by PTEs (`make_pte_mapped_folio`); PMD leaves for orders 9 to 17 (several
/// of them for orders above 9), a PUD leaf from order 18.
#[inline]
pub fn leaf_order(memmap: &MemMap, folio: Folio) -> Option<u8> {
    if folio.order < HPAGE_PMD_ORDER || memmap.mm().pte_mapped(folio.head.0) {
        None
    } else if folio.order >= HPAGE_PUD_ORDER {
        Some(HPAGE_PUD_ORDER)
    } else {
        Some(HPAGE_PMD_ORDER)
    }
}

/// `mark_page_accessed()` as `follow_page_pte()` calls it (FOLL_TOUCH):
/// sets PG_referenced if it is clear. The activation a second call would
/// then do (`folio_activate()`, once per page) is not modelled.
#[inline]
pub(crate) fn mark_page_accessed<S: PinScheme + ?Sized>(s: &S, folio: Folio) {
    if !s.folio_test_referenced(folio) {
        s.folio_set_referenced(folio);
    }
}

/// `unpin_user_pages()`: adjacent entries of one folio are released with
/// one put; for FOLL_GET, `put_page()` of each entry (the kernel has no
/// batched FOLL_GET release). Stops at the first error.
pub(crate) fn unpin_user_pages<S: PinScheme + ?Sized>(s: &S, pfns: &[Pfn]) -> Result<(), PinError> {
    let _rcu = s.rcu_read_lock();
    let runs = if s.foll_pin() {
        FolioRuns::unpin(s, pfns)
    } else {
        FolioRuns::each(s, pfns)
    };
    for run in runs {
        let (_, folio, nr) = run.map_err(|e| e.cause)?;
        gup_put_folio(s, folio, nr as u32)?;
    }
    Ok(())
}

/// Walks a pfn array in runs that one grab or put handles. For pins, the
/// consecutive subpages of one folio within one leaf entry
/// (`record_subpages()` in gup-fast), or a single page where the folio is
/// mapped by PTEs. For unpins, adjacent entries of one folio, found as
/// `gup_folio_next()` finds them: `page_folio()` of every entry, a read of
/// each entry's `struct page`. Yields `(index of the run's first entry,
/// folio, entries in the run)`.
pub struct FolioRuns<'a, S: ?Sized> {
    scheme: &'a S,
    pfns: &'a [Pfn],
    i: usize,
    kind: Runs,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Runs {
    Pin,
    Unpin,
    Each,
}

impl<'a, S: PinScheme + ?Sized> FolioRuns<'a, S> {
    fn new(scheme: &'a S, pfns: &'a [Pfn], kind: Runs) -> Self {
        Self {
            scheme,
            pfns,
            i: 0,
            kind,
        }
    }

    /// Runs for `pin_pages`.
    pub fn pin(scheme: &'a S, pfns: &'a [Pfn]) -> Self {
        Self::new(scheme, pfns, Runs::Pin)
    }

    /// Runs for `unpin_user_pages()`.
    pub fn unpin(scheme: &'a S, pfns: &'a [Pfn]) -> Self {
        Self::new(scheme, pfns, Runs::Unpin)
    }

    /// One entry per run: `put_page()` of each.
    pub fn each(scheme: &'a S, pfns: &'a [Pfn]) -> Self {
        Self::new(scheme, pfns, Runs::Each)
    }

    /// Entries from `i + 1` that belong to `folio`'s run from `first`.
    #[inline(always)]
    fn extent(&self, i: usize, first: Pfn, folio: Folio) -> usize {
        let pfns = self.pfns;
        let mut nr = 1;
        match self.kind {
            Runs::Each => {}
            Runs::Pin => {
                let Some(leaf) = leaf_order(self.scheme.memmap(), folio) else {
                    return 1;
                };
                let entry = first.0 >> leaf;
                while i + nr < pfns.len()
                    && pfns[i + nr] == first + nr
                    && folio.contains(pfns[i + nr])
                    && pfns[i + nr].0 >> leaf == entry
                {
                    nr += 1;
                }
            }
            Runs::Unpin => {
                while i + nr < pfns.len()
                    && self
                        .scheme
                        .folio(pfns[i + nr])
                        .is_ok_and(|f| f.head == folio.head)
                {
                    nr += 1;
                }
            }
        }
        nr
    }
}

impl<S: PinScheme + ?Sized> Iterator for FolioRuns<'_, S> {
    type Item = Result<(usize, Folio, usize), BatchPinError>;

    // always: without it the walk is an out-of-line call per run and costs
    // ~3 ns/page on every scheme's batch path (measured with `run --quick`).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (pfns, i) = (self.pfns, self.i);
        let first = *pfns.get(i)?;
        let folio = match self.scheme.folio(first) {
            Ok(f) => f,
            Err(cause) => {
                self.i = pfns.len();
                return Some(Err(BatchPinError { index: i, cause }));
            }
        };
        let nr = self.extent(i, first, folio);
        self.i += nr;
        Some(Ok((i, folio, nr)))
    }
}
