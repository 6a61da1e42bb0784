//! From the threads' paired slices to a results cell. Per round: the mean
//! over measured threads of each slice's ns/page (subject and floor), the
//! subject's pages/s (pages of all measured threads over the longest
//! thread's time) and thread 0's alone. The headline figures are medians
//! over rounds of the per-round ratios, with their 95% confidence intervals
//! ([`Estimate`]); the raw per-round values are kept in `pairs`.
//!
//! A cell is measured in several visits spread over the run ([`Visit`],
//! [`merge`]): the rounds of all visits are pooled before the medians are
//! taken, so a spell of a slower machine state hits every cell alike
//! instead of whole cells.

use super::paired::{ThreadOutcome, Timed};
use crate::metrics::latency::Latency;
use pin_results::derive::derive_all;
use pin_results::{AllocFailures, Cell, CellName, Counters, KernelCell, NumaPlacement, Pairs};
use pin_workloads::Tally;

/// What names a cell in the results: the model's cells and the kernel's
/// fill it in their own terms.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    /// Scheme, `noop`, or the kernel path's flavour.
    pub subject: &'a str,
    /// `model`, or the kernel backend.
    pub backend: &'a str,
    /// Workload.
    pub workload: &'a str,
    /// Threads.
    pub threads: usize,
    /// Pages per call.
    pub pages_per_call: usize,
    /// Folio order of the pages worked on.
    pub folio_order: u8,
}

/// What a cell's memory came to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Scheme bytes per page x memmap pages + side structures.
    pub tracking_bytes: u64,
    /// All page metadata under the scheme's design: what it keeps of
    /// `struct page` plus `tracking_bytes`; `None` for calibration cells.
    pub metadata_bytes: Option<u64>,
    /// The side structures' high-water mark (plus the per-page bytes).
    pub tracking_peak_bytes: Option<u64>,
    /// Tracking bytes after the pins were released and reclaimed.
    pub tracking_steady_bytes: Option<u64>,
    /// failslab's count, when it was on.
    pub alloc_failures: Option<AllocFailures>,
    /// Pages in the memmap.
    pub memmap_pages: usize,
    /// Bytes of `struct page`.
    pub memmap_bytes: u64,
    /// Resident bytes of the memmap (`mincore`).
    pub memmap_rss_bytes: Option<u64>,
    /// Bytes of the memmap in transparent huge pages (smaps).
    pub memmap_thp_bytes: Option<u64>,
}

/// Mean per-thread ns/page of slice `r` of the measured threads.
fn ns_per_page(threads: &[&ThreadOutcome], r: usize, pick: fn(&ThreadOutcome) -> &[Timed]) -> f64 {
    let per: Vec<f64> = threads
        .iter()
        .map(|o| {
            let t = pick(o)[r];
            t.ns as f64 / t.pages.max(1) as f64
        })
        .collect();
    per.iter().sum::<f64>() / per.len().max(1) as f64
}

/// Pages/s of slice `r`: pages of `threads` over the longest one's time.
fn pages_per_sec(
    threads: &[&ThreadOutcome],
    r: usize,
    pick: fn(&ThreadOutcome) -> &[Timed],
) -> f64 {
    let pages: u64 = threads.iter().map(|o| pick(o)[r].pages).sum();
    let ns = threads.iter().map(|o| pick(o)[r].ns).max().unwrap_or(0);
    pages as f64 / (ns.max(1) as f64 / 1e9)
}

/// Per round, the slowest thread's value of a probe (every thread,
/// measured or not, shares the round's machine state); `None` if a thread
/// lacks it.
fn slowest(
    outcomes: &[ThreadOutcome],
    rounds: usize,
    pick: fn(&ThreadOutcome) -> &[u64],
) -> Option<Vec<f64>> {
    if outcomes.is_empty() || outcomes.iter().any(|o| pick(o).len() != rounds) {
        return None;
    }
    Some(
        (0..rounds)
            .map(|r| outcomes.iter().map(|o| pick(o)[r]).max().unwrap_or(0) as f64)
            .collect(),
    )
}

