//! Per-node LRU lists: `lruvec->lru_lock` and an intrusive doubly linked list
//! threaded through `page->lru`, as in mm/swap.c and mm/vmscan.c.
//!
//! Links are stored as `pfn << 3`, like the kernel's 8-byte-aligned
//! `list_head` pointers: bit 0 of `lru[0]` stays free to mark tail pages
//! (`compound_head | 1`) and bits 1 and 2 read as zero, which the 2018
//! page-flag RFC relied on. `list_del()` leaves `LIST_POISON1`/`2` in the
//! page's words, as the kernel does. Only head and order-0 pages are ever on
//! a list. The list functions must be called with the node's `lru_lock`
//! held (they take the guarded [`LruList`] by `&mut`), so the link words
//! are accessed Relaxed: the lock orders them.

use crate::page::{pg, Page, Pfn};
use crate::sync::{Ordering, SpinLock};
use crate::vmstat::NR_CPU_SLOTS;
use arrayvec::ArrayVec;
use std::sync::OnceLock;

/// Link value meaning "none" (low three bits clear, as a pointer's).
pub const LRU_NIL: u64 = !7;
/// `LIST_POISON1` (include/linux/poison.h, x86-64): `lru.next` after `list_del()`.
pub const LIST_POISON1: u64 = 0xdead_0000_0000_0100;
/// `LIST_POISON2`: `lru.prev` after `list_del()`.
pub const LIST_POISON2: u64 = 0xdead_0000_0000_0122;

/// The list head guarded by the node's LRU lock.
#[derive(Debug)]
pub struct LruList {
    head: u64,
    tail: u64,
    len: usize,
}

impl Default for LruList {
    fn default() -> Self {
        Self {
            head: LRU_NIL,
            tail: LRU_NIL,
            len: 0,
        }
    }
}

/// One node's LRU: `struct lruvec` reduced to one list and its lock.
pub struct Lruvec {
    /// `lruvec->lru_lock` and the list it protects.
    pub lru_lock: SpinLock<LruList>,
}

impl Default for Lruvec {
    fn default() -> Self {
        Self {
            lru_lock: SpinLock::named("lru_lock", LruList::default()),
        }
    }
}

/// `set_bit(bit, &page->flags)`: atomic, because other bits of the word
/// change without the LRU lock (gup-fast sets PG_referenced lock-free).
#[inline]
pub fn set_flag(page: &Page, bit: u64) {
    // Release: pairs with the Acquire flags read of lock-free readers
    // (`maybe_dma_pinned`, `PageLRU` tests).
    page.flags.fetch_or(bit, Ordering::Release);
}

/// `clear_bit(bit, &page->flags)`, atomic as [`set_flag`].
#[inline]
pub fn clear_flag(page: &Page, bit: u64) {
    // Release: as in set_flag.
    page.flags.fetch_and(!bit, Ordering::Release);
}

#[inline]
fn link(pfn: Pfn) -> u64 {
    (pfn.0 as u64) << 3
}

#[inline]
fn unlink(v: u64) -> Pfn {
    Pfn((v >> 3) as usize)
}

/// Pages reclaim (or migration, or compaction) took off their LRU: a
/// private list threaded through the pages' own `lru` words, like the
/// `page_list` of `shrink_inactive_list()`, held by one thread until it
/// puts them back. The pfns are also kept aside, model-side, so that a
/// list another party corrupted can be detected and repaired.
#[derive(Debug, Default)]
pub struct IsolatedList {
    tail: u64,
    pfns: Vec<Pfn>,
}

/// What putting an isolated list back found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Putback {
    /// Pages walked from the list and put back on the LRU.
    pub returned: usize,
    /// Pages the walk no longer reached, because a page's `lru` words were
    /// overwritten while it was on the list; they are still isolated.
    pub unreached: Vec<Pfn>,
}

impl Lruvec {
    /// `isolate_lru_pages()` for the given pfns, as reclaim would take them:
    /// each one on the LRU is isolated (`isolate_lru_page()`) and added at
    /// the tail of a private, doubly linked list. Pages not on the LRU are
    /// skipped.
    pub fn isolate_list(&self, pages: &[Page], pfns: &[Pfn]) -> IsolatedList {
        let mut list = IsolatedList {
            tail: LRU_NIL,
            pfns: Vec::new(),
        };
        for &pfn in pfns {
            if self.isolate_lru_page(pages, pfn) {
                // Relaxed (all): the list is this thread's own until put
                // back; list_add_tail().
                pages[pfn.0].lru[0].store(LRU_NIL, Ordering::Relaxed);
                pages[pfn.0].lru[1].store(list.tail, Ordering::Relaxed);
                if list.tail != LRU_NIL {
                    pages[unlink(list.tail).0].lru[0].store(link(pfn), Ordering::Relaxed);
                }
                list.tail = link(pfn);
                list.pfns.push(pfn);
            }
        }
        list
    }

    /// `putback_inactive_pages()`-style: consumes a private list from its
    /// tail (`lru_to_page(list)` is `list->prev`, then `list_del()`),
    /// putting each page back. A page whose `prev` word is no list
    /// member's link (overwritten while it was on the list) ends the walk:
    /// it and the pages before it are returned as unreached, still
    /// isolated, for the caller to count and repair.
    pub fn putback_list(&self, pages: &[Page], list: IsolatedList) -> Putback {
        let valid = |v: u64| v == LRU_NIL || (v & 7 == 0 && list.pfns.contains(&unlink(v)));
        let mut walked = Vec::with_capacity(list.pfns.len());
        let mut cur = list.tail;
        while cur != LRU_NIL && walked.len() < list.pfns.len() {
            let pfn = unlink(cur);
            // Relaxed: our own list, see isolate_list.
            let prev = pages[pfn.0].lru[1].load(Ordering::Relaxed);
            if !valid(cur) || !valid(prev) || walked.contains(&pfn) {
                break;
            }
            walked.push(pfn);
            cur = prev;
        }
        for &pfn in &walked {
            self.putback_page(pages, pfn);
        }
        Putback {
            returned: walked.len(),
            unreached: list
                .pfns
                .into_iter()
                .filter(|p| !walked.contains(p))
                .collect(),
        }
    }

