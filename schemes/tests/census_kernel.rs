//! The census of `plain`, `bias` and `hybrid` against the kernel's own
//! count of locked read-modify-writes per pin and unpin, derived from the
//! source (v6.12.19: mm/gup.c, include/linux/mm.h, page_ref.h,
//! page-flags.h, mm/vmstat.c, arch/x86/include/asm/*.h; 3faa52c03f44 as
//! posted, <20200207033735.308000-8-jhubbard@nvidia.com>, for `bias`).
//!
//! x86-64 primitives counted: `atomic_add`/`atomic_sub` (`lock addl`/`subl`,
//! asm/atomic.h:33,40), `atomic_sub_and_test` (:47), `atomic_dec_and_test`
//! (:67), `atomic_long_add` (atomic64_64.h:25), `try_cmpxchg` (`lock
//! cmpxchg`, cmpxchg.h:192), `set_bit` with a constant bit (`lock orb`,
//! bitops.h:55). Not locked: `this_cpu_try_cmpxchg` (percpu.h:322, a
//! `%gs:` cmpxchg without LOCK_PREFIX), `smp_mb__after_atomic()` (nothing,
//! barrier.h:76). No path below calls `smp_mb()`.
//!
//! Shared steps of v6.12's gup-fast, counted below as "grab" and "put":
//! - `try_get_folio()` → `folio_ref_try_add()` → `atomic_add_unless()`:
//!   one `lock cmpxchg` on `_refcount` (gup.c:86, page_ref.h:267,
//!   atomic-arch-fallback.h:2428);
//! - `folio_set_referenced()`: an unconditional `set_bit` on the folio's
//!   `flags`, once per PTE (gup.c:2967) and once per PMD leaf (gup.c:3132);
//! - FOLL_PIN's `node_stat_mod_folio()` (gup.c:593, 112) is a per-CPU
//!   cmpxchg, locked only when the diff passes the threshold and folds:
//!   then `node_page_state_add()`, two `atomic_long_add` (vmstat.c:661,
//!   vmstat.h:179) on `vmstat`; with the threshold at 125 a delta of 512
//!   folds at once, deltas of 1 and 16 do not in these passes;
//! - `mm_set_has_pinned_flag()` (gup.c:479) sets MMF_HAS_PINNED on the
//!   mm's first pin only: done in the warm-up pass, 0 here.
//!
//! Each test pins and unpins one folio's pages in one call, once uncounted
//! and once counted, and checks every count, so one atomic more or less in
//! a scheme fails it.

use pin_schemes::census::{self, Kind, Objects, Place, Region, ThreadCensus};
use pin_schemes::{GupPath, MemMap, Pfn};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The counted pin and unpin of `n` pages from pfn 512, in folios of
/// `order` (mapped by PTEs if `pte_mapped`), by scheme `name`.
fn census_of(name: &str, order: u8, pte_mapped: bool, n: usize) -> ThreadCensus {
    let mut mm = MemMap::with_pages(2048).expect("memmap");
    mm.set_stat_threshold(125);
    if order > 0 {
        for head in (0..2048).step_by(1 << order) {
            if pte_mapped {
                mm.make_pte_mapped_folio(Pfn(head), order).expect("folio");
            } else {
                mm.make_folio(Pfn(head), order).expect("folio");
            }
        }
    }
    let mm = Arc::new(mm);
    let scheme = pin_schemes::build(name, Arc::clone(&mm)).expect("scheme");
    let pfns: Vec<Pfn> = (512..512 + n).map(Pfn).collect();
    let pass = || {
        scheme.pin_pages(&pfns, GupPath::Fast).expect("pin");
        scheme.unpin_pages(&pfns).expect("unpin");
    };
    // As the harness's pass: the memmap's, the scheme's and its arrays.
    let mut regions = mm.census_regions();
    regions.push(Region::of(&*scheme, Kind::Named(census::OTHER)));
    regions.extend(scheme.census_regions());
    let recording = census::record(regions, Objects::default());
    recording.pause();
    pass();
    recording.reset();
    recording.resume();
    pass();
    recording.finish()
}

