//! Whether a machine keeps the promise its intervals make: over several
//! runs of the same cells, how many of each run's 95% intervals hold the
//! median of the other runs of that cell (a true 95% interval of what a
//! rerun gives misses about 1 in 20), how many cell-runs were busy, and
//! how far the runs' medians lie from each other. `pinbench summary` of
//! several files prints it, so a user learns whether the stated
//! uncertainty holds on their machine before quoting it.

use crate::runs::{Run, Shape};
use pin_results::{Cell, Estimate};

/// A cell's medians are "close" when within this share of the runs' median.
pub const CLOSE: f64 = 0.03;

/// Missed cell-runs named, at most.
const MISSED_SHOWN: usize = 12;

/// What the runs of one set of cells say about their intervals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    /// (held, judged) cell-runs of `x floor`: judged is a run where the
    /// cell was not busy and another run has it; held, its interval holds
    /// the other runs' median.
    pub x_floor: (usize, usize),
    /// Per thread count: (held, judged) of `x floor`.
    pub x_floor_by_threads: Vec<(usize, usize, usize)>,
    /// The cell-runs whose `x floor` interval missed: cell, run label.
    pub missed: Vec<(String, String)>,
    /// The same for `x 1T`, where not withheld.
    pub scaling: (usize, usize),
    /// Per thread count: (busy cell-runs, cell-runs).
    pub busy: Vec<(usize, usize, usize)>,
    /// Per thread count, where the busy cell-runs were: (threads, workload
    /// and folio order as `huge/18`, busy cell-runs), most first. On the
    /// 2-vCPU EPYC VM a calm hour's busy share is nearly all `huge` order
    /// 18, whose floor the host's memory traffic moves (docs/method.md).
    pub busy_where: Vec<(usize, String, usize)>,
    /// Per thread count: (cells within [`CLOSE`] of their runs' median in
    /// every judged run, cells judged in two runs or more).
    pub close: Vec<(usize, usize, usize)>,
    /// Per thread count: the median `x floor` half-width of judged
    /// cell-runs.
    pub half_width: Vec<(usize, f64)>,
    /// The largest `x 1T` of any run, and the cell's threads.
    pub max_scaling: Option<(f64, usize)>,
}

/// The median of `xs`.
fn median(xs: &[f64]) -> Option<f64> {
    Estimate::of(xs).map(|e| e.median)
}

/// Each run's cell of every key any run has (`None` where a run lacks it).
fn by_key(runs: &[Run], key: impl Fn(&Cell) -> String) -> Vec<Vec<Option<&Cell>>> {
    let keys = crate::runs::distinct(runs.iter().flat_map(|r| r.results.cells.iter().map(&key)));
    let index: Vec<std::collections::HashMap<String, &Cell>> = runs
        .iter()
        .map(|r| r.results.cells.iter().map(|c| (key(c), c)).collect())
        .collect();
    keys.iter()
        .map(|k| index.iter().map(|ix| ix.get(k).copied()).collect())
        .collect()
}

/// Of `estimates` (one per run, `None` where not judged), each judged
/// run's index and whether its interval holds the other runs' median.
fn verdicts(estimates: &[Option<Estimate>]) -> Vec<(usize, bool)> {
    let mut out = vec![];
    for (i, e) in estimates.iter().enumerate() {
        let Some(e) = e else { continue };
        let others: Vec<f64> = estimates
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .filter_map(|(_, o)| o.map(|o| o.median))
            .collect();
        let Some(m) = median(&others) else { continue };
        out.push((i, e.ci_low <= m && m <= e.ci_high));
    }
    out
}

/// Of `estimates`: (held, judged).
fn held(estimates: &[Option<Estimate>]) -> (usize, usize) {
    let v = verdicts(estimates);
    (v.iter().filter(|(_, h)| *h).count(), v.len())
}

fn add(v: &mut Vec<(usize, usize, usize)>, threads: usize, a: usize, b: usize) {
    match v.iter_mut().find(|(t, _, _)| *t == threads) {
        Some(x) => {
            x.1 += a;
            x.2 += b;
        }
        None => {
            v.push((threads, a, b));
            v.sort_unstable();
        }
    }
}

