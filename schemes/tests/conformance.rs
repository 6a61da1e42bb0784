//! The conformance suite: the same tests run on every scheme in the
//! registry. Expectations differ only through what a scheme declares about
//! itself (`exactness()`, `max_pins_per_page()`), never through its name.

mod common;

use common::*;
use pin_schemes::{
    build, BatchPinError, Exactness, FolioRuns, Gup, GupPath, MemMap, NodeStatItem, Pfn, PinError,
    GUP_PIN_COUNTING_BIAS,
};

use std::sync::{Arc, Barrier};

const PATHS: [GupPath; 2] = [GupPath::Fast, GupPath::Slow];

fn pin_unpin_balance_leaves_the_page_as_it_was(name: &str) {
    let s = scheme(name);
    for pfn in [Pfn(3), THP, THP + 77] {
        let before = state(&*s, pfn);
        for path in PATHS {
            for _ in 0..5 {
                s.pin(pfn, path).expect("pin");
            }
        }
        for _ in 0..10 {
            s.unpin(pfn).expect("unpin");
        }
        assert_eq!(state(&*s, pfn), before, "{name}: pfn {pfn}");
    }
    assert_lru_consistent(s.memmap());
}

fn pinned_pages_never_read_unpinned(name: &str) {
    let s = scheme(name);
    let folio = s.memmap().folio(THP).expect("thp");
    // Ordinary references around the pins must not hide them.
    for pfn in [Pfn(5), THP + 3] {
        for _ in 0..7 {
            s.get(pfn).expect("get");
        }
        s.pin(pfn, GupPath::Fast).expect("pin");
        for _ in 0..7 {
            s.put(pfn).expect("put");
        }
    }
    if tracks(&*s) {
        assert!(
            s.maybe_dma_pinned(Pfn(5)),
            "{name}: false negative on a small page"
        );
        for i in 0..folio.nr_pages() {
            assert!(
                s.maybe_dma_pinned(THP + i),
                "{name}: false negative on subpage {i} of a pinned THP"
            );
        }
    } else {
        assert!(
            !s.maybe_dma_pinned(Pfn(5)),
            "{name}: blind scheme saw a pin"
        );
    }
    assert!(
        !s.maybe_dma_pinned(Pfn(6)),
        "{name}: neighbour reads pinned"
    );
    assert!(
        !s.maybe_dma_pinned(Pfn(NR_PAGES)),
        "{name}: pfn past the end"
    );
}

fn exact_schemes_report_exact_counts(name: &str) {
    let s = scheme(name);
    for pfn in [Pfn(9), THP + 100] {
        let folio = s.memmap().folio(pfn).expect("folio");
        for n in 1..=5u32 {
            s.pin(pfn, GupPath::Fast).expect("pin");
            if exact_for(&*s, folio) {
                assert_eq!(s.pin_count(pfn), Some(n), "{name}: pfn {pfn}");
            }
        }
        for n in (0..5u32).rev() {
            s.unpin(pfn).expect("unpin");
            if exact_for(&*s, folio) {
                assert_eq!(s.pin_count(pfn), Some(n), "{name}: pfn {pfn}");
                assert_eq!(s.maybe_dma_pinned(pfn), n > 0, "{name}: pfn {pfn}");
            }
        }
    }
}

fn ordinary_references_and_false_positives(name: &str) {
    let s = scheme(name);
    let small = Pfn(17);
    let large = THP + 1;
    // The page starts with one reference (it is mapped); 1022 more keep the
    // refcount below GUP_PIN_COUNTING_BIAS.
    let below = GUP_PIN_COUNTING_BIAS as usize - 2;
    for _ in 0..below {
        s.get(small).expect("get");
        s.get(large).expect("get");
    }
    assert!(
        !s.maybe_dma_pinned(small),
        "{name}: false positive below the bias"
    );
    s.get(small).expect("get");
    s.get(large).expect("get");
    let small_fp = s.maybe_dma_pinned(small);
    match s.exactness() {
        // The documented false positive: refcount 1024 reads as one pin.
        Exactness::FalsePositives | Exactness::ExactLargeOnly => {
            assert!(
                small_fp,
                "{name}: expected the bias false positive at 1024 refs"
            )
        }
        Exactness::Exact | Exactness::Blind => assert!(!small_fp, "{name}: false positive"),
    }
    let large_fp = s.maybe_dma_pinned(large);
    assert_eq!(
        large_fp,
        s.exactness() == Exactness::FalsePositives,
        "{name}: large folio with 1024 ordinary refs"
    );
    // Far past the bias: exact schemes still see nothing.
    for _ in 0..4000 {
        s.get(small).expect("get");
    }
    if s.exactness() == Exactness::Exact {
        assert!(
            !s.maybe_dma_pinned(small),
            "{name}: false positive at 5024 refs"
        );
        assert_eq!(s.pin_count(small), Some(0));
    }
}

