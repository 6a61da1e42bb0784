//! "What a pin costs": each model cell's census (`cells[].census`), per
//! page pinned and unpinned once, beside its `x floor`. Counts, not
//! timings: the same on every run of the same build, so no interval and
//! no mark. Three tables: the costs of the `private` workload (the gup_test
//! PIN_FAST analogue), where its locked operations go, and the locked
//! operations of every workload shape.

use crate::runs::{distinct, Run, Shape};
use crate::table::{num, Group, Table};
use crate::tables::Titled;
use pin_results::{Cell, Census, MODEL};

/// The section the census tables and their plot share.
pub const SECTION: &str = "census";

/// A count per page: whole numbers as they are, others to three
/// significant digits (at most six decimals), so a line shared once in
/// 4096 pages reads `0.000244`, not `0.000`.
pub fn per_page(c: &Census, count: u64) -> String {
    let x = c.per_page(count);
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        num(x)
    } else {
        let decimals = (2 - x.log10().floor() as i32).clamp(3, 6) as usize;
        format!("{x:.decimals$}")
    }
}

/// The model cells of `run` that carry a census.
fn counted(run: &Run) -> Vec<(&Cell, &Census)> {
    run.results
        .cells
        .iter()
        .filter(|c| c.backend == MODEL)
        .filter_map(|c| c.census.as_ref().map(|k| (c, k)))
        .collect()
}

/// The census tables, one set per run that has censuses.
pub fn tables(runs: &[Run]) -> Vec<Titled> {
    runs.iter()
        .filter(|r| !counted(r).is_empty())
        .flat_map(|r| {
            let prefix = if runs.len() > 1 {
                format!("[{}] ", r.label)
            } else {
                String::new()
            };
            let cells = counted(r);
            let mut t: Vec<Titled> = costs(&cells).into_iter().collect();
            t.extend(breakdown(&cells));
            t.push(by_workload(&cells));
            t.into_iter().map(move |mut t| {
                t.heading = format!("{prefix}{}", t.heading);
                t
            })
        })
        .collect()
}

fn subjects<'a>(cells: &[(&'a Cell, &Census)]) -> Vec<&'a str> {
    distinct(cells.iter().map(|(c, _)| c.subject.as_str()))
}

/// `subject`'s cell of `workload` at order 0 and `threads` threads.
fn find<'a>(
    cells: &[(&'a Cell, &'a Census)],
    subject: &str,
    workload: &str,
    threads: usize,
) -> Option<(&'a Cell, &'a Census)> {
    cells
        .iter()
        .find(|(c, _)| {
            c.subject == subject
                && c.workload == workload
                && c.folio_order == 0
                && c.threads == threads
                && c.numa.placement != "remote"
        })
        .copied()
}

/// The `private` table: x floor and every count at one thread; shared
/// lines from the most threads the run has.
fn costs(cells: &[(&Cell, &Census)]) -> Option<Titled> {
    let most = cells
        .iter()
        .filter(|(c, _)| c.workload == "private")
        .map(|(c, _)| c.threads)
        .max()?;
    let columns = [
        "x floor", "locked", "fences", "locks", "rcu", "lines", "written",
    ];
    let mut columns: Vec<String> = columns.iter().map(|s| s.to_string()).collect();
    columns.push(format!("shared@{most}T"));
    columns.push("allocs".into());
    let (mut rows, mut pairs) = (vec![], vec![]);
    for s in subjects(cells) {
        let Some((c, k)) = find(cells, s, "private", 1) else {
            continue;
        };
        if c.x_floor.n > 0 {
            pairs.push((k.per_page(k.locked_rmw_total()), c.x_floor.median));
        }
        let shared = find(cells, s, "private", most)
            .map_or("-".into(), |(_, m)| per_page(m, m.shared_lines_written));
        rows.push((
            s.to_string(),
            vec![
                num(c.x_floor.median),
                per_page(k, k.locked_rmw_total()),
                per_page(k, k.fences),
                per_page(k, k.locks_total()),
                per_page(k, k.rcu_sections),
                per_page(k, k.lines_read.total()),
                per_page(k, k.lines_written.total()),
                shared,
                per_page(k, k.allocs),
            ],
        ));
    }
    Some(Titled {
        heading: "What a pin costs (private, 1 thread)".into(),
        about: "Counted in an untimed pass of the cell's own code, per page pinned and \
                unpinned once; the same on every run. locked: locked read-modify-writes \
                (x86 `lock` instructions); fences: smp_mb(); locks: lock acquisitions; \
                rcu: RCU read-side sections; lines, written: distinct 64-byte lines read \
                and written; shared@NT: lines written by more than one of N threads; \
                allocs: tracking objects allocated. x floor: the median of the \
                workload table."
            .into(),
        table: Table {
            row_head: "scheme".into(),
            groups: vec![Group {
                label: String::new(),
                columns,
                align_left: vec![],
            }],
            rows,
        },
        footnotes: rank_footnote(&pairs).into_iter().collect(),
        section: SECTION.into(),
    })
}

/// How far the count orders the schemes as the timing does.
fn rank_footnote(pairs: &[(f64, f64)]) -> Option<String> {
    let (xs, ys): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
    let rho = crate::stats::spearman(&xs, &ys)?;
    Some(format!(
        "Rank correlation (Spearman) of locked operations per page with x floor over \
         these {} schemes: {rho:.2}. A scheme far above the others' trend costs more \
         than its count (a lock, a pointer chase, an uncounted plain access); far \
         below, less.",
        xs.len()
    ))
}

