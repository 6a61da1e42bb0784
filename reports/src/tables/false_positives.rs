//! Wrong answers and limits: false positives and negatives against ground
//! truth, where false positives start, the isolation round, the pin limit.

use super::{at_fewest_threads, run_prefix, Titled};
use crate::runs::{is_calibration, subject, subjects, Run};
use crate::table::{Group, Table};
use pin_results::{Cell, FpByRefs};

/// `0-1022 0%, 1023-2047 100%`: the rate by reference count, equal
/// neighbours merged; `-` without data.
pub fn fp_rate_text(runs: Option<&[FpByRefs]>) -> String {
    let Some(runs) = runs.filter(|r| !r.is_empty()) else {
        return "-".into();
    };
    let segs = rate_segments(runs);
    let mut parts: Vec<String> = segs
        .iter()
        .take(3)
        .map(|(lo, hi, rate)| {
            let span = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            };
            format!("{span} {}", pct(*rate))
        })
        .collect();
    if segs.len() > 3 {
        parts.push(format!("+{} more", segs.len() - 3));
    }
    parts.join(", ")
}

/// A share as a percentage: whole numbers exact, others to 0.1%.
pub fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p == p.round() {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// (fewest refs, most refs, false-positive rate) with equal neighbours
/// merged.
pub fn rate_segments(runs: &[FpByRefs]) -> Vec<(u64, u64, f64)> {
    let mut out: Vec<(u64, u64, f64)> = vec![];
    for r in runs {
        let rate = if r.pages == 0 {
            0.0
        } else {
            r.false_positives as f64 / r.pages as f64
        };
        match out.last_mut() {
            Some(last) if last.1 + 1 == r.refs_min && last.2 == rate => last.1 = r.refs_max,
            _ => out.push((r.refs_min, r.refs_max, rate)),
        }
    }
    out
}

/// False positives against ordinary references (`refstorm`).
pub fn false_positives(runs: &[Run]) -> Option<Titled> {
    let per_run: Vec<(&Run, Vec<&Cell>)> = runs
        .iter()
        .map(|r| (r, at_fewest_threads(r, "refstorm")))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if per_run.is_empty() {
        return None;
    }
    let groups = per_run
        .iter()
        .map(|(run, _)| Group {
            label: run_prefix(runs, run).trim().to_string(),
            columns: vec![
                "FP/FN".into(),
                "FP from".into(),
                "FP rate by refs".into(),
                "isolated FN/lost".into(),
            ],
            align_left: vec![false, false, true, false],
        })
        .collect();
    let all = per_run.iter().flat_map(|(_, c)| c.iter().copied());
    let rows = subjects(all.filter(|c| !is_calibration(c)))
        .into_iter()
        .map(|s| {
            let cells = per_run
                .iter()
                .flat_map(
                    |(run, cells)| match cells.iter().find(|c| subject(c) == s) {
                        Some(c) => [
                            match (c.false_positives, c.false_negatives) {
                                (Some(fp), Some(fneg)) => format!("{fp}/{fneg}"),
                                _ => "-".into(),
                            },
                            c.fp_threshold_refs
                                .map_or("none".into(), |k| format!(">= {k}")),
                            fp_rate_text(c.fp_by_refs.as_deref()),
                            isolation_text(run, c),
                        ],
                        None => ["-".into(), "-".into(), "-".into(), "-".into()],
                    },
                )
                .collect();
            (s, cells)
        })
        .collect();
    Some(Titled {
        heading: "maybe_dma_pinned against ordinary references (refstorm) and reclaim (mixed)"
            .into(),
        about: "Each thread holds, for every count k of ordinary references from 0 \
                to 2047, one unpinned and one pinned page with k references. FP/FN: \
                pages misreported in the worst pass (all threads); FP from: fewest \
                references that made an unpinned page read pinned; FP rate by refs: \
                share of the unpinned pages with that many references read as pinned. \
                isolated FN/lost (mixed): of the pages a reclaim-like isolator had \
                taken off their LRU when gup pinned them, pins reading unpinned / \
                pages its private list lost because their lru words were \
                overwritten. Smallest thread count."
            .into(),
        table: Table {
            row_head: "scheme".into(),
            groups,
            rows,
        },
        footnotes: vec![],
        section: "false-positives".into(),
    })
}

/// `FN/lost` of the `mixed` cell of `c`'s subject and thread count.
fn isolation_text(run: &Run, c: &Cell) -> String {
    run.results
        .cells
        .iter()
        .find(|m| {
            m.workload == "mixed"
                && subject(m) == subject(c)
                && m.threads == c.threads
                && m.numa.placement == c.numa.placement
        })
        .and_then(|m| m.isolation)
        .map_or("-".into(), |i| i.short())
}