/// Counts `n` busy cell-runs of `shape` (`huge/18`) at `threads` into `v`.
fn add_busy(v: &mut Vec<(usize, String, usize)>, threads: usize, shape: String, n: usize) {
    if n == 0 {
        return;
    }
    match v.iter_mut().find(|(t, s, _)| *t == threads && *s == shape) {
        Some(x) => x.2 += n,
        None => v.push((threads, shape, n)),
    }
}

impl Coverage {
    /// Over `runs`, cells matched by [`Cell::identity`].
    pub fn of(runs: &[Run]) -> Coverage {
        let mut cov = Coverage::default();
        let mut widths: Vec<(usize, Vec<f64>)> = Vec::new();
        for cells in by_key(runs, Cell::identity) {
            let Some(threads) = cells.iter().flatten().map(|c| c.threads).next() else {
                continue;
            };
            let judged = |c: &&Cell| !c.busy && c.x_floor.n > 0;
            let xf: Vec<Option<Estimate>> = cells
                .iter()
                .map(|c| c.filter(judged).map(|c| c.x_floor))
                .collect();
            let sc: Vec<Option<Estimate>> =
                cells.iter().map(|c| c.and_then(|c| c.scaling)).collect();
            let (h, n) = held(&xf);
            cov.x_floor = (cov.x_floor.0 + h, cov.x_floor.1 + n);
            add(&mut cov.x_floor_by_threads, threads, h, n);
            for (i, _) in verdicts(&xf).into_iter().filter(|(_, h)| !h) {
                let name = cells.iter().flatten().next().map_or(String::new(), |c| {
                    format!(
                        "{} {} {threads}T",
                        crate::runs::subject(c),
                        Shape::of(c).short()
                    )
                });
                cov.missed.push((name, runs[i].label.clone()));
            }
            let (h, n) = held(&sc);
            cov.scaling = (cov.scaling.0 + h, cov.scaling.1 + n);
            let present = cells.iter().flatten().count();
            let busy = cells.iter().flatten().filter(|c| c.busy).count();
            add(&mut cov.busy, threads, busy, present);
            if let Some(c) = cells.iter().flatten().next() {
                add_busy(&mut cov.busy_where, threads, Shape::of(c).short(), busy);
            }
            let medians: Vec<f64> = xf.iter().flatten().map(|e| e.median).collect();
            if medians.len() >= 2 {
                let m = median(&medians).unwrap_or(0.0);
                let close = medians.iter().all(|x| (x / m - 1.0).abs() <= CLOSE);
                add(&mut cov.close, threads, usize::from(close), 1);
            }
            let w = xf.iter().flatten().map(Estimate::half_width);
            match widths.iter_mut().find(|(t, _)| *t == threads) {
                Some((_, v)) => v.extend(w),
                None => widths.push((threads, w.collect())),
            }
            for s in sc.iter().flatten() {
                if cov.max_scaling.is_none_or(|(m, _)| s.median > m) {
                    cov.max_scaling = Some((s.median, threads));
                }
            }
        }
        // Per thread count, most busy first.
        cov.busy_where
            .sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)).then(a.1.cmp(&b.1)));
        widths.sort_by_key(|(t, _)| *t);
        cov.half_width = widths
            .into_iter()
            .filter_map(|(t, v)| Some((t, median(&v)?)))
            .collect();
        cov
    }

    /// The lines `pinbench summary` prints.
    pub fn lines(&self) -> Vec<String> {
        let pct = |(a, b): (usize, usize)| {
            if b == 0 {
                "none judged".to_string()
            } else {
                format!("{a} of {b} ({:.0}%)", 100.0 * a as f64 / b as f64)
            }
        };
        let mut out = vec![
            "intervals against reruns (a 95% interval should hold the other runs' median \
             in about 19 of 20 cell-runs):"
                .to_string(),
            format!("  x floor held: {}", pct(self.x_floor)),
            format!("  x 1T held:    {}", pct(self.scaling)),
        ];
        if self.x_floor_by_threads.len() > 1 {
            for &(t, h, n) in &self.x_floor_by_threads {
                out.push(format!("  x floor held at {t}T: {}", pct((h, n))));
            }
        }
        for &(t, b, n) in &self.busy {
            let by: Vec<String> = self
                .busy_where
                .iter()
                .filter(|(bt, _, _)| *bt == t)
                .map(|(_, shape, k)| format!("{shape} {k}"))
                .collect();
            let by = if by.is_empty() {
                String::new()
            } else {
                format!(": {}", by.join(", "))
            };
            out.push(format!("  busy at {t}T: {}{by}", pct((b, n))));
        }
        for &(t, c, n) in &self.close {
            out.push(format!(
                "  x floor within +-{:.0}% of the runs' median at {t}T: {} of the cells judged in 2 runs or more",
                CLOSE * 100.0,
                pct((c, n))
            ));
        }
        for &(t, w) in &self.half_width {
            out.push(format!(
                "  median x floor 95% CI half-width at {t}T: {:.1}%",
                w * 100.0
            ));
        }
        if !self.missed.is_empty() {
            let shown: Vec<String> = self
                .missed
                .iter()
                .take(MISSED_SHOWN)
                .map(|(cell, run)| format!("{cell} [{run}]"))
                .collect();
            let more = self.missed.len().saturating_sub(MISSED_SHOWN);
            out.push(format!(
                "  x floor missed: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        if let Some((m, t)) = self.max_scaling {
            out.push(format!("  largest x 1T of any run: {m:.2} ({t}T)"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample;

    fn run(label: &str, cells: Vec<Cell>) -> Run {
        Run {
            label: label.into(),
            source: label.into(),
            results: sample::results(cells),
        }
    }

    fn cell(median: f64, half: f64) -> Cell {
        let mut c = sample::cell("plain", "private", 1, 10.0, 1e8);
        c.x_floor = Estimate {
            median,
            ci_low: median - half,
            ci_high: median + half,
            n: 40,
        };
        c
    }

    #[test]
    fn an_interval_that_misses_the_other_runs_is_counted_as_missed() {
        // Three runs at 1.50 +- 0.01 and one at 1.60 +- 0.01: the odd one
        // misses the others' 1.50; each of the three holds the median of
        // its other three (1.50, 1.50, 1.60 -> 1.50).
        let runs = [
            run("a", vec![cell(1.50, 0.01)]),
            run("b", vec![cell(1.50, 0.01)]),
            run("c", vec![cell(1.50, 0.01)]),
            run("d", vec![cell(1.60, 0.01)]),
        ];
        let cov = Coverage::of(&runs);
        assert_eq!(cov.x_floor, (3, 4));
        // 1.60 is 6.7% over the median of the four (1.50).
        assert_eq!(cov.close, vec![(1, 0, 1)]);
        assert_eq!(cov.busy, vec![(1, 0, 4)]);
        let text = cov.lines().join("\n");
        assert!(text.contains("x floor held: 3 of 4 (75%)"), "{text}");
    }

    #[test]
    fn busy_cell_runs_are_counted_and_not_judged() {
        let mut busy = cell(2.0, 0.01);
        busy.busy = true;
        let runs = [
            run("a", vec![cell(1.50, 0.02)]),
            run("b", vec![busy]),
            run("c", vec![cell(1.51, 0.02)]),
        ];
        let cov = Coverage::of(&runs);
        assert_eq!(cov.x_floor, (2, 2));
        assert_eq!(cov.busy, vec![(1, 1, 3)]);
        assert_eq!(cov.close, vec![(1, 1, 1)]);
        assert_eq!(cov.busy_where, vec![(1, "private".to_string(), 1)]);
    }

    #[test]
    fn busy_cell_runs_are_named_by_workload_and_order_most_first() {
        let at = |workload: &str, order: u8, busy: bool| {
            let mut c = cell(1.5, 0.01);
            c.workload = workload.into();
            c.folio_order = order;
            c.busy = busy;
            c
        };
        let runs: Vec<Run> = ["a", "b", "c"]
            .iter()
            .map(|l| {
                let huge = *l != "a";
                run(
                    l,
                    vec![
                        at("huge", 18, huge),
                        at("huge", 9, false),
                        at("private", 0, *l == "c"),
                    ],
                )
            })
            .collect();
        let text = Coverage::of(&runs).lines().join("\n");
        assert!(
            text.contains("busy at 1T: 3 of 9 (33%): huge/18 2, private 1"),
            "{text}"
        );
    }
}