/// The raw per-round values of the measured threads.
pub fn pairs(outcomes: &[ThreadOutcome]) -> Pairs {
    let measured: Vec<&ThreadOutcome> = outcomes.iter().filter(|o| o.measured).collect();
    let rounds = measured.first().map_or(0, |o| o.rounds.subject.len());
    let every = measured.len() == outcomes.len();
    let solo = outcomes
        .first()
        .filter(|o| every && !o.rounds.solo.is_empty());
    Pairs {
        subject_ns_per_page: (0..rounds)
            .map(|r| ns_per_page(&measured, r, |o| &o.rounds.subject))
            .collect(),
        floor_ns_per_page: (0..rounds)
            .map(|r| ns_per_page(&measured, r, |o| &o.rounds.floor))
            .collect(),
        pages_per_sec: (0..rounds)
            .map(|r| pages_per_sec(&measured, r, |o| &o.rounds.subject))
            .collect(),
        solo_pages_per_sec: solo.map(|zero| {
            (0..rounds)
                .map(|r| pages_per_sec(&[zero], r, |o| &o.rounds.solo))
                .collect()
        }),
        solo_probe_ns: solo
            .and_then(|zero| slowest(std::slice::from_ref(zero), rounds, |o| &o.rounds.solo_probe)),
        solo_throughput_ns: solo.and_then(|zero| {
            slowest(std::slice::from_ref(zero), rounds, |o| {
                &o.rounds.solo_throughput
            })
        }),
        probe_ns: slowest(outcomes, rounds, |o| &o.rounds.probe),
        throughput_ns: slowest(outcomes, rounds, |o| &o.rounds.throughput),
        contention_ns: (outcomes.len() > 1)
            .then(|| slowest(outcomes, rounds, |o| &o.rounds.contention))
            .flatten(),
        handoff_ns: (outcomes.len() > 1)
            .then(|| slowest(outcomes, rounds, |o| &o.rounds.handoff))
            .flatten(),
        visit_rounds: Some(vec![rounds]),
    }
}

/// One visit of a cell: its results so far and its latency histogram (so
/// visits merge into true quantiles).
pub struct Visit {
    /// The cell as this visit (or the visits merged so far) measured it.
    pub cell: Cell,
    /// Per-call latency of the subject's slices.
    pub latency: Latency,
}

/// Per-round values of two visits one after the other; none unless both
/// have them.
fn chain(a: Option<Vec<f64>>, b: Option<Vec<f64>>) -> Option<Vec<f64>> {
    let (mut a, b) = (a?, b?);
    a.extend(b);
    Some(a)
}

