//! The process whose pages are pinned: the parts of `struct mm_struct` and
//! its page tables that every gup call touches, shared by all threads of a
//! run as they are by all threads of a process.
//!
//! - `mm->flags` and MMF_HAS_PINNED: every FOLL_PIN call runs
//!   `mm_set_has_pinned_flag()` (mm/gup.c, v6.12: `gup_fast_fallback()` and
//!   `__get_user_pages_locked()`), once per call: `if (!test_bit())
//!   set_bit()`, a read of a line every pinning CPU shares. From
//!   008cfe4418b3 ("mm: Introduce mm_struct.has_pinned", v5.9-rc7) until
//!   292648ac5cf1 ("mm: gup: allow FOLL_PIN to scale in SMP", v5.14-rc1;
//!   the bit itself is a458b76a4171, same release) it was an unconditional
//!   `atomic_set(&mm->has_pinned, 1)` per call, which bounced that line
//!   between CPUs ([`HasPinnedWrite::Always`]): 292648ac5cf1's message
//!   measured `gup_test -a -m 512 -j 40` on 40 CPUs at 477,730 µs before
//!   and 89,145 µs after.
//! - `mm->mmap_lock`: the slow path runs under `mmap_read_lock()`, an
//!   rwsem whose reader fast path is `atomic_long_add_return_acquire(
//!   RWSEM_READER_BIAS, &sem->count)` plus a store of `sem->owner`, and
//!   whose `up_read()` is `atomic_long_add_return_release(-BIAS)`
//!   (kernel/locking/rwsem.c, v6.12): one cache line for every thread of
//!   the mm.
//! - page-table locks: the slow path looks each page up under its page
//!   table's lock: `pte_offset_map_lock()` in `follow_page_pte()` (split
//!   PTE locks: one per page-table page, i.e. per 512 pfns), `pmd_lock()`
//!   for a PMD-mapped folio (one per PMD table, 2^18 pfns) and the mm's
//!   `page_table_lock` for a PUD-mapped one.
//! - how each large folio is mapped: by one PMD/PUD leaf, or by PTEs (the
//!   state a THP is left in after a partial munmap, mremap or a failed
//!   collapse). gup-fast batches a folio's subpages into one grab only on
//!   the leaf paths (`record_subpages()`); a PTE-mapped folio is grabbed
//!   once per PTE (`gup_fast_pte_range()`).
//!
//! The model maps each pfn of the memmap once, at the address order of the
//! pfns; there are no PTE values, so gup-fast's PTE re-check after the
//! grab is not modelled (a load of a line the walk just read).

use crate::page::HPAGE_PMD_ORDER;
use crate::sync::{AtomicI64, AtomicU64, Ordering, SpinLock, SpinLockGuard};

/// `MMF_HAS_PINNED` (include/linux/sched/coredump.h, v6.12).
pub const MMF_HAS_PINNED: u32 = 27;

/// `RWSEM_READER_BIAS` (kernel/locking/rwsem.c).
const RWSEM_READER_BIAS: i64 = 1 << 8;
/// `RWSEM_READER_OWNED` in `sem->owner`.
const RWSEM_READER_OWNED: u64 = 1 << 0;
/// `RWSEM_NONSPINNABLE` in `sem->owner`, kept across owners.
const RWSEM_NONSPINNABLE: u64 = 1 << 1;

/// How a FOLL_PIN call records that the mm has pinned pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HasPinnedWrite {
    /// `if (!test_bit(MMF_HAS_PINNED)) set_bit(...)`: v5.14 (292648ac5cf1,
    /// a458b76a4171) and later; after the first call, a read only.
    #[default]
    TestThenSet,
    /// An unconditional write on every call: `atomic_set(&mm->has_pinned,
    /// 1)` from 008cfe4418b3 (v5.9-rc7) through v5.13.
    Always,
}

