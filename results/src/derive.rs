//! A cell's figures from its rounds: which rounds ran on a quiet machine
//! ([`crate::quiet`]), then medians and 95% intervals of what they measured.
//! Every figure of a cell besides the raw `pairs` is derived here, so a file
//! of an earlier schema that kept its rounds can be derived again by the
//! current rules ([`crate::Results::read`]).

use crate::{Cell, Estimate, FloorNs, FloorWork, Pairs, ProbeNs, Results, Yardstick, Yardsticks};

/// The median of `xs`, 0 for none.
fn median(xs: &[f64]) -> f64 {
    Estimate::of(xs).map_or(0.0, |e| e.median)
}

/// A ratio no round produced (no pages measured): recorded as 0 in [0, 0].
pub fn or_zero(e: Option<Estimate>) -> Estimate {
    e.unwrap_or(Estimate {
        median: 0.0,
        ci_low: 0.0,
        ci_high: 0.0,
        n: 0,
    })
}

/// Sets the figures derived from `cell.pairs` over its quiet rounds, as
/// judged by `y`: medians, estimates, noisy, how many rounds were set
/// aside; each over all rounds, and the cell marked busy, when fewer than
/// [`crate::MIN_QUIET_ROUNDS`] were quiet. The ratios (`x_floor`,
/// `scaling`) are estimated over ABBA blocks ([`Pairs::blocks`]), the
/// slice order's effect cancelled in each. `scaling` comes from the rounds
/// whose solo slice was quiet too, and is withheld (`None`) when too few
/// were.
pub fn derive(cell: &mut Cell, y: Yardstick) {
    // A cell the kernel timed itself has no rounds to derive from: its
    // figures are its importer's (`kernel_timed`).
    if cell.kernel_timed.is_some() {
        return;
    }
    let kept = cell.kept(y);
    cell.busy = kept.busy;
    let p = &cell.pairs;
    let quiet = |xs: &[f64]| Pairs::keep(xs, &kept.rounds);
    cell.ns_per_page = median(&quiet(&p.subject_ns_per_page));
    cell.floor_ns_per_page = median(&quiet(&p.floor_ns_per_page));
    cell.pages_per_sec = median(&quiet(&p.pages_per_sec));
    let by_block = |xs: &[f64], mask: &[bool]| {
        let (values, visits) = p.by_block(xs, mask);
        Estimate::over_visits(&values, &visits)
    };
    cell.x_floor = or_zero(by_block(&p.x_floor(), &kept.rounds));
    let scaling = p.scaling();
    cell.scaling_withheld = scaling.is_some() && kept.solo_rounds.is_none();
    cell.scaling = match (scaling, &kept.solo_rounds) {
        (Some(s), Some(mask)) => by_block(&s, mask),
        _ => None,
    };
    cell.noisy = cell.x_floor.noisy() || cell.scaling.is_some_and(|s| s.noisy());
    cell.disturbed_rounds = kept.rounds.iter().filter(|q| !**q).count();
}

/// Finds the run's yardsticks in `cells` and derives every cell's figures
/// by them: a round's state is judged by the whole run, so a cell that
/// never saw the machine quiet is not judged by its own best.
pub fn derive_all(cells: &mut [Cell]) -> Yardsticks {
    let y = Yardsticks::of(cells);
    for c in cells.iter_mut() {
        derive(c, y.for_cell(c));
    }
    y
}

impl Results {
    /// Derives every cell's figures and the run's yardsticks again from the
    /// rounds, by the current rules.
    pub fn derive_again(&mut self) {
        let y = derive_all(&mut self.cells);
        self.quiet_floor_ns = y.quiet_floor;
        self.quiet_probe_ns = y.quiet;
        self.quiet_throughput_ns = y.throughput;
        self.contention_probe_ns = y.contention;
        self.handoff_probe_ns = y.handoff;
    }
}

