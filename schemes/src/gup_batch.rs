//! The gup walk for a side structure that records pins in batches, as a
//! kernel patch putting pins in a locked tree would: one lock and, on the
//! fast path, one barrier per page table's worth of entries instead of one
//! per page.
//!
//! Pin (`pin_user_pages{,_fast}()`): the walk is [`crate::gup`]'s, with
//! its per-call costs (the mm flag, the call's read-side section,
//! `mmap_read_lock()` on the slow path), but a folio run's grab is split:
//! - per run, what gup does per PTE or leaf: the reference
//!   (`try_get_folio()` on the fast path; on the slow path the
//!   `folio_ref_add()` under the PTE table's lock, with
//!   `mark_page_accessed()`), and on the fast path `folio_set_referenced()`;
//! - per batch (the runs of one PTE table, i.e. one `gup_fast_pte_range()`
//!   or one PMD/PUD leaf, at most [`BATCH`] runs): the scheme records every
//!   run under one lock ([`BatchedRecord::record_runs`]); on the fast path
//!   one `smp_mb()` then orders the records before the PTE re-checks, which
//!   move from each entry to the end of the batch (the model has no page
//!   tables; `tests/loom.rs` checks the batched order against an unsharer);
//!   then, per run, `node_stat_mod_folio(NR_FOLL_PIN_ACQUIRED)`.
//!
//! A record that cannot allocate fails its run and the runs after it in
//! the batch (their references are dropped); on the fast path gup then
//! goes on with those runs on the slow path or fails the call, as
//! `--on-alloc-fail` says, as [`crate::gup`] does per run.
//!
//! Unpin (`unpin_user_pages()`): the runs of the array (adjacent entries of
//! one folio, found as `gup_folio_next()` finds them), up to [`BATCH`] at a
//! time, have their records dropped under one lock per run of same-node
//! folios ([`BatchedRecord::unrecord_runs`]); after the unlock, per run,
//! `node_stat_mod_folio(NR_FOLL_PIN_RELEASED)` and `folio_put_refs()`.

use crate::error::{BatchPinError, PinError};
use crate::gup::{fall_back, leaf_order, mark_page_accessed, node_stat_mod_folio, FolioRuns};
use crate::memmap::Folio;
use crate::page::{Pfn, HPAGE_PMD_ORDER};
use crate::scheme::{grab_refs, refs_i32, GupPath, PinScheme};
use crate::sync::smp_mb;
use crate::vmstat::NodeStatItem;
use arrayvec::ArrayVec;

/// Runs one batch holds at most: a PTE table's entries (`PTRS_PER_PTE`).
pub const BATCH: usize = 1 << HPAGE_PMD_ORDER;

/// One run of entries of one folio, its references held.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Index of the run's first entry in the caller's array.
    pub index: usize,
    /// The folio.
    pub folio: Folio,
    /// Entries (subpages) in the run: pins to record.
    pub nr: u32,
}

/// A side structure that records the pins of many runs under one lock.
pub trait BatchedRecord: PinScheme {
    /// Records `runs`' pins, under one lock per run of same-node folios.
    /// At the first run it cannot record (a node allocation failed), stops
    /// and returns that run's position in `runs` and the cause; the runs
    /// before it are recorded.
    fn record_runs(&self, runs: &[Run], path: GupPath) -> Result<(), (usize, PinError)>;

    /// Drops `runs`' pins from the record, under one lock per run of
    /// same-node folios. At the first run that was not pinned, stops and
    /// returns its position and the cause; the runs before it are dropped.
    fn unrecord_runs(&self, runs: &[Run]) -> Result<(), (usize, PinError)>;
}

/// The walk's state across batches: the path, and `mmap_read_lock()` once
/// on the slow path.
struct Walk<'a, S: ?Sized> {
    s: &'a S,
    pfns: &'a [Pfn],
    path: GupPath,
    _mmap_lock: Option<crate::mm::MmapReadGuard<'a>>,
}

/// `pin_user_pages{,_fast}()` of `pfns` with batched records; on a refused
/// entry, releases what the call took.
pub fn pin_user_pages<S: BatchedRecord + ?Sized>(
    s: &S,
    pfns: &[Pfn],
    path: GupPath,
) -> Result<usize, BatchPinError> {
    let memmap = s.memmap();
    memmap.mm().set_has_pinned();
    let _rcu = s.rcu_read_lock();
    let mut walk = Walk {
        s,
        pfns,
        path,
        _mmap_lock: (path == GupPath::Slow).then(|| memmap.mm().mmap_read_lock()),
    };
    let mut batch = ArrayVec::<Run, BATCH>::new();
    let mut runs = FolioRuns::pin(s, pfns);
    loop {
        let next = runs.next();
        let table_ends = match &next {
            Some(Ok((index, _, _))) => {
                batch.is_full()
                    || batch
                        .first()
                        .is_some_and(|b| table(pfns[b.index]) != table(pfns[*index]))
            }
            _ => true,
        };
        if table_ends && !batch.is_empty() {
            if let Err((e, recorded)) = walk.record(&batch) {
                return Err(walk.fail_at(e, recorded));
            }
            batch.clear();
        }
        let (index, folio, nr) = match next {
            None => return Ok(pfns.len()),
            Some(Err(e)) => return Err(walk.fail(e, &batch)),
            Some(Ok(run)) => run,
        };
        let run = Run {
            index,
            folio,
            nr: nr as u32,
        };
        if let Err(cause) = walk.grab(run) {
            return Err(walk.fail(BatchPinError { index, cause }, &batch));
        }
        batch.push(run);
    }
}

