//! `memdesc`: where upstream is heading. `struct page` shrinks to one word
//! and every folio gets a separately allocated descriptor with an exact
//! pin count, whatever its order.
//!
//! Mirrors: Matthew Wilcox's memory-descriptor plan
//! (kernelnewbies.org/MatthewWilcox/Memdescs and …/Memdescs/Path; LWN
//! 974937, "Fleshing out memory descriptors", LSFMM 2024): "turn struct
//! page into `struct page { unsigned long memdesc; };`", a 4-bit type in
//! the low bits and a pointer above, the pointed-to descriptors "allocated
//! from a slab which has its alignment set to 16 bytes … TYPESAFE_BY_RCU".
//! David Hildenbrand, moving `_pincount` on 32-bit ("[PATCH v2 05/20] mm:
//! move _pincount in folio to page[2] on 32bit",
//! <20250224165603.1434404-6-david@redhat.com>, 31a31da8a618, v6.15): "Once
//! we dynamically allocate "struct folio" … even small folios could then
//! have a pincount and folio_has_pincount() would essentially always
//! return "true"." No code exists yet; this is that design, built the way
//! gup-fast would have to use it:
//! - per page: an 8-byte `memdesc` word, the type in bits 0-3 (1 file folio,
//!   2 anonymous folio: gup-fast accepts both), the descriptor's address
//!   above;
//! - per folio: a [`FolioDesc`] (the fields of today's `struct folio` that
//!   describe the folio as a whole, 80 bytes), allocated on the folio's
//!   node, holding `_refcount`, `_mapcount` and `_pincount`;
//! - gup-fast: load the page's memdesc word (READ_ONCE), check its type,
//!   `atomic_add_unless(&desc->_refcount, refs, 0)` (fully ordered), re-load
//!   the word and back off if it changed (the descriptor is type-safe by
//!   RCU: it may have been freed and reused for another folio since the
//!   first load), then `atomic_add(refs, &desc->_pincount)` and
//!   `smp_mb__after_atomic()` (the folio found from the word must hold the
//!   page, and the word re-read after the reference is the head page's, as
//!   `try_get_folio()` re-checks `page_folio(page)`); slow path:
//!   `desc->_refcount += refs` and the pincount add;
//! - unpin: `atomic_sub(refs, &desc->_pincount)`, then `folio_put_refs()`
//!   on the descriptor;
//! - `maybe_dma_pinned`: `desc->_pincount > 0`, exact at every order;
//!   ordinary `get`/`put` go to the descriptor's refcount;
//! - gup's `folio_set_referenced()` and the node of its vmstat counters
//!   use the descriptor's `flags` (no `struct page` line is written), the
//!   descriptor found again from the head's word where the kernel's walk
//!   holds the folio pointer.
//!
//! Memory: 8 bytes per page plus 80 per folio (a 4 KiB page: 88 bytes,
//! against today's 64; a 2 MiB folio: 8.2 bytes per page). The model keeps
//! its `struct page` array for the harness and the walk's page tables, and
//! counts the memdesc words and descriptors as the scheme's metadata, which
//! replaces `struct page` (`SchemeInfo::struct_page_bytes` is 0).
//! Exactness: exact for every order; no false positives at any reference
//! count.
//! Limits: the descriptor's i32 refcount, i32::MAX - 1 pins.
//! Not modelled: the slab allocator itself (descriptors are made once, when
//! the scheme is built over the memmap's folios, and never reused, so the
//! re-check never fails here; the loom model reuses one to check it), and
//! the other memdesc types (slab, page tables, ...).

