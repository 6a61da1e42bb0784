//! Several runs of the same shape: per cell the median over the runs of
//! each run's median ratio, the run-to-run spread, and whether the census
//! is the same in every run.

use super::*;

/// One cell's identity across files.
fn key(c: &Cell) -> (String, String, usize, String) {
    (subject(c), column(c), c.threads, c.numa.placement.clone())
}

/// Several runs of the same shape: per cell, the median across files of the
/// runs' `x floor` (and `x 1T`) medians, and the run-to-run spread.
pub fn across(runs: &[Run]) -> String {
    let mut out = format!("pinbench summary of {} runs\n", runs.len());
    for r in runs {
        let m = &r.results.metadata;
        let _ = writeln!(
            out,
            "[{}] {}: {} ({}) {}, {}{}",
            r.label,
            clean(&r.source),
            clean(&m.host),
            clean(&m.cpu_model),
            clean(&m.start_time),
            r.results
                .fingerprint
                .map_or("no fingerprint".into(), |f| fingerprint_line(&f)),
            if r.results.partial { ", PARTIAL" } else { "" }
        );
        if let Some(line) = probe_line(&r.results) {
            let _ = writeln!(out, "    {line}");
        }
        for n in &r.results.notes {
            let _ = writeln!(out, "    note: {}", clean(n));
        }
    }
    for w in crate::compare::warnings(runs, &[]) {
        let _ = writeln!(out, "WARNING: {w}");
    }
    let _ = writeln!(
        out,
        "\nmedian over runs of each run's median; spread = max/min - 1 over runs; \
         CI = widest within-run 95% CI (high/low - 1); {}; a run where the cell was \
         busy (too few rounds on a quiet machine) is left out where others are not",
        crate::legend::spread()
    );
    let _ = writeln!(
        out,
        "{:<40} {:>8} {:>7} {:>7}  {:>7} {:>7} {:>7}",
        "cell", "x floor", "spread", "CI", "x 1T", "spread", "CI"
    );
    let keys = distinct(runs.iter().flat_map(|r| r.results.cells.iter().map(key)));
    let mut worst: Option<(f64, String)> = None;
    for k in &keys {
        let all: Vec<&Cell> = runs
            .iter()
            .filter_map(|r| r.results.cells.iter().find(|c| key(c) == *k))
            .collect();
        let busy = all.iter().filter(|c| c.busy).count();
        let cells = crate::runs::quiet_unless_all_busy(all.clone(), |c| c);
        let name = format!("{} {} {}T {}", clean(&k.0), k.1, k.2, k.3);
        let xf = spread_of(cells.iter().filter(|c| c.x_floor.n > 0).map(|c| c.x_floor));
        let sc = spread_of(cells.iter().filter_map(|c| c.scaling));
        if let Some((_, s, _)) = xf {
            if worst.as_ref().is_none_or(|(w, _)| s > *w) {
                worst = Some((s, name.clone()));
            }
        }
        let mut runs_note = match busy {
            0 => format!("{} runs", all.len()),
            b if b == all.len() => format!("{b} runs, all busy"),
            b => format!("{} runs, {b} busy left out", all.len()),
        };
        match cells.iter().filter(|c| c.scaling_withheld).count() {
            0 => {}
            w => runs_note.push_str(&format!(", x 1T withheld in {w}")),
        }
        let _ = writeln!(
            out,
            "{:<40} {}  {} ({runs_note})",
            name,
            spread_cols(xf),
            spread_cols(sc),
        );
    }
    if let Some((s, name)) = worst {
        let _ = writeln!(
            out,
            "\nwidest run-to-run spread of x floor: {:.1}% ({name})",
            s * 100.0
        );
    }
    if runs.len() >= 2 {
        let _ = writeln!(
            out,
            "\n{}",
            crate::coverage::Coverage::of(runs).lines().join("\n")
        );
        out.push_str(&census_check(runs, &keys));
    }
    out
}

/// Whether every run counted each cell the same: a census is exact, so
/// runs of one build and settings agree to the last operation, and a
/// difference means the files are of different builds or settings.
fn census_check(runs: &[Run], keys: &[(String, String, usize, String)]) -> String {
    let (mut same, mut differ) = (0, vec![]);
    for k in keys {
        let all: Vec<(&Run, &pin_results::Census)> = runs
            .iter()
            .filter_map(|r| {
                let c = r.results.cells.iter().find(|c| key(c) == *k)?;
                Some((r, c.census.as_ref()?))
            })
            .collect();
        let Some((first_run, first)) = all.first() else {
            continue;
        };
        match all.iter().find(|(_, c)| c != first) {
            None => same += 1,
            Some((r, c)) => {
                let change = crate::census::changes(first, c);
                let what = change.first().cloned().unwrap_or_default();
                differ.push(format!(
                    "{} {} {}T {}: [{}] and [{}] differ ({what})",
                    clean(&k.0),
                    k.1,
                    k.2,
                    k.3,
                    first_run.label,
                    r.label
                ));
            }
        }
    }
    if same + differ.len() == 0 {
        return String::new();
    }
    let mut out = String::new();
    if differ.is_empty() {
        let _ = writeln!(
            out,
            "census: identical in every run that counted it, all {same} cells"
        );
    } else {
        let _ = writeln!(
            out,
            "WARNING: census differs between runs in {} cells (of {}): the files are \
             of different builds or settings, so their timings are not reruns of one another:",
            differ.len(),
            same + differ.len()
        );
        for d in differ {
            let _ = writeln!(out, "  {d}");
        }
    }
    out
}

