//! The twins' calibration table: each design that pin_shim builds in the
//! kernel set beside its model. Tracking cost over the untracked path, in
//! `x floor`: the model's (scheme - `plain`, same run) against the
//! kernel's (twin - FOLL_GET `get-fast [shim]`, same run), and their
//! ratio; with the twin's memory and lookup as the kernel measured them.
//! Private workload, order-0 pages (4 KiB buffers), one thread.

use crate::runs::Run;
use crate::table::{num, Group, Table};
use crate::tables::Titled;
use pin_results::{Cell, MODEL};

/// (model scheme, shim subject): `hybrid` is the kernel's own FOLL_PIN.
const TWINS: [(&str, &str); 3] = [
    ("hybrid", "pin-fast"),
    ("xarray", "xarray"),
    ("exact", "exact"),
];
/// The untracked path each side is measured over.
const MODEL_BASE: &str = "plain";
const KERNEL_BASE: &str = "get-fast";
const SHIM: &str = "shim";

/// The one-thread, order-0 `private` cell of `subject` on `backend`, in the
/// first run that has it.
fn find<'a>(runs: &'a [Run], backend: &str, subject: &str) -> Option<&'a Cell> {
    let fewest = |c: &&Cell| c.threads;
    runs.iter()
        .flat_map(|r| &r.results.cells)
        .filter(|c| {
            c.backend == backend
                && c.subject == subject
                && c.workload == "private"
                && c.folio_order == 0
                && c.kernel.as_ref().is_none_or(|k| k.backing == "4k")
        })
        .min_by_key(fewest)
}

/// `x floor` of `subject` over `base`, both on `backend`.
fn delta(runs: &[Run], backend: &str, subject: &str, base: &str) -> Option<f64> {
    let s = find(runs, backend, subject)?;
    let b = find(runs, backend, base)?;
    (s.threads == b.threads).then_some(s.x_floor.median - b.x_floor.median)
}