use super::{Registered, SchemeInfo};
use crate::error::{BuildError, PinError};
use crate::memmap::{Folio, MemMap};
use crate::page::{pg, Pfn, RefCount};
use crate::scheme::{ref_error, refs_i32, Exactness, GupPath, PinScheme};
use crate::gup::Gup;
use crate::sync::{smp_mb__after_atomic, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = SchemeInfo {
    name: "memdesc",
    mirrors: "memdesc word per page, separately allocated folio with exact _pincount (Wilcox's plan)",
    source: "Matthew Wilcox's memory-descriptor plan (kernelnewbies Memdescs, LSFMM 2024): `struct page` reduced to an 8-byte `memdesc` word, `struct folio` allocated separately, type-safe by RCU, with an exact `_pincount` for every order (\"even small folios could then have a pincount\", David Hildenbrand, 31a31da8a618, v6.15)",
    exactness: Exactness::Exact,
    bytes_per_page: std::mem::size_of::<u64>(),
    struct_page_bytes: 0,
    max_pins_per_page: (i32::MAX - 1) as u32,
};

/// Memdesc type 1 (kernelnewbies Memdescs): a file folio (`struct folio`).
pub const MEMDESC_TYPE_FILE: u64 = 1;
/// Memdesc type 2: an anonymous folio (`struct anon_folio`), what gup
/// mostly pins; the model's pages are anonymous.
pub const MEMDESC_TYPE_ANON: u64 = 2;
const MEMDESC_TYPE_MASK: u64 = 0xf;

/// A separately allocated folio: the fields of today's `struct folio` that
/// describe the folio as a whole (flags, lru, mapping, index, private,
/// memcg_data, the mapcounts, the refcount, the pincount, the order).
#[repr(C, align(16))]
pub struct FolioDesc {
    /// `folio->flags`.
    pub flags: AtomicU64,
    lru: [AtomicU64; 2],
    mapping: AtomicU64,
    index: AtomicU64,
    private: AtomicU64,
    memcg_data: AtomicU64,
    /// `folio->_mapcount`.
    pub _mapcount: AtomicI32,
    /// `folio->_refcount`.
    pub _refcount: AtomicI32,
    _large_mapcount: AtomicI32,
    /// `folio->_pincount`, kept for every order.
    pub _pincount: AtomicI32,
    /// The folio's first pfn and order (`folio_pfn()`, `folio_order()`).
    head_and_order: AtomicU64,
}

impl FolioDesc {
    fn new(folio: Folio, nid: u32) -> Self {
        let z = || AtomicU64::new(0);
        Self {
            flags: AtomicU64::new(u64::from(nid) << pg::NODES_SHIFT),
            lru: [z(), z()],
            mapping: z(),
            index: z(),
            private: z(),
            memcg_data: z(),
            _mapcount: AtomicI32::new(0),
            _refcount: AtomicI32::new(1),
            _large_mapcount: AtomicI32::new(0),
            _pincount: AtomicI32::new(0),
            head_and_order: AtomicU64::new(((folio.head.0 as u64) << 8) | u64::from(folio.order)),
        }
    }

    /// The folio it describes.
    #[inline]
    pub fn folio(&self) -> Folio {
        // Relaxed: written before the descriptor is published.
        let v = self.head_and_order.load(Ordering::Relaxed);
        Folio {
            head: Pfn((v >> 8) as usize),
            order: (v & 0xff) as u8,
        }
    }
}

/// The memdesc scheme.
pub struct Memdesc {
    memmap: Arc<MemMap>,
    /// `page->memdesc`, one per pfn.
    memdesc: Box<[AtomicU64]>,
    /// The descriptors: a slab that never moves them.
    descs: Box<[FolioDesc]>,
}

impl Memdesc {
    /// Over `memmap`: one descriptor per folio the memmap has formed, one
    /// word per page pointing to it.
    pub fn try_new(memmap: Arc<MemMap>) -> Result<Self, std::collections::TryReserveError> {
        let n = memmap.nr_pages();
        let mut folios = Vec::new();
        let mut pfn = 0;
        while pfn < n {
            let folio = memmap.folio(Pfn(pfn)).unwrap_or(Folio {
                head: Pfn(pfn),
                order: 0,
            });
            folios.try_reserve(1)?;
            folios.push(folio);
            pfn = folio.head.0 + folio.nr_pages();
        }
        let mut descs = Vec::new();
        descs.try_reserve_exact(folios.len())?;
        descs.extend(
            folios
                .iter()
                .map(|&f| FolioDesc::new(f, memmap.nid(f.head).unwrap_or(0))),
        );
        let descs = descs.into_boxed_slice();
        let mut words = Vec::new();
        words.try_reserve_exact(n)?;
        for (d, f) in descs.iter().zip(&folios) {
            let word = (d as *const FolioDesc as u64) | MEMDESC_TYPE_ANON;
            words.extend((0..f.nr_pages()).map(|_| AtomicU64::new(word)));
        }
        Ok(Self {
            memmap,
            memdesc: words.into_boxed_slice(),
            descs,
        })
    }

    /// The descriptor a memdesc word points to, if it is a folio's. The
    /// address is turned back into an index into the slab, a subtraction
    /// and a multiply where the kernel dereferences the pointer, so no
    /// unsafe code is needed.
    #[inline]
    fn desc_of(&self, word: u64) -> Option<&FolioDesc> {
        // gup pins file and anonymous folios alike: two types to accept.
        let kind = word & MEMDESC_TYPE_MASK;
        if kind != MEMDESC_TYPE_ANON && kind != MEMDESC_TYPE_FILE {
            return None;
        }
        let base = self.descs.as_ptr() as u64;
        let offset = (word & !MEMDESC_TYPE_MASK).checked_sub(base)?;
        self.descs
            .get((offset / std::mem::size_of::<FolioDesc>() as u64) as usize)
    }

    /// `page->memdesc` of `pfn`.
    #[inline]
    fn word(&self, pfn: Pfn) -> Option<u64> {
        // Relaxed: READ_ONCE(); the re-check after the grab validates it.
        self.memdesc.get(pfn.0).map(|w| w.load(Ordering::Relaxed))
    }

    /// The descriptor of `pfn`'s folio.
    #[inline]
    fn desc(&self, pfn: Pfn) -> Option<&FolioDesc> {
        self.desc_of(self.word(pfn)?)
    }

    /// `folio_put()` of `pfn`'s order-0 folio, and, if that was the last
    /// reference, what a TYPESAFE_BY_RCU slab allows next: the folio is
    /// freed (`pfn`'s word cleared) and its descriptor reused for a new
    /// folio at `new_pfn`. True if the descriptor was reused. The model's
    /// stand-in for the allocator, for the loom model of gup-fast's re-check.
    pub fn put_and_reuse(&self, pfn: Pfn, new_pfn: Pfn) -> bool {
        let (Some(word), true) = (self.word(pfn), new_pfn.0 < self.memdesc.len()) else {
            return false;
        };
        let Some(desc) = self.desc_of(word) else {
            return false;
        };
        if RefCount(&desc._refcount).put(1) != 0 {
            return false;
        }
        // Release (all three stores): the new folio's identity is published
        // by its refcount going from 0 to 1, which a speculative
        // try_get reads with a fully ordered cmpxchg; whoever then re-reads
        // a memdesc word sees these.
        self.memdesc[pfn.0].store(0, Ordering::Release);
        desc.head_and_order
            .store((new_pfn.0 as u64) << 8, Ordering::Release);
        desc._refcount.store(1, Ordering::Release);
        self.memdesc[new_pfn.0].store(word, Ordering::Release);
        true
    }
}

impl Registered for Memdesc {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Self::try_new(memmap).map_err(|e| BuildError::Alloc(INFO.name, e))
    }
}

