//! The pieces workloads are built from: a [`Cursor`] over a prebuilt pfn
//! array, and the two loops most workloads share: [`PinLoop`] (pin a batch,
//! unpin it) and [`Scan`] (query `maybe_dma_pinned` against ground truth).
//!
//! Hot-loop rules: pfn arrays are built before the first barrier, a batch
//! allocates nothing and reads no clock (the runner reads one per call).

pub use crate::worker::{Tally, Worker};
use pin_schemes::{Gup, GupPath, Pfn, PinError};

/// Successive windows of `n` entries over a fixed array, wrapping; the last
/// window of a pass may be shorter.
#[derive(Clone, Debug)]
pub struct Cursor {
    len: usize,
    n: usize,
    off: usize,
}

impl Cursor {
    /// Windows of `n` (at least 1) over `len` entries.
    pub fn new(len: usize, n: usize) -> Self {
        Self {
            len,
            n: n.max(1),
            off: 0,
        }
    }

    /// The next window as `start..end`, and whether it ends a pass.
    #[inline]
    pub fn next_window(&mut self) -> (usize, usize, bool) {
        let start = self.off;
        let end = (start + self.n).min(self.len);
        let wrapped = end == self.len;
        self.off = if wrapped { 0 } else { end };
        (start, end, wrapped)
    }
}

/// Pin a batch with `pin_pages(FOLL_PIN, gup-fast)`, then `unpin_pages` it:
/// the loop of `private`, `shared` and `huge`, which differ only in the pfns.
pub struct PinLoop<'a, S: ?Sized> {
    scheme: &'a S,
    pfns: Vec<Pfn>,
    cursor: Cursor,
    refused: u64,
}

impl<'a, S: Gup + ?Sized> PinLoop<'a, S> {
    /// Over `pfns`, `n` per call.
    pub fn new(scheme: &'a S, pfns: Vec<Pfn>, n: usize) -> Self {
        let cursor = Cursor::new(pfns.len(), n);
        Self {
            scheme,
            pfns,
            cursor,
            refused: 0,
        }
    }
}

impl<S: Gup + ?Sized> Worker for PinLoop<'_, S> {
    #[inline]
    fn batch(&mut self) -> u64 {
        let (start, end, _) = self.cursor.next_window();
        let batch = &self.pfns[start..end];
        match self.scheme.pin_pages(batch, GupPath::Fast) {
            // Unpinning what this call pinned cannot fail.
            Ok(_) => {
                let _ = self.scheme.unpin_pages(batch);
            }
            // A refused batch released its own pins.
            Err(_) => self.refused += 1,
        }
        (end - start) as u64
    }

    fn finish(self: Box<Self>) -> Tally {
        Tally {
            refused: self.refused,
            ..Tally::default()
        }
    }
}

/// A reclaim/writeback-style scan: `maybe_dma_pinned` on each pfn,
/// compared with the truth the workload keeps. Counts wrong answers per
/// pass and keeps the worst pass; for unpinned pages it also keeps the
/// fewest references (`refs[i]`) that read as pinned.
pub struct Scan<'a, S: ?Sized> {
    scheme: &'a S,
    pfns: Vec<Pfn>,
    truth: Vec<bool>,
    refs: Vec<u32>,
    cursor: Cursor,
    pass_fp: u64,
    pass_fn: u64,
    worst_fp: u64,
    worst_fn: u64,
    threshold: Option<u64>,
}

impl<'a, S: Gup + ?Sized> Scan<'a, S> {
    /// Over `pfns` with `truth[i]` = pinned and `refs[i]` = ordinary
    /// references added to `pfns[i]` (empty if none were), `n` per call.
    pub fn new(scheme: &'a S, pfns: Vec<Pfn>, truth: Vec<bool>, refs: Vec<u32>, n: usize) -> Self {
        debug_assert_eq!(pfns.len(), truth.len());
        let cursor = Cursor::new(pfns.len(), n);
        Self {
            scheme,
            pfns,
            truth,
            refs,
            cursor,
            pass_fp: 0,
            pass_fn: 0,
            worst_fp: 0,
            worst_fn: 0,
            threshold: None,
        }
    }

    /// The tally so far (worst complete pass).
    pub fn tally(&self) -> Tally {
        Tally {
            false_positives: Some(self.worst_fp),
            false_negatives: Some(self.worst_fn),
            fp_threshold_refs: self.threshold,
            ..Tally::default()
        }
    }

