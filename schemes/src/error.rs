//! Typed errors. A refused pin is one of these values, never a panic and
//! never a wrapped counter.

use crate::page::Pfn;
use thiserror::Error;

/// Why a pin, unpin, get or put was refused. The page is left as it was.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum PinError {
    /// The pfn is past the end of the memmap (`pfn_valid()` fails).
    #[error("pfn {0} is outside the memmap")]
    NoPage(Pfn),
    /// The folio's refcount was zero or negative: it is free or being freed.
    #[error("pfn {pfn}: refcount {refcount} is not positive, the folio is not live")]
    NotLive {
        /// Head pfn of the folio.
        pfn: Pfn,
        /// The refcount seen.
        refcount: i32,
    },
    /// Taking `refs` more would overflow the scheme's counter.
    #[error("pfn {pfn}: {refs} more pins would overflow the pin count, refused")]
    Overflow {
        /// Head pfn of the folio.
        pfn: Pfn,
        /// How many pins were asked for.
        refs: u32,
    },
    /// An unpin of a page the scheme knows is not pinned (only schemes that
    /// keep an exact count can tell).
    #[error("pfn {0} is not pinned")]
    NotPinned(Pfn),
    /// Recording the pin needed memory that could not be allocated
    /// (-ENOMEM from a GFP_ATOMIC allocation).
    #[error("pfn {0}: no memory to record the pin")]
    NoMemory(Pfn),
}

/// A batch pin failed part-way; every pin it took was released.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
#[error("pin_pages failed at entry {index}: {cause}")]
pub struct BatchPinError {
    /// Index in the pfn array of the entry that failed.
    pub index: usize,
    /// Why it failed.
    pub cause: PinError,
}

/// The memmap could not be built or a folio could not be formed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum MemMapError {
    /// The caller's storage holds no pages.
    #[error("the memmap storage holds no pages")]
    Empty,
    /// Node spans do not add up to the storage.
    #[error("node spans cover {spans} pages but the storage holds {pages}")]
    NodeSpans {
        /// Pages the spans cover.
        spans: usize,
        /// Pages in the storage.
        pages: usize,
    },
    /// A node id does not fit the 8 bits `flags` keeps for it.
    #[error("node id {0} is larger than 255")]
    NodeId(u32),
    /// Folio order larger than the model supports.
    #[error("folio order {0} is larger than {max}", max = crate::page::MAX_FOLIO_ORDER)]
    Order(u8),
    /// Folio head not aligned to its order, or past the end.
    #[error("a folio of order {order} cannot start at pfn {pfn}: misaligned or past the end")]
    Misaligned {
        /// Requested head.
        pfn: Pfn,
        /// Requested order.
        order: u8,
    },
    /// The range crosses a node boundary.
    #[error("a folio of order {order} at pfn {pfn} would cross a node boundary")]
    CrossesNode {
        /// Requested head.
        pfn: Pfn,
        /// Requested order.
        order: u8,
    },
    /// A page in the range is already part of a folio, pinned or referenced.
    #[error("pfn {0} is already in a large folio or holds extra references")]
    Busy(Pfn),
}

/// Why a scheme could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// The registry does not know the name.
    #[error("unknown scheme {0:?}")]
    Unknown(String),
    /// Its side structures could not be allocated.
    #[error("{0}: cannot allocate its side structures: {1}")]
    Alloc(&'static str, std::collections::TryReserveError),
}