    /// `isolate_lru_page()` (mm/vmscan.c, v4.19): if PG_lru, under the LRU
    /// lock (IRQs off in the kernel): `get_page()`, `ClearPageLRU()`,
    /// `list_del()`. True if this call took the page off its LRU.
    pub fn isolate_lru_page(&self, pages: &[Page], pfn: Pfn) -> bool {
        let page = &pages[pfn.0];
        if page.flags() & pg::LRU == 0 {
            return false;
        }
        let mut list = self.lru_lock.lock();
        if page.flags() & pg::LRU == 0 {
            return false;
        }
        // get_page(): the page is live (it is on an LRU); a reference the
        // model cannot take (the count at i32::MAX) leaves it listed.
        if page.ref_add(1).is_err() {
            return false;
        }
        list.del(pages, pfn);
        true
    }

    /// `putback_inactive_pages()`'s step for one page (v4.20): straight
    /// onto the list under the lock, then `put_page()` of the isolation
    /// reference. (`putback_lru_page()` goes through the per-CPU pagevec:
    /// [`crate::lru_add::putback_lru_page`].)
    pub fn putback_page(&self, pages: &[Page], pfn: Pfn) {
        self.lru_lock.lock().add(pages, pfn);
        pages[pfn.0].put_refs(1);
    }
}

impl LruList {
    /// Number of pages on the list.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no page is on the list.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `list_add_tail()` + `SetPageLRU()`: puts `pfn` at the tail.
    pub fn add(&mut self, pages: &[Page], pfn: Pfn) {
        let page = &pages[pfn.0];
        // Relaxed (all link accesses): the lru_lock orders them.
        page.lru[0].store(LRU_NIL, Ordering::Relaxed);
        page.lru[1].store(self.tail, Ordering::Relaxed);
        if self.tail == LRU_NIL {
            self.head = link(pfn);
        } else {
            pages[unlink(self.tail).0].lru[0].store(link(pfn), Ordering::Relaxed);
        }
        self.tail = link(pfn);
        self.len += 1;
        set_flag(page, pg::LRU);
    }

    /// `list_del()` + `ClearPageLRU()`: takes `pfn` off the list. The page
    /// must be on this list (PG_lru set, checked by the caller under the lock).
    pub fn del(&mut self, pages: &[Page], pfn: Pfn) {
        let page = &pages[pfn.0];
        let next = page.lru[0].load(Ordering::Relaxed);
        let prev = page.lru[1].load(Ordering::Relaxed);
        if prev == LRU_NIL {
            self.head = next;
        } else {
            pages[unlink(prev).0].lru[0].store(next, Ordering::Relaxed);
        }
        if next == LRU_NIL {
            self.tail = prev;
        } else {
            pages[unlink(next).0].lru[1].store(prev, Ordering::Relaxed);
        }
        self.len -= 1;
        clear_flag(page, pg::LRU);
        page.lru[0].store(LIST_POISON1, Ordering::Relaxed);
        page.lru[1].store(LIST_POISON2, Ordering::Relaxed);
    }

    /// Walks the list from the head, for consistency checks in tests.
    pub fn pfns(&self, pages: &[Page]) -> Vec<Pfn> {
        let mut out = Vec::with_capacity(self.len);
        let mut cur = self.head;
        while cur != LRU_NIL && out.len() <= self.len {
            let pfn = unlink(cur);
            out.push(pfn);
            cur = pages[pfn.0].lru[0].load(Ordering::Relaxed);
        }
        out
    }
}

/// `PAGEVEC_SIZE` (include/linux/pagevec.h, v4.20).
pub const PAGEVEC_SIZE: usize = 15;

/// One CPU's pagevec, on lines of its own. The lock stands for
/// `get_cpu_var()`'s disabled preemption, which costs the kernel no locked
/// operation (the census counts this one apart, as a stand-in).
#[repr(align(64))]
pub(crate) struct Pvec(pub(crate) SpinLock<ArrayVec<Pfn, PAGEVEC_SIZE>>);

impl Default for Pvec {
    fn default() -> Self {
        Self(SpinLock::stand_in("lru_add_pvec", ArrayVec::new()))
    }
}

/// Every CPU's `lru_add_pvec` (what goes through them: [`crate::lru_add`]).
pub struct LruAddPvecs {
    pub(crate) cpus: Box<[Pvec]>,
    /// A patch to `__pagevec_lru_add_fn()`: pages it says true for are left
    /// off the LRU. Set once, by the scheme that patched it.
    pub(crate) keep_off: OnceLock<fn(&Page) -> bool>,
}

impl Default for LruAddPvecs {
    fn default() -> Self {
        Self {
            cpus: (0..NR_CPU_SLOTS).map(|_| Pvec::default()).collect(),
            keep_off: OnceLock::new(),
        }
    }
}

impl LruAddPvecs {
    /// Patches `__pagevec_lru_add_fn()` to leave the pages `f` says true
    /// for off the LRU. The first patch holds; later ones are ignored.
    pub fn keep_off(&self, f: fn(&Page) -> bool) {
        let _ = self.keep_off.set(f);
    }
}
