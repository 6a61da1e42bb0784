//! The bottom line: what a run's model cells say, in words, at the top of
//! `report.txt`. Timings are drawn only from judged cells ([`judged`]: not
//! busy, not disturbed, with an interval), and a difference is stated only
//! where the two 95% intervals separate; where they do not, it says so.
//! Wrong answers and memory are counted, not timed: every cell's count is
//! used. Whether the run is usable at all comes first.

use crate::runs::{is_calibration, subject, Run, Shape};
use crate::table::num;
use pin_results::{Cell, MODEL};

/// Workloads whose x floor is a pin's price (the others are measured for
/// their answers, in the false-positive tables).
const PRICED: [&str; 4] = ["private", "shared", "huge", "pte-thp"];

/// The findings, one sentence each, or nothing where the runs hold no
/// model cells. Each run is judged on its own (a cell measured in two runs
/// is two cells, not a choice between them), its sentences labelled with
/// the run's where there are several.
pub fn findings(runs: &[Run]) -> Vec<String> {
    let mut out = vec![];
    for run in runs {
        let label = if runs.len() > 1 {
            format!("[{}] ", run.label)
        } else {
            String::new()
        };
        out.extend(of_run(run).into_iter().map(|f| format!("{label}{f}")));
    }
    out
}

fn of_run(run: &Run) -> Vec<String> {
    let cells: Vec<&Cell> = run
        .results
        .cells
        .iter()
        .filter(|c| c.backend == MODEL && !is_calibration(c) && c.kernel_timed.is_none())
        .collect();
    if cells.is_empty() {
        return vec![];
    }
    let mut out = vec![usable(run, &cells)];
    let blind = blind(&cells);
    out.extend(cheapest(&cells, &blind));
    out.extend(scaling(&cells));
    out.extend(exactness(&cells, &blind));
    out.extend(memory(run));
    out.extend(split_fix(&cells));
    out
}

/// `hybrid - bias` on `private` order-0 pages at the fewest threads, of
/// judged cells: the price of c24d37322548's fix, or that the run does not
/// resolve it.
fn split_fix(cells: &[&Cell]) -> Vec<String> {
    let fewest = cells.iter().map(|c| c.threads).min();
    let at: Vec<&Cell> = cells
        .iter()
        .copied()
        .filter(|c| Some(c.threads) == fewest && judged(c))
        .collect();
    crate::findings::split_fix_price(&at)
        .into_iter()
        .take(1)
        .collect()
}

/// A cell whose timing can be quoted: not busy (its rounds ran on a quiet
/// machine), not disturbed (its threads had their CPUs), with an interval.
fn judged(c: &Cell) -> bool {
    !c.busy && !c.disturbed() && c.x_floor.n > 0
}

/// Whether the run can be quoted: at least half its cells judged on a quiet
/// machine, and the machine in the same state at its end as at its start
/// (the fingerprints' intervals overlap).
fn usable(run: &Run, cells: &[&Cell]) -> String {
    let busy = cells.iter().filter(|c| c.busy).count();
    let disturbed = cells.iter().filter(|c| !c.busy && c.disturbed()).count();
    let judged = cells.iter().filter(|c| judged(c)).count();
    let moved = run.results.fingerprint.as_ref().is_some_and(|f| {
        f.end
            .is_some_and(|e| e.ci_high < f.start.ci_low || f.start.ci_high < e.ci_low)
    });
    let verdict = if 2 * judged < cells.len() {
        "NOT usable as evidence: most cells ran on a busy or shared machine; run it again \
         on a quiet one"
    } else if moved {
        "NOT usable as evidence: the machine's fingerprint moved between the run's start and end"
    } else if judged < cells.len() {
        "usable: the others are left out of the timings below (run them again to judge them)"
    } else {
        "usable"
    };
    format!(
        "{judged} of {} model cells judged (quiet machine, CPUs to themselves, an \
         interval); {busy} busy, {disturbed} disturbed: {verdict}.",
        cells.len()
    )
}

