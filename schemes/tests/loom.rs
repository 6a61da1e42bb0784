//! `loom` models of the racy paths, explored exhaustively:
//! `RUSTFLAGS="--cfg loom" cargo test -p pin-schemes --test loom --release`.
//!
//! - pin vs unpin vs `maybe_dma_pinned` on one page, for every scheme: a
//!   reader that knows a pin is held (it was told after the pin returned)
//!   never reads the page as unpinned, and the counts end exact;
//! - the page-flag scheme's LRU isolation: concurrent first-pin / last-unpin
//!   keep the page on the LRU exactly once when unpinned, off it when pinned;
//! - the lock-free side tree's node installation race, and its freeing of
//!   a leaf emptied by one thread while another pins into it;
//! - the XArray's node deletion and root shrink under a lock-free reader;
//! - the store-buffering pair gup-fast relies on against
//!   `folio_try_share_anon_rmap_*()`, for every scheme that tracks pins,
//!   for the batched `xarray`'s order (a page table's records, one barrier,
//!   then the re-checks), and a deliberately broken scheme (no barrier)
//!   that it must catch.

#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::thread;
use pin_schemes::sync::smp_mb;
use pin_schemes::{
    build, Exactness, Folio, Gup, GupPath, MemMap, Pfn, PinError, PinScheme, SchemeInfo,
    GUP_PIN_COUNTING_BIAS, SCHEMES,
};
use std::sync::Arc;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

fn scheme(name: &str, nr_pages: usize) -> Arc<dyn Gup> {
    let mm = Arc::new(MemMap::with_pages(nr_pages).expect("memmap"));
    Arc::from(build(name, mm).expect("scheme"))
}

/// A thread pins then tells a reader; the reader must see the pin while it
/// is held; meanwhile another thread pins and unpins the same page.
#[test]
fn told_pins_are_never_missed() {
    for info in SCHEMES {
        let name = info.name;
        model(move || {
            let s = scheme(name, 2);
            let pfn = Pfn(1);
            let told = Arc::new(AtomicBool::new(false));

            let pinner = {
                let (s, told) = (s.clone(), told.clone());
                thread::spawn(move || {
                    s.pin(pfn, GupPath::Fast).expect("pin");
                    // Release/Acquire: the tell happens after the pin.
                    told.store(true, Ordering::Release);
                })
            };
            let churn = {
                let s = s.clone();
                thread::spawn(move || {
                    s.pin(pfn, GupPath::Slow).expect("pin");
                    s.unpin(pfn).expect("unpin");
                })
            };
            if told.load(Ordering::Acquire) && s.exactness() != Exactness::Blind {
                assert!(s.maybe_dma_pinned(pfn), "{name}: false negative");
            }
            pinner.join().expect("pinner");
            churn.join().expect("churn");
            if s.exactness() != Exactness::Blind {
                assert!(s.maybe_dma_pinned(pfn), "{name}: held pin lost");
            }
            s.unpin(pfn).expect("unpin");
            assert!(!s.maybe_dma_pinned(pfn), "{name}: left pinned");
            // `flag` puts the page back through a CPU's pagevec, which
            // holds a reference until it drains.
            pin_schemes::lru_add::lru_add_drain_all(s.memmap());
            assert_eq!(s.ref_count(pfn), Some(1), "{name}");
        });
    }
}

/// First pin and last unpin race on the flag scheme's LRU: afterwards the
/// page is back on its LRU exactly once and the list is consistent.
#[test]
fn flag_lru_isolation() {
    model(|| {
        let s = scheme("flag", 3);
        let pfn = Pfn(1);
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    s.pin(pfn, GupPath::Fast).expect("pin");
                    assert!(s.maybe_dma_pinned(pfn));
                    s.unpin(pfn).expect("unpin");
                })
            })
            .collect();
        // Under the LRU lock the page is never both on the list and pinned
        // (between isolation and the flag, under the scheme's own gup lock,
        // it may briefly be neither), and PG_lru says whether it is listed.
        {
            let mm = s.memmap();
            let list = mm.lruvec(0).lru_lock.lock();
            let on_lru = list.pfns(mm.pages()).contains(&pfn);
            let flags = mm.page(pfn).expect("page").flags.load(Ordering::SeqCst);
            assert!(
                !(on_lru && s.maybe_dma_pinned(pfn)),
                "on the LRU and pinned"
            );
            assert_eq!(on_lru, flags & pin_schemes::page::pg::LRU != 0);
        }
        for t in threads {
            t.join().expect("thread");
        }
        let mm = s.memmap();
        // The page may wait in a CPU's pagevec; both unpinned, a drain
        // puts it back.
        pin_schemes::lru_add::lru_add_drain_all(mm);
        let list = mm.lruvec(0).lru_lock.lock();
        let pfns = list.pfns(mm.pages());
        assert_eq!(pfns.len(), 3);
        assert_eq!(list.len(), 3);
        assert_eq!(pfns.iter().filter(|&&p| p == pfn).count(), 1);
        drop(list);
        assert!(!s.maybe_dma_pinned(pfn));
    });
}