/// What [`Results::judge_against`] changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rejudged {
    /// Works whose quiet floor sat more than [`crate::QUIET_FLOOR`] over
    /// the quietest, with how far (a share).
    pub floors: Vec<(FloorWork, f64)>,
    /// Thread counts whose median handoff probe sat outside
    /// [`crate::HANDOFF`] of the usual one, with how far (a share, + or -).
    pub handoffs: Vec<(usize, f64)>,
    /// Thread counts whose quiet throughput probe sat more than
    /// [`crate::QUIET_THROUGHPUT`] over the quietest, with how far (one
    /// thread alone only, today: [`Yardsticks::throughput`]).
    pub throughputs: Vec<(usize, f64)>,
    /// Cells busy now that were not.
    pub busy: usize,
}

impl Results {
    /// Judges the rounds again against `quietest`, the yardsticks of other
    /// runs of the same machine: its quiet floors and (one thread) its
    /// quiet throughput probe where its own sat more than their margin
    /// over the quietest, and its handoff probes by the runs' usual median
    /// handoff where its own sat outside [`crate::HANDOFF`] of it. A run
    /// that never saw the machine quiet has busy yardsticks of its own,
    /// one whose threads sat in another placement most of the run another
    /// median handoff, and only the runs beside it can tell.
    pub fn judge_against(&mut self, quietest: &Quietest) -> Rejudged {
        let mut y = Yardsticks::of(&self.cells);
        let over = |margin: f64| move |own: f64, q: f64| own > q * (1.0 + margin);
        let band = 1.0 + crate::HANDOFF;
        let mut out = Rejudged {
            floors: adopt(
                &mut y.quiet_floor,
                &quietest.floors,
                over(crate::QUIET_FLOOR),
            ),
            handoffs: adopt(&mut y.handoff, &quietest.handoffs, |own, q| {
                own > q * band || own * band < q
            }),
            throughputs: adopt(
                &mut y.throughput,
                &quietest.throughputs,
                over(crate::QUIET_THROUGHPUT),
            ),
            busy: 0,
        };
        if out.floors.is_empty() && out.handoffs.is_empty() && out.throughputs.is_empty() {
            return out;
        }
        let busy_before = self.cells.iter().filter(|c| c.busy).count();
        for c in &mut self.cells {
            derive(c, y.for_cell(c));
        }
        self.quiet_floor_ns = y.quiet_floor;
        self.handoff_probe_ns = y.handoff;
        self.quiet_throughput_ns = y.throughput;
        let busy = self.cells.iter().filter(|c| c.busy).count();
        out.busy = busy.saturating_sub(busy_before);
        out
    }
}

/// Per thread count, the median (the lower of two middle ones) of the
/// median handoff probes of `runs`: the placement the runs usually had.
pub fn usual_handoffs<'a>(runs: impl IntoIterator<Item = &'a Results>) -> Vec<ProbeNs> {
    let mut by: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for r in runs {
        for h in &r.handoff_probe_ns {
            by.entry(h.threads).or_default().push(h.ns);
        }
    }
    by.into_iter()
        .map(|(threads, mut ns)| {
            ns.sort_by(f64::total_cmp);
            ProbeNs {
                threads,
                ns: ns[(ns.len() - 1) / 2],
            }
        })
        .collect()
}

/// The yardsticks several runs of one machine judge each other by
/// ([`Results::judge_against`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quietest {
    /// Per floor work, the lowest quiet floor of any run.
    pub floors: Vec<FloorNs>,
    /// Per thread count, the runs' usual median handoff.
    pub handoffs: Vec<ProbeNs>,
    /// Per thread count, the lowest quiet throughput probe of any run of
    /// the same build: the probe's instructions are the compiler's, and
    /// another build's need not take as long on the same core.
    pub throughputs: Vec<ProbeNs>,
}

impl Quietest {
    /// Those of `runs` (one machine's), the throughput probes of
    /// `same_build` (those of them built from one commit alike).
    pub fn of<'a>(
        runs: impl IntoIterator<Item = &'a Results> + Clone,
        same_build: impl IntoIterator<Item = &'a Results>,
    ) -> Self {
        // From the rounds, not the file's own figure: a run is judged by
        // what its peers measured.
        let own = same_build
            .into_iter()
            .flat_map(|r| Yardsticks::of(&r.cells).throughput);
        Self {
            floors: quietest_floors(runs.clone()),
            handoffs: usual_handoffs(runs),
            throughputs: lowest(own),
        }
    }
}