/// gup's entry points as they are.
impl Gup for Memdesc {}

impl PinScheme for Memdesc {
    fn info(&self) -> &'static SchemeInfo {
        &INFO
    }

    fn memmap(&self) -> &MemMap {
        &self.memmap
    }

    /// `page_folio()` through the memdesc word. A descriptor that no longer
    /// describes a folio holding `pfn` was freed and reused since the word
    /// was read: no folio (the caller retries or fails, as gup-fast does).
    #[inline]
    fn folio(&self, pfn: Pfn) -> Result<Folio, PinError> {
        let folio = self.desc(pfn).map(FolioDesc::folio).ok_or(PinError::NoPage(pfn))?;
        if !folio.contains(pfn) {
            return Err(PinError::NotLive { pfn, refcount: 0 });
        }
        Ok(folio)
    }

    #[inline]
    fn grab_folio(&self, folio: Folio, refs: u32, path: GupPath) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        let word = self.word(folio.head).ok_or(PinError::NoPage(folio.head))?;
        let desc = self.desc_of(word).ok_or(PinError::NoPage(folio.head))?;
        let refcount = RefCount(&desc._refcount);
        match path {
            GupPath::Fast => {
                refcount.try_add(nr).map_err(|e| ref_error(folio, refs, e))?;
                // The descriptor may have been reused since the first load.
                if self.word(folio.head) != Some(word) {
                    refcount.put(nr);
                    return Err(PinError::NotLive {
                        pfn: folio.head,
                        refcount: 0,
                    });
                }
            }
            GupPath::Slow => {
                refcount.add_live(nr).map_err(|e| ref_error(folio, refs, e))?;
            }
        }
        // Relaxed: atomic_add(); ordered by the barrier on the fast path.
        desc._pincount.fetch_add(nr, Ordering::Relaxed);
        if path == GupPath::Fast {
            smp_mb__after_atomic();
        }
        Ok(())
    }

    #[inline]
    fn put_folio(&self, folio: Folio, refs: u32) -> Result<(), PinError> {
        let nr = refs_i32(folio, refs, 1)?;
        let desc = self.desc(folio.head).ok_or(PinError::NoPage(folio.head))?;
        // Relaxed: an unordered, checked atomic_sub(); folio_put_refs()
        // after it is fully ordered.
        desc._pincount
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                c.checked_sub(nr).filter(|&v| v >= 0)
            })
            .map_err(|_| PinError::NotPinned(folio.head))?;
        RefCount(&desc._refcount).put(nr);
        Ok(())
    }

    #[inline]
    fn maybe_dma_pinned(&self, pfn: Pfn) -> bool {
        self.pin_count(pfn).is_some_and(|c| c > 0)
    }

    #[inline]
    fn pin_count(&self, pfn: Pfn) -> Option<u32> {
        // Relaxed: atomic_read().
        self.desc(pfn)
            .map(|d| d._pincount.load(Ordering::Relaxed) as u32)
    }

    /// `set_bit(PG_referenced)` on the descriptor's flags, where a memdesc
    /// kernel keeps them (no `struct page` line is written). Finding the
    /// descriptor again from the head's word is the model's: the kernel
    /// walk holds the folio pointer.
    #[inline]
    fn folio_set_referenced(&self, folio: Folio) {
        if let Some(d) = self.desc(folio.head) {
            // Relaxed: set_bit() is an unordered RMW.
            d.flags.fetch_or(pg::REFERENCED, Ordering::Relaxed);
        }
    }

    #[inline]
    fn folio_test_referenced(&self, folio: Folio) -> bool {
        // Relaxed: test_bit().
        self.desc(folio.head)
            .is_some_and(|d| d.flags.load(Ordering::Relaxed) & pg::REFERENCED != 0)
    }

    /// The node in the descriptor's flags.
    #[inline]
    fn folio_nid(&self, folio: Folio) -> usize {
        // Relaxed: written before the descriptor is published.
        self.desc(folio.head)
            .map_or(0, |d| (d.flags.load(Ordering::Relaxed) >> pg::NODES_SHIFT) as usize)
    }

    /// The descriptor's `_refcount`.
    #[inline]
    fn refcount(&self, folio: Folio) -> Result<RefCount<'_>, PinError> {
        let desc = self.desc(folio.head).ok_or(PinError::NoPage(folio.head))?;
        Ok(RefCount(&desc._refcount))
    }

    /// The folio descriptors (the memdesc words are `bytes_per_page`).
    fn census_regions(&self) -> Vec<crate::census::Region> {
        use crate::census::{Kind, Region, OTHER};
        vec![
            Region::of(&*self.memdesc, Kind::Named(OTHER)),
            Region::of(&*self.descs, Kind::Named(OTHER)),
        ]
    }

    fn tracking_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.descs)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_is_80_bytes_in_16_byte_slab_slots() {
        assert_eq!(std::mem::size_of::<FolioDesc>(), 80);
        assert_eq!(std::mem::align_of::<FolioDesc>(), 16);
    }

    #[test]
    fn every_page_points_to_its_folios_descriptor() {
        let mut mm = MemMap::with_pages(1024).expect("memmap");
        mm.make_folio(Pfn(512), 9).expect("thp");
        let s = Memdesc::try_new(Arc::new(mm)).expect("scheme");
        assert_eq!(s.descs.len(), 512 + 1);
        let thp = s.folio(Pfn(700)).expect("folio");
        assert_eq!((thp.head, thp.order), (Pfn(512), 9));
        assert_eq!(s.folio(Pfn(3)).expect("folio").head, Pfn(3));
        assert_eq!(s.folio(Pfn(1024)), Err(PinError::NoPage(Pfn(1024))));
        assert_eq!(s.tracking_bytes(), 513 * 80);
        // A word of another type is no folio's.
        s.memdesc[5].store(0x4, Ordering::Relaxed); // type 4: slab
        assert!(s.folio(Pfn(5)).is_err() && s.pin(Pfn(5), GupPath::Fast).is_err());
    }

    #[test]
    fn the_walk_marks_and_counts_through_the_descriptor_not_struct_page() {
        let mm = MemMap::with_pages(64).expect("memmap");
        let s = Memdesc::try_new(Arc::new(mm)).expect("scheme");
        let pfns: Vec<Pfn> = (8..16).map(Pfn).collect();
        s.pin_pages(&pfns, GupPath::Fast).expect("pin");
        s.pin_pages(&[Pfn(20)], GupPath::Slow).expect("slow pin");
        for &p in pfns.iter().chain([&Pfn(20)]) {
            let folio = s.folio(p).expect("folio");
            assert!(s.folio_test_referenced(folio), "pfn {p}: descriptor marked");
            let page = s.memmap.head_page(folio).flags.load(Ordering::Relaxed);
            assert_eq!(page & pg::REFERENCED, 0, "pfn {p}: struct page untouched");
            assert_eq!(s.folio_nid(folio), 0);
        }
        let acquired = s
            .memmap
            .vmstat()
            .global_exact(crate::vmstat::NodeStatItem::FollPinAcquired);
        assert_eq!(acquired, 9);
    }
}
