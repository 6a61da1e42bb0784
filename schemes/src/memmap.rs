//! The memmap (vmemmap): a contiguous array of [`Page`]s indexed by [`Pfn`],
//! split into NUMA nodes, with one LRU per node and folios formed over it.
//!
//! The memory holding the pages comes from the caller through
//! [`PageStorage`], so a harness can place it on a chosen NUMA node (mbind or
//! first touch) and check where it landed; [`MemMap::with_pages`] is the
//! plain heap-backed convenience. [`MemMap::new`] writes every page once
//! (refcount 1, mapped once, on its node's LRU), so the page cache lines are
//! first touched by the thread that builds the memmap.
//!
//! Cost: 64 bytes per 4 KiB page (1/64 of RAM), as in the kernel.

use crate::census::{Kind, Region};
use crate::error::{MemMapError, PinError};
use crate::lru::{LruAddPvecs, Lruvec};
use crate::mm::Mm;
use crate::page::{pg, Page, Pfn, MAX_FOLIO_ORDER};
use crate::slab::FailSlab;
use crate::sync::Ordering;
use crate::vmstat::{stat_threshold, VmStat};
use std::ptr::NonNull;

/// Memory for the pages, provided by the caller.
///
/// # Safety
/// `pages()` must return the same slice, at the same address, for as long as
/// the storage lives.
pub unsafe trait PageStorage: Send + Sync + 'static {
    /// The pages.
    fn pages(&self) -> &[Page];
}

// SAFETY: a boxed slice never moves its elements.
unsafe impl PageStorage for Box<[Page]> {
    fn pages(&self) -> &[Page] {
        self
    }
}

/// A run of pfns on one NUMA node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSpan {
    /// Node id (`nid`).
    pub nid: u32,
    /// Number of pages of the memmap on that node.
    pub nr_pages: usize,
}

/// A folio: its head pfn and order, as `page_folio()` finds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folio {
    /// The head page.
    pub head: Pfn,
    /// `folio_order()`.
    pub order: u8,
}

impl Folio {
    /// `folio_nr_pages()`.
    #[inline]
    pub fn nr_pages(&self) -> usize {
        1 << self.order
    }

    /// `folio_test_large()`.
    #[inline]
    pub fn is_large(&self) -> bool {
        self.order > 0
    }

    /// True when `pfn` is one of the folio's pages.
    #[inline]
    pub fn contains(&self, pfn: Pfn) -> bool {
        pfn.0 >= self.head.0 && pfn.0 < self.head.0 + self.nr_pages()
    }
}

/// The memmap: pages, nodes and their LRUs.
pub struct MemMap {
    /// `storage.pages()`, cached: every pin looks pages up several times,
    /// and a virtual call per lookup showed up as 15% of `plain`'s cost.
    pages: NonNull<Page>,
    nr_pages: usize,
    nodes: Vec<NodeSpan>,
    lruvecs: Vec<Lruvec>,
    /// Every CPU's `lru_add_pvec`.
    lru_add_pvecs: LruAddPvecs,
    /// The process mapping the pages.
    mm: Mm,
    /// The FOLL_PIN node counters.
    vmstat: VmStat,
    /// Fault injection of the side structures' allocations.
    failslab: FailSlab,
    /// Keeps the pages alive; never touched after `new`.
    _storage: Box<dyn PageStorage>,
}

// SAFETY: `pages` points into `_storage`, which is Send + Sync and, per
// the PageStorage contract, keeps the slice in place for its whole life;
// `Page` is made of atomics, so shared access from many threads is sound.
unsafe impl Send for MemMap {}
// SAFETY: as above.
unsafe impl Sync for MemMap {}