/// Per floor work, the lowest quiet floor of any of `runs`.
pub fn quietest_floors<'a>(runs: impl IntoIterator<Item = &'a Results>) -> Vec<FloorNs> {
    lowest(
        runs.into_iter()
            .flat_map(|r| r.quiet_floor_ns.iter().cloned()),
    )
}

/// A yardstick of one key (a floor work, a thread count): what the runs
/// of a machine are merged and judged by, key by key.
trait Keyed {
    type Key: PartialEq + Clone;
    fn key(&self) -> &Self::Key;
    fn ns(&self) -> f64;
    fn set_ns(&mut self, ns: f64);
}

impl Keyed for FloorNs {
    type Key = FloorWork;
    fn key(&self) -> &FloorWork {
        &self.work
    }
    fn ns(&self) -> f64 {
        self.ns
    }
    fn set_ns(&mut self, ns: f64) {
        self.ns = ns;
    }
}

impl Keyed for ProbeNs {
    type Key = usize;
    fn key(&self) -> &usize {
        &self.threads
    }
    fn ns(&self) -> f64 {
        self.ns
    }
    fn set_ns(&mut self, ns: f64) {
        self.ns = ns;
    }
}

/// Per key, the lowest of `xs`, in the order the keys first came.
fn lowest<T: Keyed>(xs: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = vec![];
    for x in xs {
        match out.iter_mut().find(|o| o.key() == x.key()) {
            Some(o) => o.set_ns(o.ns().min(x.ns())),
            None => out.push(x),
        }
    }
    out
}

