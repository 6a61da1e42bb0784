//! The census pass of a model cell: the cell's own workers, over a fresh
//! memmap laid out as the cell's, built from the same sources with the
//! counters in (`pin-schemes-census` and `pin-workloads-census`: see
//! `pin_schemes::census`), never timed; the timed build has none.
//!
//! Each of the cell's threads is a thread here too (so per-CPU structures,
//! vmstat diffs and pagevecs, are per thread as in the cell), but they take
//! turns in a fixed order, one turn of up to [`TURN_PAGES`] pages each, so
//! every count is the same on every run. Each thread first covers
//! [`PASS_PAGES`] pages (or its region, if smaller) uncounted, to warm what
//! a steady state has warm (MMF_HAS_PINNED set, vmstat slots claimed), then
//! as many counted. Counts are divided by the pages the measured threads'
//! calls covered in the counted pass; a `mixed` cell's background threads
//! add their operations and lines but no pages.

use super::cell::{CellSpec, RunError, Subject};
use super::record::Visit;
use pin_results::{Census, Lines};
use pin_schemes_census::census::{self, Kind, LineKey, Objects, Recording, Region, ThreadCensus};
use pin_schemes_census::{with_scheme, Gup, MemMap, SchemeVisitor};
use pin_workloads_census::{Layout, Slot, Worker, Workload};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex};

/// Pages each thread covers in each of the two passes (fewer if its
/// region is smaller; at least one call).
pub const PASS_PAGES: u64 = 2048;

/// Pages a thread covers per turn (at least one call).
pub const TURN_PAGES: u64 = 64;

/// Each model cell's census, taken on its first visit.
#[derive(Default)]
pub struct Censuses(HashMap<String, Census>);

impl Censuses {
    /// Puts `spec`'s census into `visit`, taking it if this is the cell's
    /// first visit. `noop` has none.
    pub fn attach(&mut self, spec: &CellSpec, visit: &mut Visit) -> Result<(), RunError> {
        let Subject::Scheme(name) = spec.subject else {
            return Ok(());
        };
        let key = spec.label();
        if !self.0.contains_key(&key) {
            let census = take(name, spec)?;
            self.0.insert(key.clone(), census);
        }
        visit.cell.census = self.0.get(&key).cloned();
        Ok(())
    }
}

/// The census of scheme `name` in the cell `spec`.
pub fn take(name: &'static str, spec: &CellSpec) -> Result<Census, RunError> {
    let (threads, threshold) = pass(name, spec)?;
    let remote = spec.numa.memmap_node != spec.numa.cpu_node;
    Ok(sum(&threads, remote, threshold))
}

/// Each thread's count in the census pass of `name` in `spec`, and the
/// vmstat threshold it ran with.
fn pass(name: &'static str, spec: &CellSpec) -> Result<(Vec<Counted>, i8), RunError> {
    let setup = |e: String| RunError::Setup(format!("census: {e}"));
    let memmap = Arc::new(memmap(spec).map_err(|e| setup(e.to_string()))?);
    let regions = memmap.census_regions();
    let threshold = memmap.vmstat().threshold();
    let threads = with_scheme(name, Arc::clone(&memmap), Pass { spec, regions })
        .map_err(|e| setup(e.to_string()))??;
    Ok((threads, threshold))
}

/// The cell's memmap as `cell::form_folios` builds it, of the census
/// copy's types.
fn memmap(spec: &CellSpec) -> Result<MemMap, pin_schemes_census::MemMapError> {
    use pin_schemes_census::{FailSlab, HasPinnedWrite, OnAllocFail};
    let layout = &spec.layout;
    let mut mm = MemMap::with_pages(layout.nr_pages(spec.threads))?;
    mm.set_stat_threshold(spec.gup.stat_threshold);
    mm.mm_mut()
        .set_has_pinned_write(match spec.gup.has_pinned_write {
            pin_schemes::HasPinnedWrite::TestThenSet => HasPinnedWrite::TestThenSet,
            pin_schemes::HasPinnedWrite::Always => HasPinnedWrite::Always,
        });
    let on_fail = match spec.gup.on_alloc_fail {
        pin_schemes::OnAllocFail::Fail => OnAllocFail::Fail,
        pin_schemes::OnAllocFail::SlowPath => OnAllocFail::SlowPath,
    };
    mm.set_failslab(FailSlab::new(spec.gup.failslab, on_fail));
    if layout.order > 0 {
        for t in 0..spec.threads {
            mm.make_folios(layout.region(t), layout.order, spec.workload.pte_mapped())?;
        }
    }
    Ok(mm)
}

