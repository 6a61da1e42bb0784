//! `pin-workloads`: what each thread of a cell does, one file each, in the manner of
//! will-it-scale's `tests/*.c`: a description, how the memmap is laid out,
//! and the operation. The runner owns threads, affinity, clocks, warm-up
//! and repetitions; a workload never names a scheme (it is generic over
//! `S: Gup + ?Sized`, so the per-page calls inside a batch are
//! statically dispatched when the runner hands it a concrete scheme).
//!
//! Memmap layout for a cell: `shared_pages` pfns first (hot pages every
//! thread touches), then one region of `per_thread` pfns per thread, each
//! region made of folios of `order`.

#[macro_use]
mod registry;

mod kit;
mod worker;

pub use kit::{Cursor, SetupError};
pub use registry::{Info, Sizes};
pub use worker::{Idle, Tally, Worker};

use pin_schemes::{Gup, Pfn};
use std::ops::Range;

/// How a cell's memmap is laid out and how many pages one call covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Pfns shared by every thread, at the start of the memmap.
    pub shared_pages: usize,
    /// Pfns of each thread's own region (a multiple of `2^order`).
    pub per_thread: usize,
    /// Order of the folios each region is made of.
    pub order: u8,
    /// Pages one batch call covers.
    pub pages_per_call: usize,
}

impl Layout {
    /// Pages of the memmap for `threads` threads.
    pub fn nr_pages(&self, threads: usize) -> usize {
        self.shared_pages + threads * self.per_thread
    }

    /// Thread `t`'s region.
    pub fn region(&self, t: usize) -> Range<usize> {
        let start = self.shared_pages + t * self.per_thread;
        start..start + self.per_thread
    }
}

/// What one thread is given: its index, the cell's layout and thread count.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// Thread index, 0-based.
    pub index: usize,
    /// Threads in the cell.
    pub threads: usize,
    /// The cell's memmap layout.
    pub layout: Layout,
}

impl Slot {
    /// This thread's own pfns.
    pub fn region(&self) -> Range<usize> {
        self.layout.region(self.index)
    }

    /// Pfns of the shared hot pages.
    pub fn shared(&self) -> Range<usize> {
        0..self.layout.shared_pages
    }

    /// Pages of the whole memmap.
    pub fn nr_pages(&self) -> usize {
        self.layout.nr_pages(self.threads)
    }

    /// This thread's region as a pfn array.
    pub fn region_pfns(&self) -> Vec<Pfn> {
        self.region().map(Pfn).collect()
    }
}

// Every workload, one line each: the variant and its file. Adding a
// workload is one new file (its `INFO`, `layout` and `worker`) plus one
// line here; the enum, `WORKLOADS` and the dispatch come from this list.
workloads! {
    Private => private,
    Shared => shared,
    Huge => huge,
    PteThp => pte_thp,
    Mixed => mixed,
    Refstorm => refstorm,
    Overflow => overflow,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_schemes::{MemMap, SCHEMES};
    use std::sync::Arc;

    /// The isolation round's verdict, from what the scheme shows of itself:
    /// a tracking scheme never reads an isolated, pinned page as unpinned;
    /// a scheme whose pin takes the page off its LRU (so owns its `lru`
    /// words) loses the isolator's list, no other does.
    fn check_isolation(scheme: &dyn Gup, t: &Tally, what: &str) {
        let i = t.isolation.expect("mixed runs an isolation round");
        assert_eq!(i.isolated, 2 * mixed::ISOLATE_BATCH as u64, "{what}");
        let tracks = scheme.exactness() != pin_schemes::Exactness::Blind;
        assert_eq!(
            i.false_negatives,
            if tracks { 0 } else { i.isolated },
            "{what}"
        );
        let fresh = Pfn(scheme.memmap().nr_pages() - 1);
        scheme.pin(fresh, pin_schemes::GupPath::Fast).expect("pin");
        let page = scheme.memmap().page(fresh).expect("page");
        let owns_lru = page.flags() & pin_schemes::page::pg::LRU == 0;
        scheme.unpin(fresh).expect("unpin");
        let lost = if owns_lru { i.isolated } else { 0 };
        assert_eq!(i.lru_lost, lost, "{what}");
    }

    /// A name is one workload's: `from_name` would find only the first.
    #[test]
    fn every_workload_has_a_name_of_its_own() {
        for (i, w) in WORKLOADS.iter().enumerate() {
            assert_eq!(Workload::from_name(w.name()), Some(*w));
            assert!(WORKLOADS[i + 1..].iter().all(|o| o.name() != w.name()));
        }
    }

    /// Runs every workload's worker a few batches on every scheme, two
    /// threads' worth of slots on one thread, and checks the memmap is left
    /// with every page back at refcount 1 and nothing pinned.
    #[test]
    fn every_workload_leaves_every_scheme_clean() {
        for info in SCHEMES {
            for &w in WORKLOADS {
                for &order in w.orders() {
                    if order > 9 {
                        continue; // 1 GiB folios: covered by the runner's test
                    }
                    let layout = w.layout(order, 2048, 64);
                    let mut mm = MemMap::with_pages(layout.nr_pages(2)).expect("memmap");
                    for t in 0..2 {
                        for head in layout.region(t).step_by(1 << order) {
                            if w.pte_mapped() {
                                mm.make_pte_mapped_folio(Pfn(head), order).expect("folio");
                            } else if order > 0 {
                                mm.make_folio(Pfn(head), order).expect("folio");
                            }
                        }
                    }
                    let mm = Arc::new(mm);
                    let scheme = pin_schemes::build(info.name, Arc::clone(&mm)).expect("scheme");
                    let mut workers: Vec<_> = (0..2)
                        .map(|index| {
                            let slot = Slot {
                                index,
                                threads: 2,
                                layout,
                            };
                            w.worker(&*scheme, &slot).expect("setup")
                        })
                        .collect();
                    for _ in 0..3 {
                        for wk in &mut workers {
                            assert!(wk.batch() > 0, "{} {}", info.name, w.name());
                        }
                    }
                    let tallies: Vec<Tally> = workers.into_iter().map(|wk| wk.finish()).collect();
                    let what = format!("{} / {} / order {order}", info.name, w.name());
                    // Pages put back wait in per-CPU pagevecs (`flag`).
                    pin_schemes::lru_add::lru_add_drain_all(&mm);
                    for pfn in 0..mm.nr_pages() {
                        let folio = mm.folio(Pfn(pfn)).expect("pfn");
                        if folio.head == Pfn(pfn) {
                            assert_eq!(scheme.ref_count(Pfn(pfn)), Some(1), "{what}: pfn {pfn}");
                        }
                        assert!(!scheme.maybe_dma_pinned(Pfn(pfn)), "{what}: pfn {pfn}");
                    }
                    let t = Tally::merge_all(&tallies);
                    match w {
                        Workload::Overflow => {
                            assert_eq!(
                                t.max_pins,
                                Some(u64::from(scheme.max_pins_per_page())),
                                "{what}"
                            );
                            assert!(t.refused > 0, "{what}");
                        }
                        Workload::Mixed => {
                            assert_eq!(t.refused, 0, "{what}");
                            check_isolation(&*scheme, &t, &what);
                        }
                        _ => assert_eq!(t.refused, 0, "{what}"),
                    }
                }
            }
        }
    }
}