impl MemMap {
    /// Builds a memmap over `storage`, split into `nodes` in order. Every
    /// page starts as an order-0 folio with one reference, mapped once and
    /// on its node's LRU.
    pub fn new(storage: Box<dyn PageStorage>, nodes: &[NodeSpan]) -> Result<Self, MemMapError> {
        let nr_pages = storage.pages().len();
        if nr_pages == 0 {
            return Err(MemMapError::Empty);
        }
        let spans: usize = nodes.iter().map(|n| n.nr_pages).sum();
        if spans != nr_pages {
            return Err(MemMapError::NodeSpans {
                spans,
                pages: nr_pages,
            });
        }
        let max_nid = nodes.iter().map(|n| n.nid).max().unwrap_or(0);
        if max_nid > 255 {
            return Err(MemMapError::NodeId(max_nid));
        }
        let lruvecs = (0..=max_nid).map(|_| Lruvec::default()).collect();
        let largest = nodes.iter().map(|n| n.nr_pages).max().unwrap_or(0);
        let vmstat = VmStat::new(max_nid as usize + 1, stat_threshold(1, largest));
        let slice = storage.pages();
        let memmap = Self {
            pages: NonNull::from(slice).cast(),
            nr_pages: slice.len(),
            nodes: nodes.to_vec(),
            lruvecs,
            lru_add_pvecs: LruAddPvecs::default(),
            mm: Mm::new(nr_pages),
            vmstat,
            failslab: FailSlab::default(),
            _storage: storage,
        };
        let pages = memmap.pages();
        let mut pfn = 0;
        for span in nodes {
            let mut list = memmap.lruvecs[span.nid as usize].lru_lock.lock();
            for _ in 0..span.nr_pages {
                let page = &pages[pfn];
                // Relaxed (all stores here): the memmap is not shared yet;
                // handing it to other threads (Arc, spawn) orders them.
                page.flags
                    .store((span.nid as u64) << pg::NODES_SHIFT, Ordering::Relaxed);
                page._refcount.store(1, Ordering::Relaxed);
                page._mapcount.store(0, Ordering::Relaxed);
                page._pincount.store(0, Ordering::Relaxed);
                list.add(pages, Pfn(pfn));
                pfn += 1;
            }
        }
        Ok(memmap)
    }

    /// A heap-allocated memmap of `nr_pages` pages on node 0.
    pub fn with_pages(nr_pages: usize) -> Result<Self, MemMapError> {
        let storage: Box<[Page]> = (0..nr_pages).map(|_| Page::default()).collect();
        Self::new(Box::new(storage), &[NodeSpan { nid: 0, nr_pages }])
    }

    /// All pages.
    #[inline]
    pub fn pages(&self) -> &[Page] {
        // SAFETY: pointer and length of the storage's slice, which stays in
        // place while `_storage` lives, i.e. as long as `self`.
        unsafe { std::slice::from_raw_parts(self.pages.as_ptr(), self.nr_pages) }
    }

    /// What a census names in this memmap ([`crate::census`]): the pages,
    /// the mm, the LRUs, the pagevecs and the vmstat counters.
    pub fn census_regions(&self) -> Vec<Region> {
        let mut regions = vec![
            Region::of(self.pages(), Kind::StructPage(crate::page::field_at)),
            Region::of(&self.mm, Kind::Named("mm_struct")),
            Region::of(&*self.lruvecs, Kind::Named("lruvec")),
            Region::of(&*self.lru_add_pvecs.cpus, Kind::Named("lru_add_pvec")),
        ];
        regions.extend(self.vmstat.census_regions());
        regions
    }

    /// Number of pages (`max_pfn`).
    #[inline]
    pub fn nr_pages(&self) -> usize {
        self.nr_pages
    }

    /// The node spans, in pfn order.
    pub fn nodes(&self) -> &[NodeSpan] {
        &self.nodes
    }

    /// `pfn_to_page()`: `None` past the end.
    #[inline]
    pub fn page(&self, pfn: Pfn) -> Option<&Page> {
        self.pages().get(pfn.0)
    }

    /// `pfn_to_page()` for a pfn already validated (a folio head).
    #[inline]
    pub(crate) fn head_page(&self, folio: Folio) -> &Page {
        &self.pages()[folio.head.0]
    }

    /// The first tail page of a large folio, where `_pincount` lives.
    #[inline]
    pub(crate) fn first_tail(&self, folio: Folio) -> &Page {
        debug_assert!(folio.is_large());
        &self.pages()[folio.head.0 + 1]
    }

    /// `page_folio()`: the folio `pfn` belongs to.
    #[inline]
    pub fn folio(&self, pfn: Pfn) -> Result<Folio, PinError> {
        let pages = self.pages();
        let page = pages.get(pfn.0).ok_or(PinError::NoPage(pfn))?;
        // Relaxed: compound_head and the order are written before the memmap
        // is shared and never change while it is.
        let head_link = page.lru[0].load(Ordering::Relaxed);
        let head = if head_link & 1 == 1 {
            Pfn((head_link >> 1) as usize)
        } else {
            pfn
        };
        let head_page = if head == pfn { page } else { &pages[head.0] };
        let order = if head_page.flags.load(Ordering::Relaxed) & pg::HEAD != 0 {
            (pages[head.0 + 1].flags.load(Ordering::Relaxed) & pg::ORDER_MASK) as u8
        } else {
            0
        };
        Ok(Folio { head, order })
    }