fn overflow_is_refused_and_the_page_unchanged(name: &str) {
    let s = scheme(name);
    let max = s.max_pins_per_page();
    let pfn = Pfn(33);
    let folio = s.memmap().folio(pfn).expect("folio");
    s.grab_folio(folio, max, GupPath::Slow)
        .expect("max pins fit");
    assert!(!tracks(&*s) || s.maybe_dma_pinned(pfn));
    let at_max = state(&*s, pfn);
    for path in PATHS {
        let err = s.pin(pfn, path).expect_err("pin past the maximum");
        assert!(matches!(err, PinError::Overflow { .. }), "{name}: {err:?}");
        assert_eq!(
            state(&*s, pfn),
            at_max,
            "{name}: refused pin changed the page"
        );
        let err = s
            .grab_folio(folio, u32::MAX, path)
            .expect_err("absurd refs");
        assert!(matches!(err, PinError::Overflow { .. }), "{name}: {err:?}");
        assert_eq!(
            state(&*s, pfn),
            at_max,
            "{name}: refused pin changed the page"
        );
    }
    s.put_folio(folio, max).expect("unpin all");
    assert!(!s.maybe_dma_pinned(pfn), "{name}");
    assert_eq!(s.ref_count(pfn), Some(1), "{name}");
}

fn batch_failure_releases_what_it_took(name: &str) {
    let s = scheme(name);
    let full = Pfn(40);
    let folio = s.memmap().folio(full).expect("folio");
    s.try_grab_folio(folio, s.max_pins_per_page(), GupPath::Slow)
        .expect("fill");
    let batch = [Pfn(41), Pfn(42), THP, THP + 1, full, Pfn(43)];
    let before: Vec<_> = batch.iter().map(|&p| state(&*s, p)).collect();
    for path in PATHS {
        let err = s
            .pin_pages(&batch, path)
            .expect_err("the full page refuses");
        assert_eq!(err.index, 4, "{name}");
        assert!(matches!(err.cause, PinError::Overflow { .. }), "{name}");
        let after: Vec<_> = batch.iter().map(|&p| state(&*s, p)).collect();
        assert_eq!(after, before, "{name}: a failed batch left pins behind");
    }
    // A long batch, failing past the first LRU-sized chunk of `flag`.
    let mut long: Vec<Pfn> = (100..1000).map(Pfn).collect();
    long[800] = full;
    let before_long: Vec<_> = long.iter().map(|&p| state(&*s, p)).collect();
    let err = s
        .pin_pages(&long, GupPath::Fast)
        .expect_err("refused at 800");
    assert_eq!(err.index, 800, "{name}");
    let after_long: Vec<_> = long.iter().map(|&p| state(&*s, p)).collect();
    assert_eq!(
        after_long, before_long,
        "{name}: a failed long batch left pins"
    );
    long[800] = Pfn(1000);
    assert_eq!(s.pin_pages(&long, GupPath::Slow), Ok(900));
    s.unpin_pages(&long).expect("unpin long");
    let err = s
        .pin_pages(&[Pfn(41), Pfn(NR_PAGES + 5)], GupPath::Fast)
        .expect_err("pfn past the end");
    assert_eq!(
        err,
        BatchPinError {
            index: 1,
            cause: PinError::NoPage(Pfn(NR_PAGES + 5))
        }
    );
    assert_eq!(state(&*s, Pfn(41)), before[0], "{name}");
    assert_lru_consistent(s.memmap());
}

