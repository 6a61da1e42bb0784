//! What pin tracking costs in memory, per 4 KiB page and per TiB, and the
//! page metadata in all.

use super::{at_fewest_threads, run_prefix, Titled};
use crate::runs::{distinct, is_calibration, subject, subjects, Run, Shape};
use crate::table::{num, Group, Table};
use pin_results::{Cell, MODEL};

/// Bytes of tracking per page of memmap, for model cells.
pub fn bytes_per_page(c: &Cell) -> Option<f64> {
    (c.backend == MODEL && c.memmap_pages > 0 && !is_calibration(c))
        .then(|| c.tracking_bytes as f64 / c.memmap_pages as f64)
}

/// The run's shapes, each with its cells at the smallest thread count that
/// pass `keep`; shapes left empty are dropped.
fn shapes_where(run: &Run, keep: impl Fn(&Cell) -> bool) -> Vec<(Shape, Vec<&Cell>)> {
    crate::runs::shapes(std::slice::from_ref(run))
        .into_iter()
        .map(|shape| {
            let cells = at_fewest_threads(run, &shape.workload)
                .into_iter()
                .filter(|c| shape.holds(c) && keep(c))
                .collect();
            (shape, cells)
        })
        .filter(|(_, c): &(Shape, Vec<&Cell>)| !c.is_empty())
        .collect()
}

/// All page metadata per page of memmap under the cell's design.
pub fn metadata_per_page(c: &Cell) -> Option<f64> {
    let bytes = c.metadata_bytes?;
    (c.memmap_pages > 0).then(|| bytes as f64 / c.memmap_pages as f64)
}

/// All page metadata per page, per scheme and workload: whether a design
/// shrinks it (`memdesc`), not only what it adds.
pub fn metadata(runs: &[Run]) -> Option<Titled> {
    let mut groups = vec![];
    let mut per_run = vec![];
    for run in runs {
        let shapes = shapes_where(run, |c| metadata_per_page(c).is_some());
        if shapes.is_empty() {
            continue;
        }
        groups.push(Group {
            label: run_prefix(runs, run).trim().to_string(),
            columns: shapes.iter().map(|(s, _)| s.short()).collect(),
            align_left: vec![],
        });
        per_run.push(shapes);
    }
    if per_run.is_empty() {
        return None;
    }
    let all = per_run
        .iter()
        .flat_map(|p| p.iter().flat_map(|(_, c)| c.iter().copied()));
    let rows = subjects(all)
        .into_iter()
        .map(|s| {
            let cells = per_run
                .iter()
                .flat_map(|shapes| shapes.iter())
                .map(|(_, cs)| {
                    cs.iter()
                        .find(|c| subject(c) == s)
                        .and_then(|c| metadata_per_page(c))
                        .map_or("-".into(), num)
                })
                .collect();
            (s, cells)
        })
        .collect();
    Some(Titled {
        heading: "Page metadata, total (bytes per 4 KiB page)".into(),
        about: "Every byte of page metadata under each design at the end of each \
                workload's cell, over the memmap's pages, smallest thread count: \
                what it keeps of the 64-byte struct page plus what it adds. memdesc \
                replaces struct page with an 8-byte word per page and an 80-byte \
                descriptor per folio, so it costs more than 64 on order-0 pages and \
                far less on large folios."
            .into(),
        table: Table {
            row_head: "scheme".into(),
            groups,
            rows,
        },
        footnotes: vec![],
        section: "metadata".into(),
    })
}

