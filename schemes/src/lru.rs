//! Per-node LRU lists: `lruvec->lru_lock` and an intrusive doubly linked list
//! threaded through `page->lru`, as in mm/swap.c and mm/vmscan.c.
//!
//! Links are stored as `pfn << 1` so that bit 0 of `lru[0]` stays free to
//! mark tail pages (`compound_head | 1`). Only head and order-0 pages are
//! ever on a list. Every function here must be called with the node's
//! `lru_lock` held (they take the guarded [`LruList`] by `&mut`), so the link
//! words are accessed Relaxed: the lock orders them.

use crate::page::{pg, Page, Pfn};
use crate::sync::{Ordering, SpinLock};

/// Link value meaning "none" (even, so it never looks like a tail page).
pub const LRU_NIL: u64 = u64::MAX - 1;

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
#[derive(Default)]
pub struct Lruvec {
    /// `lruvec->lru_lock` and the list it protects.
    pub lru_lock: SpinLock<LruList>,
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
    (pfn.0 as u64) << 1
}

#[inline]
fn unlink(v: u64) -> Pfn {
    Pfn((v >> 1) as usize)
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