fn both<T>(a: Option<T>, b: Option<T>, f: fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

/// `a` and a later visit `b` of the same cell as one: rounds pooled,
/// latency histograms merged, counters and refusals summed, the worst pass
/// of wrong answers, the least of limits, the worst placement and CPU share.
pub fn merge(mut a: Visit, b: Visit) -> Visit {
    a.latency.merge(&b.latency);
    let (x, y) = (&mut a.cell, b.cell);
    // Rounds each side holds, to weigh what is averaged.
    let (na, nb) = (
        x.pairs.subject_ns_per_page.len() as f64,
        y.pairs.subject_ns_per_page.len() as f64,
    );
    x.pairs
        .subject_ns_per_page
        .extend(y.pairs.subject_ns_per_page);
    x.pairs.floor_ns_per_page.extend(y.pairs.floor_ns_per_page);
    x.pairs.pages_per_sec.extend(y.pairs.pages_per_sec);
    x.pairs.solo_pages_per_sec = chain(
        x.pairs.solo_pages_per_sec.take(),
        y.pairs.solo_pages_per_sec,
    );
    x.pairs.probe_ns = chain(x.pairs.probe_ns.take(), y.pairs.probe_ns);
    x.pairs.throughput_ns = chain(x.pairs.throughput_ns.take(), y.pairs.throughput_ns);
    x.pairs.contention_ns = chain(x.pairs.contention_ns.take(), y.pairs.contention_ns);
    x.pairs.handoff_ns = chain(x.pairs.handoff_ns.take(), y.pairs.handoff_ns);
    x.pairs.solo_probe_ns = chain(x.pairs.solo_probe_ns.take(), y.pairs.solo_probe_ns);
    x.pairs.solo_throughput_ns = chain(
        x.pairs.solo_throughput_ns.take(),
        y.pairs.solo_throughput_ns,
    );
    let rounds_of = |v: Option<Vec<usize>>, n: f64| v.unwrap_or(vec![n as usize]);
    let mut visits = rounds_of(x.pairs.visit_rounds.take(), na);
    visits.extend(rounds_of(y.pairs.visit_rounds, nb));
    x.pairs.visit_rounds = Some(visits);
    // Provisional, against the cell's own quiet probe: the session derives
    // every cell again against the run's ([`derive_all`]).
    derive_all(std::slice::from_mut(x));
    x.latency_ns = a.latency.quantiles();
    x.counters = x.counters.sum(y.counters);
    // Every visit's census would be the same; the first is kept.
    x.census = x.census.take().or(y.census);
    x.cpu_share = match (x.cpu_share, y.cpu_share) {
        (Some(p), Some(q)) => Some(p.min(q)),
        (p, q) => p.or(q),
    };
    x.false_positives = both(x.false_positives, y.false_positives, u64::max);
    x.false_negatives = both(x.false_negatives, y.false_negatives, u64::max);
    x.fp_threshold_refs = both(x.fp_threshold_refs, y.fp_threshold_refs, u64::min);
    x.refused += y.refused;
    x.max_pins = both(x.max_pins, y.max_pins, u64::min);
    // Every visit runs the same isolation round: keep the worst.
    x.isolation = match (x.isolation, y.isolation) {
        (Some(a), Some(b)) => Some(pin_results::Isolation {
            isolated: a.isolated.max(b.isolated),
            false_negatives: a.false_negatives.max(b.false_negatives),
            lru_lost: a.lru_lost.max(b.lru_lost),
        }),
        (a, b) => a.or(b),
    };
    x.tracking_bytes = x.tracking_bytes.max(y.tracking_bytes);
    x.metadata_bytes = both(x.metadata_bytes, y.metadata_bytes, u64::max);
    x.tracking_peak_bytes = both(x.tracking_peak_bytes, y.tracking_peak_bytes, u64::max);
    // The steady state is the worst visit's: what reclamation left.
    x.tracking_steady_bytes = both(x.tracking_steady_bytes, y.tracking_steady_bytes, u64::max);
    x.alloc_failures = both(x.alloc_failures, y.alloc_failures, |a, b| a + b);
    x.memmap_rss_bytes = both(x.memmap_rss_bytes, y.memmap_rss_bytes, u64::max);
    // The least: a visit the host gave fewer huge pages shows.
    x.memmap_thp_bytes = both(x.memmap_thp_bytes, y.memmap_thp_bytes, u64::min);
    if y.numa.verified_fraction < x.numa.verified_fraction {
        x.numa = y.numa;
    }
    if let (Some(k), Some(l)) = (x.kernel.as_mut(), y.kernel) {
        k.thp_bytes = both(k.thp_bytes, l.thp_bytes, u64::min);
        k.pins_acquired = both(k.pins_acquired, l.pins_acquired, |p, q| p + q);
        k.pins_released = both(k.pins_released, l.pins_released, |p, q| p + q);
        k.foreign_pins |= l.foreign_pins;
        k.pins_balanced = match (k.pins_balanced, l.pins_balanced) {
            (Some(p), Some(q)) => Some(p && q),
            (p, q) => p.or(q),
        };
        // The same registration every visit: any visit's reading.
        k.pins_kept_per_page = k.pins_kept_per_page.or(l.pins_kept_per_page);
        k.in_kernel_ns_per_page = match (k.in_kernel_ns_per_page, l.in_kernel_ns_per_page) {
            (Some(p), Some(q)) => Some((p * na + q * nb) / (na + nb).max(1.0)),
            (p, q) => p.or(q),
        };
    }
    a
}

/// The visit named by `labels` from its threads' outcomes.
pub fn record(
    labels: Labels<'_>,
    outcomes: &[ThreadOutcome],
    memory: Memory,
    numa: NumaPlacement,
    kernel: Option<KernelCell>,
) -> Visit {
    let pairs = pairs(outcomes);
    let measured: Vec<&ThreadOutcome> = outcomes.iter().filter(|o| o.measured).collect();
    let mut latency = Latency::new();
    let mut counters: Option<Counters> = None;
    for o in &measured {
        latency.merge(&o.latency);
        counters = Some(counters.map_or(o.counters, |c| c.sum(o.counters)));
    }
    let c = counters.unwrap_or_default();
    let subject_ns: u64 = measured
        .iter()
        .flat_map(|o| o.rounds.subject.iter().chain(&o.rounds.solo).map(|t| t.ns))
        .sum();
    let tally = Tally::merge_all(&outcomes.iter().map(|o| o.tally.clone()).collect::<Vec<_>>());
    let name = CellName {
        subject: labels.subject.to_string(),
        backend: labels.backend.to_string(),
        workload: labels.workload.to_string(),
        threads: labels.threads,
        pages_per_call: labels.pages_per_call,
        folio_order: labels.folio_order,
    };
    let mut cell = Cell {
        cpu_share: c.task_clock_ns.map(|t| t as f64 / subject_ns.max(1) as f64),
        latency_ns: latency.quantiles(),
        counters: c,
        false_positives: tally.false_positives,
        false_negatives: tally.false_negatives,
        fp_threshold_refs: tally.fp_threshold_refs,
        fp_by_refs: tally.fp_runs(),
        isolation: tally.isolation,
        refused: tally.refused,
        max_pins: tally.max_pins,
        tracking_bytes: memory.tracking_bytes,
        metadata_bytes: memory.metadata_bytes,
        tracking_peak_bytes: memory.tracking_peak_bytes,
        tracking_steady_bytes: memory.tracking_steady_bytes,
        alloc_failures: memory.alloc_failures,
        memmap_pages: memory.memmap_pages,
        memmap_bytes: memory.memmap_bytes,
        memmap_rss_bytes: memory.memmap_rss_bytes,
        memmap_thp_bytes: memory.memmap_thp_bytes,
        pairs,
        ..Cell::unmeasured(name, numa, kernel)
    };
    derive_all(std::slice::from_mut(&mut cell));
    Visit { cell, latency }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::paired::ThreadRounds;

    fn timed(ns: u64, pages: u64) -> Timed {
        Timed { ns, pages }
    }

    fn outcome(subject: Vec<Timed>, floor: Vec<Timed>, solo: Vec<Timed>) -> ThreadOutcome {
        // A quiet machine: every round's probe alike.
        let probe = vec![3000; subject.len()];
        let throughput = vec![3000; subject.len()];
        let solo_rounds = solo.len();
        ThreadOutcome {
            measured: true,
            rounds: ThreadRounds {
                subject,
                floor,
                solo,
                probe,
                contention: Vec::new(),
                handoff: Vec::new(),
                solo_probe: vec![3000; solo_rounds],
                solo_throughput: vec![3000; solo_rounds],
                throughput,
            },
            latency: Latency::new(),
            counters: Counters::default(),
            tally: Tally::default(),
        }
    }

    #[test]
    fn ratios_are_taken_round_by_round() {
        // Round 0 is a slow moment for both sides, round 1 a fast one: the
        // per-round ratio is 1.5 both times.
        let t0 = outcome(
            vec![timed(3000, 100), timed(1500, 100)],
            vec![timed(2000, 100), timed(1000, 100)],
            vec![timed(1000, 200), timed(1000, 400)],
        );
        let t1 = outcome(
            vec![timed(3000, 100), timed(1500, 100)],
            vec![timed(2000, 100), timed(1000, 100)],
            vec![timed(0, 0), timed(0, 0)],
        );
        let p = pairs(&[t0, t1]);
        assert_eq!(p.subject_ns_per_page, vec![30.0, 15.0]);
        assert_eq!(p.floor_ns_per_page, vec![20.0, 10.0]);
        assert_eq!(p.x_floor(), vec![1.5, 1.5]);
        // All: 200 pages in 3 us, then in 1.5 us; alone: 200 pages in 1 us,
        // then 400.
        let all = [200.0 / 3e-6, 200.0 / 1.5e-6];
        let alone = [200.0 / 1e-6, 400.0 / 1e-6];
        let scaling = p.scaling().expect("scaling");
        for r in 0..2 {
            assert!((scaling[r] - all[r] / alone[r]).abs() < 1e-9, "{scaling:?}");
        }
    }

    #[test]
    fn no_scaling_where_a_thread_is_not_measured() {
        let t0 = outcome(vec![timed(1, 1)], vec![timed(1, 1)], vec![timed(1, 1)]);
        let mut t1 = outcome(vec![timed(1, 1)], vec![timed(1, 1)], vec![timed(0, 0)]);
        t1.measured = false;
        assert_eq!(pairs(&[t0, t1]).solo_pages_per_sec, None);
    }

    #[test]
    fn visits_pool_their_rounds_and_keep_the_worst_answers() {
        let numa = pin_results::sample::numa;
        let labels = Labels {
            subject: "bias",
            backend: "model",
            workload: "mixed",
            threads: 1,
            pages_per_call: 512,
            folio_order: 0,
        };
        let visit = |ratio: u64, fp: u64, refused: u64| {
            let mut o = outcome(vec![timed(ratio * 100, 100)], vec![timed(100, 100)], vec![]);
            o.tally.false_positives = Some(fp);
            o.tally.refused = refused;
            o.latency.record(ratio * 1000);
            record(labels, &[o], Memory::default(), numa(), None)
        };
        let m = merge(merge(visit(2, 5, 1), visit(3, 9, 2)), visit(4, 1, 3));
        assert_eq!(m.cell.pairs.x_floor(), vec![2.0, 3.0, 4.0]);
        assert_eq!(m.cell.x_floor.median, 3.0);
        assert_eq!(m.cell.false_positives, Some(9));
        assert_eq!(m.cell.refused, 6);
        // One call per visit: the merged histogram holds all three.
        assert!(
            m.cell.latency_ns.max >= 4000 && m.cell.latency_ns.p50 >= 2990,
            "{:?}",
            m.cell.latency_ns
        );
    }
}
