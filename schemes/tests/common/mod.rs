//! Shared helpers of the conformance suite: building a scheme over a fresh
//! memmap, and the observable state of a page to compare before and after.

#![allow(dead_code)]

use pin_schemes::page::pg;
use pin_schemes::{build, Exactness, Folio, Gup, MemMap, Pfn};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Pages in the test memmap: two 2 MiB folios' worth plus small pages.
pub const NR_PAGES: usize = 2048;
/// Head of the order-9 folio every test memmap has.
pub const THP: Pfn = Pfn(1024);

/// A memmap of `NR_PAGES` with one order-9 folio at `THP`.
pub fn memmap() -> Arc<MemMap> {
    let mut mm = MemMap::with_pages(NR_PAGES).expect("memmap");
    mm.make_folio(THP, 9).expect("thp");
    Arc::new(mm)
}

/// The scheme `name` over a fresh `memmap()`.
pub fn scheme(name: &str) -> Box<dyn Gup> {
    build(name, memmap()).expect("registered scheme")
}

/// True for every scheme that records pins (all but FOLL_GET).
pub fn tracks(s: &dyn Gup) -> bool {
    s.exactness() != Exactness::Blind
}

/// True when the scheme's answers are exact for this folio.
pub fn exact_for(s: &dyn Gup, folio: Folio) -> bool {
    match s.exactness() {
        Exactness::Exact => true,
        Exactness::ExactLargeOnly => folio.is_large(),
        Exactness::Blind | Exactness::FalsePositives => false,
    }
}

/// What a pin or unpin may change in a page, minus the LRU links (the page
/// flag scheme puts an unpinned page back at the tail of its LRU).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct PageState {
    pub flags: u64,
    pub refcount: i32,
    pub mapcount: i32,
    pub tail_pincount: i32,
    pub maybe_dma_pinned: bool,
    pub pin_count: Option<u32>,
    pub on_lru: bool,
}

/// Snapshot of `pfn`'s folio as seen through `s`.
pub fn state(s: &dyn Gup, pfn: Pfn) -> PageState {
    let mm = s.memmap();
    // Pages put back wait in per-CPU pagevecs (`flag`): read the page as
    // the kernel's checks do, after lru_add_drain_all().
    pin_schemes::lru_add::lru_add_drain_all(mm);
    let folio = s.folio(pfn).expect("valid pfn");
    let head = mm.page(folio.head).expect("head");
    let tail_pincount = if folio.is_large() {
        mm.page(folio.head + 1)
            .expect("tail")
            ._pincount
            .load(Ordering::SeqCst)
    } else {
        0
    };
    let nid = head.nid();
    let on_lru = mm
        .lruvec(nid)
        .lru_lock
        .lock()
        .pfns(mm.pages())
        .contains(&folio.head);
    PageState {
        // PG_referenced is set by every gup-fast grab and stays set, as in
        // the kernel; the conformance tests check it on their own.
        flags: head.flags.load(Ordering::SeqCst) & !pg::REFERENCED,
        refcount: s.ref_count(pfn).expect("valid pfn"),
        mapcount: head._mapcount.load(Ordering::SeqCst),
        tail_pincount,
        maybe_dma_pinned: s.maybe_dma_pinned(pfn),
        pin_count: s.pin_count(pfn),
        on_lru,
    }
}

/// Every page of the memmap still on exactly one LRU list, heads only, and
/// the lists' lengths agree with their walks.
pub fn assert_lru_consistent(mm: &MemMap) {
    let mut seen = vec![false; mm.nr_pages()];
    for span in mm.nodes() {
        let list = mm.lruvec(span.nid).lru_lock.lock();
        let pfns = list.pfns(mm.pages());
        assert_eq!(pfns.len(), list.len(), "LRU walk disagrees with its length");
        for pfn in pfns {
            assert!(!seen[pfn.0], "pfn {pfn} twice on the LRU");
            seen[pfn.0] = true;
        }
    }
}
