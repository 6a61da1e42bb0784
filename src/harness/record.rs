//! From the threads' paired slices to a results cell. Per round: the mean
//! over measured threads of each slice's ns/page (subject and floor), the
//! subject's pages/s (pages of all measured threads over the longest
//! thread's time) and thread 0's alone. The headline figures are medians
//! over rounds of the per-round ratios, with their 95% confidence intervals
//! ([`Estimate`]); the raw per-round values are kept in `pairs`.

use super::paired::{ThreadOutcome, Timed};
use super::worker::Tally;
use crate::metrics::latency::Latency;
use pin_results::{Cell, Counters, Estimate, KernelCell, NumaPlacement, Pairs};

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
    /// Pages in the memmap.
    pub memmap_pages: usize,
    /// Bytes of `struct page`.
    pub memmap_bytes: u64,
    /// Resident bytes of the memmap (`mincore`).
    pub memmap_rss_bytes: Option<u64>,
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
    }
}

/// The median of `xs`, 0 for none.
fn median(xs: &[f64]) -> f64 {
    Estimate::of(xs).map_or(0.0, |e| e.median)
}

/// A ratio no round produced (no pages measured): recorded as 0 in [0, 0].
fn or_zero(e: Option<Estimate>) -> Estimate {
    e.unwrap_or(Estimate {
        median: 0.0,
        ci_low: 0.0,
        ci_high: 0.0,
        n: 0,
    })
}

/// The cell named by `labels` from its threads' outcomes.
pub fn record(
    labels: Labels<'_>,
    outcomes: &[ThreadOutcome],
    memory: Memory,
    numa: NumaPlacement,
    kernel: Option<KernelCell>,
) -> Cell {
    let pairs = pairs(outcomes);
    let x_floor = or_zero(Estimate::of(&pairs.x_floor()));
    let scaling = pairs.scaling().and_then(|s| Estimate::of(&s));
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
    Cell {
        subject: labels.subject.to_string(),
        backend: labels.backend.to_string(),
        kernel,
        workload: labels.workload.to_string(),
        threads: labels.threads,
        numa,
        pages_per_call: labels.pages_per_call,
        folio_order: labels.folio_order,
        ns_per_page: median(&pairs.subject_ns_per_page),
        floor_ns_per_page: median(&pairs.floor_ns_per_page),
        pages_per_sec: median(&pairs.pages_per_sec),
        noisy: x_floor.noisy() || scaling.is_some_and(|s| s.noisy()),
        x_floor,
        scaling,
        cpu_share: c.task_clock_ns.map(|t| t as f64 / subject_ns.max(1) as f64),
        latency_ns: latency.quantiles(),
        counters: c,
        false_positives: tally.false_positives,
        false_negatives: tally.false_negatives,
        fp_threshold_refs: tally.fp_threshold_refs,
        fp_by_refs: tally.fp_runs(),
        refused: tally.refused,
        max_pins: tally.max_pins,
        tracking_bytes: memory.tracking_bytes,
        memmap_pages: memory.memmap_pages,
        memmap_bytes: memory.memmap_bytes,
        memmap_rss_bytes: memory.memmap_rss_bytes,
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::paired::ThreadRounds;

    fn timed(ns: u64, pages: u64) -> Timed {
        Timed { ns, pages }
    }

    fn outcome(subject: Vec<Timed>, floor: Vec<Timed>, solo: Vec<Timed>) -> ThreadOutcome {
        ThreadOutcome {
            measured: true,
            rounds: ThreadRounds {
                subject,
                floor,
                solo,
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
}