/// Subjects that read a pinned page as unpinned in any cell (FOLL_GET's
/// `plain`): they are not pin tracking, whatever they cost.
fn blind(cells: &[&Cell]) -> Vec<String> {
    let mut out: Vec<String> = cells
        .iter()
        .filter(|c| c.false_negatives.is_some_and(|n| n > 0))
        .map(|c| subject(c))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The judged cells of each priced workload shape at its fewest threads,
/// memmap local.
fn judged_at_fewest<'a>(cells: &[&'a Cell]) -> Vec<(Shape, Vec<&'a Cell>)> {
    let mut shapes: Vec<Shape> = vec![];
    for c in cells {
        let s = Shape::of(c);
        if PRICED.contains(&c.workload.as_str()) && !shapes.contains(&s) {
            shapes.push(s);
        }
    }
    shapes
        .into_iter()
        .filter_map(|s| {
            let of: Vec<&Cell> = cells
                .iter()
                .copied()
                .filter(|c| s.holds(c) && c.numa.placement == "local" && c.x_floor.n > 0)
                .collect();
            let fewest = of.iter().map(|c| c.threads).min()?;
            let judged = of
                .into_iter()
                .filter(|c| c.threads == fewest && judged(c))
                .collect();
            Some((s, judged))
        })
        .collect()
}

/// Per priced workload, the cheapest pin-tracking scheme and by how much,
/// where its interval separates it from the next.
fn cheapest(cells: &[&Cell], blind: &[String]) -> Vec<String> {
    let parts: Vec<String> = judged_at_fewest(cells)
        .into_iter()
        .filter_map(|(shape, mut of)| {
            of.retain(|c| !blind.contains(&subject(c)));
            of.sort_by(|a, b| a.x_floor.median.total_cmp(&b.x_floor.median));
            let (a, b) = (of.first()?, of.get(1)?);
            let (xa, xb) = (&a.x_floor, &b.x_floor);
            Some(if xa.ci_high < xb.ci_low {
                format!(
                    "{} {} {} x floor, {:.0}% below {} {}",
                    shape.short(),
                    subject(a),
                    num(xa.median),
                    (1.0 - xa.median / xb.median) * 100.0,
                    subject(b),
                    num(xb.median)
                )
            } else {
                format!(
                    "{} {} {} and {} {} (intervals overlap)",
                    shape.short(),
                    subject(a),
                    num(xa.median),
                    subject(b),
                    num(xb.median)
                )
            })
        })
        .collect();
    if parts.is_empty() {
        return vec![];
    }
    vec![format!(
        "Cheapest pin-tracking scheme per workload (fewest threads): {}.",
        parts.join("; ")
    )]
}

/// At the most threads of `private`, which schemes lose throughput with
/// more threads (x 1T's interval below 1) and the range of the rest.
fn scaling(cells: &[&Cell]) -> Vec<String> {
    let of: Vec<&Cell> = cells
        .iter()
        .copied()
        .filter(|c| c.workload == "private" && c.numa.placement == "local" && judged(c))
        .filter(|c| c.scaling.is_some_and(|s| s.n > 0))
        .collect();
    let Some(most) = of.iter().map(|c| c.threads).max() else {
        return vec![];
    };
    let mut at: Vec<(String, pin_results::Estimate)> = of
        .iter()
        .filter(|c| c.threads == most)
        .filter_map(|c| Some((subject(c), c.scaling?)))
        .collect();
    at.sort_by(|a, b| a.1.median.total_cmp(&b.1.median));
    let losers: Vec<String> = at
        .iter()
        .filter(|(_, e)| e.ci_high < 1.0)
        .map(|(s, e)| format!("{s} {}", num(e.median)))
        .collect();
    let rest: Vec<&(String, pin_results::Estimate)> =
        at.iter().filter(|(_, e)| e.ci_high >= 1.0).collect();
    let mut line = format!("private at {most} threads, pages/s over one thread's (x 1T): ");
    if let (Some(lo), Some(hi)) = (rest.first(), rest.last()) {
        line += &format!(
            "{} ({}) to {} ({})",
            num(lo.1.median),
            lo.0,
            num(hi.1.median),
            hi.0
        );
    }
    if !losers.is_empty() {
        line += &format!(
            "{}slower than one thread: {}",
            if rest.is_empty() { "" } else { "; " },
            losers.join(", ")
        );
    }
    vec![line + "."]
}

