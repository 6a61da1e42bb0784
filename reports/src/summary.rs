//! The text printed at the end of a run and by `pinbench summary`, made
//! only from results files: the run's notes; per thread count and
//! placement, a subject x workload table of `x floor` (the paired ratio's
//! median and its 95% CI half-width); what each scheme got wrong or
//! refused; and the harness checks with their targets, each marked met or
//! NOT MET. Real-kernel rows are named with their backend.
//!
//! With several files of the same shape ([`across`]), it prints per cell
//! the median over the files of each file's median ratio and the run-to-run
//! spread (max/min - 1), and flags cells whose spread exceeds the widest
//! within-run 95% CI: how a user learns how noisy their machine is between
//! runs, which no single run can show.

use crate::runs::{distinct, is_calibration, subject, Run};
use crate::table::{clean, num};
use pin_results::{Cell, Estimate, Fingerprint, Results, DISTURBED_CPU_SHARE};
use std::fmt::Write;

/// Target: harness overhead per page.
pub const NOOP_TARGET_NS: f64 = 0.5;
/// Target: plain/private/1 thread over floor.
pub const PLAIN_TARGET_RATIO: f64 = 1.2;
/// Target: private 2 threads over 1 thread, pages/s.
pub const SCALING_TARGET: f64 = 1.85;
/// Schemes exempt from the scaling target: each serialises every pin of a
/// node's pages on one lock (`flag`'s `zone_gup_lock`, `xarray`'s
/// `xa_lock`), so on a one-node machine they cannot scale by design.
pub const SCALING_EXEMPT: &[&str] = &["flag", "xarray"];

fn column(c: &Cell) -> String {
    if c.folio_order > 0 {
        format!("{}/{}", c.workload, c.folio_order)
    } else {
        c.workload.clone()
    }
}

fn find<'a>(r: &'a Results, name: &str, col: &str, threads: usize, numa: &str) -> Option<&'a Cell> {
    r.cells.iter().find(|c| {
        subject(c) == name && column(c) == col && c.threads == threads && c.numa.placement == numa
    })
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

/// `1.62+-0.01*`: an estimate, marked when noisy.
fn short(e: &Estimate) -> String {
    format!(
        "{}{}",
        crate::tables::estimate(e),
        if e.noisy() { "*" } else { "" }
    )
}

/// The summary of one results file.
pub fn render(r: &Results) -> String {
    render_with(r, true)
}

/// The summary a measuring run prints at its end: without the notes, which
/// the run said on standard error as they arose.
pub fn render_after_run(r: &Results) -> String {
    render_with(r, false)
}

