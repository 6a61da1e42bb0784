//! The memory every bench runs over, and the pfn arrays it pins.
//!
//! A memmap of [`NR_SMALL_PAGES`] order-0 pages (256 KiB of `struct page`:
//! past L1, within L2, like the pages a driver pins for one I/O queue)
//! followed by one 2 MiB folio (order 9), formed before the memmap is
//! shared. Each bench builds its own, so no scheme inherits another's LRU
//! order or side tree.

use pin_schemes::{Folio, Gup, MemMap, Pfn, SchemeInfo, HPAGE_PMD_ORDER};
use std::sync::Arc;

/// Order-0 pages the batches rotate over.
pub const NR_SMALL_PAGES: usize = 4096;

/// Pages per `pin_pages` call, as in `gup_test`'s "pages per call".
pub const PAGES_PER_CALL: [usize; 2] = [1, 512];

/// A fresh memmap: small pages, then one PMD-sized folio.
pub struct Fixture {
    pub memmap: Arc<MemMap>,
    pub thp: Folio,
}

impl Fixture {
    pub fn new() -> Self {
        let thp_pages = 1 << HPAGE_PMD_ORDER;
        let mut memmap = MemMap::with_pages(NR_SMALL_PAGES + thp_pages)
            .expect("a memmap of a few thousand pages");
        // NR_SMALL_PAGES is a multiple of 512, so the folio is aligned.
        let thp = memmap
            .make_folio(Pfn(NR_SMALL_PAGES), HPAGE_PMD_ORDER)
            .expect("a 2 MiB folio after the small pages");
        Self {
            memmap: Arc::new(memmap),
            thp,
        }
    }

    /// The registry's scheme over this memmap.
    pub fn scheme(&self, info: &SchemeInfo) -> Box<dyn Gup> {
        pin_schemes::build(info.name, Arc::clone(&self.memmap)).expect("a registered scheme")
    }

    /// Every pfn of the 2 MiB folio, in order.
    pub fn thp_pfns(&self) -> Vec<Pfn> {
        (0..self.thp.nr_pages())
            .map(|i| Pfn(self.thp.head.0 + i))
            .collect()
    }
}

/// The small pages cut into calls of `pages_per_call` consecutive pfns,
/// handed out in turn: successive iterations touch different pages, as
/// successive I/Os do, starting over when the next call would pass
/// [`NR_SMALL_PAGES`].
pub struct Calls {
    pfns: Box<[Pfn]>,
    pages_per_call: usize,
    next: usize,
}

impl Calls {
    pub fn new(pages_per_call: usize) -> Self {
        assert!(
            (1..=NR_SMALL_PAGES).contains(&pages_per_call),
            "{pages_per_call} pages per call: expected 1 to {NR_SMALL_PAGES}"
        );
        Self {
            pfns: (0..NR_SMALL_PAGES).map(Pfn).collect(),
            pages_per_call,
            next: 0,
        }
    }

    /// The pfns of the next call.
    #[inline]
    pub fn next_call(&mut self) -> &[Pfn] {
        if self.next + self.pages_per_call > self.pfns.len() {
            self.next = 0;
        }
        let start = self.next;
        self.next += self.pages_per_call;
        &self.pfns[start..self.next]
    }
}
