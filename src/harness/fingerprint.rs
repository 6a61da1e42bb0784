//! The machine's state, taken at the start and the end of every run: a
//! short paired measurement, on one thread over 4096 pages, of a CAS-loop
//! get and put of `_refcount` (the shape of `folio_try_get()`: load, then
//! `compare_exchange` from a non-zero count) against the floor's locked add.
//!
//! Pairing cancels drift, not the machine's state: an hour apart on a shared
//! 2-core VM the same pair read 1.145 and then 1.07 to 1.095, as if the
//! host's load outside the VM (an SMT sibling) changed how a locked CAS
//! compares with a locked add. Runs whose fingerprints differ were made in
//! different states; `summary`, `compare` and the report say so.
//!
//! A second fingerprint is memory-bound ([`take_loads`]): a chain of
//! dependent loads through a 16 MiB memmap (past the L2 of both CPU types
//! these VMs come as), paired with the floor over the same memmap. A
//! state that slows memory more than locked adds moves the subjects that
//! chase pointers (side trees, memdesc's folios, `huge` order 18) and
//! leaves a locked-add yardstick where it was.

use super::calibration::Floor;
use super::paired::{run_paired, Params, Shape};
use super::record::pairs;
use pin_results::Estimate;
use pin_schemes::{MemMap, Pfn};
use pin_workloads::{Cursor, Slot, Tally, Worker, Workload};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Pages the fingerprint walks (256 KiB of `struct page`: cache-resident).
const PAGES: usize = 4096;
/// Pages per call.
const PER_CALL: usize = 512;
/// Rounds measured, and their slices.
const ROUNDS: usize = 40;
const SLICE: Duration = Duration::from_millis(2);

/// A CAS-loop get, then a put, of each page of a batch.
struct CasGet<'a> {
    memmap: &'a MemMap,
    pfns: Vec<Pfn>,
    cursor: Cursor,
}

impl Worker for CasGet<'_> {
    fn batch(&mut self) -> u64 {
        let (start, end, _) = self.cursor.next_window();
        let pages = self.memmap.pages();
        for pfn in &self.pfns[start..end] {
            let count = &pages[pfn.0]._refcount;
            // Relaxed load, then the CAS: folio_ref_try_add() is
            // atomic_add_unless(), a fully ordered cmpxchg loop.
            let mut old = count.load(Ordering::Relaxed);
            while old != 0 {
                match count.compare_exchange_weak(old, old + 1, Ordering::SeqCst, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(now) => old = now,
                }
            }
        }
        for pfn in &self.pfns[start..end] {
            // Release: a put publishes what the holder did with the page.
            pages[pfn.0]._refcount.fetch_sub(1, Ordering::Release);
        }
        (end - start) as u64
    }

    fn finish(self: Box<Self>) -> Tally {
        Tally::default()
    }
}

/// Pages of the memory-bound fingerprint's memmap: 16 MiB of `struct page`.
const LOAD_PAGES: usize = 1 << 18;
/// Its chain's step, in pages: odd, so the chain visits every page of a
/// power-of-two memmap; 256 KiB apart, past any stride prefetcher's reach.
const LOAD_STRIDE: usize = 4099;

/// A chain of dependent loads: each page's `private` holds the next pfn.
struct LoadChain<'a> {
    memmap: &'a MemMap,
    pfn: usize,
}

impl Worker for LoadChain<'_> {
    fn batch(&mut self) -> u64 {
        let pages = self.memmap.pages();
        for _ in 0..PER_CALL {
            // Relaxed: a plain load; the next address depends on it, so
            // the loads cannot overlap.
            self.pfn = pages[self.pfn].private.load(Ordering::Relaxed) as usize;
        }
        PER_CALL as u64
    }

    fn finish(self: Box<Self>) -> Tally {
        Tally::default()
    }
}

/// Takes the fingerprint on the calling thread's CPU: ~0.2 s. `None` when
/// the memmap cannot be had or the thread panicked.
pub fn take(cpu: usize) -> Option<Estimate> {
    let layout = Workload::Private.layout(0, PAGES, PER_CALL);
    let memmap = MemMap::with_pages(layout.nr_pages(1)).ok()?;
    let subject = |slot: &Slot| -> Box<dyn Worker + '_> {
        Box::new(CasGet {
            memmap: &memmap,
            pfns: slot.region_pfns(),
            cursor: Cursor::new(PAGES, PER_CALL),
        })
    };
    paired(cpu, &memmap, layout, subject)
}

/// The memory-bound fingerprint on the calling thread's CPU: the load
/// chain against the floor over a 16 MiB memmap, ~0.2 s.
pub fn take_loads(cpu: usize) -> Option<Estimate> {
    let layout = Workload::Private.layout(0, LOAD_PAGES, PER_CALL);
    let memmap = MemMap::with_pages(layout.nr_pages(1)).ok()?;
    let n = memmap.pages().len();
    for (pfn, page) in memmap.pages().iter().enumerate() {
        // Relaxed: written before the memmap is shared with the thread.
        page.private
            .store(((pfn + LOAD_STRIDE) % n) as u64, Ordering::Relaxed);
    }
    let subject = |_: &Slot| -> Box<dyn Worker + '_> {
        Box::new(LoadChain {
            memmap: &memmap,
            pfn: 0,
        })
    };
    paired(cpu, &memmap, layout, subject)
}

/// `subject` paired with the floor over `memmap`, one thread on `cpu`.
fn paired<'m>(
    cpu: usize,
    memmap: &MemMap,
    layout: pin_workloads::Layout,
    subject: impl Fn(&Slot) -> Box<dyn Worker + 'm> + Sync,
) -> Option<Estimate> {
    let slot = Slot {
        index: 0,
        threads: 1,
        layout,
    };
    let params = Params {
        warmup: 2,
        pairs: ROUNDS,
        slice: SLICE,
        counters: crate::metrics::counters::Availability {
            hardware: Err("not used".into()),
            software: Err("not used".into()),
        },
    };
    let shape = Shape {
        threads: 1,
        cpus: &[cpu],
        solo: false,
    };
    let out = run_paired(
        shape,
        &params,
        |_| subject(&slot),
        |_| -> Box<dyn Worker> { Box::new(Floor::new(memmap, &slot)) },
    )
    .ok()?;
    Estimate::of(&pairs(&out).x_floor())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprints_are_paired_estimates_of_every_round() {
        let cpu = crate::machine::numa::allowed_cpus().expect("affinity")[0];
        for e in [take(cpu), take_loads(cpu)] {
            let e = e.expect("fingerprint");
            assert_eq!(e.n, ROUNDS);
            assert!(e.median.is_finite() && e.median > 0.0, "{e:?}");
            assert!(e.ci_low <= e.median && e.median <= e.ci_high, "{e:?}");
        }
    }

    #[test]
    fn the_load_chain_visits_every_page() {
        let n = LOAD_PAGES;
        let (mut pfn, mut seen) = (0, vec![false; n]);
        for _ in 0..n {
            assert!(!seen[pfn], "pfn {pfn} twice");
            seen[pfn] = true;
            pfn = (pfn + LOAD_STRIDE) % n;
        }
        assert_eq!(pfn, 0);
    }
}