impl HasPinnedWrite {
    /// The option word: `test-then-set` or `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            HasPinnedWrite::TestThenSet => "test-then-set",
            HasPinnedWrite::Always => "always",
        }
    }

    /// The mode called `word`.
    pub fn from_word(word: &str) -> Option<Self> {
        [HasPinnedWrite::TestThenSet, HasPinnedWrite::Always]
            .into_iter()
            .find(|m| m.as_str() == word)
    }
}

/// `struct rw_semaphore`: count and owner share one cache line.
#[repr(C, align(64))]
#[derive(Default)]
struct RwSem {
    count: AtomicI64,
    owner: AtomicU64,
}

/// Holds `mmap_read_lock()`; `mmap_read_unlock()` on drop.
pub struct MmapReadGuard<'a>(&'a RwSem);

impl Drop for MmapReadGuard<'_> {
    fn drop(&mut self) {
        // Release: atomic_long_add_return_release() in __up_read().
        self.0.count.fetch_sub(RWSEM_READER_BIAS, Ordering::Release);
    }
}

/// A cache line of its own for `mm->flags`.
#[repr(align(64))]
#[derive(Default)]
struct MmFlags(AtomicU64);

/// The pinning process.
pub struct Mm {
    flags: MmFlags,
    has_pinned_write: HasPinnedWrite,
    mmap_lock: RwSem,
    /// Split PTE-table locks, one per 512 pfns.
    pte_ptl: Box<[SpinLock<()>]>,
    /// Split PMD-table locks, one per 2^18 pfns.
    pmd_ptl: Box<[SpinLock<()>]>,
    /// `mm->page_table_lock`, taken for PUD leaves.
    page_table_lock: SpinLock<()>,
    /// Per 512 pfns: mapped by PTEs even where a large folio would allow a
    /// leaf entry.
    pte_mapped: Box<[bool]>,
}

/// Pfns one page-table page of PTEs maps.
const PTRS_PER_PTE_SHIFT: u32 = HPAGE_PMD_ORDER as u32;
/// Pfns one PMD table maps.
const PMD_TABLE_SHIFT: u32 = 2 * HPAGE_PMD_ORDER as u32;

impl Mm {
    /// An mm mapping `nr_pages` pfns, all by PTEs until folios say otherwise.
    pub fn new(nr_pages: usize) -> Self {
        let tables = |shift: u32| (nr_pages >> shift) + 1;
        Self {
            flags: MmFlags::default(),
            has_pinned_write: HasPinnedWrite::default(),
            mmap_lock: RwSem::default(),
            pte_ptl: (0..tables(PTRS_PER_PTE_SHIFT))
                .map(|_| SpinLock::named("ptl", ()))
                .collect(),
            pmd_ptl: (0..tables(PMD_TABLE_SHIFT))
                .map(|_| SpinLock::named("pmd ptl", ()))
                .collect(),
            page_table_lock: SpinLock::named("page_table_lock", ()),
            pte_mapped: vec![false; tables(PTRS_PER_PTE_SHIFT)].into_boxed_slice(),
        }
    }

    /// Chooses how FOLL_PIN calls write MMF_HAS_PINNED.
    pub fn set_has_pinned_write(&mut self, mode: HasPinnedWrite) {
        self.has_pinned_write = mode;
    }

    /// How FOLL_PIN calls write MMF_HAS_PINNED.
    pub fn has_pinned_write(&self) -> HasPinnedWrite {
        self.has_pinned_write
    }

    /// `mm_set_has_pinned_flag(&mm->flags)`, once per FOLL_PIN call.
    #[inline]
    pub fn set_has_pinned(&self) {
        let bit = 1u64 << MMF_HAS_PINNED;
        match self.has_pinned_write {
            HasPinnedWrite::TestThenSet => {
                // Relaxed (both): test_bit() and set_bit() are unordered;
                // the bit is only ever set.
                if self.flags.0.load(Ordering::Relaxed) & bit == 0 {
                    self.flags.0.fetch_or(bit, Ordering::Relaxed);
                }
            }
            // Relaxed: atomic_set() is a plain store.
            HasPinnedWrite::Always => self.flags.0.store(bit, Ordering::Relaxed),
        }
    }

