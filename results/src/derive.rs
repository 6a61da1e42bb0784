//! A cell's figures from its rounds: which rounds ran on a quiet machine
//! ([`crate::quiet`]), then medians and 95% intervals of what they measured.
//! Every figure of a cell besides the raw `pairs` is derived here, so a file
//! of an earlier schema that kept its rounds can be derived again by the
//! current rules ([`crate::Results::read`]).

use crate::{Cell, Estimate, FloorNs, FloorWork, Pairs, Results, Yardstick, Yardsticks};

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
        self.contention_probe_ns = y.contention;
    }
}

impl Results {
    /// Judges the rounds again against the quieter of the run's own quiet
    /// floors and `quietest` (those of other runs of the same machine):
    /// a run that never saw the machine quiet has a busy quiet floor of
    /// its own, and only a run that did can tell. Returns the works whose
    /// quiet floor sat more than [`crate::QUIET_FLOOR`] over `quietest`,
    /// with how far (a share), and the cells of theirs now busy.
    pub fn judge_against(&mut self, quietest: &[FloorNs]) -> (Vec<(FloorWork, f64)>, usize) {
        let mut y = Yardsticks::of(&self.cells);
        let mut moved = vec![];
        for own in &mut y.quiet_floor {
            let Some(q) = quietest.iter().find(|q| q.work == own.work) else {
                continue;
            };
            if own.ns > q.ns * (1.0 + crate::QUIET_FLOOR) {
                moved.push((own.work.clone(), own.ns / q.ns - 1.0));
                own.ns = q.ns;
            }
        }
        if moved.is_empty() {
            return (moved, 0);
        }
        let busy_before = self.cells.iter().filter(|c| c.busy).count();
        for c in &mut self.cells {
            derive(c, y.for_cell(c));
        }
        self.quiet_floor_ns = y.quiet_floor;
        let busy = self.cells.iter().filter(|c| c.busy).count();
        (moved, busy.saturating_sub(busy_before))
    }
}

/// Per floor work, the lowest quiet floor of any of `runs`.
pub fn quietest_floors<'a>(runs: impl IntoIterator<Item = &'a Results>) -> Vec<FloorNs> {
    let mut out: Vec<FloorNs> = vec![];
    for r in runs {
        for f in &r.quiet_floor_ns {
            match out.iter_mut().find(|o| o.work == f.work) {
                Some(o) => o.ns = o.ns.min(f.ns),
                None => out.push(f.clone()),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sample, KernelTimed};

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
