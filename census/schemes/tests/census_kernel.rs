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
use pin_schemes_census as pin_schemes;
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
    for name in pin_schemes::SCHEMES.iter().map(|s| s.name) {
        let a = census_of(name, 0, false, 256);
        let b = census_of(name, 0, false, 256);
        assert_eq!(a.locked_rmw, b.locked_rmw, "{name}");
        assert_eq!(a.locks, b.locks, "{name}");
        let lines = |c: &ThreadCensus| {
            let read = c.lines.values().filter(|u| u.read).count();
            let written = c.lines.values().filter(|u| u.written).count();
            (read, written)
        };
        assert_eq!(lines(&a), lines(&b), "{name}: lines");
        // A line keyed by its address counts as one wherever the heap put
        // it only if it is a lock's, alone in its 64 bytes; any other would
        // make the count depend on the allocator (a structure the scheme
        // allocates that census_regions() does not name).
        for (k, u) in &a.lines {
            assert!(k.place != Place::Heap || u.lock_word, "{name}: {k:?} {u:?}");
        }
    }
}

/// The counted pass of 16 order-0 pages, pfns 512..527, all on their LRU,
/// after a warm-up that ends with the pagevecs drained (the scenario of
/// every derivation below).
fn sixteen_pages(name: &str) -> ThreadCensus {
    let mut mm = MemMap::with_pages(2048).expect("memmap");
    mm.set_stat_threshold(125);
    let mm = Arc::new(mm);
    let scheme = pin_schemes::build(name, Arc::clone(&mm)).expect("scheme");
    let pfns: Vec<Pfn> = (512..528).map(Pfn).collect();
    let pass = || {
        scheme.pin_pages(&pfns, GupPath::Fast).expect("pin");
        scheme.unpin_pages(&pfns).expect("unpin");
    };
    let mut regions = mm.census_regions();
    regions.push(Region::of(&*scheme, Kind::Named(census::OTHER)));
    regions.extend(scheme.census_regions());
    let recording = census::record(regions, Objects::default());
    recording.pause();
    pass();
    pin_schemes::lru_add::lru_add_drain_all(&mm);
    recording.reset();
    recording.resume();
    pass();
    recording.finish()
}

/// The shared walk of every scheme below but `memdesc`, for 16 pages: a
/// `cmpxchg` and a `set_bit` per pin, a `folio_put_refs()` per unpin.
const WALK: [(&str, u64); 2] = [("_refcount", 32), ("flags", 16)];