/// Memory cost per scheme and workload.
pub fn memory(runs: &[Run]) -> Option<Titled> {
    struct Cols<'a> {
        shapes: Vec<(Shape, Vec<&'a Cell>)>,
        gib: Option<(Shape, Vec<&'a Cell>)>,
    }
    let mut per_run = vec![];
    let mut groups = vec![];
    for run in runs {
        let shapes = shapes_where(run, |c| bytes_per_page(c).is_some());
        if shapes.is_empty() {
            continue;
        }
        let gib = memory_cells(run);
        let mut columns: Vec<String> = shapes.iter().map(|(s, _)| s.short()).collect();
        if gib.is_some() {
            columns.extend(["GiB/TiB", "peak", "after unpin"].map(String::from));
        }
        groups.push(Group {
            label: run_prefix(runs, run).trim().to_string(),
            columns,
            align_left: vec![],
        });
        per_run.push(Cols { shapes, gib });
    }
    if per_run.is_empty() {
        return None;
    }
    let bpp = |cells: &[&Cell], s: &str| {
        cells
            .iter()
            .find(|c| subject(c) == s)
            .and_then(|c| bytes_per_page(c))
    };
    let all = per_run
        .iter()
        .flat_map(|p| p.shapes.iter().flat_map(|(_, c)| c.iter().copied()));
    let rows = subjects(all)
        .into_iter()
        .map(|s| {
            let mut cells = vec![];
            for p in &per_run {
                for (_, cs) in &p.shapes {
                    cells.push(bpp(cs, &s).map_or("-".into(), num));
                }
                if let Some((_, cs)) = &p.gib {
                    cells.push(bpp(cs, &s).map_or("-".into(), |b| num(gib_per_tib(b))));
                    let c = cs.iter().find(|c| subject(c) == s);
                    for bytes in [
                        |c: &Cell| c.tracking_peak_bytes,
                        |c: &Cell| c.tracking_steady_bytes,
                    ] {
                        cells.push(
                            c.and_then(|c| per_page(c, bytes(c)))
                                .map_or("-".into(), num),
                        );
                    }
                }
            }
            (s, cells)
        })
        .collect();
    let gib_in = distinct(
        per_run
            .iter()
            .filter_map(|p| p.gib.as_ref().map(|g| g.0.name())),
    );
    Some(Titled {
        heading: "Memory cost of pin tracking (bytes per 4 KiB page)".into(),
        about: format!(
            "Tracking bytes at the end of each workload's cell (scheme bytes per \
             page x memmap pages + side structures) over the memmap's pages, \
             smallest thread count; a side structure's fixed part weighs most in \
             small memmaps. GiB/TiB: GiB of RAM per TiB of memory (bytes per page \
             / 4) in the order-0 workload with the largest memmap ({}), with, in \
             that workload, the high-water mark during the cell (peak, nodes \
             awaiting an RCU grace period included) and what is left after the \
             cell's pins were released and every grace period ended (after \
             unpin): a side tree that frees its nodes falls back to its fixed \
             part. struct page itself costs 64 bytes per page (16 GiB per TiB) in every scheme that \
             keeps it: the next table counts it.",
            gib_in.join(", ")
        ),
        table: Table {
            row_head: "scheme".into(),
            groups,
            rows,
        },
        footnotes: alloc_failures(runs),
        section: "memory".into(),
    })
}

/// Bytes per page of `bytes` over `c`'s memmap.
fn per_page(c: &Cell, bytes: Option<u64>) -> Option<f64> {
    (c.memmap_pages > 0).then(|| bytes.map(|b| b as f64 / c.memmap_pages as f64))?
}

/// One line per scheme of a `--failslab` run: allocations failed, and
/// what gup made of them, over all its cells.
fn alloc_failures(runs: &[Run]) -> Vec<String> {
    let mut lines = vec![];
    for run in runs {
        let Some(every) = run.results.config.failslab else {
            continue;
        };
        let on_fail = run.results.config.on_alloc_fail.as_deref().unwrap_or("?");
        let all = run
            .results
            .cells
            .iter()
            .filter(|c| c.alloc_failures.is_some());
        for s in subjects(all) {
            let sum = run
                .results
                .cells
                .iter()
                .filter(|c| subject(c) == s)
                .filter_map(|c| c.alloc_failures)
                .fold(pin_results::AllocFailures::default(), |a, b| a + b);
            if sum.injected > 0 {
                lines.push(format!(
                    "{}failslab (every {every} atomic allocation, gup on failure: {on_fail}): {s}: {} failed, {} gup-fast calls fell back, {} pin calls failed",
                    run_prefix(runs, run),
                    sum.injected,
                    sum.fallbacks,
                    sum.failed_pins
                ));
            }
        }
    }
    lines
}

/// The cells memory cost is read from: model cells of the order-0 shape
/// with the largest memmap (first on ties), where a side structure's
/// fixed part weighs least, at the smallest thread count, memmap local.
pub fn memory_cells(run: &Run) -> Option<(Shape, Vec<&Cell>)> {
    let mut best: Option<(Shape, Vec<&Cell>)> = None;
    for shape in crate::runs::shapes(std::slice::from_ref(run)) {
        if shape.folio_order != 0 {
            continue;
        }
        let cells: Vec<&Cell> = at_fewest_threads(run, &shape.workload)
            .into_iter()
            .filter(|c| shape.holds(c) && bytes_per_page(c).is_some())
            .collect();
        let pages = |cs: &[&Cell]| cs.first().map_or(0, |c| c.memmap_pages);
        if !cells.is_empty() && best.as_ref().is_none_or(|b| pages(&cells) > pages(&b.1)) {
            best = Some((shape, cells));
        }
    }
    best
}

/// GiB of RAM per TiB of memory at `bytes_per_page` per 4 KiB page.
pub fn gib_per_tib(bytes_per_page: f64) -> f64 {
    // 2^40 / 2^12 pages, over 2^30 bytes per GiB.
    bytes_per_page * (1u64 << 28) as f64 / (1u64 << 30) as f64
}