/// Which schemes answered exactly where `mixed` and `refstorm` asked them,
/// which read unpinned pages as pinned (and from how many references),
/// which are blind.
fn exactness(cells: &[&Cell], blind: &[String]) -> Vec<String> {
    let asked: Vec<&Cell> = cells
        .iter()
        .copied()
        .filter(|c| c.workload == "mixed" || c.workload == "refstorm")
        .collect();
    if asked.is_empty() {
        return vec![];
    }
    let mut subjects: Vec<String> = asked.iter().map(|c| subject(c)).collect();
    subjects.sort();
    subjects.dedup();
    let mut exact = vec![];
    let mut fp = vec![];
    for s in &subjects {
        if blind.contains(s) {
            continue;
        }
        let mine = asked.iter().filter(|c| subject(c) == *s);
        let from = mine
            .clone()
            .filter(|c| c.false_positives.is_some_and(|n| n > 0))
            .filter_map(|c| c.fp_threshold_refs)
            .min();
        // Exact only where every answer was counted and none was wrong.
        let counted = mine
            .clone()
            .all(|c| c.false_positives.is_some() && c.false_negatives.is_some());
        let wrong = mine
            .clone()
            .any(|c| c.false_positives.is_some_and(|n| n > 0));
        match (counted, wrong, from) {
            (true, false, _) => exact.push(s.clone()),
            (_, true, Some(r)) => fp.push(format!("{s} (from {r} references)")),
            (_, true, None) => fp.push(s.clone()),
            (false, false, _) => {}
        }
    }
    let mut asked_in: Vec<&str> = asked.iter().map(|c| c.workload.as_str()).collect();
    asked_in.sort();
    asked_in.dedup();
    let mut line = format!(
        "Exact where {} asked (counted, not timed): {}",
        asked_in.join(" and "),
        list(&exact)
    );
    if !fp.is_empty() {
        line += &format!("; read unpinned pages as pinned: {}", fp.join(", "));
    }
    if !blind.is_empty() {
        line += &format!("; blind to pins (FOLL_GET): {}", blind.join(", "));
    }
    vec![line + "."]
}

