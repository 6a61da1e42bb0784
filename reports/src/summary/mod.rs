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

mod across;
mod checks;

pub use across::across;
pub use checks::checks;

use crate::runs::{distinct, is_calibration, subject, Run};
use crate::table::{clean, num, Group, Table};
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
            "findings (timings of judged cells; differences only where intervals separate):"
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
        let heading = format!(
            "x floor (median of paired ABBA blocks +- 95% CI half-width over visits), \
             {threads} thread(s), memmap {numa}; {}",
            crate::legend::cell_marks_short()
        );
        out.push('\n');
        out.push_str(&crate::table::wrap("", "  ", &heading, crate::table::WIDTH));
        let rows = names
            .iter()
            .map(|s| {
                let row = cols
                    .iter()
                    .map(|col| {
                        find(r, s, col, *threads, numa).map_or("-".into(), |c| {
                            let marks = crate::legend::cell_marks(c, c.x_floor.noisy());
                            format!("{}{marks}", crate::tables::estimate(&c.x_floor))
                        })
                    })
                    .collect();
                (clean(s), row)
            })
            .collect();
        let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        out.push_str(
            &Table {
                row_head: "subject".into(),
                groups: vec![Group::numbers("", &cols)],
                rows,
            }
            .text(),
        );
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
/// 3104 ns (1T), 3115 ns (2T); quiet throughput probe: 3024 ns (1T);
/// contention probe: 16400 ns (2T); 3 of 130 cells busy, 2 with x 1T
/// withheld`.
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
    let throughput = if r.quiet_throughput_ns.is_empty() {
        String::new()
    } else {
        format!("; quiet throughput probe: {}", list(&r.quiet_throughput_ns))
    };
    let contention = if r.contention_probe_ns.is_empty() {
        throughput
    } else {
        format!(
            "{throughput}; contention probe: {}",
            list(&r.contention_probe_ns)
        )
    };
    let contention = if r.handoff_probe_ns.is_empty() {
        contention
    } else {
        format!("{contention}; handoff probe: {}", list(&r.handoff_probe_ns))
    };
    let busy = r.cells.iter().filter(|c| c.busy).count();
    let withheld = match r.cells.iter().filter(|c| c.scaling_withheld).count() {
        0 => String::new(),
        w => format!(", {w} with x 1T withheld"),
    };
    Some(format!(
        "{floor}quiet clock probe: {}{contention}; {busy} of {} cells busy{withheld}{}",
        list(&r.quiet_probe_ns),
        r.cells.len(),
        set_aside(r)
    ))
}

/// `; one-thread rounds judged busy by the floor 12%, by the throughput
/// probe 58%`: each yardstick alone (a round may fail both), over every
/// one-thread cell's rounds, busy cells' too (which keep them all, for
/// too few passed); empty without such rounds.
fn set_aside(r: &Results) -> String {
    let ys = r.yardsticks();
    let one: Vec<&Cell> = r.cells.iter().filter(|c| c.threads == 1).collect();
    let rounds: usize = one.iter().map(|c| c.pairs.subject_ns_per_page.len()).sum();
    if rounds == 0 {
        return String::new();
    }
    let share = |only: fn(pin_results::Yardstick) -> pin_results::Yardstick| {
        let out: usize = one
            .iter()
            .map(|c| {
                let q = c.pairs.quiet(only(ys.for_cell(c)));
                q.iter().filter(|k| !**k).count()
            })
            .sum();
        out as f64 / rounds as f64 * 100.0
    };
    let floor = share(|y| pin_results::Yardstick {
        quiet_floor_ns: y.quiet_floor_ns,
        ..Default::default()
    });
    let throughput = share(|y| pin_results::Yardstick {
        quiet_throughput_ns: y.quiet_throughput_ns,
        ..Default::default()
    });
    let throughput = if r.quiet_throughput_ns.is_empty() {
        String::new()
    } else {
        format!(", by the throughput probe {throughput:.0}%")
    };
    format!("; one-thread rounds judged busy by the floor {floor:.0}%{throughput}")
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
    let fpfn = |c: Option<&Cell>| match c {
        Some(Cell {
            false_positives: Some(fp),
            false_negatives: Some(fneg),
            ..
        }) => format!("{fp}/{fneg}"),
        _ => "-".into(),
    };
    let mut rows = vec![];
    for s in names {
        let storm = find(r, s, "refstorm", t, numa);
        let over = find(r, s, "overflow", t, numa);
        let mixed = find(r, s, "mixed", t, numa);
        if storm.or(over).or(mixed).is_none() {
            continue;
        }
        rows.push((
            clean(s),
            vec![
                fpfn(mixed),
                fpfn(storm),
                storm.map_or("-".into(), |c| {
                    c.fp_threshold_refs
                        .map_or("none".into(), |k| format!(">= {k}"))
                }),
                over.and_then(|c| c.max_pins)
                    .map_or("-".into(), |m| m.to_string()),
                over.map_or("-".into(), |c| format!("{:.2}", c.ns_per_page)),
                mixed
                    .and_then(|c| c.isolation)
                    .map_or("-".into(), |i| i.short()),
            ],
        ));
    }
    let columns = [
        "mixed FP/FN",
        "storm FP/FN",
        "FP from refs",
        "max pins",
        "refusal ns",
        "isolated FN/lost",
    ];
    out.push_str(
        &Table {
            row_head: "scheme".into(),
            groups: vec![Group::numbers("", &columns)],
            rows,
        }
        .text(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample::{cell, results};

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
    fn the_probe_line_says_what_each_yardstick_judged_busy() {
        let mut c = cell("hybrid", "mixed", 1, 3.0, 1e8);
        // Four blocks: one quiet, one on a slow floor, two on a shared
        // core (one of them on a slow floor too).
        c.pairs.subject_ns_per_page = vec![3.0; 8];
        c.pairs.floor_ns_per_page = vec![6.0, 6.0, 7.0, 7.0, 6.0, 6.0, 7.0, 7.0];
        c.pairs.pages_per_sec = vec![1e8; 8];
        c.pairs.throughput_ns = Some(vec![
            3000.0, 3000.0, 3000.0, 3000.0, 5400.0, 5400.0, 5400.0, 5400.0,
        ]);
        let mut r = results(vec![c]);
        r.derive_again();
        let line = probe_line(&r).expect("a probe line");
        assert!(
            line.ends_with(
                "; one-thread rounds judged busy by the floor 50%, by the throughput probe 50%"
            ),
            "{line}"
        );
        assert!(
            line.contains("quiet throughput probe: 3000 ns (1T)"),
            "{line}"
        );
        // A file from before the probe names the floor only.
        r.quiet_throughput_ns.clear();
        let line = probe_line(&r).expect("a probe line");
        assert!(line.ends_with("judged busy by the floor 50%"), "{line}");
    }
}