fn with_walk(more: &[(&'static str, u64)]) -> BTreeMap<&'static str, u64> {
    let mut m = rmw(&WALK);
    for (k, v) in more {
        *m.entry(k).or_default() += v;
    }
    m
}

#[test]
fn flag_is_the_2018_rfc_on_v4_20() {
    // RFC v2 4/6 and 6/6 (<20181110085041.10071-5-jhubbard@nvidia.com>,
    // <...-7-...>; 5/6's zone_gup_lock is a per-node pinned_dma_lock) on
    // v4.20, with the v6.12 gup walk. Pin, per page: the walk's cmpxchg and
    // set_bit; spin_lock(zone_gup_lock); isolate_lru_page() (vmscan.c:1783
    // spin_lock_irq(lru_lock), :1787 get_page, :1788 ClearPageLRU);
    // SetPageDmaPinnedWasLru; atomic_set (plain); SetPageDmaPinned:
    // _refcount 2, flags 2, lru 2, locks 2. Unpin, per page
    // (put_user_page()): atomic_dec_and_test; spin_lock(zone_gup_lock);
    // ClearPageDmaPinned and ClearPageDmaPinnedWasLru (two clear_bits);
    // putback_lru_page() = lru_cache_add() (get_cpu_var, no locked
    // operation: the model's stand-in lock, counted apart; swap.c:407
    // get_page) + put_page (vmscan.c:1008); the final put_page: lru 3,
    // lock 1, _refcount 3. The 15th unpin drains the pagevec (swap.c:405,
    // PAGEVEC_SIZE 15): one lru_lock (swap.c:205), per page
    // TestClearPageUnevictable (`lock btr`, swap.c:861), SetPageLRU
    // (:865), smp_mb (:892), then release_pages()' put (swap.c:751); the
    // 16th page still waits. page_evictable()'s rcu_read_lock() is not
    // modelled (flag.rs says why). For 16 pages: _refcount 16x5 + 15 = 95;
    // flags 16x2 + 15x2 = 62; lru 16x5 = 80; lock words 32 + 17.
    let c = sixteen_pages("flag");
    let want = [
        ("_refcount", 95),
        ("flags", 62),
        ("lru", 80),
        ("lock word", 49),
        ("stand-in lock", 16),
    ];
    assert_eq!(c.locked_rmw, rmw(&want));
    let locks = [
        ("zone_gup_lock", 32),
        ("lru_lock", 17),
        ("lru_add_pvec", 16),
    ];
    assert_eq!(c.locks, rmw(&locks));
    assert_eq!((c.fences, c.rcu_sections, c.allocs), (15, 0, 0));
}

#[test]
fn xarray_batched_takes_one_lock_per_page_table_and_one_barrier_per_call() {
    // v6.12 lib/xarray.c, batched as xarray.rs describes. Pin: the walk;
    // the 16 pfns share one PTE table, so one xa_lock_irqsave, 16 stores
    // (no atomics in the XArray's own updates: rcu_assign_pointer stores,
    // __set_bit marks, xarray.c:95/102/138), one smp_mb(). The first store
    // allocates the shift-6 and shift-0 nodes (GFP_NOWAIT under the lock,
    // xarray.c:371). Unpin: one xa_lock for the run, 16 erases (the last
    // frees both nodes with call_rcu, xarray.c:259), the walk's puts.
    let c = sixteen_pages("xarray");
    assert_eq!(c.locked_rmw, with_walk(&[("lock word", 2)]));
    assert_eq!(c.locks, rmw(&[("xa_lock", 2)]));
    assert_eq!((c.fences, c.rcu_sections, c.allocs, c.frees), (1, 0, 2, 2));
}

#[test]
fn xarray_per_page_takes_a_lock_per_pin_and_per_unpin() {
    // As `xarray`, but one xa_lock_irqsave and one store or erase per
    // folio run, and the smp_mb() after each pin's unlock (pin only: it
    // orders the record before gup-fast's PTE re-check).
    let c = sixteen_pages("xarray-per-page");
    assert_eq!(c.locked_rmw, with_walk(&[("lock word", 32)]));
    assert_eq!(c.locks, rmw(&[("xa_lock", 32)]));
    assert_eq!((c.fences, c.rcu_sections, c.allocs, c.frees), (16, 0, 2, 2));
}

#[test]
fn side_tree_sharded_is_two_leaf_atomics_each_way() {
    // This project's design (side_tree_sharded.rs, pfn_tree.rs): for 2048
    // pfns the tree is one root with the 64-pfn leaf of pfns 512..575 in
    // its slot 8. Pin: the leaf's live gate (a cmpxchg) and its counter
    // (lock xadd), 2 each; the first pin also gates the root and installs
    // the leaf by cmpxchg (1 allocation): 34. Unpin: the counter's checked
    // sub and the live gate's release, 2 each; the last kills the leaf (a
    // cmpxchg to DEAD) and releases the root: 34, 1 free by call_rcu. RCU:
    // one rcu_read_lock() per gup call and one nested in each tree pin and
    // unpin: 2 + 32.
    let c = sixteen_pages("side-tree-sharded");
    assert_eq!(c.locked_rmw, with_walk(&[("other", 68)]));
    assert!(c.locks.is_empty());
    assert_eq!((c.fences, c.rcu_sections, c.allocs, c.frees), (0, 34, 1, 1));
}

#[test]
fn exact_is_one_page_ext_atomic_each_way() {
    // A page_ext client, v6.12: page_ext_get() (mm/page_ext.c:521) is
    // rcu_read_lock() and plain loads; then atomic_add on the page's
    // counter when pinning, atomic_sub when unpinning (a checked cmpxchg
    // in the model, one locked instruction as well); page_ext_put() (:545)
    // is rcu_read_unlock(). 16 pages: 32 counter atomics, 32 sections.
    let c = sixteen_pages("exact");
    assert_eq!(c.locked_rmw, with_walk(&[("other", 32)]));
    assert!(c.locks.is_empty());
    assert_eq!((c.fences, c.rcu_sections, c.allocs, c.frees), (0, 32, 0, 0));
}

#[test]
fn memdesc_works_on_the_descriptor_only() {
    // Wilcox's memdesc plan as memdesc.rs describes: pin =
    // atomic_add_unless(&desc->_refcount), atomic_add(&desc->_pincount),
    // set_bit(PG_referenced, &desc->flags) (the memdesc word only read);
    // unpin = atomic_sub(&desc->_pincount), folio_put_refs(desc): 5 per
    // page, none on struct page, all on the separately allocated
    // descriptor (`other`).
    let c = sixteen_pages("memdesc");
    assert_eq!(c.locked_rmw, rmw(&[("other", 80)]));
    assert!(c.locks.is_empty());
    assert_eq!((c.fences, c.rcu_sections, c.allocs, c.frees), (0, 0, 0, 0));
}