/// The PTE table (or leaf) an entry is mapped through: the model maps
/// pfns at the addresses of the same number, as its page-table locks do.
#[inline(always)]
fn table(pfn: Pfn) -> usize {
    pfn.0 >> HPAGE_PMD_ORDER
}

impl<S: BatchedRecord + ?Sized> Walk<'_, S> {
    /// A run's part of the walk before the record: its references.
    #[inline(always)]
    fn grab(&self, run: Run) -> Result<(), PinError> {
        let memmap = self.s.memmap();
        match self.path {
            GupPath::Fast => {
                grab_refs(memmap, run.folio, run.nr, GupPath::Fast)?;
                self.s.folio_set_referenced(run.folio);
            }
            GupPath::Slow => {
                let first = self.pfns[run.index];
                let leaf = leaf_order(memmap, run.folio);
                {
                    let _ptl = memmap.mm().ptl(first.0, leaf.unwrap_or(0));
                    grab_refs(memmap, run.folio, 1, GupPath::Slow)?;
                    if leaf.is_none() {
                        mark_page_accessed(self.s, run.folio);
                    }
                }
                if run.nr > 1 {
                    if let Err(e) = grab_refs(memmap, run.folio, run.nr - 1, GupPath::Slow) {
                        drop_refs(self.s, run.folio, 1);
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Records `batch` (references held), then the barrier and the
    /// accounting. A run that cannot be recorded is retried with the rest
    /// on the slow path where gup falls back; otherwise its reference and
    /// those of the runs after it are dropped and the error names it, with
    /// the index of the first entry not recorded.
    fn record(&mut self, batch: &[Run]) -> Result<(), (BatchPinError, usize)> {
        let mut from = 0;
        loop {
            let rest = &batch[from..];
            let r = self.s.record_runs(rest, self.path);
            let done = r.as_ref().err().map_or(rest.len(), |(k, _)| *k);
            if self.path == GupPath::Fast {
                smp_mb();
            }
            for run in &rest[..done] {
                node_stat_mod_folio(self.s, run.folio, NodeStatItem::FollPinAcquired, run.nr);
            }
            let Err((k, cause)) = r else {
                return Ok(());
            };
            for run in &rest[k..] {
                drop_refs(self.s, run.folio, run.nr);
            }
            let memmap = self.s.memmap();
            let failed = BatchPinError {
                index: rest[k].index,
                cause,
            };
            if !(self.path == GupPath::Fast
                && matches!(cause, PinError::NoMemory(_))
                && fall_back(memmap))
            {
                return Err((failed, rest[k].index));
            }
            // gup_fast_fallback(): the rest on the slow path.
            self.path = GupPath::Slow;
            self._mmap_lock = Some(memmap.mm().mmap_read_lock());
            for (i, run) in rest[k..].iter().enumerate() {
                if let Err(cause) = self.grab(*run) {
                    for held in &rest[k..k + i] {
                        drop_refs(self.s, held.folio, held.nr);
                    }
                    let e = BatchPinError {
                        index: run.index,
                        cause,
                    };
                    return Err((e, rest[k].index));
                }
            }
            from += k;
        }
    }

    /// The call fails at `e`: drops the references of `held` (grabbed, not
    /// recorded) and releases every entry recorded before them.
    #[cold]
    fn fail(&self, e: BatchPinError, held: &[Run]) -> BatchPinError {
        for run in held {
            drop_refs(self.s, run.folio, run.nr);
        }
        let recorded = held.first().map_or(e.index, |r| r.index);
        self.fail_at(e, recorded)
    }

    /// The call fails at `e`, the entries before `recorded` pinned.
    #[cold]
    fn fail_at(&self, e: BatchPinError, recorded: usize) -> BatchPinError {
        if matches!(e.cause, PinError::NoMemory(_)) {
            self.s.memmap().failslab().count_failed_pin();
        }
        // Entries before `recorded` were pinned by this call and are valid.
        let _ = unpin_user_pages(self.s, &self.pfns[..recorded]);
        e
    }
}

/// Drops `nr` references taken for a pin that was not recorded.
#[inline]
fn drop_refs<S: PinScheme + ?Sized>(s: &S, folio: Folio, nr: u32) {
    if let Ok(nr) = refs_i32(folio, nr, 1) {
        s.memmap().head_page(folio).put_refs(nr);
    }
}

/// `unpin_user_pages()` with batched record drops. Stops at the first
/// error, the runs before it released.
pub fn unpin_user_pages<S: BatchedRecord + ?Sized>(s: &S, pfns: &[Pfn]) -> Result<(), PinError> {
    let _rcu = s.rcu_read_lock();
    let mut batch = ArrayVec::<Run, BATCH>::new();
    for run in FolioRuns::unpin(s, pfns) {
        let (index, folio, nr) = match run {
            Ok(run) => run,
            Err(e) => {
                release(s, &batch)?;
                return Err(e.cause);
            }
        };
        if batch.is_full() {
            release(s, &batch)?;
            batch.clear();
        }
        batch.push(Run {
            index,
            folio,
            nr: nr as u32,
        });
    }
    release(s, &batch)
}

/// One batch of `unpin_user_pages()`: the records, then per run the
/// accounting and `folio_put_refs()`.
#[inline]
fn release<S: BatchedRecord + ?Sized>(s: &S, batch: &[Run]) -> Result<(), PinError> {
    let r = s.unrecord_runs(batch);
    let done = r.as_ref().err().map_or(batch.len(), |(k, _)| *k);
    for run in &batch[..done] {
        node_stat_mod_folio(s, run.folio, NodeStatItem::FollPinReleased, run.nr);
        drop_refs(s, run.folio, run.nr);
    }
    r.map_err(|(_, cause)| cause)
}