/// (median over runs, spread, widest within-run CI) of estimates.
fn spread_of(es: impl Iterator<Item = Estimate>) -> Option<(f64, f64, f64)> {
    let es: Vec<Estimate> = es.collect();
    let medians: Vec<f64> = es.iter().map(|e| e.median).collect();
    let m = Estimate::of(&medians)?.median;
    let ci = es
        .iter()
        .filter(|e| e.ci_low > 0.0)
        .map(|e| e.ci_high / e.ci_low - 1.0)
        .fold(0.0, f64::max);
    Some((m, crate::compare::spread(&medians), ci))
}

fn spread_cols(x: Option<(f64, f64, f64)>) -> String {
    match x {
        Some((m, s, ci)) => format!(
            "{:>8} {:>6.1}% {:>7}{}",
            num(m),
            s * 100.0,
            wide_percent(ci),
            if s > ci { crate::legend::SPREAD } else { ' ' }
        ),
        None => format!("{:>8} {:>7} {:>7} ", "-", "-", "-"),
    }
}

/// `x` as a percentage, `>999%` past that: an interval over two visits
/// that disagree (`t(0.975, 1)` is 12.7) can span several orders of
/// magnitude, a figure that says only that it is useless.
fn wide_percent(x: f64) -> String {
    if x * 100.0 > 999.0 {
        ">999%".into()
    } else {
        format!("{:.1}%", x * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample::{cell, results};

    #[test]
    fn across_runs_shows_the_spread_and_flags_what_one_run_cannot_see() {
        let runs: Vec<Run> = [15.0, 15.6, 15.3]
            .iter()
            .map(|&ns| results(vec![cell("bias", "private", 1, ns, 1e8)]))
            .enumerate()
            .map(|(i, r)| Run {
                label: ["A", "B", "C"][i].into(),
                source: format!("r{i}.json"),
                results: r,
            })
            .collect();
        let s = across(&runs);
        let row = s.lines().find(|l| l.starts_with("bias")).expect("row");
        // Medians 1.50, 1.56, 1.53: median 1.53, spread 4.0%, within-run CI
        // 1.01/0.99 - 1 = 2.0%: flagged.
        assert!(
            row.contains("1.53") && row.contains("4.0%") && row.contains("2.0%%"),
            "{row}"
        );
        assert!(
            s.contains("widest run-to-run spread of x floor: 4.0% (bias private 1T local)"),
            "{s}"
        );
        assert_eq!(wide_percent(0.5), "50.0%");
        assert_eq!(wide_percent(9.99), "999.0%");
        assert_eq!(wide_percent(39725796.2), ">999%");
    }

    #[test]
    fn a_census_that_differs_between_runs_is_named() {
        let census = |refcount: u64| pin_results::Census {
            pages: 4,
            locked_rmw: [("_refcount".to_string(), refcount)].into_iter().collect(),
            ..pin_results::Census::default()
        };
        let runs_of = |counts: [u64; 2]| -> Vec<Run> {
            counts
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let mut c = cell("bias", "private", 1, 15.0, 1e8);
                    c.census = Some(census(n));
                    Run {
                        label: ["A", "B"][i].into(),
                        source: format!("r{i}.json"),
                        results: results(vec![c]),
                    }
                })
                .collect()
        };
        let s = across(&runs_of([8, 8]));
        assert!(
            s.contains("census: identical in every run that counted it, all 1 cells"),
            "{s}"
        );
        let s = across(&runs_of([8, 12]));
        assert!(
            s.contains("WARNING: census differs between runs in 1 cells"),
            "{s}"
        );
        assert!(s.contains("locked _refcount: 2 -> 3 per page"), "{s}");
    }

    #[test]
    fn busy_runs_are_left_out_of_the_spread_and_counted() {
        let runs: Vec<Run> = [(15.0, false), (15.3, false), (30.0, true)]
            .iter()
            .enumerate()
            .map(|(i, &(ns, busy))| {
                let mut c = cell("bias", "private", 1, ns, 1e8);
                c.busy = busy;
                Run {
                    label: ["A", "B", "C"][i].into(),
                    source: format!("r{i}.json"),
                    results: results(vec![c]),
                }
            })
            .collect();
        let s = across(&runs);
        let row = s.lines().find(|l| l.starts_with("bias")).expect("row");
        // The busy 3.0 is left out: 1.50 and 1.53, spread 2.0%.
        assert!(
            row.contains("2.0%") && row.contains("(3 runs, 1 busy left out)"),
            "{row}"
        );
        assert!(
            s.contains("quiet clock probe: 3100 ns (1T); 1 of 1 cells busy"),
            "{s}"
        );
        assert!(
            s.contains("quiet floor: 10.00 ns/page; quiet clock probe"),
            "{s}"
        );
        // One run's own summary marks the busy cell.
        let one = render(&runs[2].results);
        assert!(one.contains("3.00+-0.03#"), "{one}");
    }
}