/// Two threads pin neighbouring pfns whose tree nodes do not exist yet:
/// one node wins the install race, both counts land, the loser's node is
/// freed and not counted.
#[test]
fn side_tree_install_race() {
    model(|| {
        let s = scheme("side-tree-sharded", 4);
        let idle = s.tracking_bytes();
        let threads: Vec<_> = [Pfn(2), Pfn(3)]
            .into_iter()
            .map(|pfn| {
                let s = s.clone();
                thread::spawn(move || s.pin(pfn, GupPath::Fast).expect("pin"))
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(s.pin_count(Pfn(2)), Some(1));
        assert_eq!(s.pin_count(Pfn(3)), Some(1));
        assert!(s.tracking_bytes() > idle);
    });
}

/// The lock-free side tree frees a leaf whose last pin goes while another
/// thread pins a neighbour in the same leaf: the pin lands in a live leaf
/// (the old one, kept, or a new one), never in one on its way out; after
/// both, unpinning and reclaiming frees every node.
#[test]
fn side_tree_free_vs_pin() {
    model(|| {
        let s = scheme("side-tree-sharded", 4);
        let idle = s.tracking_bytes();
        s.pin(Pfn(2), GupPath::Fast).expect("pin");
        let unpinner = {
            let s = s.clone();
            thread::spawn(move || s.unpin(Pfn(2)).expect("unpin"))
        };
        s.pin(Pfn(3), GupPath::Fast).expect("pin");
        assert!(
            s.maybe_dma_pinned(Pfn(3)),
            "a pin into a dying leaf was lost"
        );
        unpinner.join().expect("thread");
        assert_eq!(s.pin_count(Pfn(2)), Some(0));
        assert_eq!(s.pin_count(Pfn(3)), Some(1));
        s.unpin(Pfn(3)).expect("unpin");
        assert!(s.reclaim());
        assert_eq!(s.tracking_bytes(), idle, "every emptied node freed");
    });
}

/// The XArray: a writer erases an entry, deleting its node and shrinking
/// the root, while a lock-free reader looks up another pinned pfn: the
/// reader never misses it.
#[test]
fn xarray_delete_and_shrink_vs_load() {
    model(|| {
        let s = scheme("xarray", 8);
        s.pin(Pfn(1), GupPath::Fast).expect("pin");
        s.pin(Pfn(6), GupPath::Fast).expect("pin");
        let unpinner = {
            let s = s.clone();
            thread::spawn(move || s.unpin(Pfn(6)).expect("unpin"))
        };
        assert!(s.maybe_dma_pinned(Pfn(1)), "a lookup missed a held pin");
        unpinner.join().expect("thread");
        assert!(!s.maybe_dma_pinned(Pfn(6)));
        assert_eq!(s.pin_count(Pfn(1)), Some(1));
    });
}

/// The flag scheme: a batch call racing a single pin of the same page.
#[test]
fn flag_batch_vs_single() {
    model(|| {
        let s = scheme("flag", 3);
        let batch = {
            let s = s.clone();
            thread::spawn(move || {
                let pfns = [Pfn(1), Pfn(2)];
                assert_eq!(s.pin_pages(&pfns, GupPath::Fast), Ok(2));
                assert!(s.maybe_dma_pinned(Pfn(1)) && s.maybe_dma_pinned(Pfn(2)));
                s.unpin_pages(&pfns).expect("unpin");
            })
        };
        s.pin(Pfn(2), GupPath::Slow).expect("pin");
        assert!(s.maybe_dma_pinned(Pfn(2)));
        s.unpin(Pfn(2)).expect("unpin");
        batch.join().expect("batch");
        let mm = s.memmap();
        // Pages put back may wait in a CPU's pagevec; none is pinned now.
        pin_schemes::lru_add::lru_add_drain_all(mm);
        let list = mm.lruvec(0).lru_lock.lock();
        assert_eq!(list.pfns(mm.pages()).len(), 3);
        assert_eq!(list.len(), 3);
        drop(list);
        assert_eq!(s.pin_count(Pfn(2)), Some(0));
    });
}

/// The pairing mm/gup.c (v6.12) documents in `try_grab_folio_fast()` and
/// include/linux/rmap.h in `__folio_try_share_anon_rmap()`:
///
/// - gup-fast: (B1) read the PTE, (B3) pin (the scheme's grab ends with
///   `smp_mb__after_atomic()` or an equivalent), (B4) re-read the PTE and
///   back off (unpin) if it changed;
/// - unsharer: (A1) clear the PTE, `smp_mb()`, (A2) back off if
///   `folio_maybe_dma_pinned()`.
///
/// Either the pinner sees the cleared PTE and backs off, or the unsharer
/// sees the pin: never a kept pin that the unsharer read as unpinned.
fn pin_vs_unshare(s: Arc<dyn Gup>, pfn: Pfn) -> bool {
    const PRESENT: u64 = 1;
    let folio = s.memmap().folio(pfn).expect("folio");
    let pte = Arc::new(AtomicU64::new(PRESENT));
    let pinner = {
        let (s, pte) = (s.clone(), pte.clone());
        thread::spawn(move || {
            // Relaxed: ptep_get_lockless() / ptep_get() are plain reads.
            let orig = pte.load(Ordering::Relaxed);
            if orig != PRESENT || s.grab_folio(folio, 1, GupPath::Fast).is_err() {
                return false;
            }
            if pte.load(Ordering::Relaxed) != orig {
                s.put_folio(folio, 1).expect("back off");
                return false;
            }
            true
        })
    };
    // Relaxed: the PTE clear is a plain store; smp_mb() orders it.
    pte.store(0, Ordering::Relaxed);
    smp_mb();
    let unsharer_saw_pin = s.maybe_dma_pinned(pfn);
    let kept = pinner.join().expect("pinner");
    assert!(
        !kept || unsharer_saw_pin,
        "{}: gup-fast kept a pin the unsharer read as unpinned",
        s.name()
    );
    kept
}

/// A small page and an order-1 folio (whose pin goes to `_pincount` in
/// `hybrid`): the pairing holds for both; and some execution keeps the pin,
/// so the check is not vacuous. Only the writable-PTE half is modelled: the
/// model has no PageAnonExclusive, so (A3)/(A4) and (B5) are not.
#[test]
fn gup_fast_pin_versus_unshare() {
    for info in SCHEMES.iter().filter(|i| i.exactness != Exactness::Blind) {
        for pfn in [Pfn(1), Pfn(2)] {
            let name = info.name;
            static KEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            KEPT.store(false, std::sync::atomic::Ordering::SeqCst);
            model(move || {
                let mut mm = MemMap::with_pages(4).expect("memmap");
                mm.make_folio(Pfn(2), 1).expect("order-1 folio");
                let s: Arc<dyn Gup> = Arc::from(build(name, Arc::new(mm)).expect("scheme"));
                if pin_vs_unshare(s, pfn) {
                    KEPT.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            });
            assert!(
                KEPT.load(std::sync::atomic::Ordering::SeqCst),
                "{name}: no execution kept the pin at pfn {pfn}"
            );
        }
    }
}

/// The batched `xarray` (`gup_batch`): a page table's references are
/// taken, its records stored under one `xa_lock`, one `smp_mb()` issued,
/// and only then are its PTEs re-checked. An unsharer that clears the
/// second entry's PTE must either make the pinner back off or see the pin.
#[test]
fn batched_gup_fast_pin_versus_unshare() {
    const PRESENT: u64 = 1;
    static KEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    model(|| {
        let s = scheme("xarray", 4);
        let pfns = [Pfn(1), Pfn(2)];
        let ptes = Arc::new([AtomicU64::new(PRESENT), AtomicU64::new(PRESENT)]);
        let pinner = {
            let (s, ptes) = (s.clone(), ptes.clone());
            thread::spawn(move || {
                // Relaxed (all PTE accesses): plain reads and stores; the
                // barriers under test order them.
                let orig: Vec<u64> = ptes.iter().map(|p| p.load(Ordering::Relaxed)).collect();
                if orig.iter().any(|&p| p != PRESENT) {
                    return false;
                }
                s.pin_pages(&pfns, GupPath::Fast).expect("pin");
                if ptes
                    .iter()
                    .zip(&orig)
                    .any(|(p, &o)| p.load(Ordering::Relaxed) != o)
                {
                    s.unpin_pages(&pfns).expect("back off");
                    return false;
                }
                true
            })
        };
        ptes[1].store(0, Ordering::Relaxed);
        smp_mb();
        let unsharer_saw_pin = s.maybe_dma_pinned(pfns[1]);
        let kept = pinner.join().expect("pinner");
        assert!(
            !kept || unsharer_saw_pin,
            "batched xarray: gup-fast kept a pin the unsharer read as unpinned"
        );
        if kept {
            KEPT.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    assert!(
        KEPT.load(std::sync::atomic::Ordering::SeqCst),
        "no execution kept the pin"
    );
}

/// A bias scheme that forgets the barrier: the pin is a relaxed add with
/// nothing after it. The model above must catch it.
struct NoBarrier(Arc<MemMap>);

static NO_BARRIER: SchemeInfo = SchemeInfo {
    name: "no-barrier",
    mirrors: "a broken bias, for the loom test",
    source: "",
    exactness: Exactness::FalsePositives,
    bytes_per_page: 0,
    struct_page_bytes: 64,
    max_pins_per_page: 1,
};

impl Gup for NoBarrier {}

impl PinScheme for NoBarrier {
    fn info(&self) -> &'static SchemeInfo {
        &NO_BARRIER
    }
    fn memmap(&self) -> &MemMap {
        &self.0
    }
    fn grab_folio(&self, folio: Folio, _refs: u32, _path: GupPath) -> Result<(), PinError> {
        let head = self.0.page(folio.head).expect("page");
        head._refcount
            .fetch_add(GUP_PIN_COUNTING_BIAS, Ordering::Relaxed);
        Ok(())
    }
    fn put_folio(&self, folio: Folio, _refs: u32) -> Result<(), PinError> {
        let head = self.0.page(folio.head).expect("page");
        head._refcount
            .fetch_sub(GUP_PIN_COUNTING_BIAS, Ordering::Relaxed);
        Ok(())
    }
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        let head = self.0.page(pfn).expect("page");
        head._refcount.load(Ordering::Relaxed) as u32 >= GUP_PIN_COUNTING_BIAS as u32
    }
    fn pin_count(&self, _pfn: Pfn) -> Option<u32> {
        None
    }
    fn tracking_bytes(&self) -> usize {
        0
    }
}

#[test]
fn gup_fast_pin_versus_unshare_catches_a_missing_barrier() {
    let caught = std::panic::catch_unwind(|| {
        model(|| {
            let mm = Arc::new(MemMap::with_pages(2).expect("memmap"));
            pin_vs_unshare(Arc::new(NoBarrier(mm)), Pfn(1));
        })
    });
    assert!(
        caught.is_err(),
        "loom found no execution that breaks the pairing"
    );
}

/// memdesc's gup-fast against a folio freed and its descriptor reused
/// (TYPESAFE_BY_RCU) between the memdesc load and the speculative
/// reference: the re-check of the word must send the pin back, so a pin
/// that succeeds is on page 0's own folio and the descriptor's new folio
/// never carries it.
#[test]
fn memdesc_recheck_against_a_reused_descriptor() {
    use pin_schemes::schemes::memdesc::Memdesc;
    model(|| {
        let mm = Arc::new(MemMap::with_pages(2).expect("memmap"));
        let s = Arc::new(Memdesc::try_new(mm).expect("memdesc"));
        let pinner = {
            let s = s.clone();
            thread::spawn(move || s.pin(Pfn(0), GupPath::Fast).is_ok())
        };
        let reused = s.put_and_reuse(Pfn(0), Pfn(1));
        let pinned = pinner.join().expect("pinner");
        if pinned {
            assert!(!reused, "a pinned folio was freed");
            assert_eq!(s.pin_count(Pfn(0)), Some(1), "the pin is on page 0's folio");
        } else {
            assert_eq!(
                s.pin_count(Pfn(1)),
                Some(0),
                "the reused descriptor kept a pin"
            );
        }
        if reused {
            assert_eq!(s.ref_count(Pfn(1)), Some(1), "the new folio's refcount");
        }
    });
}
