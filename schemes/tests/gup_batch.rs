//! The batched gup walk (`gup_batch`) against its failure paths: a record
//! that cannot allocate, gup-fast falling back, an unbalanced unpin, and
//! the same counts as the per-page walk.

#![cfg(not(loom))]

use pin_schemes::gup_batch::{pin_user_pages, unpin_user_pages, BatchedRecord, Run, BATCH};
use pin_schemes::schemes::xarray::XArrayScheme;
use pin_schemes::vmstat::NodeStatItem;
use pin_schemes::{
    BatchPinError, FailSlab, Folio, Gup, GupPath, MemMap, OnAllocFail, Pfn, PinError, PinScheme,
};
use std::sync::Arc;

const PAGES: usize = 2048;

/// The batched `xarray`, except that recording `fail_at` on the fast
/// path fails as a node allocation would.
struct FailsAt {
    inner: XArrayScheme,
    fail_at: Pfn,
}

impl PinScheme for FailsAt {
    pin_schemes::delegate_pin_scheme!(inner);
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        self.inner.grab_folio(folio, refs, path)
    }
}

/// The batched walk, as `xarray`'s own.
impl Gup for FailsAt {
    fn pin_pages(&self, pfns: &[Pfn], path: GupPath) -> Result<usize, BatchPinError> {
        pin_user_pages(self, pfns, path)
    }
    fn unpin_pages(&self, pfns: &[Pfn]) -> Result<(), PinError> {
        unpin_user_pages(self, pfns)
    }
}

impl BatchedRecord for FailsAt {
    fn record_runs(&self, runs: &[Run], path: GupPath) -> Result<(), (usize, PinError)> {
        let k = runs
            .iter()
            .position(|r| path == GupPath::Fast && r.folio.head == self.fail_at);
        self.inner
            .record_runs(&runs[..k.unwrap_or(runs.len())], path)?;
        k.map_or(Ok(()), |k| Err((k, PinError::NoMemory(self.fail_at))))
    }
    fn unrecord_runs(&self, runs: &[Run]) -> Result<(), (usize, PinError)> {
        self.inner.unrecord_runs(runs)
    }
}

fn failing(fail_at: usize, on_fail: OnAllocFail) -> FailsAt {
    let mut mm = MemMap::with_pages(PAGES).expect("memmap");
    mm.set_failslab(FailSlab::new(None, on_fail));
    FailsAt {
        inner: XArrayScheme::new(Arc::new(mm)).expect("scheme"),
        fail_at: Pfn(fail_at),
    }
}

/// Every page's (refcount, pins).
type Pages = Vec<(Option<i32>, Option<u32>)>;

/// The pages, and the FOLL_PIN counters.
fn state(s: &dyn Gup) -> (Pages, i64, i64) {
    let v = s.memmap().vmstat();
    (
        (0..PAGES)
            .map(|p| (s.ref_count(Pfn(p)), s.pin_count(Pfn(p))))
            .collect(),
        v.global_exact(NodeStatItem::FollPinAcquired),
        v.global_exact(NodeStatItem::FollPinReleased),
    )
}

/// Three page tables' worth (the first starts mid-table).
fn pfns() -> Vec<Pfn> {
    (100..100 + 3 * BATCH).map(Pfn).collect()
}

#[test]
fn a_record_that_cannot_allocate_fails_the_call_and_leaves_nothing() {
    // In the second table: the first table's records, and the runs of
    // the second before the failure, were stored and must be undone.
    let s = failing(800, OnAllocFail::Fail);
    let before = state(&s);
    let e = s.pin_pages(&pfns(), GupPath::Fast).expect_err("ENOMEM");
    assert_eq!(
        e,
        BatchPinError {
            index: 700,
            cause: PinError::NoMemory(Pfn(800))
        }
    );
    let (pages, acquired, released) = state(&s);
    assert_eq!(pages, before.0, "a failed call left a pin or reference");
    assert_eq!(
        (acquired, released),
        (700, 700),
        "recorded runs counted, then released"
    );
    assert_eq!(s.memmap().failslab().stats().failed_pins, 1);
}

#[test]
fn fast_path_falls_back_for_the_runs_it_could_not_record() {
    let s = failing(800, OnAllocFail::SlowPath);
    let before = state(&s);
    let pfns = pfns();
    assert_eq!(s.pin_pages(&pfns, GupPath::Fast), Ok(pfns.len()));
    for &p in &pfns {
        assert_eq!(
            (s.ref_count(p), s.pin_count(p)),
            (Some(2), Some(1)),
            "pfn {p}"
        );
    }
    assert_eq!(s.memmap().failslab().stats().fallbacks, 1);
    s.unpin_pages(&pfns).expect("unpin");
    let (pages, acquired, released) = state(&s);
    assert_eq!(pages, before.0);
    let n = pfns.len() as i64;
    assert_eq!((acquired, released), (n, n));
}

#[test]
fn an_unbalanced_unpin_stops_there_with_the_runs_before_released() {
    let s = failing(usize::MAX, OnAllocFail::Fail);
    let pfns = pfns();
    s.pin_pages(&pfns[..600], GupPath::Fast).expect("pin");
    let e = s.unpin_pages(&pfns).expect_err("pfn 700 was never pinned");
    assert_eq!(e, PinError::NotPinned(pfns[600]));
    assert!(pfns[..600].iter().all(|&p| s.pin_count(p) == Some(0)));
    assert!(pfns.iter().all(|&p| s.ref_count(p) == Some(1)));
}

#[test]
fn batched_and_per_page_leave_the_same_counts() {
    let scheme = |mm| Arc::new(mm);
    let batched =
        XArrayScheme::<true>::new(scheme(MemMap::with_pages(PAGES).expect("mm"))).expect("scheme");
    let per_page =
        XArrayScheme::<false>::new(scheme(MemMap::with_pages(PAGES).expect("mm"))).expect("scheme");
    let a: Vec<Pfn> = (0..PAGES).step_by(3).map(Pfn).collect();
    let b: Vec<Pfn> = (500..1700).map(Pfn).collect();
    for s in [&batched as &dyn Gup, &per_page] {
        s.pin_pages(&a, GupPath::Fast).expect("pin a");
        s.pin_pages(&b, GupPath::Slow).expect("pin b");
        s.unpin_pages(&a[..200]).expect("unpin part of a");
    }
    for p in (0..PAGES).map(Pfn) {
        assert_eq!(batched.pin_count(p), per_page.pin_count(p), "pfn {p}");
        assert_eq!(batched.ref_count(p), per_page.ref_count(p), "pfn {p}");
    }
}
