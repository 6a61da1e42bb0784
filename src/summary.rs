//! The text printed at the end of a run, made only from the results (so a
//! results file can be summarised again later): per thread count and
//! placement, a scheme × workload table of ns/page with the ratio to the
//! `floor` of the same threads and placement; a table of what each scheme
//! got wrong or refused; and the three harness checks of issue 3 with their
//! targets, each marked met or NOT MET.

use crate::results::{Cell, Results, DISTURBED_CPU_SHARE};
use std::fmt::Write;

/// Target: harness overhead per page.
pub const NOOP_TARGET_NS: f64 = 0.5;
/// Target: plain/private/1 thread over floor.
pub const PLAIN_TARGET_RATIO: f64 = 1.2;
/// Target: private 2 threads over 1 thread, pages/s.
pub const SCALING_TARGET: f64 = 1.85;
/// The one scheme exempt from the scaling target (one global lock).
pub const SCALING_EXEMPT: &str = "side-tree-locked";

fn column(c: &Cell) -> String {
    if c.folio_order > 0 {
        format!("{}/{}", c.workload, c.folio_order)
    } else {
        c.workload.clone()
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn find<'a>(
    r: &'a Results,
    scheme: &str,
    col: &str,
    threads: usize,
    numa: &str,
) -> Option<&'a Cell> {
    r.cells.iter().find(|c| {
        c.scheme == scheme && column(c) == col && c.threads == threads && c.numa.placement == numa
    })
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

/// The summary of `r`.
pub fn render(r: &Results) -> String {
    let mut out = String::new();
    let mut groups: Vec<(usize, String)> = Vec::new();
    let (mut schemes, mut cols) = (Vec::new(), Vec::new());
    for c in &r.cells {
        let g = (c.threads, c.numa.placement.clone());
        if !groups.contains(&g) {
            groups.push(g);
        }
        push_unique(&mut schemes, c.scheme.clone());
        if c.scheme != "floor" && c.scheme != "noop" {
            push_unique(&mut cols, column(c));
        }
    }
    if r.partial {
        let _ = writeln!(out, "PARTIAL RESULTS: the run was interrupted.");
    }
    for (threads, numa) in &groups {
        let _ = writeln!(
            out,
            "\nns/page (x floor), {threads} thread(s), memmap {numa}; * = noisy (cv > 5%)"
        );
        let _ = write!(out, "{:<18}", "scheme");
        for col in &cols {
            let _ = write!(out, " {col:>15}");
        }
        let _ = writeln!(out);
        let floor = find(r, "floor", "private", *threads, numa).map(|c| c.ns_per_page);
        for s in &schemes {
            let _ = write!(out, "{s:<18}");
            for col in &cols {
                let cell = if s == "floor" || s == "noop" {
                    (col == "private")
                        .then(|| find(r, s, "private", *threads, numa))
                        .flatten()
                } else {
                    find(r, s, col, *threads, numa)
                };
                let text = match (cell, floor) {
                    (Some(c), Some(f)) if f > 0.0 => format!(
                        "{:.2} ({:.2}){}",
                        c.ns_per_page,
                        c.ns_per_page / f,
                        if c.noisy { "*" } else { "" }
                    ),
                    (Some(c), _) => format!("{:.2}", c.ns_per_page),
                    (None, _) => "-".into(),
                };
                let _ = write!(out, " {text:>15}");
            }
            let _ = writeln!(out);
        }
    }
    accuracy(r, &schemes, &mut out);
    let _ = writeln!(out, "\n{}", checks(r).join("\n"));
    out
}

/// What each scheme got wrong or refused, at the first thread count.
fn accuracy(r: &Results, schemes: &[String], out: &mut String) {
    let Some(first) = r.cells.first() else {
        return;
    };
    let any = |w: &str| r.cells.iter().any(|c| c.workload == w);
    if !any("mixed") && !any("refstorm") && !any("overflow") {
        return;
    }
    let (t, numa) = (first.threads, first.numa.placement.as_str());
    let _ = writeln!(
        out,
        "\nwrong answers and limits, {t} thread(s): FP/FN = pages misreported in one pass"
    );
    let _ = writeln!(
        out,
        "{:<18} {:>12} {:>12} {:>14} {:>12} {:>12}",
        "scheme", "mixed FP/FN", "storm FP/FN", "FP from refs", "max pins", "refusal ns"
    );
    let fpfn = |c: Option<&Cell>| match c {
        Some(Cell {
            false_positives: Some(fp),
            false_negatives: Some(fneg),
            ..
        }) => format!("{fp}/{fneg}"),
        _ => "-".into(),
    };
    for s in schemes.iter().filter(|s| *s != "floor" && *s != "noop") {
        let storm = find(r, s, "refstorm", t, numa);
        let over = find(r, s, "overflow", t, numa);
        let _ = writeln!(
            out,
            "{:<18} {:>12} {:>12} {:>14} {:>12} {:>12}",
            s,
            fpfn(find(r, s, "mixed", t, numa)),
            fpfn(storm),
            storm.map_or("-".into(), |c| c
                .fp_threshold_refs
                .map_or("none".into(), |k| format!(">= {k}"))),
            over.and_then(|c| c.max_pins)
                .map_or("-".into(), |m| m.to_string()),
            over.map_or("-".into(), |c| format!("{:.2}", c.ns_per_page)),
        );
    }
}

/// The three harness checks, one line each (more for scaling).
pub fn checks(r: &Results) -> Vec<String> {
    let numa = r
        .cells
        .first()
        .map_or("local".to_string(), |c| c.numa.placement.clone());
    let mut lines = vec!["harness checks (ratios measured in this run):".to_string()];
    match find(r, "noop", "private", 1, &numa) {
        Some(n) => lines.push(format!(
            "  noop overhead:                 {:.3} ns/page     target <= {NOOP_TARGET_NS}   {}",
            n.ns_per_page,
            met(n.ns_per_page <= NOOP_TARGET_NS)
        )),
        None => lines
            .push("  noop overhead:                 not measured (needs noop at 1 thread)".into()),
    }
    match (
        find(r, "plain", "private", 1, &numa),
        find(r, "floor", "private", 1, &numa),
    ) {
        (Some(p), Some(f)) if f.ns_per_page > 0.0 => {
            let ratio = p.ns_per_page / f.ns_per_page;
            lines.push(format!(
                "  plain/private/1T vs floor:     {ratio:.2}x ({:.2} vs {:.2} ns/page)  target <= {PLAIN_TARGET_RATIO}x   {}",
                p.ns_per_page,
                f.ns_per_page,
                met(ratio <= PLAIN_TARGET_RATIO)
            ));
        }
        _ => lines.push(
            "  plain/private/1T vs floor:     not measured (needs plain and floor at 1 thread)"
                .into(),
        ),
    }
    let mut scaled = Vec::new();
    let mut failed = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for c in &r.cells {
        if c.workload == "private" && c.scheme != "noop" && !names.contains(&c.scheme.as_str()) {
            names.push(&c.scheme);
        }
    }
    for s in names {
        if let (Some(one), Some(two)) = (
            find(r, s, "private", 1, &numa),
            find(r, s, "private", 2, &numa),
        ) {
            let ratio = two.pages_per_sec / one.pages_per_sec.max(f64::MIN_POSITIVE);
            let exempt = s == SCALING_EXEMPT || s == "floor";
            if !exempt && ratio < SCALING_TARGET {
                failed.push(s.to_string());
            }
            scaled.push(format!(
                "{s} {ratio:.2}x{}",
                if exempt { " (exempt)" } else { "" }
            ));
        }
    }
    if scaled.is_empty() {
        lines.push(
            "  private 2T vs 1T pages/s:      not measured (needs private at 1 and 2 threads)"
                .into(),
        );
    } else {
        lines.push(format!(
            "  private 2T vs 1T pages/s:      target >= {SCALING_TARGET}x for all but {SCALING_EXEMPT}   {}",
            if failed.is_empty() {
                "met".to_string()
            } else {
                format!("NOT MET: {}", failed.join(", "))
            }
        ));
        for chunk in scaled.chunks(4) {
            lines.push(format!("    {}", chunk.join(", ")));
        }
    }
    let disturbed: Vec<String> = r
        .cells
        .iter()
        .filter(|c| c.disturbed())
        .map(|c| {
            format!(
                "{}/{} {}T ({:.0}%)",
                c.scheme,
                column(c),
                c.threads,
                100.0 * c.cpu_share.unwrap_or(0.0)
            )
        })
        .collect();
    if !disturbed.is_empty() {
        lines.push(format!(
            "  WARNING: {} of {} cells got less than {:.0}% of their CPUs' time (other load on \
             this machine); re-run on a quiet machine before quoting them:",
            disturbed.len(),
            r.cells.len(),
            100.0 * DISTURBED_CPU_SHARE
        ));
        for chunk in disturbed.chunks(4) {
            lines.push(format!("    {}", chunk.join(", ")));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::sample::{cell, results};

    #[test]
    fn checks_compute_the_three_ratios_against_their_targets() {
        let r = results(vec![
            cell("noop", "private", 1, 0.1, 1e10),
            cell("floor", "private", 1, 4.0, 2.5e8),
            cell("floor", "private", 2, 4.0, 5.0e8),
            cell("plain", "private", 1, 5.0, 2.0e8),
            cell("plain", "private", 2, 5.0, 3.9e8),
            cell("flag", "private", 1, 10.0, 1.0e8),
            cell("flag", "private", 2, 20.0, 1.0e8),
            cell("side-tree-locked", "private", 1, 10.0, 1.0e8),
            cell("side-tree-locked", "private", 2, 40.0, 0.5e8),
        ]);
        let c = checks(&r).join("\n");
        assert!(c.contains("0.100 ns/page     target <= 0.5   met"), "{c}");
        assert!(!c.contains("WARNING"), "{c}");
        assert!(
            c.contains("1.25x (5.00 vs 4.00 ns/page)  target <= 1.2x   NOT MET"),
            "{c}"
        );
        assert!(c.contains("NOT MET: flag"), "{c}");
        assert!(c.contains("plain 1.95x"), "{c}");
        assert!(c.contains("side-tree-locked 0.50x (exempt)"), "{c}");
    }

    #[test]
    fn cells_that_shared_their_cpus_are_named() {
        let mut busy = cell("plain", "private", 2, 5.0, 2.0e8);
        busy.cpu_share = Some(0.6);
        let r = results(vec![cell("floor", "private", 2, 4.0, 5.0e8), busy]);
        let c = checks(&r).join("\n");
        assert!(c.contains("WARNING: 1 of 2 cells"), "{c}");
        assert!(c.contains("plain/private 2T (60%)"), "{c}");
    }

    #[test]
    fn the_table_shows_ratios_to_the_floor_of_the_same_threads() {
        let r = results(vec![
            cell("floor", "private", 1, 4.0, 2.5e8),
            cell("bias", "private", 1, 6.0, 1.6e8),
            cell("bias", "shared", 1, 8.0, 1.2e8),
        ]);
        let s = render(&r);
        assert!(s.contains("6.00 (1.50)"), "{s}");
        assert!(s.contains("8.00 (2.00)"), "{s}");
        assert!(s.contains("not measured (needs noop"), "{s}");
    }
}