fn render_with(r: &Results, with_notes: bool) -> String {
    let mut out = String::new();
    if r.partial {
        let _ = writeln!(out, "PARTIAL RESULTS: the run was interrupted.");
    }
    for n in r.notes.iter().filter(|_| with_notes) {
        let _ = writeln!(out, "note: {}", clean(n));
    }
    let runs = Run::label_all(vec![(String::new(), r.clone())]);
    let findings = crate::bottom_line::findings(&runs);
    if !findings.is_empty() {
        let _ = writeln!(
            out,
            "findings (judged cells; differences only where intervals separate):"
        );
        for f in &findings {
            out.push_str(&crate::table::wrap(
                "- ",
                "  ",
                &clean(f),
                crate::table::WIDTH,
            ));
        }
        out.push('\n');
    }
    if let Some(f) = r.fingerprint {
        let _ = writeln!(out, "{}", fingerprint_line(&f));
    }
    if let Some(line) = probe_line(r) {
        let _ = writeln!(out, "{line}");
    }
    let timed = crate::timed::lines(&r.cells);
    if !timed.is_empty() {
        let _ = writeln!(
            out,
            "\ntimed by the kernel itself (imported gup_test logs):"
        );
        for l in &timed {
            let _ = writeln!(out, "  {l}");
        }
    }
    let measured: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.kernel_timed.is_none())
        .collect();
    let groups = distinct(
        measured
            .iter()
            .map(|c| (c.threads, c.numa.placement.clone())),
    );
    let names = distinct(measured.iter().map(|c| subject(c)));
    let cols = distinct(
        measured
            .iter()
            .filter(|c| !is_calibration(c))
            .map(|c| column(c)),
    );
    for (threads, numa) in &groups {
        let _ = writeln!(
            out,
            "\nx floor (median +- 95% CI half-width of paired slices), {threads} thread(s), \
             memmap {numa}; * = CI wider than +-2%; # = busy (too few rounds on a quiet machine)"
        );
        let _ = write!(out, "{:<28}", "subject");
        for col in &cols {
            let _ = write!(out, " {col:>13}");
        }
        let _ = writeln!(out);
        for s in &names {
            let _ = write!(out, "{:<28}", clean(s));
            for col in &cols {
                let text = find(r, s, col, *threads, numa).map_or("-".into(), |c| {
                    format!("{}{}", short(&c.x_floor), if c.busy { "#" } else { "" })
                });
                let _ = write!(out, " {text:>13}");
            }
            let _ = writeln!(out);
        }
    }
    accuracy(r, &names, &mut out);
    if r.effects.is_some() {
        // What the pins did to the running kernel (`kernel --effects`).
        let run = Run {
            label: "A".into(),
            source: String::new(),
            results: r.clone(),
        };
        for t in crate::effects::tables(std::slice::from_ref(&run)) {
            out.push_str(&crate::text::titled(&t));
        }
    }
    let checks = checks(r);
    if !checks.is_empty() {
        let _ = writeln!(out, "\n{}", checks.join("\n"));
    }
    out
}

/// `machine fingerprint (CAS-loop get x floor): 1.145+-0.004 at start,
/// 1.146+-0.003 at end; loads x floor: 3.1+-0.02 at start, ...`.
fn fingerprint_line(f: &Fingerprint) -> String {
    let both = |start: &Estimate, end: Option<Estimate>, drifted: bool| {
        let end = end.map_or("not taken at end".into(), |e| {
            format!("{} at end", crate::tables::estimate(&e))
        });
        format!(
            "{} at start, {end}{}",
            crate::tables::estimate(start),
            if drifted {
                " -- CHANGED during the run"
            } else {
                ""
            }
        )
    };
    // The memory-bound one moves by a quarter within minutes on a shared
    // VM: its values are shown, and `compare` names sides it sets apart.
    let loads = f.loads_start.map_or(String::new(), |s| {
        format!("; loads x floor: {}", both(&s, f.loads_end, false))
    });
    format!(
        "machine fingerprint (CAS-loop get x floor): {}{loads}",
        both(&f.start, f.end, f.drifted())
    )
}

