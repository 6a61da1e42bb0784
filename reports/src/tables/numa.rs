//! NUMA: the memmap on the threads' node against a remote node.

use super::{run_prefix, threads, Titled};
use crate::runs::{is_calibration, subject, subjects, Run, Shape};
use crate::table::{num, Group, Table};
use pin_results::Cell;

/// For every run and shape measured both local and remote: the largest
/// thread count with both, and its cells.
pub fn numa_pairs(run: &Run) -> Vec<(Shape, usize)> {
    let cells = &run.results.cells;
    let mut out = vec![];
    for shape in crate::runs::shapes(std::slice::from_ref(run)) {
        let both = |t: usize| {
            ["local", "remote"].iter().all(|p| {
                cells
                    .iter()
                    .any(|c| shape.holds(c) && c.threads == t && c.numa.placement == *p)
            })
        };
        let t = cells
            .iter()
            .filter(|c| shape.holds(c))
            .map(|c| c.threads)
            .filter(|&t| both(t))
            .max();
        if let Some(t) = t {
            out.push((shape, t));
        }
    }
    out
}

/// The cell of `subject` in `shape` at `threads` and `placement`.
pub fn find<'a>(
    run: &'a Run,
    shape: &Shape,
    subj: &str,
    threads: usize,
    placement: &str,
) -> Option<&'a Cell> {
    run.results.cells.iter().find(|c| {
        shape.holds(c)
            && subject(c) == subj
            && c.threads == threads
            && c.numa.placement == placement
    })
}

/// Local against remote memmap, where a run has both.
pub fn numa(runs: &[Run]) -> Option<Titled> {
    let keys: Vec<(&Run, Shape, usize)> = runs
        .iter()
        .flat_map(|r| numa_pairs(r).into_iter().map(move |(s, t)| (r, s, t)))
        .collect();
    if keys.is_empty() {
        return None;
    }
    let groups = keys
        .iter()
        .map(|(run, shape, t)| Group {
            label: format!(
                "{}{}, {}",
                run_prefix(runs, run),
                shape.short(),
                threads(*t)
            ),
            columns: vec!["local".into(), "remote".into(), "ratio".into()],
            align_left: vec![],
        })
        .collect();
    let all = keys.iter().flat_map(|(run, shape, t)| {
        run.results
            .cells
            .iter()
            .filter(move |c| shape.holds(c) && c.threads == *t && !is_calibration(c))
    });
    let rows = subjects(all)
        .into_iter()
        .map(|s| {
            let cells = keys
                .iter()
                .flat_map(|(run, shape, t)| {
                    let l = find(run, shape, &s, *t, "local").map(|c| c.ns_per_page);
                    let r = find(run, shape, &s, *t, "remote").map(|c| c.ns_per_page);
                    [
                        l.map_or("-".into(), num),
                        r.map_or("-".into(), num),
                        match (l, r) {
                            (Some(l), Some(r)) if l > 0.0 => num(r / l),
                            _ => "-".into(),
                        },
                    ]
                })
                .collect();
            (s, cells)
        })
        .collect();
    Some(Titled {
        heading: "NUMA: memmap on the threads' node against a remote node".into(),
        about: "ns/page with the memmap local and remote; ratio: remote over local.".into(),
        table: Table {
            row_head: "scheme".into(),
            groups,
            rows,
        },
        footnotes: vec![],
        section: "numa".into(),
    })
}
