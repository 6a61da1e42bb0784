//! `bias`: FOLL_PIN as a refcount bias on every folio, huge ones included.
//!
//! Mirrors: the FOLL_PIN series as first merged (John Hubbard, "mm/gup: track
//! FOLL_PIN pages", v5.6-rc1, Jan 2020; proposed in 2019 as
//! `put_user_page()` + `GUP_PIN_COUNTING_BIAS`), before commit "mm/gup:
//! page->hpage_pinned_refcount: exact pin counts for huge pages" (v5.7)
//! gave large folios an exact count. That commit exists because a huge page
//! pinned subpage by subpage adds 1024 per subpage to one head refcount and
//! overflows it after about 2^21 subpage pins; this scheme shows it.
//! The arithmetic is today's mm/gup.c (v6.12) for small folios:
//! - fast path = `try_grab_folio_fast()`: a speculative `try_get_folio()`
//!   (+refs, add-unless-zero), then `folio_ref_add(refs * (BIAS - 1))`:
//!   two atomics;
//! - slow path = `try_grab_folio()`: `folio_ref_count() <= 0` check, then one
//!   `folio_ref_add(refs * BIAS)`;
//! - unpin = `gup_put_folio()`: `folio_put_refs(refs * BIAS)`;
//! - `maybe_dma_pinned` = `folio_maybe_dma_pinned()` for a small folio:
//!   `(unsigned int)folio_ref_count(folio) >= GUP_PIN_COUNTING_BIAS`, the
//!   unsigned cast keeping an overflowed (negative) count reading as pinned.
//!
//! Deviation, on purpose: upstream adds unconditionally and only notices an
//! overflowed count on the next grab (`WARN_ON_ONCE(folio_ref_count() < 0)`).
//! Here each add is a checked CAS, so a pin that would pass `i32::MAX` is
//! refused and the folio left unchanged; the fast path still costs two
//! atomics.
//!
//! Memory: nothing beyond `struct page`.
//! Exactness: no false negatives; false positives on any folio with 1024 or
//! more ordinary references (a THP mapped by 1024 PTEs, a page shared by
//! 1024 processes). No exact count.
//! Limits: 31 - 10 = 21 bits of pins: 2,097,151 on a page mapped once; on a
//! 2 MiB folio pinned whole, 4,095 pins (2^21 subpage pins).

use super::SchemeInfo;
use crate::error::PinError;
use crate::memmap::{Folio, MemMap};
use crate::page::{Page, Pfn, GUP_PIN_COUNTING_BIAS};
use crate::scheme::{ref_error, refs_i32, Exactness, GupPath, PinScheme};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "bias",
    mirrors: "GUP_PIN_COUNTING_BIAS on all folios (mm/gup.c v5.6)",
    build: |memmap| Box::new(Bias::new(memmap)),
};

/// Pins recorded as `GUP_PIN_COUNTING_BIAS` on the head page's refcount.
pub struct Bias {
    memmap: Arc<MemMap>,
}

impl Bias {
    /// Over `memmap`.
    pub fn new(memmap: Arc<MemMap>) -> Self {
        Self { memmap }
    }
}

/// Pins that fit in a refcount of 1: `(i32::MAX - 1) / 1024`.
pub(crate) const MAX_BIASED_PINS: u32 = ((i32::MAX - 1) / GUP_PIN_COUNTING_BIAS) as u32;

/// `try_grab_folio{,_fast}()` for a biased folio: `refs * BIAS` on `head`.
#[inline]
pub(crate) fn grab_biased(
    head: &Page,
    folio: Folio,
    refs: u32,
    path: GupPath,
) -> Result<(), PinError> {
    let total = refs_i32(folio, refs, GUP_PIN_COUNTING_BIAS)?;
    match path {
        GupPath::Fast => {
            // try_get_folio(): the speculative reference, refused on a
            // folio that is being freed.
            let first = total / GUP_PIN_COUNTING_BIAS;
            head.ref_try_add(first)
                .map_err(|e| ref_error(folio, refs, e))?;
            // folio_ref_add(refs * (GUP_PIN_COUNTING_BIAS - 1)), checked.
            if let Err(e) = head.ref_add(total - first) {
                head.ref_sub(first);
                return Err(ref_error(folio, refs, e));
            }
            Ok(())
        }
        GupPath::Slow => {
            let count = head.ref_count();
            if count <= 0 {
                return Err(PinError::NotLive {
                    pfn: folio.head,
                    refcount: count,
                });
            }
            head.ref_add(total)
                .map(|_| ())
                .map_err(|e| ref_error(folio, refs, e))
        }
    }
}

/// `gup_put_folio()` for a biased folio.
#[inline]
pub(crate) fn put_biased(head: &Page, folio: Folio, refs: u32) -> Result<(), PinError> {
    head.ref_sub(refs_i32(folio, refs, GUP_PIN_COUNTING_BIAS)?);
    Ok(())
}

/// `folio_maybe_dma_pinned()` for a small folio, unsigned cast included.
#[inline]
pub(crate) fn biased_maybe_dma_pinned(head: &Page) -> bool {
    (head.ref_count() as u32) >= GUP_PIN_COUNTING_BIAS as u32
}

impl PinScheme for Bias {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        grab_biased(self.memmap.head_page(folio), folio, refs, path)
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        put_biased(self.memmap.head_page(folio), folio, refs)
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        match self.memmap.folio(pfn) {
            Ok(folio) => biased_maybe_dma_pinned(self.memmap.head_page(folio)),
            Err(_) => false,
        }
    }

    fn pin_count(&self, _pfn: Pfn) -> Option<u32> {
        None
    }

    fn bytes_per_page(&self) -> usize {
        0
    }

    fn tracking_bytes(&self) -> usize {
        0
    }

    fn max_pins_per_page(&self) -> u32 {
        MAX_BIASED_PINS
    }

    fn exactness(&self) -> Exactness {
        Exactness::FalsePositives
    }
}