/// Each of `own` that `off(own, theirs)` finds off the yardstick of its
/// key in `theirs` takes that one's value instead; returns those keys, with
/// how far off each was (a share, + or -).
fn adopt<T: Keyed>(
    own: &mut [T],
    theirs: &[T],
    off: impl Fn(f64, f64) -> bool,
) -> Vec<(T::Key, f64)> {
    let mut out = vec![];
    for o in own {
        let Some(q) = theirs.iter().find(|q| q.key() == o.key()) else {
            continue;
        };
        if off(o.ns(), q.ns()) {
            out.push((o.key().clone(), o.ns() / q.ns() - 1.0));
            o.set_ns(q.ns());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sample, KernelTimed};

    /// A `threads`-thread cell of 16 rounds in two visits, its subject at
    /// `subject` ns/page and its floor at `floor`, made a run once `probe`
    /// filled in the probe a test is about.
    fn run_of(threads: usize, subject: f64, floor: f64, probe: impl FnOnce(&mut Pairs)) -> Results {
        let mut c = sample::cell("hybrid", "private", threads, 1.0, 1.0);
        c.pairs.subject_ns_per_page = vec![subject; 16];
        c.pairs.floor_ns_per_page = vec![floor; 16];
        c.pairs.pages_per_sec = vec![1.0; 16];
        c.pairs.solo_pages_per_sec = None;
        c.pairs.visit_rounds = Some(vec![8, 8]);
        probe(&mut c.pairs);
        let mut r = sample::results(vec![c]);
        r.derive_again();
        r
    }

    /// A 2-thread run whose handoff probe read `ns` (64 turns of
    /// `ns / 64`) throughout.
    fn run_with_handoff(ns: f64) -> Results {
        run_of(2, 50.0, 1.0, |p| p.handoff_ns = Some(vec![ns; 16]))
    }

    #[test]
    fn a_run_whose_threads_sat_apart_throughout_is_judged_by_the_usual_placement() {
        let quick = run_with_handoff(4000.0);
        let mut slow = run_with_handoff(20_000.0);
        // Alone, the slow run's own median is its yardstick: it cannot tell.
        assert!(!slow.cells[0].busy);
        let usual = usual_handoffs([&quick, &quick.clone(), &slow]);
        assert_eq!(usual, quick.handoff_probe_ns);
        let by = |handoffs: &Vec<ProbeNs>| Quietest {
            handoffs: handoffs.clone(),
            ..Quietest::default()
        };
        let j = slow.judge_against(&by(&usual));
        assert_eq!(j.handoffs, vec![(2, 4.0)]);
        assert_eq!(j.busy, 1);
        assert!(slow.cells[0].busy);
        // The usual runs are judged by their own, and nothing changes.
        let mut again = quick.clone();
        assert_eq!(again.judge_against(&by(&usual)), Rejudged::default());
        assert_eq!(again, quick);
        // One run much quicker than the others is the odd one, not their
        // yardstick.
        let mut odd = run_with_handoff(1000.0);
        let usual = usual_handoffs([&odd, &quick, &quick.clone()]);
        assert_eq!(usual, quick.handoff_probe_ns);
        assert_eq!(odd.judge_against(&by(&usual)).handoffs, vec![(2, -0.75)]);
        assert!(odd.cells[0].busy);
    }

    /// A 1-thread run whose throughput probe read `ns` throughout.
    fn run_with_throughput(ns: f64) -> Results {
        run_of(1, 3.0, 6.0, |p| p.throughput_ns = Some(vec![ns; 16]))
    }

    #[test]
    fn a_run_whose_core_was_shared_throughout_is_judged_by_the_quietest_core() {
        let quiet = run_with_throughput(3000.0);
        let mut shared = run_with_throughput(5400.0);
        // Alone, its own 5th percentile is its yardstick: it cannot tell.
        assert!(!shared.cells[0].busy);
        let quietest = Quietest::of([&quiet, &shared], [&quiet, &shared]);
        assert_eq!(quietest.throughputs, quiet.quiet_throughput_ns);
        let j = shared.judge_against(&quietest);
        assert_eq!(j.throughputs.len(), 1);
        assert!((j.throughputs[0].1 - 0.8).abs() < 1e-9, "{j:?}");
        assert_eq!(j.busy, 1);
        // Within the margin, nothing changes.
        let mut near = run_with_throughput(3200.0);
        let before = near.clone();
        assert_eq!(near.judge_against(&quietest), Rejudged::default());
        assert_eq!(near, before);
        // Another build's probes judge nothing: the shared run alone is
        // its own yardstick.
        let mut shared = run_with_throughput(5400.0);
        let other_build = Quietest::of([&quiet, &shared], [&shared]);
        assert_eq!(shared.judge_against(&other_build), Rejudged::default());
        // Nor does a file's own stated yardstick: the rounds do.
        let mut liar = quiet.clone();
        liar.quiet_throughput_ns[0].ns = 1e-9;
        let q = Quietest::of([&liar, &shared], [&liar, &shared]);
        assert_eq!(q.throughputs, quiet.quiet_throughput_ns);
    }

    #[test]
    fn each_key_keeps_its_lowest_and_only_an_off_one_adopts_theirs() {
        let p = |threads, ns| ProbeNs { threads, ns };
        let low = lowest([p(2, 5.0), p(1, 3.0), p(2, 4.0), p(1, 3.5)]);
        assert_eq!(low, vec![p(2, 4.0), p(1, 3.0)]);
        let mut own = vec![p(1, 3.3), p(2, 6.0), p(4, 9.0)];
        let off = adopt(&mut own, &low, |own, q| own > q * 1.1);
        assert_eq!(off, vec![(2, 0.5)]);
        // Within the margin, or with no yardstick of its key, one keeps its own.
        assert_eq!(own, vec![p(1, 3.3), p(2, 4.0), p(4, 9.0)]);
    }

    #[test]
    fn a_cell_the_kernel_timed_keeps_its_figures() {
        let mut c = sample::kernel_cell("gup-test-log", "pin-longterm", 1, 1.0, 1.0);
        c.kernel_timed = Some(KernelTimed {
            source: "gup_test".into(),
            pages: 32768,
            get_us: vec![vec![130_000.0]],
            put_us: vec![vec![31_000.0]],
        });
        c.pairs = Pairs::default();
        c.ns_per_page = 3967.0;
        derive(&mut c, Yardstick::default());
        assert_eq!(c.ns_per_page, 3967.0);
    }
}