/// `quiet floor: 6.05 to 7.65 ns/page over 8 works; quiet clock probe:
/// 3104 ns (1T), 3115 ns (2T); contention probe: 16400 ns (2T); 3 of 130
/// cells busy, 2 with x 1T withheld`.
fn probe_line(r: &Results) -> Option<String> {
    if r.quiet_probe_ns.is_empty() && r.quiet_floor_ns.is_empty() {
        return None;
    }
    let floors: Vec<f64> = r.quiet_floor_ns.iter().map(|f| f.ns).collect();
    let lo = floors.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = floors.iter().copied().fold(0.0, f64::max);
    let floor = match floors.len() {
        0 => String::new(),
        1 => format!("quiet floor: {lo:.2} ns/page; "),
        n => format!("quiet floor: {lo:.2} to {hi:.2} ns/page over {n} kinds of floor work; "),
    };
    let list = |v: &[pin_results::ProbeNs]| {
        v.iter()
            .map(|q| format!("{:.0} ns ({}T)", q.ns, q.threads))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let contention = if r.contention_probe_ns.is_empty() {
        String::new()
    } else {
        format!("; contention probe: {}", list(&r.contention_probe_ns))
    };
    let busy = r.cells.iter().filter(|c| c.busy).count();
    let withheld = match r.cells.iter().filter(|c| c.scaling_withheld).count() {
        0 => String::new(),
        w => format!(", {w} with x 1T withheld"),
    };
    Some(format!(
        "{floor}quiet clock probe: {}{contention}; {busy} of {} cells busy{withheld}",
        list(&r.quiet_probe_ns),
        r.cells.len()
    ))
}

/// What each scheme got wrong or refused, at the first thread count.
fn accuracy(r: &Results, names: &[String], out: &mut String) {
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
        "{:<18} {:>12} {:>12} {:>14} {:>12} {:>12} {:>16}",
        "scheme",
        "mixed FP/FN",
        "storm FP/FN",
        "FP from refs",
        "max pins",
        "refusal ns",
        "isolated FN/lost"
    );
    let fpfn = |c: Option<&Cell>| match c {
        Some(Cell {
            false_positives: Some(fp),
            false_negatives: Some(fneg),
            ..
        }) => format!("{fp}/{fneg}"),
        _ => "-".into(),
    };
    for s in names {
        let storm = find(r, s, "refstorm", t, numa);
        let over = find(r, s, "overflow", t, numa);
        let mixed = find(r, s, "mixed", t, numa);
        if storm.or(over).or(mixed).is_none() {
            continue;
        }
        let _ = writeln!(
            out,
            "{:<18} {:>12} {:>12} {:>14} {:>12} {:>12} {:>16}",
            clean(s),
            fpfn(mixed),
            fpfn(storm),
            storm.map_or("-".into(), |c| c
                .fp_threshold_refs
                .map_or("none".into(), |k| format!(">= {k}"))),
            over.and_then(|c| c.max_pins)
                .map_or("-".into(), |m| m.to_string()),
            over.map_or("-".into(), |c| format!("{:.2}", c.ns_per_page)),
            mixed
                .and_then(|c| c.isolation)
                .map_or("-".into(), |i| i.short()),
        );
    }
}

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

/// One cell's identity across files.
fn key(c: &Cell) -> (String, String, usize, String) {
    (subject(c), column(c), c.threads, c.numa.placement.clone())
}

/// Several runs of the same shape: per cell, the median across files of the
/// runs' `x floor` (and `x 1T`) medians, and the run-to-run spread.
pub fn across(runs: &[Run]) -> String {
    let mut out = format!("pinbench summary of {} runs\n", runs.len());
    for r in runs {
        let m = &r.results.metadata;
        let _ = writeln!(
            out,
            "[{}] {}: {} {}, {}{}",
            r.label,
            clean(&r.source),
            clean(&m.host),
            clean(&m.start_time),
            r.results
                .fingerprint
                .map_or("no fingerprint".into(), |f| fingerprint_line(&f)),
            if r.results.partial { ", PARTIAL" } else { "" }
        );
        if let Some(line) = probe_line(&r.results) {
            let _ = writeln!(out, "    {line}");
        }
        for n in &r.results.notes {
            let _ = writeln!(out, "    note: {}", clean(n));
        }
    }
    for w in crate::compare::warnings(runs, &[]) {
        let _ = writeln!(out, "WARNING: {w}");
    }
    let _ = writeln!(
        out,
        "\nmedian over runs of each run's median; spread = max/min - 1 over runs; \
         CI = widest within-run 95% CI (high/low - 1); ! = spread wider than CI: \
         the runs disagree by more than one run can show; a run where the cell was \
         busy (too few rounds on a quiet machine) is left out where others are not"
    );
    let _ = writeln!(
        out,
        "{:<40} {:>8} {:>7} {:>7}  {:>7} {:>7} {:>7}",
        "cell", "x floor", "spread", "CI", "x 1T", "spread", "CI"
    );
    let keys = distinct(runs.iter().flat_map(|r| r.results.cells.iter().map(key)));
    let mut worst: Option<(f64, String)> = None;
    for k in &keys {
        let all: Vec<&Cell> = runs
            .iter()
            .filter_map(|r| r.results.cells.iter().find(|c| key(c) == *k))
            .collect();
        let busy = all.iter().filter(|c| c.busy).count();
        let cells = crate::runs::quiet_unless_all_busy(all.clone(), |c| c);
        let name = format!("{} {} {}T {}", clean(&k.0), k.1, k.2, k.3);
        let xf = spread_of(cells.iter().filter(|c| c.x_floor.n > 0).map(|c| c.x_floor));
        let sc = spread_of(cells.iter().filter_map(|c| c.scaling));
        if let Some((_, s, _)) = xf {
            if worst.as_ref().is_none_or(|(w, _)| s > *w) {
                worst = Some((s, name.clone()));
            }
        }
        let mut runs_note = match busy {
            0 => format!("{} runs", all.len()),
            b if b == all.len() => format!("{b} runs, all busy"),
            b => format!("{} runs, {b} busy left out", all.len()),
        };
        match cells.iter().filter(|c| c.scaling_withheld).count() {
            0 => {}
            w => runs_note.push_str(&format!(", x 1T withheld in {w}")),
        }
        let _ = writeln!(
            out,
            "{:<40} {}  {} ({runs_note})",
            name,
            spread_cols(xf),
            spread_cols(sc),
        );
    }
    if let Some((s, name)) = worst {
        let _ = writeln!(
            out,
            "\nwidest run-to-run spread of x floor: {:.1}% ({name})",
            s * 100.0
        );
    }
    if runs.len() >= 2 {
        let _ = writeln!(
            out,
            "\n{}",
            crate::coverage::Coverage::of(runs).lines().join("\n")
        );
        out.push_str(&census_check(runs, &keys));
    }
    out
}