/// The census pass with the scheme's concrete type.
struct Pass<'a> {
    spec: &'a CellSpec,
    regions: Vec<Region>,
}

impl Pass<'_> {
    /// The cell's workload and thread `index`'s slot, as the census copy
    /// has them.
    fn slot(&self, index: usize) -> Result<(Workload, Slot), RunError> {
        let name = self.spec.workload.name();
        let workload = Workload::from_name(name)
            .ok_or_else(|| RunError::Setup(format!("census: no workload {name}")))?;
        let l = self.spec.layout;
        let layout = Layout {
            shared_pages: l.shared_pages,
            per_thread: l.per_thread,
            order: l.order,
            pages_per_call: l.pages_per_call,
        };
        let threads = self.spec.threads;
        Ok((
            workload,
            Slot {
                index,
                threads,
                layout,
            },
        ))
    }
}

/// One thread's count and the pages its calls covered while counted
/// (0 for a thread that is not measured).
type Counted = (ThreadCensus, u64);

impl SchemeVisitor for Pass<'_> {
    type Output = Result<Vec<Counted>, RunError>;

    fn visit<S: Gup>(self, scheme: &S) -> Self::Output {
        let spec = self.spec;
        let mut regions = self.regions.clone();
        regions.push(Region::of(scheme, Kind::Named(census::OTHER)));
        regions.extend(scheme.census_regions());
        let objects = Objects::default();
        let turns = Turns::new(spec.threads);
        let target = PASS_PAGES.min(spec.layout.per_thread.max(1) as u64);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..spec.threads)
                .map(|i| {
                    let (turns, regions, objects) = (&turns, regions.clone(), objects.clone());
                    let pass = &self;
                    s.spawn(move || {
                        // Recording (paused) from before the setup, so the
                        // objects it allocates (held pins' nodes) are known.
                        let recording = census::record(regions, objects);
                        recording.pause();
                        let worker = pass.slot(i).and_then(|(w, slot)| {
                            w.worker(scheme, &slot).map_err(|e| RunError::Setup(e.0))
                        });
                        match worker {
                            Ok(w) => Ok(one_thread(w, i, turns, recording, target)),
                            Err(e) => {
                                turns.leave(i);
                                Err(e)
                            }
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| RunError::Setup("census: a thread panicked".into()))?
                })
                .collect()
        })
    }
}

/// Thread `i`'s side of the pass.
fn one_thread(
    mut worker: Box<dyn Worker + '_>,
    i: usize,
    turns: &Turns,
    recording: Recording,
    target: u64,
) -> Counted {
    let (mut counting, mut covered, mut done) = (false, 0u64, false);
    while turns.wait(i) {
        let mut turn = 0;
        while !done && turn < TURN_PAGES {
            let pages = worker.batch();
            (turn, covered) = (turn + pages, covered + pages);
            if pages == 0 || covered >= target {
                if counting || pages == 0 {
                    done = true;
                } else {
                    (counting, covered) = (true, 0);
                    recording.reset();
                    recording.resume();
                }
            }
        }
        turns.pass(i, done);
    }
    let counted = recording.finish();
    let measured = counting && worker.measured();
    let _ = worker.finish();
    (counted, if measured { covered } else { 0 })
}

/// Whose turn it is, and how many threads are done.
struct Turns {
    state: Mutex<(usize, Vec<bool>)>,
    cv: Condvar,
}

impl Turns {
    fn new(threads: usize) -> Self {
        Self {
            state: Mutex::new((0, vec![false; threads])),
            cv: Condvar::new(),
        }
    }

    /// Waits for thread `i`'s turn; false once every thread is done.
    fn wait(&self, i: usize) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while g.0 != i {
            g = self.cv.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        if g.1.iter().all(|d| *d) {
            g.0 = (i + 1) % g.1.len();
            self.cv.notify_all();
            return false;
        }
        true
    }