    /// `page_to_nid()`.
    #[inline]
    pub fn nid(&self, pfn: Pfn) -> Option<u32> {
        self.page(pfn).map(Page::nid)
    }

    /// failslab: which of the side structures' allocations fail, and what
    /// gup does about it.
    #[inline]
    pub fn failslab(&self) -> &FailSlab {
        &self.failslab
    }

    /// Configures failslab (off by default).
    pub fn set_failslab(&mut self, failslab: FailSlab) {
        self.failslab = failslab;
    }

    /// The process that maps the pages (its flags, locks, page tables).
    #[inline]
    pub fn mm(&self) -> &Mm {
        &self.mm
    }

    /// The process, to configure before the memmap is shared.
    pub fn mm_mut(&mut self) -> &mut Mm {
        &mut self.mm
    }

    /// The FOLL_PIN node counters.
    #[inline]
    pub fn vmstat(&self) -> &VmStat {
        &self.vmstat
    }

    /// Sets the threshold at which the per-CPU vmstat diffs fold (by
    /// default `calculate_normal_threshold()` for 1 CPU and the memmap's
    /// largest node; a harness gives the running kernel's).
    pub fn set_stat_threshold(&mut self, threshold: i8) {
        self.vmstat.set_threshold(threshold);
    }

    /// The LRU of node `nid`.
    #[inline]
    pub fn lruvec(&self, nid: u32) -> &Lruvec {
        &self.lruvecs[nid as usize]
    }

    /// Every CPU's `lru_add_pvec` (what goes through them: [`crate::lru_add`]).
    pub fn lru_add_pvecs(&self) -> &LruAddPvecs {
        &self.lru_add_pvecs
    }

    /// Like [`MemMap::make_folio`], and maps the folio by PTEs instead of a
    /// PMD or PUD leaf (a THP after a partial munmap, mremap or a failed
    /// collapse): gup-fast then grabs it once per PTE.
    pub fn make_pte_mapped_folio(&mut self, head: Pfn, order: u8) -> Result<Folio, MemMapError> {
        let folio = self.make_folio(head, order)?;
        if folio.is_large() {
            self.mm.map_by_ptes(head.0, order);
        }
        Ok(folio)
    }

    /// Folios of `order` over `pfns` (heads every `2^order` pfns from its
    /// start), mapped by PTEs where `pte_mapped`, else by leaf entries.
    pub fn make_folios(
        &mut self,
        pfns: std::ops::Range<usize>,
        order: u8,
        pte_mapped: bool,
    ) -> Result<(), MemMapError> {
        for head in pfns.step_by(1 << order) {
            if pte_mapped {
                self.make_pte_mapped_folio(Pfn(head), order)?;
            } else {
                self.make_folio(Pfn(head), order)?;
            }
        }
        Ok(())
    }