/// Whether every run counted each cell the same: a census is exact, so
/// runs of one build and settings agree to the last operation, and a
/// difference means the files are of different builds or settings.
fn census_check(runs: &[Run], keys: &[(String, String, usize, String)]) -> String {
    let (mut same, mut differ) = (0, vec![]);
    for k in keys {
        let all: Vec<(&Run, &pin_results::Census)> = runs
            .iter()
            .filter_map(|r| {
                let c = r.results.cells.iter().find(|c| key(c) == *k)?;
                Some((r, c.census.as_ref()?))
            })
            .collect();
        let Some((first_run, first)) = all.first() else {
            continue;
        };
        match all.iter().find(|(_, c)| c != first) {
            None => same += 1,
            Some((r, c)) => {
                let change = crate::census::changes(first, c);
                let what = change.first().cloned().unwrap_or_default();
                differ.push(format!(
                    "{} {} {}T {}: [{}] and [{}] differ ({what})",
                    clean(&k.0),
                    k.1,
                    k.2,
                    k.3,
                    first_run.label,
                    r.label
                ));
            }
        }
    }
    if same + differ.len() == 0 {
        return String::new();
    }
    let mut out = String::new();
    if differ.is_empty() {
        let _ = writeln!(
            out,
            "census: identical in every run that counted it, all {same} cells"
        );
    } else {
        let _ = writeln!(
            out,
            "WARNING: census differs between runs in {} cells (of {}): the files are \
             of different builds or settings, so their timings are not reruns of one another:",
            differ.len(),
            same + differ.len()
        );
        for d in differ {
            let _ = writeln!(out, "  {d}");
        }
    }
    out
}

/// (median over runs, spread, widest within-run CI) of estimates.
fn spread_of(es: impl Iterator<Item = Estimate>) -> Option<(f64, f64, f64)> {
    let es: Vec<Estimate> = es.collect();
    let medians: Vec<f64> = es.iter().map(|e| e.median).collect();
    let m = Estimate::of(&medians)?.median;
    let ci = es
        .iter()
        .filter(|e| e.ci_low > 0.0)
        .map(|e| e.ci_high / e.ci_low - 1.0)
        .fold(0.0, f64::max);
    Some((m, crate::compare::spread(&medians), ci))
}