fn huge_folio_accounting(name: &str) {
    let s = scheme(name);
    let folio = s.memmap().folio(THP).expect("thp");
    let pfns: Vec<Pfn> = (0..folio.nr_pages()).map(|i| THP + i).collect();
    let before = state(&*s, THP);
    assert_eq!(s.pin_pages(&pfns, GupPath::Fast), Ok(512));
    let st = state(&*s, THP);
    match s.exactness() {
        // mm/gup.c: refcount += refs, _pincount += refs for a large folio.
        Exactness::ExactLargeOnly => {
            assert_eq!(st.refcount, before.refcount + 512, "{name}");
            assert_eq!(st.tail_pincount, 512, "{name}");
        }
        Exactness::FalsePositives => {
            assert_eq!(st.refcount, before.refcount + 512 * GUP_PIN_COUNTING_BIAS);
        }
        // A scheme that isolates the folio from its LRU also holds
        // isolate_lru_page()'s reference while it is off.
        Exactness::Exact | Exactness::Blind => {
            let isolation = i32::from(before.on_lru && !st.on_lru);
            assert_eq!(st.refcount, before.refcount + 512 + isolation, "{name}")
        }
    }
    if exact_for(&*s, folio) {
        assert_eq!(s.pin_count(THP + 300), Some(512), "{name}");
    }
    s.unpin_pages(&pfns).expect("unpin");
    assert_eq!(state(&*s, THP), before, "{name}");

    // Whole-folio pins until refused: the bias overflows the head refcount
    // after 2^21 subpage pins (4095 whole pins succeed), the others do not.
    let mut pinned = 0u32;
    let refused = loop {
        match s.try_grab_folio(folio, 512, GupPath::Fast) {
            Ok(()) => pinned += 1,
            Err(e) => break Some(e),
        }
        if pinned == 5000 {
            break None;
        }
    };
    if s.exactness() == Exactness::FalsePositives {
        assert_eq!(pinned, 4095, "{name}: bias refuses at 2^21 subpage pins");
        assert!(matches!(refused, Some(PinError::Overflow { .. })), "{name}");
    } else {
        assert_eq!(refused, None, "{name}: refused a large folio pin");
    }
    s.gup_put_folio(folio, 512 * pinned).expect("unpin");
    assert_eq!(state(&*s, THP), before, "{name}");
}

fn concurrent_pins_end_with_exact_counts(name: &str) {
    const THREADS: usize = 4;
    const ROUNDS: u32 = 2000;
    let s: Arc<dyn Gup> = Arc::from(scheme(name));
    let hot = Pfn(1);
    let before_hot = state(&*s, hot);
    let before_thp = state(&*s, THP);
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = Arc::clone(&s);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let private: Vec<Pfn> = (0..64).map(|i| Pfn(100 + t * 64 + i)).collect();
                let path = if t % 2 == 0 {
                    GupPath::Fast
                } else {
                    GupPath::Slow
                };
                for _ in 0..ROUNDS {
                    s.pin(hot, path).expect("pin hot");
                    s.pin(THP + t, path).expect("pin thp");
                    s.pin_pages(&private, path).expect("pin private");
                    s.get(hot).expect("get");
                    s.put(hot).expect("put");
                    s.unpin_pages(&private).expect("unpin private");
                    s.unpin(THP + t).expect("unpin thp");
                    s.unpin(hot).expect("unpin hot");
                }
                // Hold one pin on each while the main thread looks.
                s.pin(hot, path).expect("pin hot");
                s.pin(THP + t, path).expect("pin thp");
                barrier.wait();
                barrier.wait();
                s.unpin(hot).expect("unpin hot");
                s.unpin(THP + t).expect("unpin thp");
                s.unpin_pages(&[]).expect("empty");
            })
        })
        .collect();
    barrier.wait();
    let thp = s.memmap().folio(THP).expect("thp");
    if tracks(&*s) {
        assert!(s.maybe_dma_pinned(hot), "{name}");
        assert!(s.maybe_dma_pinned(THP), "{name}");
    }
    if exact_for(&*s, s.memmap().folio(hot).expect("hot")) {
        assert_eq!(s.pin_count(hot), Some(THREADS as u32), "{name}");
    }
    if exact_for(&*s, thp) {
        assert_eq!(s.pin_count(THP), Some(THREADS as u32), "{name}");
    }
    barrier.wait();
    for h in handles {
        h.join().expect("thread");
    }
    let after_hot = state(&*s, hot);
    if name == "flag" && !after_hot.on_lru {
        // The RFC's leak (lru_add.rs): the hot page was pinned while it
        // waited in another thread's pagevec, so the drain left it off the
        // LRU and no unpin put it back. Everything else is as it was.
        let listed = PageState {
            flags: after_hot.flags | pin_schemes::page::pg::LRU,
            on_lru: true,
            ..after_hot
        };
        assert_eq!(listed, before_hot, "{name}");
    } else {
        assert_eq!(after_hot, before_hot, "{name}");
    }
    assert_eq!(state(&*s, THP), before_thp, "{name}");
    for pfn in 100..100 + THREADS * 64 {
        assert!(
            !s.maybe_dma_pinned(Pfn(pfn)),
            "{name}: pfn {pfn} left pinned"
        );
    }
    assert_lru_consistent(s.memmap());
}

fn bad_pfns_are_errors(name: &str) {
    let s = scheme(name);
    let past = Pfn(NR_PAGES);
    assert_eq!(s.pin(past, GupPath::Fast), Err(PinError::NoPage(past)));
    assert_eq!(s.unpin(past), Err(PinError::NoPage(past)));
    assert_eq!(s.get(past), Err(PinError::NoPage(past)));
    assert_eq!(s.put(past), Err(PinError::NoPage(past)));
    assert_eq!(s.pin_count(past), None);
}

