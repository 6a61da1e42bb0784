//! The harness checks a run's summary ends with: the floor, `noop` and
//! scaling against their targets, each met or NOT MET, and the cells that
//! shared their CPUs with other load.

use super::*;

/// The harness checks, one line each (more for scaling). The targets are
/// the model's: a file of kernel cells only gets the load warning.
pub fn checks(r: &Results) -> Vec<String> {
    let Some(numa) = r
        .cells
        .iter()
        .find(|c| c.backend == pin_results::MODEL)
        .map(|c| c.numa.placement.clone())
    else {
        return disturbed(r);
    };
    let mut lines = vec!["harness checks (paired ratios measured in this run):".to_string()];
    match find(r, "noop", "private", 1, &numa) {
        Some(n) => lines.push(format!(
            "  noop overhead:                 {:.3} ns/page     target <= {NOOP_TARGET_NS}   {}",
            n.ns_per_page,
            met(n.ns_per_page <= NOOP_TARGET_NS)
        )),
        None => lines
            .push("  noop overhead:                 not measured (needs noop at 1 thread)".into()),
    }
    match find(r, "plain", "private", 1, &numa).filter(|p| p.x_floor.n > 0) {
        Some(p) => {
            let ratio = p.x_floor.median;
            lines.push(format!(
                "  plain/private/1T x floor:      {}  target <= {PLAIN_TARGET_RATIO}x   {}",
                crate::tables::estimate(&p.x_floor),
                met(ratio <= PLAIN_TARGET_RATIO)
            ));
        }
        None => lines.push(
            "  plain/private/1T x floor:      not measured (needs plain/private at 1 thread)"
                .into(),
        ),
    }
    lines.extend(scaling_check(r, &numa));
    lines.extend(disturbed(r));
    lines
}

/// Paired 2-thread over 1-thread scaling of every private subject.
fn scaling_check(r: &Results, numa: &str) -> Vec<String> {
    let mut scaled = Vec::new();
    let mut failed = Vec::new();
    let mut withheld = 0;
    for c in r.cells.iter().filter(|c| {
        c.backend == pin_results::MODEL
            && c.workload == "private"
            && c.threads == 2
            && c.numa.placement == numa
            && !is_calibration(c)
    }) {
        let name = subject(c);
        let Some(s) = c.scaling else {
            if c.scaling_withheld {
                scaled.push(format!("{} busy (withheld)", clean(&name)));
                withheld += 1;
            }
            continue;
        };
        let exempt = SCALING_EXEMPT.contains(&name.as_str());
        if !exempt && s.median < SCALING_TARGET {
            failed.push(name.clone());
        }
        scaled.push(format!(
            "{} {:.2}x{}{}",
            clean(&name),
            s.median,
            if exempt { " (exempt)" } else { "" },
            if c.busy { " (busy)" } else { "" }
        ));
    }
    if scaled.is_empty() {
        return vec![
            "  private 2T vs 1T pages/s:      not measured (needs private at 2 threads)".into(),
        ];
    }
    let mut lines = vec![format!(
        "  private 2T vs 1T pages/s (paired): target >= {SCALING_TARGET}x for all but {} (one lock per node)   {}",
        SCALING_EXEMPT.join(", "),
        match (failed.is_empty(), withheld) {
            (false, _) => format!("NOT MET: {}", failed.join(", ")),
            (true, 0) => "met".to_string(),
            (true, w) if w == scaled.len() => "NOT JUDGED: every x 1T withheld (busy)".into(),
            (true, w) => format!("met by those measured; {w} withheld (busy)"),
        }
    )];
    for chunk in scaled.chunks(4) {
        lines.push(format!("    {}", chunk.join(", ")));
    }
    lines
}

