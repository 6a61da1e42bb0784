//! `lru_add_pvec`, one per CPU (mm/swap.c, v4.20): a page going back to
//! its LRU (`putback_lru_page()` is `lru_cache_add()` then `put_page()`)
//! waits in this CPU's pagevec, which takes a reference on it
//! (`get_page()`); when [`PAGEVEC_SIZE`] pages wait, or the page is
//! compound, `__pagevec_lru_add()` puts them all on their LRUs under one
//! `lru_lock` hold per run of same-node pages (`pagevec_lru_move_fn()`,
//! `spin_lock_irqsave()`) and `release_pages()` drops the references. So
//! the LRU lock is taken once per 15 pages, and a page waiting in a
//! pagevec is on no LRU: `isolate_lru_page()` fails on it.
//!
//! The page-flag RFC (<20181110085041.10071-7-jhubbard@nvidia.com>, 6/6)
//! patched `__pagevec_lru_add_fn()` to return early for a page with
//! `PageDmaPinned()` ("LRU and PageDmaPinned are mutually exclusive: they
//! use the same fields in struct page"): a page pinned while it waited is
//! left off every LRU, and since its isolation failed its last unpin does
//! not put it back either. The scheme that patched it says which pages
//! ([`LruAddPvecs::keep_off`]).
//!
//! The model: a pagevec per CPU slot of the memmap's vmstat (a thread
//! stands for a CPU, see [`crate::vmstat`]). Each sits behind a lock of its
//! own, taken only by its thread but for [`lru_add_drain_all`]: one
//! uncontended locked operation where the kernel's `get_cpu_var()` is a
//! preempt-count increment. A thread past the last slot puts pages back
//! directly. Per page drained, `__pagevec_lru_add_fn()`'s
//! `TestClearPageUnevictable()` (a locked `btr`) and `smp_mb()` are kept.
//! Not modelled: `page_evictable()`'s `rcu_read_lock()` (a preempt-count
//! increment, under the irq-off LRU lock) and the LRU list choice (one list
//! per node here).

use crate::lru::PAGEVEC_SIZE;
use crate::memmap::MemMap;
use crate::page::{pg, Pfn};
use crate::sync::{smp_mb, Ordering};
use arrayvec::ArrayVec;

/// `putback_lru_page()` (mm/vmscan.c, v4.20): `lru_cache_add()`, then
/// `put_page()` of the reference the isolation took.
pub fn putback_lru_page(mm: &MemMap, pfn: Pfn) {
    lru_cache_add(mm, pfn);
    mm.pages()[pfn.0].put_refs(1);
}

/// `lru_cache_add()` (`__lru_cache_add()`, v4.20).
pub fn lru_cache_add(mm: &MemMap, pfn: Pfn) {
    let page = &mm.pages()[pfn.0];
    // get_page(): the pagevec's reference. A thread without a CPU slot, or
    // a page at the refcount's limit, goes straight onto its LRU (and
    // holds no reference for a pagevec).
    let Some(cpu) = mm.vmstat().this_cpu().filter(|_| page.ref_add(1).is_ok()) else {
        mm.lruvec(page.nid()).lru_lock.lock().add(mm.pages(), pfn);
        return;
    };
    let mut pvec = mm.lru_add_pvecs().cpus[cpu].0.lock();
    pvec.push(pfn);
    let compound = mm.folio(pfn).is_ok_and(|f| f.order > 0);
    if pvec.is_full() || compound {
        pagevec_lru_add(mm, &mut pvec);
    }
}

/// `lru_add_drain_all()`: every CPU's waiting pages onto their LRUs.
pub fn lru_add_drain_all(mm: &MemMap) {
    for cpu in mm.lru_add_pvecs().cpus.iter() {
        pagevec_lru_add(mm, &mut cpu.0.lock());
    }
}