    /// Ends thread `i`'s turn.
    fn pass(&self, i: usize, done: bool) {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        g.1[i] |= done;
        g.0 = (i + 1) % g.1.len();
        self.cv.notify_all();
    }

    /// Thread `i` cannot take part: it is done from the start, and takes
    /// its turns only to hand them on.
    fn leave(&self, i: usize) {
        while self.wait(i) {
            self.pass(i, true);
        }
    }
}

/// The cell's census from its threads' counts.
fn sum(threads: &[Counted], remote: bool, stat_threshold: i8) -> Census {
    let mut c = Census {
        stat_threshold,
        ..Census::default()
    };
    let mut writers: BTreeMap<LineKey, u32> = BTreeMap::new();
    let add = |m: &mut BTreeMap<String, u64>, from: &BTreeMap<&'static str, u64>| {
        for (k, v) in from {
            *m.entry((*k).to_string()).or_default() += v;
        }
    };
    for (t, pages) in threads {
        c.pages += pages;
        add(&mut c.locked_rmw, &t.locked_rmw);
        add(&mut c.lock_acquisitions, &t.locks);
        c.fences += t.fences;
        c.rcu_sections += t.rcu_sections;
        c.allocs += t.allocs;
        c.frees += t.frees;
        for (key, u) in &t.lines {
            let count = |l: &mut Lines| {
                if u.memmap {
                    l.memmap += 1
                } else {
                    l.tracking += 1
                }
            };
            if u.read {
                count(&mut c.lines_read);
            }
            if u.written {
                count(&mut c.lines_written);
                *writers.entry(*key).or_default() += 1;
            }
            if remote && u.memmap {
                c.remote_lines += 1;
            }
        }
    }
    c.shared_lines_written = writers.values().filter(|n| **n > 1).count() as u64;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::cell::{GupModel, Numa};
    use pin_schemes::{HasPinnedWrite, OnAllocFail};
    use pin_schemes_census::census::Place;
    use pin_workloads::WORKLOADS;

    fn spec(name: &'static str, workload: pin_workloads::Workload, order: u8) -> CellSpec {
        CellSpec {
            subject: Subject::Scheme(name),
            workload,
            threads: 2,
            layout: workload.layout(order, 1024, 64),
            numa: Numa {
                placement: "local",
                cpu_node: 0,
                cpus: vec![0, 1],
                memmap_node: 0,
                memmap_cpus: vec![0],
            },
            gup: GupModel {
                stat_threshold: 28,
                has_pinned_write: HasPinnedWrite::TestThenSet,
                failslab: None,
                on_alloc_fail: OnAllocFail::SlowPath,
            },
        }
    }

    /// Every line of every scheme's pass in every workload is keyed so that
    /// its count cannot depend on the allocator: by region or object, or a
    /// lock's word alone in its 64 bytes. A structure a scheme allocates
    /// and does not name in `census_regions()` fails this.
    #[test]
    fn every_line_is_keyed_independently_of_the_heap() {
        for info in pin_schemes::SCHEMES {
            for &w in WORKLOADS {
                for &order in w.orders().iter().filter(|o| **o <= 9) {
                    let (threads, _) = pass(info.name, &spec(info.name, w, order)).expect("pass");
                    for (t, _) in &threads {
                        for (k, u) in &t.lines {
                            assert!(
                                k.place != Place::Heap || u.lock_word,
                                "{} / {} / {order}: {k:?} {u:?}",
                                info.name,
                                w.name()
                            );
                        }
                    }
                }
            }
        }
    }

    /// Two passes of a two-thread cell count the same, and the measured
    /// pages are the two threads' counted pages.
    #[test]
    fn a_pass_counts_the_same_twice() {
        let s = spec("hybrid", pin_workloads::Workload::Shared, 0);
        let a = take("hybrid", &s).expect("census");
        let b = take("hybrid", &s).expect("census");
        assert_eq!(a, b);
        assert!(a.pages > 0 && a.locked_rmw_total() > 0, "{a:?}");
        // Both threads pin the same hot pages: their lines are shared.
        assert!(a.shared_lines_written > 0, "{a:?}");
    }
}
