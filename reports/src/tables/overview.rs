//! The model's figures at a glance, for `report.txt`: `x floor` of every
//! scheme (rows) at every workload shape (columns) at the fewest threads,
//! and `x 1T` at the most. The per-workload tables, with ns/page and
//! Mpages/s at every thread count, are `report.md`'s.

use super::{estimate, run_prefix, Titled, WITHHELD};
use crate::runs::{distinct, subject, subjects, Run, Shape};
use crate::table::{Group, Table};
use pin_results::{Cell, MODEL};

/// Per run, x floor at its fewest threads and x 1T at its most, memmap
/// local (or the run's first placement).
pub fn overview(runs: &[Run]) -> Vec<Titled> {
    let mut out = vec![];
    for run in runs {
        let cells: Vec<&Cell> = run
            .results
            .cells
            .iter()
            .filter(|c| c.backend == MODEL && c.kernel_timed.is_none())
            .collect();
        let places = distinct(cells.iter().map(|c| c.numa.placement.clone()));
        let Some(place) = places
            .iter()
            .find(|p| p.as_str() == "local")
            .or(places.first())
        else {
            continue;
        };
        let at: Vec<&Cell> = cells
            .into_iter()
            .filter(|c| &c.numa.placement == place)
            .collect();
        let (Some(fewest), Some(most)) = (
            at.iter().map(|c| c.threads).min(),
            at.iter().map(|c| c.threads).max(),
        ) else {
            continue;
        };
        let prefix = run_prefix(runs, run);
        out.push(table(
            &at,
            fewest,
            format!("{prefix}x floor at a glance, {fewest} thread(s), memmap {place}"),
            |c| {
                Some(format!(
                    "{}{}",
                    estimate(&c.x_floor),
                    crate::legend::cell_marks(c, c.noisy)
                ))
            },
        ));
        if most > fewest {
            out.push(table(
                &at,
                most,
                format!("{prefix}x 1T at a glance, {most} threads, memmap {place}"),
                |c| match c.scaling {
                    _ if c.scaling_withheld => Some(WITHHELD.into()),
                    Some(s) => Some(format!(
                        "{}{}",
                        estimate(&s),
                        crate::legend::cell_marks(c, c.noisy)
                    )),
                    None => None,
                },
            ));
        }
    }
    out
}

/// Subjects by workload shape at `threads`, each cell `figure`'s.
fn table(
    cells: &[&Cell],
    threads: usize,
    heading: String,
    figure: impl Fn(&Cell) -> Option<String>,
) -> Titled {
    let at: Vec<&Cell> = cells
        .iter()
        .copied()
        .filter(|c| c.threads == threads)
        .collect();
    let cols: Vec<Shape> = shapes_of(&at);
    let rows = subjects(at.iter().copied())
        .into_iter()
        .filter_map(|s| {
            let row: Vec<String> = cols
                .iter()
                .map(|shape| {
                    at.iter()
                        .find(|c| shape.holds(c) && subject(c) == s)
                        .and_then(|c| figure(c))
                        .unwrap_or_else(|| "-".into())
                })
                .collect();
            row.iter().any(|v| v != "-").then_some((s, row))
        })
        .collect();
    Titled {
        heading,
        about: "Each workload (folio order after /) a column; the per-workload \
                tables with ns/page and Mpages/s at every thread count are in \
                report.md."
            .into(),
        table: Table {
            row_head: "scheme".into(),
            groups: vec![Group {
                label: String::new(),
                columns: cols.iter().map(Shape::short).collect(),
                align_left: vec![],
            }],
            rows,
        },
        footnotes: vec![],
        section: "overview".into(),
    }
}

/// The shapes of `cells`, in the order the run measured them.
fn shapes_of(cells: &[&Cell]) -> Vec<Shape> {
    distinct(cells.iter().map(|c| Shape::of(c)))
}
