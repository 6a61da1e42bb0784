//! One table per workload shape: ns/page, x floor, Mpages/s and x 1T of
//! every subject, per run, thread count and placement.

use super::{estimate, run_prefix, threads, Titled, BUSY, DISTURBED, WIDE, WITHHELD};
use crate::runs::{distinct, subject, subjects, Run, Shape};
use crate::table::{num, Group, Table};
use pin_results::{Cell, MODEL};

/// One table per workload shape of the model's cells.
pub fn workloads(runs: &[Run]) -> Vec<Titled> {
    tables_of(runs, Rows::Model)
}

/// One table per workload shape of the running kernel's cells, apart from
/// the model's.
pub fn kernel_paths(runs: &[Run]) -> Vec<Titled> {
    tables_of(runs, Rows::Kernel)
}

/// Which cells a table holds.
#[derive(Clone, Copy, PartialEq)]
enum Rows {
    Model,
    Kernel,
}

impl Rows {
    fn holds(self, c: &Cell) -> bool {
        (c.backend == MODEL) == (self == Rows::Model)
    }
}

fn tables_of(runs: &[Run], rows: Rows) -> Vec<Titled> {
    crate::runs::shapes(runs)
        .into_iter()
        .filter(|shape| {
            runs.iter()
                .flat_map(|r| r.results.cells.iter())
                .any(|c| shape.holds(c) && rows.holds(c))
        })
        .map(|shape| workload(runs, shape, rows))
        .collect()
}

/// What the columns of every workload table are, said once per report.
pub const COLUMNS: &str = "ns/page: the time for a table's unit of work, median over \
    slices; x floor: that over the floor's (one atomic add per page) over the same \
    pages with the same threads, median of the ratios of adjacent slices +- the \
    half-width of its 95% confidence interval; Mpages/s: all threads, median; x 1T: \
    pages/s of all threads over thread 0 alone, in adjacent slices.";

/// The marks the workload tables of `runs` use, each said once.
pub fn marks(runs: &[Run]) -> Vec<String> {
    let cells = || runs.iter().flat_map(|r| r.results.cells.iter());
    mark_notes(
        cells().any(|c| c.noisy),
        cells().any(|c| c.disturbed()),
        cells().any(|c| c.busy),
        cells().any(|c| c.scaling_withheld),
    )
}

/// Column groups: every run, thread count and placement it has (and
/// whether the run has several placements).
fn column_keys<'a>(
    runs: &'a [Run],
    of_shape: impl Fn(&'a Run) -> Vec<&'a Cell>,
) -> Vec<(&'a Run, usize, String, bool)> {
    let mut keys = vec![];
    for run in runs {
        let cells = of_shape(run);
        let places = distinct(cells.iter().map(|c| c.numa.placement.clone()));
        let mut tp = distinct(cells.iter().map(|c| (c.threads, c.numa.placement.clone())));
        tp.sort_by_key(|(t, p)| (*t, places.iter().position(|q| q == p)));
        keys.extend(tp.into_iter().map(|(t, p)| (run, t, p, places.len() > 1)));
    }
    keys
}

/// One group's columns of a row: ns/page with its marks, x floor,
/// Mpages/s, and with several threads x 1T; `-` where the run lacks the
/// cell.
fn row_cells(c: Option<&Cell>, threads: usize, mark: &impl Fn(&Cell) -> String) -> Vec<String> {
    let mut v = match c {
        Some(c) => vec![
            format!("{}{}", num(c.ns_per_page), mark(c)),
            estimate(&c.x_floor),
            num(c.pages_per_sec / 1e6),
        ],
        None => vec!["-".into(), "-".into(), "-".into()],
    };
    if threads > 1 {
        v.push(match c {
            Some(c) if c.scaling_withheld => WITHHELD.into(),
            c => c
                .and_then(|c| c.scaling.as_ref())
                .map_or("-".into(), estimate),
        });
    }
    v
}

fn workload(runs: &[Run], shape: Shape, which: Rows) -> Titled {
    fn of_shape<'a>(r: &'a Run, shape: &Shape, which: Rows) -> Vec<&'a Cell> {
        r.results
            .cells
            .iter()
            .filter(|c| shape.holds(c) && which.holds(c))
            .collect()
    }
    let keys = column_keys(runs, |r| of_shape(r, &shape, which));
    let all: Vec<&Cell> = runs
        .iter()
        .flat_map(|r| of_shape(r, &shape, which))
        .collect();
    let noisy = all.iter().any(|c| c.noisy);
    let disturbed = all.iter().any(|c| c.disturbed());
    let busy = all.iter().any(|c| c.busy);
    let mark = |c: &Cell| {
        let mut m = String::new();
        for (any, this, mark) in [
            (noisy, c.noisy, WIDE),
            (disturbed, c.disturbed(), DISTURBED),
            (busy, c.busy, BUSY),
        ] {
            if any {
                m.push(if this { mark } else { ' ' });
            }
        }
        m
    };
    let groups = keys
        .iter()
        .map(|(run, t, p, both)| Group {
            label: format!(
                "{}{}{}",
                run_prefix(runs, run),
                threads(*t),
                if *both {
                    format!(" {p}")
                } else {
                    String::new()
                }
            ),
            columns: if *t > 1 {
                vec![
                    "ns/page".into(),
                    "x floor".into(),
                    "Mpages/s".into(),
                    "x 1T".into(),
                ]
            } else {
                vec!["ns/page".into(), "x floor".into(), "Mpages/s".into()]
            },
            align_left: vec![],
        })
        .collect();
    let rows = subjects(all.iter().copied())
        .into_iter()
        .map(|s| {
            let cells = keys
                .iter()
                .flat_map(|(run, t, p, _)| {
                    let c = run.results.cells.iter().find(|c| {
                        shape.holds(c)
                            && which.holds(c)
                            && subject(c) == s
                            && c.threads == *t
                            && c.numa.placement == *p
                    });
                    row_cells(c, *t, &mark)
                })
                .collect();
            (s, cells)
        })
        .collect();
    // The price of c24d37322548's fix, once: at the fewest threads.
    let fewest = all.iter().map(|c| c.threads).min();
    let at_fewest: Vec<&Cell> = all
        .iter()
        .copied()
        .filter(|c| Some(c.threads) == fewest)
        .collect();
    let mut footnotes = crate::findings::split_fix_price(&at_fewest);
    footnotes.extend(crate::findings::pins_kept(&all));
    let kernel = if which == Rows::Kernel {
        "Kernel paths: "
    } else {
        ""
    };
    Titled {
        heading: format!(
            "{kernel}{} ({} pages per call)",
            shape.name(),
            shape.pages_per_call
        ),
        about: format!("ns/page: time for {}.", shape.unit()),
        table: Table {
            row_head: "scheme".into(),
            groups,
            rows,
        },
        footnotes,
        section: shape.slug(),
    }
}

/// What the marks a table uses mean ([`crate::legend`]).
fn mark_notes(wide: bool, disturbed: bool, busy: bool, withheld: bool) -> Vec<String> {
    use crate::legend;
    [
        (wide, legend::wide as fn() -> String),
        (disturbed, legend::disturbed),
        (busy, legend::busy),
        (withheld, legend::withheld),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, text)| text())
    .collect()
}
