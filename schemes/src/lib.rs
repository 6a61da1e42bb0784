//! `pin-schemes`: a faithful model of `struct page` and of every proposed way
//! for Linux to record that a page is pinned for DMA (FOLL_PIN), behind one
//! trait.
//!
//! The design question (Documentation/core-api/pin_user_pages.rst): drivers
//! that DMA into user pages take references with `get_user_pages()`; the
//! filesystem and reclaim must tell those "pinned for DMA" references from
//! ordinary ones, but `struct page` is 64 bytes and cannot grow, and
//! `get_user_pages_fast()` takes no locks. Each scheme answers differently,
//! trading memory, exactness and the cost of the pin path:
//!
//! | scheme | where the pin lives | memory | exact? |
//! |---|---|---|---|
//! | `plain` | `_refcount` +1 (FOLL_GET) | 0 | blind |
//! | `bias` | `_refcount` +1024 | 0 | false positives |
//! | `hybrid` | bias, or `_pincount` in large folios | 0 | exact for large |
//! | `flag` | PG_dma_pinned + count in `lru` | 0 | exact, LRU lock |
//! | `xarray` | XArray per node, one `xa_lock` per page table, RCU readers | tree | exact |
//! | `xarray-per-page` | the same, one `xa_lock` per pin and per unpin | tree | exact |
//! | `side-tree-sharded` | pfn tree, lock-free, RCU-freed nodes | tree | exact |
//! | `exact` | +4 B counter per page in `page_ext` | 4 B/page | exact |
//! | `memdesc` | exact `_pincount` in a separate folio | 8 B/page + folio | exact |
//!
//! This crate has no threads, clocks or I/O: the harness (`pinbench`) drives
//! it. Every scheme passes the same conformance suite (`tests/`).

pub mod census;
pub mod error;
pub mod gup;
pub mod gup_batch;
pub mod lru;
pub mod lru_add;
pub mod memmap;
pub mod mm;
pub mod page;
pub mod pfn_tree;
pub mod rcu;
pub mod scheme;
pub mod schemes;
pub mod slab;
pub mod sync;
pub mod vmstat;
pub mod xarray;

pub use error::{BatchPinError, BuildError, MemMapError, PinError};
pub use gup::{FolioRuns, Gup};
pub use memmap::{Folio, MemMap, NodeSpan, PageStorage};
pub use mm::{HasPinnedWrite, Mm};
pub use page::{Page, Pfn, GUP_PIN_COUNTING_BIAS, HPAGE_PMD_ORDER, HPAGE_PUD_ORDER, PAGE_SIZE};
pub use scheme::{Exactness, GupPath, PinScheme};
pub use schemes::{build, find, with_scheme, Registered, SchemeInfo, SchemeVisitor, SCHEMES};
pub use slab::{FailSlab, Gfp, OnAllocFail};
pub use vmstat::{stat_threshold, NodeStatItem, VmStat};