/// `__pagevec_lru_add()`: one lock hold per run of same-node pages, then
/// `release_pages()`.
fn pagevec_lru_add(mm: &MemMap, pvec: &mut ArrayVec<Pfn, PAGEVEC_SIZE>) {
    let pages = mm.pages();
    let keep_off = mm.lru_add_pvecs().keep_off.get();
    {
        let mut held = None;
        for &pfn in pvec.iter() {
            let page = &pages[pfn.0];
            let nid = page.nid();
            if held.as_ref().is_some_and(|(n, _)| *n != nid) {
                held = None;
            }
            let (_, list) = held.get_or_insert_with(|| (nid, mm.lruvec(nid).lru_lock.lock()));
            // SeqCst: TestClearPageUnevictable() is test_and_clear_bit(),
            // fully ordered (`lock btr`); it runs before 6/6's early return.
            page.flags.fetch_and(!pg::UNEVICTABLE, Ordering::SeqCst);
            if keep_off.is_some_and(|f| f(page)) {
                continue;
            }
            list.add(pages, pfn);
            // The smp_mb() after SetPageLRU(), which pairs with mlock's
            // TestClearPageMlocked(); the model has no mlock, so only its
            // cost is kept, after the list add that sets PG_lru here.
            smp_mb();
        }
    }
    for &pfn in pvec.iter() {
        pages[pfn.0].put_refs(1);
    }
    pvec.clear();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::lru::LIST_POISON2;
    use crate::page::pg;
    use crate::sync::Ordering;

    fn off_lru(mm: &MemMap, pfn: Pfn) -> bool {
        mm.pages()[pfn.0].flags() & pg::LRU == 0
    }

    #[test]
    fn pages_wait_in_the_pagevec_until_fifteen_then_go_back_together() {
        let mm = MemMap::with_pages(64).expect("memmap");
        let lru = mm.lruvec(0);
        let pfns: Vec<Pfn> = (0..PAGEVEC_SIZE).map(Pfn).collect();
        let list = lru.isolate_list(mm.pages(), &pfns);
        assert_eq!(lru.lru_lock.lock().len(), 64 - PAGEVEC_SIZE);
        for (i, &pfn) in pfns.iter().enumerate() {
            putback_lru_page(&mm, pfn);
            if i + 1 < PAGEVEC_SIZE {
                assert!(off_lru(&mm, pfn), "waits in the pagevec");
                assert_eq!(mm.pages()[pfn.0].ref_count(), 2, "the pagevec's reference");
            }
        }
        assert_eq!(lru.lru_lock.lock().len(), 64, "the fifteenth drained them");
        assert!(pfns.iter().all(|&p| mm.pages()[p.0].ref_count() == 1));
        drop(list);
    }

    #[test]
    fn a_patched_drain_leaves_the_pages_it_names_off_the_lru() {
        let mm = MemMap::with_pages(8).expect("memmap");
        mm.lru_add_pvecs()
            .keep_off(|p| p.lru[0].load(crate::sync::Ordering::Relaxed) == 1);
        let lru = mm.lruvec(0);
        let list = lru.isolate_list(mm.pages(), &[Pfn(2), Pfn(3)]);
        drop(list);
        putback_lru_page(&mm, Pfn(2));
        putback_lru_page(&mm, Pfn(3));
        // Pfn 3 is "pinned" while it waits.
        mm.pages()[3].lru[0].store(1, Ordering::Relaxed);
        lru_add_drain_all(&mm);
        assert!(!off_lru(&mm, Pfn(2)) && off_lru(&mm, Pfn(3)));
        assert_eq!(lru.lru_lock.lock().len(), 7);
        assert_eq!(
            mm.pages()[3].ref_count(),
            1,
            "the pagevec's reference dropped"
        );
    }

    #[test]
    fn isolated_lists_go_back_whole_or_report_what_they_lost() {
        let mm = MemMap::with_pages(16).expect("memmap");
        let (pages, lru) = (mm.pages(), mm.lruvec(0));
        let pfns: Vec<Pfn> = (4..10).map(Pfn).collect();
        let list = lru.isolate_list(pages, &pfns);
        assert_eq!(lru.lru_lock.lock().len(), 10);
        assert!(pages[5].flags() & pg::LRU == 0 && pages[5].ref_count() == 2);
        let back = lru.putback_list(pages, list);
        assert_eq!((back.returned, back.unreached.len()), (6, 0));
        assert_eq!(lru.lru_lock.lock().len(), 16);
        assert_eq!(pages[5].ref_count(), 1);

        // Someone overwrites a listed page's lru.prev (as the 2018 RFC's
        // atomic_set of its count did): the walk from the tail stops there
        // and names what it did not reach.
        let list = lru.isolate_list(pages, &pfns);
        pages[7].lru[1].store(LIST_POISON2 & !0xffff_ffff | 1, Ordering::Relaxed);
        let back = lru.putback_list(pages, list);
        // From the tail: 9, 8, 7 (broken prev), 6, 5, 4.
        assert_eq!(back.returned, 2);
        assert_eq!(back.unreached, vec![Pfn(4), Pfn(5), Pfn(6), Pfn(7)]);
        for pfn in back.unreached {
            lru.putback_page(pages, pfn);
        }
        assert_eq!(lru.lru_lock.lock().len(), 16);
    }
}