    #[cold]
    fn note_threshold(&mut self, start: usize, end: usize) {
        for i in start..end {
            if !self.truth[i] && self.scheme.maybe_dma_pinned(self.pfns[i]) {
                let r = u64::from(self.refs.get(i).copied().unwrap_or(0));
                self.threshold = Some(self.threshold.map_or(r, |t| t.min(r)));
            }
        }
    }
}

impl<S: Gup + ?Sized> Worker for Scan<'_, S> {
    #[inline]
    fn batch(&mut self) -> u64 {
        let (start, end, wrapped) = self.cursor.next_window();
        let (mut fp, mut fneg) = (0u64, 0u64);
        // One read-side section for the batch, as a kernel scan takes one
        // around its walk (the model's outermost section is a full fence,
        // the kernel's a preempt-count increment); lookups nest in it.
        let rcu = self.scheme.scan_read_lock();
        for i in start..end {
            let got = self.scheme.maybe_dma_pinned(self.pfns[i]);
            let truth = self.truth[i];
            fp += u64::from(got & !truth);
            fneg += u64::from(!got & truth);
        }
        drop(rcu);
        if fp > 0 {
            self.note_threshold(start, end);
        }
        self.pass_fp += fp;
        self.pass_fn += fneg;
        if wrapped {
            self.worst_fp = self.worst_fp.max(self.pass_fp);
            self.worst_fn = self.worst_fn.max(self.pass_fn);
            self.pass_fp = 0;
            self.pass_fn = 0;
        }
        (end - start) as u64
    }

    /// Untimed, while the workload's pins and references are still held:
    /// one more pass over the unpinned pages, counting by their ordinary
    /// references how many read as pinned.
    fn finish(self: Box<Self>) -> Tally {
        let mut tally = self.tally();
        if !self.refs.is_empty() {
            let top = self.refs.iter().copied().max().unwrap_or(0) as usize;
            let mut by = vec![(0u64, 0u64); top + 1];
            for (i, &pfn) in self.pfns.iter().enumerate() {
                if let (false, Some(&k)) = (self.truth[i], self.refs.get(i)) {
                    by[k as usize].0 += 1;
                    by[k as usize].1 += u64::from(self.scheme.maybe_dma_pinned(pfn));
                }
            }
            tally.fp_by_refs = by;
        }
        tally
    }
}

/// Attempts of a setup pin refused for want of memory (`--failslab` with
/// `--on-alloc-fail fail`): failslab fails every N-th allocation, so for
/// most schemes and N > 1 a retry soon gets through, whatever other
/// threads allocate in between (a scheme that needs two allocations in a
/// row for one pin and frees the first when the second fails, as
/// side-tree-sharded does, never gets through at N = 2). Each refused
/// attempt still counts in `alloc_failures`.
pub const SETUP_RETRIES: usize = 64;

