//! The report's tables, built once and rendered by `text` as plain text
//! and as Markdown: one per workload shape (schemes as rows, thread counts
//! and runs as column groups), then false positives against ordinary
//! references, memory cost, and NUMA local against remote.

use crate::runs::{distinct, is_calibration, subject, subjects, Run, Shape};
use crate::table::{num, Group, Table};
use pin_results::{Cell, FpByRefs, MODEL};

/// A table with what the reader needs to read it.
pub struct Titled {
    /// One line naming it.
    pub heading: String,
    /// What its numbers are (wrapped by the renderer).
    pub about: String,
    /// The table.
    pub table: Table,
    /// Explanations of the marks it uses.
    pub footnotes: Vec<String>,
    /// Which plots belong beside it ([`crate::plots::Figure::section`]).
    pub section: String,
}

/// Mark of a noisy cell (95% CI half-width of x floor above 2%).
pub const NOISY: char = '*';
/// Mark of a disturbed cell (cpu_share below 0.95).
pub const DISTURBED: char = '!';
/// Mark of a busy cell (too few rounds on a quiet machine).
pub const BUSY: char = '#';
/// What the x 1T column shows for a scaling measured but withheld.
pub const WITHHELD: &str = "busy";

fn run_prefix(runs: &[Run], run: &Run) -> String {
    if runs.len() > 1 {
        format!("[{}] ", run.label)
    } else {
        String::new()
    }
}

fn threads(t: usize) -> String {
    if t == 1 {
        "1 thread".into()
    } else {
        format!("{t} threads")
    }
}

/// `1.62+-0.01`: a median and the half-width of its 95% CI, or `-` for
/// an estimate of no samples.
pub fn estimate(e: &pin_results::Estimate) -> String {
    if e.n == 0 {
        return "-".into();
    }
    let hw = (e.ci_high - e.ci_low) / 2.0;
    // The half-width to the median's own precision.
    let digits = num(e.median).split('.').nth(1).map_or(0, str::len);
    format!("{}+-{hw:.digits$}", num(e.median))
}

/// One table per workload shape.
pub fn workloads(runs: &[Run]) -> Vec<Titled> {
    crate::runs::shapes(runs)
        .into_iter()
        .map(|shape| workload(runs, shape))
        .collect()
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

fn workload(runs: &[Run], shape: Shape) -> Titled {
    fn of_shape<'a>(r: &'a Run, shape: &Shape) -> Vec<&'a Cell> {
        r.results.cells.iter().filter(|c| shape.holds(c)).collect()
    }
    let keys = column_keys(runs, |r| of_shape(r, &shape));
    let all: Vec<&Cell> = runs.iter().flat_map(|r| of_shape(r, &shape)).collect();
    let noisy = all.iter().any(|c| c.noisy);
    let disturbed = all.iter().any(|c| c.disturbed());
    let busy = all.iter().any(|c| c.busy);
    let withheld = all.iter().any(|c| c.scaling_withheld);
    let mark = |c: &Cell| {
        let mut m = String::new();
        for (any, this, mark) in [
            (noisy, c.noisy, NOISY),
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
    let mut footnotes = crate::findings::split_fix_price(&all);
    footnotes.extend(crate::findings::pins_kept(&all));
    footnotes.extend(mark_notes(noisy, disturbed, busy, withheld));
    Titled {
        heading: format!("{} ({} pages per call)", shape.name(), shape.pages_per_call),
        about: format!(
            "ns/page: time for {}, median over slices; x floor: that over the floor's \
             (one atomic add per page) over the same pages with the same threads, \
             median of the ratios of adjacent slices +- the half-width of its 95% \
             confidence interval; Mpages/s: all threads, median; x 1T: pages/s of \
             all threads over thread 0 alone, in adjacent slices.",
            shape.unit()
        ),
        table: Table {
            row_head: "scheme".into(),
            groups,
            rows,
        },
        footnotes,
        section: shape.slug(),
    }
}

/// Cells of `workload` at the run's smallest thread count, memmap local.
fn at_fewest_threads<'a>(run: &'a Run, workload: &str) -> Vec<&'a Cell> {
    let cells = || {
        run.results
            .cells
            .iter()
            .filter(move |c| c.workload == workload && c.numa.placement == "local")
    };
    let fewest = cells().map(|c| c.threads).min();
    cells().filter(|c| Some(c.threads) == fewest).collect()
}

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

/// What the marks a table uses mean.
fn mark_notes(noisy: bool, disturbed: bool, busy: bool, withheld: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if noisy {
        notes.push(format!(
            "{NOISY} noisy: the 95% confidence interval of x floor (or x 1T) is wider \
             than +-2% of its median; differences smaller than it mean nothing."
        ));
    }
    if disturbed {
        notes.push(format!(
            "{DISTURBED} disturbed: the measured threads were on a CPU for less than 95% \
             of their elapsed time (cpu_share): other load shared the CPUs, so the \
             timing is suspect."
        ));
    }
    if busy {
        notes.push(format!(
            "{BUSY} busy: fewer than {} of the cell's rounds ran on a quiet machine (the \
             floor's slice within {:.0}% of the run's quiet floor for that work; with \
             several threads, the threads run together by the contention probe), so its figures are \
             over all rounds, mostly of a busy machine, and not comparable with a \
             quiet cell's; re-run it.",
            pin_results::MIN_QUIET_ROUNDS,
            pin_results::QUIET_FLOOR * 100.0
        ));
    }
    if withheld {
        notes.push(format!(
            "x 1T {WITHHELD}: fewer than {} rounds were quiet with thread 0 quiet in \
             its solo slice too; a host that gives an idle vCPU's core away slows the \
             lone thread, so no scaling is given; re-run it.",
            pin_results::MIN_QUIET_ROUNDS
        ));
    }
    notes
}