    /// `prep_compound_page()`: turns the order-0 pages `head..head + 2^order`
    /// into one folio, mapped by a leaf entry of its size (a PMD for order
    /// 9, a PUD for 18). Only before the memmap is shared (`&mut self`).
    pub fn make_folio(&mut self, head: Pfn, order: u8) -> Result<Folio, MemMapError> {
        if order > MAX_FOLIO_ORDER {
            return Err(MemMapError::Order(order));
        }
        let nr = 1usize << order;
        if order == 0 {
            self.folio(head)
                .map_err(|_| MemMapError::Misaligned { pfn: head, order })?;
            return Ok(Folio { head, order });
        }
        if !head.0.is_multiple_of(nr) || head.0 + nr > self.nr_pages() {
            return Err(MemMapError::Misaligned { pfn: head, order });
        }
        let pages = self.pages();
        let nid = pages[head.0].nid();
        for (pfn, page) in pages.iter().enumerate().skip(head.0).take(nr) {
            if page.nid() != nid {
                return Err(MemMapError::CrossesNode { pfn: head, order });
            }
            let flags = page.flags.load(Ordering::Relaxed);
            let tail = page.lru[0].load(Ordering::Relaxed) & 1 == 1;
            if tail
                || flags & pg::HEAD != 0
                || flags & pg::LRU == 0
                || page._refcount.load(Ordering::Relaxed) != 1
            {
                return Err(MemMapError::Busy(Pfn(pfn)));
            }
        }
        let mut list = self.lruvecs[nid as usize].lru_lock.lock();
        for pfn in head.0 + 1..head.0 + nr {
            let page = &pages[pfn];
            list.del(pages, Pfn(pfn));
            // Relaxed: not shared yet, see `new`.
            page._refcount.store(0, Ordering::Relaxed);
            page._mapcount.store(-1, Ordering::Relaxed);
            page.lru[0].store(((head.0 as u64) << 1) | 1, Ordering::Relaxed);
            page.lru[1].store(0, Ordering::Relaxed);
        }
        let first_tail = &pages[head.0 + 1];
        first_tail.flags.fetch_or(order as u64, Ordering::Relaxed);
        first_tail._pincount.store(0, Ordering::Relaxed);
        pages[head.0].flags.fetch_or(pg::HEAD, Ordering::Relaxed);
        Ok(Folio { head, order })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn new_puts_every_page_on_its_node_lru() {
        let storage: Box<[Page]> = (0..8).map(|_| Page::default()).collect();
        let spans = [
            NodeSpan {
                nid: 0,
                nr_pages: 3,
            },
            NodeSpan {
                nid: 1,
                nr_pages: 5,
            },
        ];
        let mm = MemMap::new(Box::new(storage), &spans).expect("memmap");
        assert_eq!(mm.nid(Pfn(2)), Some(0));
        assert_eq!(mm.nid(Pfn(3)), Some(1));
        let l0 = mm.lruvec(0).lru_lock.lock().pfns(mm.pages());
        let l1 = mm.lruvec(1).lru_lock.lock().pfns(mm.pages());
        assert_eq!(l0, vec![Pfn(0), Pfn(1), Pfn(2)]);
        assert_eq!(l1, (3..8).map(Pfn).collect::<Vec<_>>());
    }

    #[test]
    fn bad_spans_are_refused() {
        let storage: Box<[Page]> = (0..4).map(|_| Page::default()).collect();
        let err = MemMap::new(
            Box::new(storage),
            &[NodeSpan {
                nid: 0,
                nr_pages: 3,
            }],
        );
        assert!(matches!(
            err,
            Err(MemMapError::NodeSpans { spans: 3, pages: 4 })
        ));
        let empty: Box<[Page]> = Box::new([]);
        assert!(matches!(
            MemMap::new(Box::new(empty), &[]),
            Err(MemMapError::Empty)
        ));
    }

    #[test]
    fn folios_of_order_9_and_18_are_found_from_every_page() {
        let mut mm = MemMap::with_pages(1 << 19).expect("memmap");
        let thp = mm.make_folio(Pfn(512), 9).expect("thp");
        let gig = mm.make_folio(Pfn(1 << 18), 18).expect("1g");
        assert_eq!(mm.folio(Pfn(512 + 17)).expect("pfn"), thp);
        assert_eq!(mm.folio(Pfn(512)).expect("pfn"), thp);
        assert_eq!(mm.folio(Pfn((1 << 18) + 12345)).expect("pfn"), gig);
        assert_eq!(
            mm.folio(Pfn(3)).expect("pfn"),
            Folio {
                head: Pfn(3),
                order: 0
            }
        );
        assert_eq!(mm.folio(Pfn(1 << 19)), Err(PinError::NoPage(Pfn(1 << 19))));
        // the tails left the LRU, the heads stayed
        let lru = mm.lruvec(0).lru_lock.lock().len();
        assert_eq!(lru, (1 << 19) - 511 - ((1 << 18) - 1));
    }

    #[test]
    fn misaligned_overlapping_and_oversized_folios_are_refused() {
        let mut mm = MemMap::with_pages(2048).expect("memmap");
        assert!(matches!(
            mm.make_folio(Pfn(3), 9),
            Err(MemMapError::Misaligned { .. })
        ));
        assert!(matches!(
            mm.make_folio(Pfn(2048), 1),
            Err(MemMapError::Misaligned { .. })
        ));
        assert!(matches!(
            mm.make_folio(Pfn(0), 19),
            Err(MemMapError::Order(19))
        ));
        mm.make_folio(Pfn(0), 9).expect("thp");
        assert!(matches!(
            mm.make_folio(Pfn(0), 10),
            Err(MemMapError::Busy(_))
        ));
    }
}