/// Cells whose threads shared their CPUs with other load.
fn disturbed(r: &Results) -> Vec<String> {
    let disturbed: Vec<String> = r
        .cells
        .iter()
        .filter(|c| c.disturbed())
        .map(|c| {
            format!(
                "{}/{} {}T ({:.0}%)",
                clean(&subject(c)),
                column(c),
                c.threads,
                100.0 * c.cpu_share.unwrap_or(0.0)
            )
        })
        .collect();
    if disturbed.is_empty() {
        return vec![];
    }
    let mut lines = vec![format!(
        "  WARNING: {} of {} cells got less than {:.0}% of their CPUs' time (other load on \
         this machine); re-run on a quiet machine before quoting them:",
        disturbed.len(),
        r.cells.len(),
        100.0 * DISTURBED_CPU_SHARE
    )];
    for chunk in disturbed.chunks(4) {
        lines.push(format!("    {}", chunk.join(", ")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample::{cell, kernel_cell, results};

    #[test]
    fn checks_read_the_paired_ratios_against_their_targets() {
        let mut bias = cell("bias", "private", 2, 20.0, 1.0e8);
        bias.scaling = Some(Estimate {
            median: 1.2,
            ci_low: 1.1,
            ci_high: 1.3,
            n: 40,
        });
        let r = results(vec![
            cell("noop", "private", 1, 0.1, 1e10),
            // x floor 12.5 / 10
            cell("plain", "private", 1, 12.5, 2.0e8),
            cell("plain", "private", 2, 12.5, 3.9e8),
            bias,
            cell("xarray", "private", 2, 40.0, 0.5e8),
        ]);
        let c = checks(&r).join("\n");
        assert!(c.contains("0.100 ns/page     target <= 0.5   met"), "{c}");
        assert!(!c.contains("WARNING"), "{c}");
        assert!(c.contains("1.25+-0.01  target <= 1.2x   NOT MET"), "{c}");
        assert!(c.contains("NOT MET: bias"), "{c}");
        assert!(c.contains("xarray 1.90x (exempt)"), "{c}");
        // sample cells scale 0.95 x threads
        assert!(c.contains("plain 1.90x"), "{c}");
    }

    #[test]
    fn kernel_cells_get_no_model_targets_and_sleeping_paths_no_load_warning() {
        let mut dio = kernel_cell("direct-io", "pread", 1, 300.0, 1e7);
        dio.cpu_share = Some(0.3);
        let mut gup = kernel_cell("gup-test", "pin-fast", 2, 30.0, 1e7);
        gup.scaling = Some(Estimate {
            median: 1.0,
            ci_low: 0.9,
            ci_high: 1.1,
            n: 40,
        });
        let r = results(vec![dio, gup]);
        let c = checks(&r).join("\n");
        assert!(!c.contains("NOT MET") && !c.contains("not measured"), "{c}");
        assert!(!c.contains("WARNING"), "{c}");
        let after = render_after_run(&Results {
            notes: vec!["said once already".into()],
            ..r
        });
        assert!(!after.contains("said once already"), "{after}");
    }

    #[test]
    fn a_withheld_scaling_is_named_and_never_counted_as_met() {
        let withheld = |name| {
            let mut c = cell(name, "private", 2, 20.0, 1.0e8);
            c.scaling = None;
            c.scaling_withheld = true;
            c
        };
        let r = results(vec![withheld("plain"), withheld("bias")]);
        let c = checks(&r).join("\n");
        assert!(c.contains("NOT JUDGED: every x 1T withheld (busy)"), "{c}");
        assert!(c.contains("plain busy (withheld)"), "{c}");
        let r = results(vec![
            withheld("plain"),
            cell("bias", "private", 2, 20.0, 1.0e8),
        ]);
        let c = checks(&r).join("\n");
        assert!(
            c.contains("met by those measured; 1 withheld (busy)"),
            "{c}"
        );
        assert!(
            render(&r).contains("0 of 2 cells busy, 1 with x 1T withheld"),
            "{}",
            render(&r)
        );
    }

    #[test]
    fn notes_cells_that_shared_their_cpus_and_kernel_rows_are_named() {
        let mut busy = cell("plain", "private", 2, 5.0, 2.0e8);
        busy.cpu_share = Some(0.6);
        let mut r = results(vec![
            busy,
            kernel_cell("gup-test", "pin-fast", 1, 30.0, 1e7),
            kernel_cell("shim", "pin-fast", 1, 40.0, 1e7),
        ]);
        r.notes.push("LEAK: shim/pin-fast 1T".into());
        let s = render(&r);
        assert!(s.contains("WARNING: 1 of 3 cells"), "{s}");
        assert!(s.contains("plain/private 2T (60%)"), "{s}");
        assert!(s.contains("note: LEAK: shim/pin-fast 1T"), "{s}");
        // The two backends' pin-fast rows stay apart.
        assert!(
            s.contains("pin-fast [gup-test]") && s.contains("pin-fast [shim]"),
            "{s}"
        );
        assert!(s.contains("3.00+-0.03"), "{s}");
    }
}