/// Tracking memory per 4 KiB page in the order-0 workload with the largest
/// memmap, scheme by scheme, least first.
fn memory(run: &Run) -> Vec<String> {
    let Some((shape, cells)) = crate::tables::memory_cells(run) else {
        return vec![];
    };
    let mut per: Vec<(String, f64)> = cells
        .iter()
        .filter_map(|c| Some((subject(c), crate::tables::bytes_per_page(c)?)))
        .collect();
    per.sort_by(|a, b| a.1.total_cmp(&b.1));
    let parts: Vec<String> = per
        .iter()
        .map(|(s, b)| format!("{s} {}", num(*b)))
        .collect();
    vec![format!(
        "Memory for tracking, bytes per 4 KiB page ({}, after the cell): {}.",
        shape.short(),
        parts.join(", ")
    )]
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::{sample, Estimate};

    fn est(median: f64, hw: f64) -> Estimate {
        Estimate {
            median,
            ci_low: median - hw,
            ci_high: median + hw,
            n: 40,
        }
    }

    fn cell(s: &str, w: &str, x: f64, hw: f64) -> Cell {
        let mut c = sample::cell(s, w, 1, 10.0, 1.0);
        c.x_floor = est(x, hw);
        c
    }

    #[test]
    fn the_cheapest_is_named_only_where_the_intervals_separate() {
        let mut plain = cell("plain", "mixed", 1.0, 0.01);
        plain.false_negatives = Some(32);
        let runs = Run::label_all(vec![(
            "r.json".into(),
            sample::results(vec![
                cell("plain", "private", 1.5, 0.05),
                cell("hybrid", "private", 2.16, 0.06),
                cell("exact", "private", 2.68, 0.06),
                plain,
            ]),
        )]);
        let f = findings(&runs);
        let cheap = f
            .iter()
            .find(|l| l.starts_with("Cheapest"))
            .expect("cheapest");
        assert!(
            cheap.contains("private hybrid 2.16 x floor, 19% below exact 2.68"),
            "{cheap}"
        );
        assert!(f[0].contains(": usable."), "{}", f[0]);
        let runs = Run::label_all(vec![(
            "r.json".into(),
            sample::results(vec![
                cell("hybrid", "private", 2.16, 0.3),
                cell("exact", "private", 2.20, 0.3),
            ]),
        )]);
        let f = findings(&runs);
        let cheap = f
            .iter()
            .find(|l| l.starts_with("Cheapest"))
            .expect("cheapest");
        assert!(cheap.contains("(intervals overlap)"), "{cheap}");
    }

    #[test]
    fn busy_cells_are_left_out_and_a_mostly_busy_run_is_not_usable() {
        let mut busy = cell("hybrid", "private", 1.0, 0.01);
        busy.busy = true;
        let mut busy2 = cell("exact", "private", 3.0, 0.01);
        busy2.busy = true;
        let runs = Run::label_all(vec![(
            "r.json".into(),
            sample::results(vec![busy, busy2, cell("bias", "private", 2.0, 0.01)]),
        )]);
        let f = findings(&runs);
        assert!(f[0].starts_with("1 of 3 model cells judged"), "{}", f[0]);
        assert!(f[0].contains("NOT usable"), "{}", f[0]);
        assert!(!f.iter().any(|l| l.starts_with("Cheapest")), "{f:?}");
    }

    #[test]
    fn exactness_names_false_positives_from_their_reference_count_and_the_blind() {
        let mut bias = cell("bias", "refstorm", 1.0, 0.01);
        bias.false_positives = Some(1025);
        bias.fp_threshold_refs = Some(1023);
        let mut plain = cell("plain", "mixed", 1.0, 0.01);
        plain.false_negatives = Some(32);
        let mut exact = cell("exact", "refstorm", 1.0, 0.01);
        exact.false_positives = Some(0);
        let runs = Run::label_all(vec![(
            "r.json".into(),
            sample::results(vec![bias, plain, exact]),
        )]);
        let f = findings(&runs);
        let line = f
            .iter()
            .find(|l| l.starts_with("Exact"))
            .expect("exactness");
        assert!(
            line.contains("refstorm asked (counted, not timed): exact;"),
            "{line}"
        );
        assert!(line.contains("bias (from 1023 references)"), "{line}");
        assert!(line.contains("blind to pins (FOLL_GET): plain"), "{line}");
    }

    #[test]
    fn two_runs_of_the_same_cells_are_judged_each_on_its_own() {
        let run = |x: f64| {
            sample::results(vec![
                cell("hybrid", "private", x, 0.01),
                cell("exact", "private", 3.0, 0.01),
            ])
        };
        let runs = Run::label_all(vec![
            ("a.json".into(), run(2.0)),
            ("b.json".into(), run(2.2)),
        ]);
        let f = findings(&runs);
        let cheap: Vec<&String> = f.iter().filter(|l| l.contains("Cheapest")).collect();
        assert_eq!(cheap.len(), 2, "{f:?}");
        assert!(
            cheap[0].starts_with("[A] ") && cheap[1].starts_with("[B] "),
            "{cheap:?}"
        );
        assert!(
            cheap.iter().all(|l| !l.contains("below hybrid")),
            "{cheap:?}"
        );
    }

    #[test]
    fn disturbed_cells_are_not_judged_and_false_negatives_anywhere_are_blind() {
        let mut shared = cell("hybrid", "private", 1.0, 0.01);
        shared.cpu_share = Some(0.5);
        let mut plain = cell("plain", "refstorm", 1.0, 0.01);
        plain.false_positives = Some(0);
        plain.false_negatives = Some(2048);
        let runs = Run::label_all(vec![(
            "r.json".into(),
            sample::results(vec![shared, cell("exact", "private", 2.0, 0.01), plain]),
        )]);
        let f = findings(&runs);
        assert!(f[0].contains("1 disturbed"), "{}", f[0]);
        assert!(!f.iter().any(|l| l.contains("hybrid 1.00")), "{f:?}");
        let line = f
            .iter()
            .find(|l| l.starts_with("Exact"))
            .expect("exactness");
        assert!(line.contains("blind to pins (FOLL_GET): plain"), "{line}");
        assert!(!line.contains("as pinned: plain"), "{line}");
    }
}