    /// MMF_HAS_PINNED is set.
    pub fn has_pinned(&self) -> bool {
        // Relaxed: test_bit().
        self.flags.0.load(Ordering::Relaxed) & (1 << MMF_HAS_PINNED) != 0
    }

    /// `mmap_read_lock()`: the reader fast path of `down_read()`.
    #[inline]
    pub fn mmap_read_lock(&self) -> MmapReadGuard<'_> {
        let sem = &self.mmap_lock;
        // Acquire: atomic_long_add_return_acquire() in rwsem_read_trylock().
        // No writer ever takes it in the model, so the fast path succeeds.
        sem.count.fetch_add(RWSEM_READER_BIAS, Ordering::Acquire);
        crate::census::acquired("mmap_lock (read)");
        // Relaxed (both): __rwsem_set_reader_owned() is atomic_long_read()
        // then atomic_long_set() (here without the task pointer).
        let owner = sem.owner.load(Ordering::Relaxed);
        sem.owner.store(
            (owner & RWSEM_NONSPINNABLE) | RWSEM_READER_OWNED,
            Ordering::Relaxed,
        );
        MmapReadGuard(sem)
    }

    /// Readers holding `mmap_lock` now.
    pub fn mmap_readers(&self) -> i64 {
        // Relaxed: a statistic for tests.
        self.mmap_lock.count.load(Ordering::Relaxed) / RWSEM_READER_BIAS
    }

    /// Maps the large folio at `head` of `order` by PTEs.
    pub(crate) fn map_by_ptes(&mut self, head: usize, order: u8) {
        let first = head >> PTRS_PER_PTE_SHIFT;
        let nr = ((1usize << order) >> PTRS_PER_PTE_SHIFT).max(1);
        for t in &mut self.pte_mapped[first..first + nr] {
            *t = true;
        }
    }

    /// The folio at `head` is mapped by PTEs, not by a leaf entry.
    #[inline]
    pub fn pte_mapped(&self, head: usize) -> bool {
        self.pte_mapped[head >> PTRS_PER_PTE_SHIFT]
    }

    /// The lock `follow_page_mask()` takes to look up `pfn` mapped at
    /// `level` (the folio's order if it is leaf-mapped, 0 if by PTEs).
    #[inline]
    pub fn ptl(&self, pfn: usize, level: u8) -> SpinLockGuard<'_, ()> {
        if level >= crate::page::HPAGE_PUD_ORDER {
            self.page_table_lock.lock()
        } else if level >= HPAGE_PMD_ORDER {
            self.pmd_ptl[pfn >> PMD_TABLE_SHIFT].lock()
        } else {
            self.pte_ptl[pfn >> PTRS_PER_PTE_SHIFT].lock()
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn has_pinned_is_set_once_or_always_written() {
        let mut mm = Mm::new(1024);
        assert!(!mm.has_pinned());
        mm.set_has_pinned();
        assert!(mm.has_pinned());
        mm.set_has_pinned_write(HasPinnedWrite::Always);
        mm.set_has_pinned();
        assert!(mm.has_pinned());
        assert_eq!(
            HasPinnedWrite::from_word("always"),
            Some(HasPinnedWrite::Always)
        );
        assert_eq!(HasPinnedWrite::from_word("sometimes"), None);
    }

    #[test]
    fn mmap_read_lock_counts_readers_until_dropped() {
        let mm = Mm::new(1);
        let a = mm.mmap_read_lock();
        let b = mm.mmap_read_lock();
        assert_eq!(mm.mmap_readers(), 2);
        drop((a, b));
        assert_eq!(mm.mmap_readers(), 0);
    }

    #[test]
    fn pte_mapping_covers_the_whole_folio() {
        let mut mm = Mm::new(4096);
        mm.map_by_ptes(1024, 10);
        assert!(!mm.pte_mapped(512));
        assert!(mm.pte_mapped(1024) && mm.pte_mapped(1536 + 511));
        assert!(!mm.pte_mapped(2048));
    }
}