fn rmw(pairs: &[(&'static str, u64)]) -> BTreeMap<&'static str, u64> {
    pairs.iter().copied().collect()
}

/// What none of these three schemes takes.
fn no_locks_fences_or_memory(c: &ThreadCensus, what: &str) {
    assert_eq!(c.fences, 0, "{what}: smp_mb()");
    assert!(c.locks.is_empty(), "{what}: locks {:?}", c.locks);
    assert_eq!((c.rcu_sections, c.allocs, c.frees), (0, 0, 0), "{what}");
}

#[test]
fn plain_is_get_user_pages_fast_then_put_page() {
    // Order 0, per page: grab 1 (`_refcount` cmpxchg) + referenced 1
    // (`flags`) + `put_page()` → `folio_put()` → `put_page_testzero()`, one
    // `lock decl` (mm.h:1540, 1477, 1141): 3.
    let c = census_of("plain", 0, false, 16);
    assert_eq!(c.locked_rmw, rmw(&[("_refcount", 32), ("flags", 16)]));
    no_locks_fences_or_memory(&c, "plain order 0");
    // A PMD-mapped THP: one `gup_fast_pmd_leaf()` grab of 512 refs
    // (gup.c:3113) and one `set_bit` (gup.c:3132), then `put_page()` per
    // page, 512: 514.
    let c = census_of("plain", 9, false, 512);
    assert_eq!(c.locked_rmw, rmw(&[("_refcount", 513), ("flags", 1)]));
    no_locks_fences_or_memory(&c, "plain order 9");
    // A PTE-mapped order-4 folio: a grab and a `set_bit` per PTE, a
    // `put_page()` per page: 48.
    let c = census_of("plain", 4, true, 16);
    assert_eq!(c.locked_rmw, rmw(&[("_refcount", 32), ("flags", 16)]));
    no_locks_fences_or_memory(&c, "plain order 4");
}

#[test]
fn hybrid_is_v6_12_pin_user_pages_fast_then_unpin_user_pages() {
    // Order 0, per page: `try_grab_folio_fast()` (gup.c:531) takes
    // `try_get_folio(page, 1)` (:557, a cmpxchg) and then, the folio being
    // small, `folio_ref_add(folio, BIAS - 1)` (:584, `lock addl`); the
    // referenced bit 1; `unpin_user_pages()` (:401) → `gup_put_folio()`
    // (:107) → `folio_put_refs(folio, 1024)` (:120, one `lock subl`): 4,
    // and no fold of vmstat below the threshold.
    let c = census_of("hybrid", 0, false, 16);
    assert_eq!(c.locked_rmw, rmw(&[("_refcount", 48), ("flags", 16)]));
    no_locks_fences_or_memory(&c, "hybrid order 0");
    // A PMD-mapped THP: one grab: `_refcount` +512 (cmpxchg), `_pincount`
    // +512 (`atomic_add`, :582), the referenced bit, and the ACQUIRED
    // fold (2); one `gup_put_folio()` for the run of 512 entries
    // (`gup_folio_next()`, :253): the RELEASED fold (2), `atomic_sub` of
    // `_pincount` (:114) and `folio_put_refs()` (:120): 9 in all.
    let c = census_of("hybrid", 9, false, 512);
    let want = [
        ("_pincount", 2),
        ("_refcount", 2),
        ("flags", 1),
        ("vmstat", 4),
    ];
    assert_eq!(c.locked_rmw, rmw(&want));
    no_locks_fences_or_memory(&c, "hybrid order 9");
    // A PTE-mapped order-4 folio: per PTE a cmpxchg on `_refcount`, an
    // `atomic_add` on `_pincount` and the referenced bit (48); one put for
    // the run of 16: `_pincount` and `_refcount` (2); deltas of 1 and 16
    // stay within the threshold: 50.
    let c = census_of("hybrid", 4, true, 16);
    let want = [("_pincount", 17), ("_refcount", 17), ("flags", 16)];
    assert_eq!(c.locked_rmw, rmw(&want));
    no_locks_fences_or_memory(&c, "hybrid order 4");
}

#[test]
fn bias_is_3faa52c03f44s_one_atomic_grab_and_per_page_unpin() {
    // 3faa52c03f44: `try_grab_compound_head()` = `try_get_compound_head(
    // page, refs * 1024)`, one `page_ref_add_unless()` (a cmpxchg) on the
    // head, then `SetPageReferenced()` (a `set_bit` on the head: PF_HEAD);
    // `unpin_user_pages()` looped `unpin_user_page()` over every entry,
    // each `page_ref_sub_and_test(head, 1024)`. Order 0, per page: 3.
    let c = census_of("bias", 0, false, 16);
    assert_eq!(c.locked_rmw, rmw(&[("_refcount", 32), ("flags", 16)]));
    no_locks_fences_or_memory(&c, "bias order 0");
    // A PMD-mapped THP: one grab of 512 x 1024 and one `set_bit`; 512
    // unpins, one `lock subl` each: 514. gup's walk around the grab is
    // v6.12's for every scheme (bias.rs says why), so the two vmstat folds
    // of a 512-page delta are here too: 4 more.
    let c = census_of("bias", 9, false, 512);
    let want = [("_refcount", 513), ("flags", 1), ("vmstat", 4)];
    assert_eq!(c.locked_rmw, rmw(&want));
    no_locks_fences_or_memory(&c, "bias order 9");
    // A PTE-mapped order-4 folio (any PTE-mapped compound page in 2020):
    // per PTE a cmpxchg and a `set_bit`, per page one unpin: 48.
    let c = census_of("bias", 4, true, 16);
    assert_eq!(c.locked_rmw, rmw(&[("_refcount", 32), ("flags", 16)]));
    no_locks_fences_or_memory(&c, "bias order 4");
}

#[test]
fn a_counted_pass_is_the_same_every_time() {
    for name in ["xarray", "side-tree-sharded", "exact", "memdesc", "flag"] {
        let a = census_of(name, 0, false, 256);
        let b = census_of(name, 0, false, 256);
        assert_eq!(a.locked_rmw, b.locked_rmw, "{name}");
        assert_eq!(a.locks, b.locks, "{name}");
        // Lines keyed by address (lock words in the heap, each on a line
        // of its own) differ in key between runs, never in number.
        let lines = |c: &ThreadCensus| {
            let read = c.lines.values().filter(|u| u.read).count();
            let written = c.lines.values().filter(|u| u.written).count();
            let heap = c.lines.keys().filter(|k| k.place == Place::Heap).count();
            (read, written, heap)
        };
        assert_eq!(lines(&a), lines(&b), "{name}: lines");
    }
}