fn spread_cols(x: Option<(f64, f64, f64)>) -> String {
    match x {
        Some((m, s, ci)) => format!(
            "{:>8} {:>6.1}% {:>6.1}%{}",
            num(m),
            s * 100.0,
            ci * 100.0,
            if s > ci { "!" } else { " " }
        ),
        None => format!("{:>8} {:>7} {:>7} ", "-", "-", "-"),
    }
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

    #[test]
    fn across_runs_shows_the_spread_and_flags_what_one_run_cannot_see() {
        let runs: Vec<Run> = [15.0, 15.6, 15.3]
            .iter()
            .map(|&ns| results(vec![cell("bias", "private", 1, ns, 1e8)]))
            .enumerate()
            .map(|(i, r)| Run {
                label: ["A", "B", "C"][i].into(),
                source: format!("r{i}.json"),
                results: r,
            })
            .collect();
        let s = across(&runs);
        let row = s.lines().find(|l| l.starts_with("bias")).expect("row");
        // Medians 1.50, 1.56, 1.53: median 1.53, spread 4.0%, within-run CI
        // 1.01/0.99 - 1 = 2.0%: flagged.
        assert!(
            row.contains("1.53") && row.contains("4.0%") && row.contains("2.0%!"),
            "{row}"
        );
        assert!(
            s.contains("widest run-to-run spread of x floor: 4.0% (bias private 1T local)"),
            "{s}"
        );
    }

    #[test]
    fn a_census_that_differs_between_runs_is_named() {
        let census = |refcount: u64| pin_results::Census {
            pages: 4,
            locked_rmw: [("_refcount".to_string(), refcount)].into_iter().collect(),
            ..pin_results::Census::default()
        };
        let runs_of = |counts: [u64; 2]| -> Vec<Run> {
            counts
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let mut c = cell("bias", "private", 1, 15.0, 1e8);
                    c.census = Some(census(n));
                    Run {
                        label: ["A", "B"][i].into(),
                        source: format!("r{i}.json"),
                        results: results(vec![c]),
                    }
                })
                .collect()
        };
        let s = across(&runs_of([8, 8]));
        assert!(
            s.contains("census: identical in every run that counted it, all 1 cells"),
            "{s}"
        );
        let s = across(&runs_of([8, 12]));
        assert!(
            s.contains("WARNING: census differs between runs in 1 cells"),
            "{s}"
        );
        assert!(s.contains("locked _refcount: 2 -> 3 per page"), "{s}");
    }

    #[test]
    fn a_file_with_effects_shows_what_the_pins_did() {
        let mut r = results(vec![cell("plain", "private", 1, 15.0, 1e8)]);
        r.effects = Some(pin_results::Effects {
            pin_table: vec![pin_results::PinAnswer {
                mapping: "file shared".into(),
                fs: Some("ext4".into()),
                prot: "read-write".into(),
                long_term: "EFAULT".into(),
                dio_into: "pinned".into(),
                dio_from: "pinned".into(),
            }],
            ..pin_results::Effects::default()
        });
        let s = render(&r);
        assert!(s.contains("EFAULT"), "{s}");
        assert!(!render(&results(vec![])).contains("EFAULT"));
    }

    #[test]
    fn busy_runs_are_left_out_of_the_spread_and_counted() {
        let runs: Vec<Run> = [(15.0, false), (15.3, false), (30.0, true)]
            .iter()
            .enumerate()
            .map(|(i, &(ns, busy))| {
                let mut c = cell("bias", "private", 1, ns, 1e8);
                c.busy = busy;
                Run {
                    label: ["A", "B", "C"][i].into(),
                    source: format!("r{i}.json"),
                    results: results(vec![c]),
                }
            })
            .collect();
        let s = across(&runs);
        let row = s.lines().find(|l| l.starts_with("bias")).expect("row");
        // The busy 3.0 is left out: 1.50 and 1.53, spread 2.0%.
        assert!(
            row.contains("2.0%") && row.contains("(3 runs, 1 busy left out)"),
            "{row}"
        );
        assert!(
            s.contains("quiet clock probe: 3100 ns (1T); 1 of 1 cells busy"),
            "{s}"
        );
        assert!(
            s.contains("quiet floor: 10.00 ns/page; quiet clock probe"),
            "{s}"
        );
        // One run's own summary marks the busy cell.
        let one = render(&runs[2].results);
        assert!(one.contains("3.00+-0.03#"), "{one}");
    }
}