/// Where the `private` cell's locked operations go, per page.
fn breakdown(cells: &[(&Cell, &Census)]) -> Option<Titled> {
    let one: Vec<(&str, &Census)> = subjects(cells)
        .into_iter()
        .filter_map(|s| find(cells, s, "private", 1).map(|(_, k)| (s, k)))
        .collect();
    let targets = distinct(one.iter().flat_map(|(_, k)| k.locked_rmw.keys().cloned()));
    if targets.is_empty() {
        return None;
    }
    let rows = one
        .iter()
        .map(|(s, k)| {
            let v = targets
                .iter()
                .map(|t| k.locked_rmw.get(t).map_or("-".into(), |n| per_page(k, *n)))
                .collect();
            (s.to_string(), v)
        })
        .collect();
    Some(Titled {
        heading: "Where the locked operations go (private, 1 thread)".into(),
        about: "Locked read-modify-writes per page by what they hit: a struct page \
                field, the vmstat counters, a lock word, or other (the scheme's own \
                structure: tree node, page_ext, descriptor)."
            .into(),
        table: Table {
            row_head: "scheme".into(),
            groups: vec![Group {
                label: String::new(),
                columns: targets,
                align_left: vec![],
            }],
            rows,
        },
        footnotes: vec![],
        section: SECTION.into(),
    })
}

/// Locked operations per page of every workload shape at one thread.
fn by_workload(cells: &[(&Cell, &Census)]) -> Titled {
    let shapes = distinct(cells.iter().map(|(c, _)| Shape::of(c)));
    let name = Shape::short;
    let rows = subjects(cells)
        .into_iter()
        .map(|s| {
            let v = shapes
                .iter()
                .map(|shape| {
                    cells
                        .iter()
                        .find(|(c, _)| c.subject == s && c.threads == 1 && Shape::of(c) == *shape)
                        .map_or("-".into(), |(_, k)| per_page(k, k.locked_rmw_total()))
                })
                .collect();
            (s.to_string(), v)
        })
        .collect();
    Titled {
        heading: "Locked operations per page, by workload (1 thread)".into(),
        about: "A huge folio's pin is one grab for all its pages, so its count per page \
                is small; refstorm and mixed count their queries and background \
                references too."
            .into(),
        table: Table {
            row_head: "scheme".into(),
            groups: vec![Group {
                label: String::new(),
                columns: shapes.iter().map(name).collect(),
                align_left: vec![],
            }],
            rows,
        },
        footnotes: vec![],
        section: SECTION.into(),
    }
}

/// Every count of `c` by name, per page, in a fixed order (the
/// breakdowns' keys sorted).
pub fn counts(c: &Census) -> Vec<(String, f64)> {
    let mut v = vec![];
    for (k, n) in &c.locked_rmw {
        v.push((format!("locked {k}"), c.per_page(*n)));
    }
    v.push(("fences".into(), c.per_page(c.fences)));
    for (k, n) in &c.lock_acquisitions {
        v.push((format!("lock {k}"), c.per_page(*n)));
    }
    let more = [
        ("rcu sections", c.rcu_sections),
        ("lines read (memmap)", c.lines_read.memmap),
        ("lines read (tracking)", c.lines_read.tracking),
        ("lines written (memmap)", c.lines_written.memmap),
        ("lines written (tracking)", c.lines_written.tracking),
        ("shared lines written", c.shared_lines_written),
        ("remote lines", c.remote_lines),
        ("allocs", c.allocs),
        ("frees", c.frees),
    ];
    v.extend(more.iter().map(|(k, n)| (k.to_string(), c.per_page(*n))));
    v
}

/// What changed from census `a` to `b`, one line per count that differs
/// (a count one side lacks is 0 there), per page; empty when none did.
pub fn changes(a: &Census, b: &Census) -> Vec<String> {
    let (ca, cb) = (counts(a), counts(b));
    let names = distinct(ca.iter().chain(&cb).map(|(k, _)| k.clone()));
    let get = |v: &[(String, f64)], k: &str| v.iter().find(|(n, _)| n == k).map_or(0.0, |p| p.1);
    let mut out: Vec<String> = names
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (get(&ca, &k), get(&cb, &k));
            (x != y).then(|| format!("{k}: {} -> {} per page", fmt(x), fmt(y)))
        })
        .collect();
    if a.stat_threshold != b.stat_threshold {
        out.push(format!(
            "vmstat threshold: {} -> {} (folds of vmstat follow it)",
            a.stat_threshold, b.stat_threshold
        ));
    }
    out
}

fn fmt(x: f64) -> String {
    let c = Census {
        pages: 1_000_000,
        ..Census::default()
    };
    per_page(&c, (x * 1e6).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(refcount: u64, fences: u64) -> Census {
        Census {
            pages: 4,
            locked_rmw: [("_refcount".to_string(), refcount)].into_iter().collect(),
            fences,
            stat_threshold: 32,
            ..Census::default()
        }
    }

    #[test]
    fn one_atomic_more_per_page_is_the_one_change_named() {
        let (a, b) = (census(8, 0), census(12, 0));
        assert_eq!(changes(&a, &b), ["locked _refcount: 2 -> 3 per page"]);
        assert!(changes(&a, &a).is_empty());
        let c = census(8, 1);
        assert_eq!(changes(&a, &c), ["fences: 0 -> 0.250 per page"]);
    }

    #[test]
    fn small_counts_keep_three_significant_digits() {
        let c = Census {
            pages: 4096,
            ..Census::default()
        };
        assert_eq!(per_page(&c, 1), "0.000244");
        assert_eq!(per_page(&c, 0), "0");
        assert_eq!(per_page(&c, 8192), "2");
        assert_eq!(per_page(&c, 16896), "4.12");
    }
}