/// Pins `pfn`, retrying a refusal for want of memory.
fn pin_retrying<S: Gup + ?Sized>(scheme: &S, pfn: Pfn) -> bool {
    for _ in 0..SETUP_RETRIES {
        match scheme.pin(pfn, GupPath::Fast) {
            Ok(()) => return true,
            Err(PinError::NoMemory(_)) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// A workload's setup could not be done; the cell is not measured.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// Refuses to build a workload none of whose `asked` long-term pins could
/// be held (`--failslab` with `--on-alloc-fail fail` failing every
/// allocation): there would be nothing to judge its answers against.
pub fn some_held(workload: &str, held: usize, asked: usize) -> Result<(), SetupError> {
    if held > 0 || asked == 0 {
        return Ok(());
    }
    Err(SetupError(format!(
        "{workload}: none of the {asked} long-term pins it holds could be taken for want of \
         memory after {SETUP_RETRIES} attempts each (--failslab with --on-alloc-fail fail \
         fails every allocation of this scheme): nothing to judge its answers by, not measured"
    )))
}

/// Pins and ordinary references a workload holds for the whole cell (an
/// RDMA registration, a page mapped by many processes), and a worker that
/// releases them when it finishes.
pub struct Holding<'a, S: ?Sized, W> {
    scheme: &'a S,
    pins: Vec<Pfn>,
    refs: Vec<(Pfn, u32)>,
    /// Pins still refused after their retries: the cell's `refused`.
    refused: u64,
    inner: W,
}

impl<'a, S: Gup + ?Sized, W: Worker> Holding<'a, S, W> {
    /// Pins each of `pins` once (a pin refused for want of memory is
    /// retried, up to [`SETUP_RETRIES`] times, as a driver setting up a
    /// long-term registration would; those still refused are counted and
    /// not held),
    /// takes `n` ordinary references on each `(pfn, n)` of `refs`, then
    /// builds the inner worker with the pins actually held and the
    /// references actually taken, so that a ground truth built from them
    /// never counts a refused pin as the scheme's false negative.
    pub fn new(
        scheme: &'a S,
        pins: &[Pfn],
        refs: &[(Pfn, u32)],
        inner: impl FnOnce(&[Pfn], &[(Pfn, u32)]) -> W,
    ) -> Self {
        let mut held = Vec::with_capacity(pins.len());
        let mut refused = 0;
        for &pfn in pins {
            if pin_retrying(scheme, pfn) {
                held.push(pfn);
            } else {
                refused += 1;
            }
        }
        let taken: Vec<(Pfn, u32)> = refs
            .iter()
            .map(|&(pfn, n)| {
                (
                    pfn,
                    (0..n).take_while(|_| scheme.get(pfn).is_ok()).count() as u32,
                )
            })
            .collect();
        let inner = inner(&held, &taken);
        Self {
            scheme,
            pins: held,
            refs: taken,
            refused,
            inner,
        }
    }

    /// Pins held for the cell.
    pub fn held(&self) -> usize {
        self.pins.len()
    }
}

impl<S: Gup + ?Sized, W: Worker> Worker for Holding<'_, S, W> {
    fn measured(&self) -> bool {
        self.inner.measured()
    }

    #[inline]
    fn batch(&mut self) -> u64 {
        self.inner.batch()
    }

    fn finish(self: Box<Self>) -> Tally {
        let me = *self;
        // First, so the inner worker can still look at what is held.
        let mut tally = Box::new(me.inner).finish();
        tally.refused += me.refused;
        for &(pfn, n) in &me.refs {
            for _ in 0..n {
                // Dropping a reference this worker took cannot fail.
                let _ = me.scheme.put(pfn);
            }
        }
        for &pfn in &me.pins {
            // Unpinning a pin this worker holds cannot fail.
            let _ = me.scheme.unpin(pfn);
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::FpByRefs;

    #[test]
    fn cursor_wraps_with_a_short_last_window() {
        let mut c = Cursor::new(10, 4);
        assert_eq!(c.next_window(), (0, 4, false));
        assert_eq!(c.next_window(), (4, 8, false));
        assert_eq!(c.next_window(), (8, 10, true));
        assert_eq!(c.next_window(), (0, 4, false));
        let mut one = Cursor::new(3, 8);
        assert_eq!(one.next_window(), (0, 3, true));
    }

    #[test]
    fn tallies_add_counts_and_keep_least_limits() {
        let a = Tally {
            false_positives: Some(2),
            fp_threshold_refs: Some(1023),
            max_pins: Some(10),
            refused: 1,
            ..Tally::default()
        };
        let b = Tally {
            false_positives: Some(3),
            fp_threshold_refs: None,
            max_pins: Some(7),
            refused: 2,
            ..Tally::default()
        };
        let m = a.merge(b);
        assert_eq!(m.false_positives, Some(5));
        assert_eq!(m.false_negatives, None);
        assert_eq!(m.fp_threshold_refs, Some(1023));
        assert_eq!(m.max_pins, Some(7));
        assert_eq!(m.refused, 3);
    }

    #[test]
    fn false_positives_by_refs_add_per_count_and_merge_into_runs() {
        let a = Tally {
            fp_by_refs: vec![(1, 0), (1, 0), (1, 1)],
            ..Tally::default()
        };
        let b = Tally {
            fp_by_refs: vec![(1, 0), (1, 0), (1, 1), (1, 1)],
            ..Tally::default()
        };
        let m = Tally::merge_all(&[a, b]);
        assert_eq!(m.fp_by_refs, vec![(2, 0), (2, 0), (2, 2), (1, 1)]);
        let run = |refs_min, refs_max, pages, false_positives| FpByRefs {
            refs_min,
            refs_max,
            pages,
            false_positives,
        };
        assert_eq!(
            m.fp_runs(),
            Some(vec![run(0, 1, 2, 0), run(2, 2, 2, 2), run(3, 3, 1, 1)])
        );
        assert_eq!(Tally::default().fp_runs(), None);
    }
}