/// The calibration table, where at least one twin ran in the kernel and
/// its model in the same set of runs.
pub fn calibration(runs: &[Run]) -> Option<Titled> {
    let mut rows = vec![];
    for (model, twin) in TWINS {
        let m = delta(runs, MODEL, model, MODEL_BASE);
        let k = delta(runs, SHIM, twin, KERNEL_BASE);
        if m.is_none() || k.is_none() {
            continue;
        }
        let census = find(runs, SHIM, twin).and_then(|c| c.kernel.as_ref()?.twin);
        let cells = vec![
            m.map_or("-".into(), num),
            k.map_or("-".into(), num),
            match (k, m) {
                (Some(k), Some(m)) if m.abs() > f64::EPSILON => num(k / m),
                _ => "-".into(),
            },
            census.map_or("-".into(), |t| num(t.bytes_per_page())),
            census.map_or("-".into(), |t| {
                if t.bytes_after == t.bytes_before {
                    "yes".into()
                } else {
                    format!("no, +{}", t.bytes_after.saturating_sub(t.bytes_before))
                }
            }),
            census.map_or("-".into(), |t| num(t.lookup_ns_per_page)),
        ];
        rows.push((format!("{model} / {twin} [{SHIM}]"), cells));
    }
    if rows.is_empty() {
        return None;
    }
    let emulated = runs.iter().any(|r| r.results.metadata.emulated.is_some());
    Some(Titled {
        heading: "Models against their kernel twins (pin_shim)".into(),
        about: format!(
            "{}Tracking cost over the untracked path, x floor, private workload, \
             4 KiB pages, fewest threads: model = scheme - {MODEL_BASE} (same run: \
             the record plus FOLL_PIN's vmstat counters and mm flag test), \
             kernel = twin - {KERNEL_BASE} [{SHIM}] (same run: the record and its \
             barrier only, a module cannot charge FOLL_PIN's counters; hybrid's \
             twin is the kernel's own FOLL_PIN, which includes them); kernel/model \
             near 1 means the model prices the design as the kernel does. twin \
             B/page: the twin's structure read in \
             the kernel while one thread's buffer was held with it (what the hold \
             added per page held, or a fixed structure's bytes over the pfns it \
             covers; the models' memory is in the memory tables above); freed: back \
             to its size before the hold; lookup: the twin's maybe_dma_pinned over \
             the held pages, in the kernel.",
            if emulated {
                "EMULATED: functional evidence only, not a calibration of timings. "
            } else {
                ""
            }
        ),
        table: Table {
            row_head: "model / twin".into(),
            groups: vec![Group {
                label: String::new(),
                columns: [
                    "model",
                    "kernel",
                    "kernel/model",
                    "twin B/page",
                    "freed",
                    "lookup ns",
                ]
                .map(String::from)
                .to_vec(),
                align_left: vec![],
            }],
            rows,
        },
        footnotes: vec![],
        section: "calibration".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample::{cell, kernel_cell, results};
    use pin_results::TwinCensus;

    fn run(label: &str, cells: Vec<Cell>, emulated: bool) -> Run {
        let mut results = results(cells);
        if emulated {
            results.metadata.emulated = Some("qemu-tcg".into());
        }
        Run {
            label: label.into(),
            source: format!("{label}.json"),
            results,
        }
    }

    fn census(c: &mut Cell, t: TwinCensus) {
        if let Some(k) = c.kernel.as_mut() {
            k.twin = Some(t);
        }
    }

    /// The guest's kernel run: FOLL_GET, FOLL_PIN and both twins.
    fn kernel_run() -> Run {
        let mut xarray = kernel_cell("shim", "xarray", 1, 80.0, 1e7);
        census(
            &mut xarray,
            TwinCensus {
                pages: 512,
                bytes_before: 100,
                bytes_held: 100 + 9 * 576,
                bytes_after: 100,
                lookup_ns_per_page: 7.5,
                ..Default::default()
            },
        );
        // exact: a fixed array of 4 bytes per pfn it covers.
        let mut exact = kernel_cell("shim", "exact", 1, 25.0, 1e7);
        census(
            &mut exact,
            TwinCensus {
                pages: 512,
                bytes_before: 4000,
                bytes_held: 4000,
                bytes_after: 4000,
                pfns_covered: 1000,
                ..Default::default()
            },
        );
        let cells = vec![
            kernel_cell("shim", "get-fast", 1, 20.0, 1e7),
            kernel_cell("shim", "pin-fast", 1, 30.0, 1e7),
            xarray,
            exact,
        ];
        run("B", cells, true)
    }

    #[test]
    fn each_twin_is_set_against_its_model() {
        // sample cells: x floor = ns / 10
        let mut cells = vec![
            cell("plain", "private", 1, 15.0, 1e7),
            cell("xarray", "private", 1, 45.0, 1e7),
            cell("hybrid", "private", 1, 25.0, 1e7),
        ];
        let t = calibration(&[run("A", cells.clone(), false), kernel_run()]).expect("table");
        let rows = &t.table.rows;
        let (_, xa) = rows
            .iter()
            .find(|(l, _)| l.starts_with("xarray"))
            .expect("row");
        // xarray: model 4.5 - 1.5 = 3, kernel 8 - 2 = 6, ratio 2; the twin
        // held 9 nodes over 512 pages and freed them.
        assert_eq!(xa[..3], ["3.00", "6.00", "2.00"]);
        assert_eq!(xa[3..], ["10.12", "yes", "7.50"]);
        assert!(rows.iter().any(|(l, _)| l.starts_with("hybrid / pin-fast")));
        // No exact model cell: no exact row.
        assert!(!rows.iter().any(|(l, _)| l.starts_with("exact")));
        assert!(t.about.starts_with("EMULATED"), "{}", t.about);

        cells.push(cell("exact", "private", 1, 20.0, 1e7));
        let t = calibration(&[run("A", cells, false), kernel_run()]).expect("table");
        let (_, ex) = t
            .table
            .rows
            .iter()
            .find(|(l, _)| l.starts_with("exact"))
            .expect("row");
        assert_eq!(
            ex[3], "4.00",
            "a fixed array: its bytes over the pfns it covers"
        );
    }

    #[test]
    fn no_twin_no_table() {
        let model = run("A", vec![cell("plain", "private", 1, 15.0, 1e7)], false);
        assert!(calibration(&[model]).is_none());
    }
}