/// What gup does around every scheme's grab: MMF_HAS_PINNED and the
/// FOLL_PIN counters for FOLL_PIN schemes only, PG_referenced on every
/// fast grab, the mmap_lock released after a slow call, and the counters
/// balanced once everything is unpinned.
fn gup_walk_accounting(name: &str) {
    let s = scheme(name);
    let mm = s.memmap();
    let acquired = || mm.vmstat().global_exact(NodeStatItem::FollPinAcquired);
    let released = || mm.vmstat().global_exact(NodeStatItem::FollPinReleased);
    let pfns: Vec<Pfn> = (200..264)
        .map(Pfn)
        .chain((0..512).map(|i| THP + i))
        .collect();
    assert!(!mm.mm().has_pinned(), "{name}");
    assert_eq!(s.pin_pages(&pfns, GupPath::Fast), Ok(pfns.len()));
    // Wherever the design keeps the folio's flags (memdesc: its descriptor).
    let referenced = |p: Pfn| s.folio_test_referenced(s.folio(p).expect("folio"));
    assert!(referenced(Pfn(200)), "{name}: PG_referenced");
    assert!(referenced(THP), "{name}: PG_referenced on the head");
    assert_eq!(s.pin_pages(&pfns, GupPath::Slow), Ok(pfns.len()));
    assert_eq!(mm.mm().mmap_readers(), 0, "{name}: mmap_lock left held");
    let expect = if s.foll_pin() {
        2 * pfns.len() as i64
    } else {
        0
    };
    assert_eq!(mm.mm().has_pinned(), s.foll_pin(), "{name}: MMF_HAS_PINNED");
    assert_eq!(acquired(), expect, "{name}: nr_foll_pin_acquired");
    assert_eq!(released(), 0, "{name}");
    s.unpin_pages(&pfns).expect("unpin");
    s.unpin_pages(&pfns).expect("unpin");
    assert_eq!(released(), expect, "{name}: nr_foll_pin_released");
}

/// A THP mapped by PTEs is grabbed once per PTE and counted exactly the
/// same as one mapped by a PMD.
fn pte_mapped_folios(name: &str) {
    let mut mm = MemMap::with_pages(NR_PAGES).expect("memmap");
    mm.make_pte_mapped_folio(THP, 9).expect("pte-mapped thp");
    let s = build(name, Arc::new(mm)).expect("scheme");
    let folio = s.memmap().folio(THP).expect("thp");
    let pfns: Vec<Pfn> = (0..512).map(|i| THP + i).collect();
    assert_eq!(FolioRuns::pin(&*s, &pfns).count(), 512, "one grab per PTE");
    assert_eq!(FolioRuns::unpin(&*s, &pfns).count(), 1, "one put per folio");
    let before = state(&*s, THP);
    for path in PATHS {
        assert_eq!(s.pin_pages(&pfns, path), Ok(512));
    }
    if exact_for(&*s, folio) {
        assert_eq!(s.pin_count(THP + 7), Some(1024), "{name}");
    }
    if tracks(&*s) {
        assert!(s.maybe_dma_pinned(THP + 511), "{name}");
    }
    s.unpin_pages(&pfns).expect("unpin");
    s.unpin_pages(&pfns).expect("unpin");
    assert_eq!(state(&*s, THP), before, "{name}");
}

macro_rules! conformance {
    ($($module:ident :: $ty:ident),* $(,)?) => {
        $(
            mod $module {
                use pin_schemes::schemes::$module::INFO;
                #[test] fn pin_unpin_balance() { super::pin_unpin_balance_leaves_the_page_as_it_was(INFO.name) }
                #[test] fn no_false_negatives() { super::pinned_pages_never_read_unpinned(INFO.name) }
                #[test] fn exact_counts() { super::exact_schemes_report_exact_counts(INFO.name) }
                #[test] fn ordinary_refs() { super::ordinary_references_and_false_positives(INFO.name) }
                #[test] fn overflow() { super::overflow_is_refused_and_the_page_unchanged(INFO.name) }
                #[test] fn batch_failure() { super::batch_failure_releases_what_it_took(INFO.name) }
                #[test] fn huge_folio() { super::huge_folio_accounting(INFO.name) }
                #[test] fn concurrency() { super::concurrent_pins_end_with_exact_counts(INFO.name) }
                #[test] fn bad_pfns() { super::bad_pfns_are_errors(INFO.name) }
                #[test] fn gup_walk() { super::gup_walk_accounting(INFO.name) }
                #[test] fn pte_mapped() { super::pte_mapped_folios(INFO.name) }
            }
        )*
    };
}

pin_schemes::for_each_scheme!(conformance);
