//! `compare --format email`: the comparison as a block for a commit
//! message or a linux-mm reply: at most [`WIDTH`] columns, a line per
//! figure in the kernel's own words (`PIN_LONGTERM get: 130.5 -> 117.5 ms
//! -10.0% (CI -11.2..-8.8%, 3+3 runs)`, or `within noise (+-2.1%)`), the
//! machine in one line and the commands that reproduce it.
//!
//! Each run is a unit: a results file of `pinbench run` or `kernel` (its
//! median), or one log of an imported gup_test file (its repeats'
//! median). The change is that of the medians of the two sides' units,
//! and its 95% interval is Welch's t over the units' logarithms, so it
//! holds run-to-run noise; where the interval holds 0 the change is
//! "within noise". A side of one unit can show no noise: no verdict.

use crate::runs::{subject, Run};
use crate::stats::welch_interval;
use crate::table::{clean, num, wrap};
use pin_results::{Cell, Estimate, Half};
use std::fmt::Write;

/// Columns of the block.
pub const WIDTH: usize = 72;

/// Figure lines shown at most; the rest are counted.
const MAX_FIGURES: usize = 12;

/// One figure of one cell on both sides: each side's unit values.
struct Figure {
    name: String,
    unit: &'static str,
    base: Vec<f64>,
    new: Vec<f64>,
}

/// What a figure's comparison says.
enum Verdict {
    /// The interval of the change excludes 0.
    Changed(f64, f64, f64),
    /// It holds 0: its half-width.
    Noise(f64),
    /// A side has one unit.
    Untested(f64),
}

impl Figure {
    fn verdict(&self) -> Option<Verdict> {
        let (b, n) = (median(&self.base)?, median(&self.new)?);
        if b <= 0.0 || n <= 0.0 {
            return None;
        }
        let change = n / b - 1.0;
        if self.base.len() < 2 || self.new.len() < 2 {
            return Some(Verdict::Untested(change));
        }
        let logs = |xs: &[f64]| xs.iter().map(|x| x.ln()).collect::<Vec<_>>();
        let Some((lo, hi)) = welch_interval(&logs(&self.base), &logs(&self.new)) else {
            // No spread on either side: the runs agree exactly, so the
            // change is exactly what it is.
            return Some(if b == n {
                Verdict::Noise(0.0)
            } else {
                Verdict::Changed(change, change, change)
            });
        };
        let (lo, hi) = (lo.exp() - 1.0, hi.exp() - 1.0);
        Some(if lo <= 0.0 && 0.0 <= hi {
            Verdict::Noise((hi - lo) / 2.0)
        } else {
            Verdict::Changed(change, lo, hi)
        })
    }

    /// `NAME: 130.5 -> 117.5 ms -10.0% (CI -11.2..-8.8%, 3+3 runs)`.
    fn line(&self) -> Option<String> {
        let (b, n) = (median(&self.base)?, median(&self.new)?);
        if b <= 0.0 || n <= 0.0 {
            let text = format!(
                "{} -> {}{} (no ratio: a median of 0)",
                value(b),
                value(n),
                self.unit
            );
            return Some(wrap(&format!("{}: ", self.name), "    ", &text, WIDTH));
        }
        let runs = format!("{}+{} runs", self.base.len(), self.new.len());
        let pct = |x: f64| format!("{:+.1}%", x * 100.0);
        let tail = match self.verdict()? {
            Verdict::Changed(c, lo, hi) => format!(
                "{} (CI {}..{}%, {runs})",
                pct(c),
                pct(lo).trim_end_matches('%'),
                pct(hi).trim_end_matches('%')
            ),
            Verdict::Noise(h) => format!("within noise (+-{:.1}%, {runs})", h * 100.0),
            Verdict::Untested(c) => format!("{} ({runs}: no verdict)", pct(c)),
        };
        let text = format!("{} -> {}{} {tail}", value(b), value(n), self.unit);
        Some(wrap(&format!("{}: ", self.name), "    ", &text, WIDTH))
    }

    fn changed(&self) -> bool {
        matches!(self.verdict(), Some(Verdict::Changed(..)))
    }
}

fn median(xs: &[f64]) -> Option<f64> {
    Estimate::of(xs).map(|e| e.median)
}

/// A value with three significant digits or one decimal.
fn value(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        num(x)
    }
}

/// `pin-longterm` as gup_test names it: `PIN_LONGTERM`.
fn benchmark(c: &Cell) -> String {
    c.subject.to_ascii_uppercase().replace('-', "_")
}

/// The cell's options where they set it apart from `others`.
fn qualifier(c: &Cell, others: &[&Cell]) -> String {
    let k = |c: &Cell| {
        c.kernel
            .as_ref()
            .map(|k| (k.buffer_bytes, k.backing.clone()))
    };
    let mut q = vec![];
    if others
        .iter()
        .any(|o| k(o).map(|x| x.0) != k(c).map(|x| x.0))
    {
        q.push(format!("{}M", k(c).map_or(0, |x| x.0 >> 20)));
    }
    if others.iter().any(|o| o.pages_per_call != c.pages_per_call) {
        q.push(format!("-n {}", c.pages_per_call));
    }
    if others
        .iter()
        .any(|o| k(o).map(|x| x.1) != k(c).map(|x| x.1))
    {
        q.push(k(c).map_or_else(String::new, |x| x.1));
    }
    if others.iter().any(|o| o.workload != c.workload) {
        q.push(c.workload.clone());
    }
    if others.iter().any(|o| o.threads != c.threads) {
        q.push(format!("{}T", c.threads));
    }
    if q.is_empty() {
        String::new()
    } else {
        format!(" ({})", q.join(", "))
    }
}

/// Every figure of the cells both sides have, and how many such cells were
/// left out because a side measured them only busy.
fn figures(base: &[Run], new: &[Run]) -> (Vec<Figure>, usize) {
    let ids = crate::runs::distinct(
        base.iter()
            .flat_map(|r| r.results.cells.iter().map(Cell::identity)),
    );
    let of = |runs: &[Run], id: &str, busy: bool| -> Vec<Cell> {
        runs.iter()
            .filter_map(|r| r.results.cells.iter().find(|c| c.identity() == id))
            .filter(|c| (busy || !c.busy) && !crate::runs::is_calibration(c))
            .cloned()
            .collect()
    };
    let both = |id: &String, busy: bool| {
        let (b, n) = (of(base, id, busy), of(new, id, busy));
        (!b.is_empty() && !n.is_empty()).then_some((b, n))
    };
    let matched: Vec<(Vec<Cell>, Vec<Cell>)> =
        ids.iter().filter_map(|id| both(id, false)).collect();
    let busy = ids.iter().filter(|id| both(id, true).is_some()).count() - matched.len();
    (figures_of(&matched), busy)
}

/// The figures of matched cells: the kernel's own times, or the paired
/// ratios.
fn figures_of(matched: &[(Vec<Cell>, Vec<Cell>)]) -> Vec<Figure> {
    let firsts: Vec<&Cell> = matched.iter().map(|(b, _)| &b[0]).collect();
    let mut out = vec![];
    for (b, n) in matched {
        let c = &b[0];
        if c.kernel_timed.is_some() {
            let q = qualifier(c, &firsts);
            for half in [Half::Get, Half::Put] {
                let units = |cells: &[Cell]| -> Vec<f64> {
                    cells
                        .iter()
                        .filter_map(|c| c.kernel_timed.as_ref())
                        .flat_map(|t| t.unit_medians(half))
                        .map(|us| us / 1000.0)
                        .collect()
                };
                out.push(Figure {
                    name: format!("{} {}{q}", benchmark(c), half.name()),
                    unit: " ms",
                    base: units(b),
                    new: units(n),
                });
            }
            continue;
        }
        let order = match c.folio_order {
            0 => String::new(),
            o => format!("/{o}"),
        };
        let name = format!("{} {}{order} {}T", subject(c), c.workload, c.threads);
        let runs = |cells: &[Cell], f: fn(&Cell) -> Option<Estimate>| -> Vec<f64> {
            cells.iter().filter_map(f).map(|e| e.median).collect()
        };
        let xf: fn(&Cell) -> Option<Estimate> = |c| (c.x_floor.n > 0).then_some(c.x_floor);
        let sc: fn(&Cell) -> Option<Estimate> = |c| c.scaling;
        for (what, f) in [("x floor", xf), ("x 1T", sc)] {
            let (bv, nv) = (runs(b, f), runs(n, f));
            if !bv.is_empty() && !nv.is_empty() {
                out.push(Figure {
                    name: format!("{name} {what}"),
                    unit: "",
                    base: bv,
                    new: nv,
                });
            }
        }
    }
    out
}

/// A word of a command as a shell reads it: an absolute path by its file
/// name (never the machine's directories), quoted where it must be.
fn word(w: &str) -> String {
    let w = clean(w);
    let w = if w.starts_with('/') {
        w.rsplit('/').next().unwrap_or_default().to_string()
    } else {
        w
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// `pinbench run --quick` for a recorded command line: the program by its
/// name, not the path it ran from, and without the file it wrote (runs of
/// one command differ only in that; the block names the files after).
fn command(r: &Run) -> String {
    let mut out: Vec<String> = vec![];
    let mut words = r.results.metadata.command_line.iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "-o" | "--output" => {
                words.next();
            }
            o if o.starts_with("--output=") => {}
            _ => out.push(word(w)),
        }
    }
    out.join(" ")
}

/// The figures of one set of runs (`report`): a line per figure of the
/// cells at their fewest threads, `x floor` (and `x 1T` where the cell
/// has it) of the model and the kernel's paths, and what the kernel timed
/// itself: the median over the runs with their spread, the first
/// [`MAX_FIGURES`] of them, then the commands.
pub fn report(runs: &[Run]) -> String {
    let mut out = String::new();
    let kernels = crate::runs::distinct(runs.iter().map(|r| clean(&r.results.metadata.kernel)));
    out.push_str(&wrap(
        "",
        "  ",
        &format!("pinbench report, Linux {}:", kernels.join(", ")),
        WIDTH,
    ));
    let machines = crate::runs::distinct(
        runs.iter()
            .map(|r| &r.results.metadata)
            .filter(|m| m.cores > 0)
            .map(|m| format!("{}, {} CPUs", clean(&m.cpu_model), m.cores)),
    );
    let machine = match machines.as_slice() {
        [] => "machine not recorded (imported logs)".to_string(),
        many => many.join("; "),
    };
    out.push_str(&wrap("", "  ", &machine, WIDTH));
    out.push('\n');
    let (mut figs, _) = figures(runs, runs);
    let fewest = runs
        .iter()
        .flat_map(|r| r.results.cells.iter().map(|c| c.threads))
        .min()
        .unwrap_or(1);
    figs.retain(|f| f.unit == " ms" || f.name.contains(&format!(" {fewest}T ")));
    for f in figs.iter().take(MAX_FIGURES) {
        let Some(m) = median(&f.base) else { continue };
        let lo = f.base.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = f.base.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let spread = match f.base.len() {
            1 => "1 run".to_string(),
            n => format!("{}..{}, {n} runs", value(lo), value(hi)),
        };
        let text = format!("{}{} ({spread})", value(m), f.unit);
        out.push_str(&wrap(&format!("{}: ", f.name), "    ", &text, WIDTH));
    }
    if figs.len() > MAX_FIGURES {
        let _ = writeln!(out, "and {} more figures", figs.len() - MAX_FIGURES);
    }
    out.push('\n');
    out.push_str(&wrap(
        "",
        "",
        "Medians over runs, each run's own median; the range of the runs' medians.",
        WIDTH,
    ));
    for c in crate::runs::distinct(runs.iter().map(command)) {
        out.push_str(&wrap("", "    ", &c, WIDTH));
    }
    out
}

/// The figures the kernel timed itself (imported gup_test logs), a line
/// each, for the text comparison, whose tables hold paired ratios only.
pub fn timed_lines(base: &[Run], new: &[Run]) -> String {
    let mut out = String::new();
    for f in figures(base, new).0.iter().filter(|f| f.unit == " ms") {
        if let Some(line) = f.line() {
            out.push_str(&line);
        }
    }
    out
}

/// The email block.
pub fn compare(base: &[Run], new: &[Run], verbose: bool) -> String {
    let mut out = String::new();
    let kernel = |runs: &[Run]| {
        let all = crate::runs::distinct(runs.iter().map(|r| clean(&r.results.metadata.kernel)));
        if all.is_empty() {
            "?".to_string()
        } else {
            all.join(", ")
        }
    };
    let (kb, kn) = (kernel(base), kernel(new));
    let head = if kb == kn {
        format!("pinbench compare, Linux {kb}:")
    } else {
        format!("pinbench compare, Linux {kb} -> {kn}:")
    };
    out.push_str(&wrap("", "  ", &head, WIDTH));
    let machines = crate::runs::distinct(
        base.iter()
            .chain(new)
            .map(|r| &r.results.metadata)
            .filter(|m| m.cores > 0)
            .map(|m| format!("{}, {} CPUs", clean(&m.cpu_model), m.cores)),
    );
    let machine = match machines.as_slice() {
        [] => "machine not recorded (imported logs)".to_string(),
        [one] => one.clone(),
        many => format!("different machines: {}", many.join("; ")),
    };
    out.push_str(&wrap("", "  ", &machine, WIDTH));
    out.push('\n');
    let (mut figs, busy) = figures(base, new);
    figs.sort_by_key(|f| !f.changed());
    for f in figs.iter().take(MAX_FIGURES) {
        if let Some(line) = f.line() {
            out.push_str(&line);
            if verbose {
                let list = |xs: &[f64]| xs.iter().map(|x| value(*x)).collect::<Vec<_>>().join(" ");
                let text = format!("base {}; new {}", list(&f.base), list(&f.new));
                out.push_str(&wrap("    ", "      ", &text, WIDTH));
            }
        }
    }
    let rest = figs.len().saturating_sub(MAX_FIGURES);
    if rest > 0 {
        let changed = figs[MAX_FIGURES..].iter().filter(|f| f.changed()).count();
        let _ = writeln!(out, "and {rest} more figures ({changed} changed)");
    }
    if busy > 0 {
        let text = format!(
            "{busy} cell(s) both sides have left out: a side measured them only \
             busy (another machine state; see pinbench compare)"
        );
        out.push_str(&wrap("", "  ", &text, WIDTH));
    } else if figs.is_empty() {
        out.push_str("no cell both sides have\n");
    }
    out.push('\n');
    out.push_str(&wrap(
        "",
        "",
        "Medians of runs; 95% CI of the change by Welch's t over their logs.",
        WIDTH,
    ));
    for (side, runs) in [("base", base), ("new", new)] {
        let files = match runs.len() {
            1 => "1 file".to_string(),
            n => format!("{n} files"),
        };
        let commands = crate::runs::distinct(runs.iter().map(command));
        for (i, c) in commands.iter().take(2).enumerate() {
            let first = if i == 0 {
                format!("{side} ({files}):")
            } else {
                "  and".to_string()
            };
            out.push_str(&wrap("", "    ", &format!("{first} {c}"), WIDTH));
        }
        if commands.len() > 2 {
            let _ = writeln!(out, "  and {} more commands", commands.len() - 2);
        }
    }
    let files = |runs: &[Run]| {
        runs.iter()
            .map(|r| word(&r.source))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let again = format!(
        "pinbench compare --format email --base {} --new {}",
        files(base),
        files(new)
    );
    out.push_str(&wrap("", "    ", &again, WIDTH));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::{sample, KernelTimed};

    fn imported(kernel: &str, get_ms: &[f64], put_ms: &[f64]) -> Run {
        let mut c = sample::kernel_cell("gup-test-log", "pin-longterm", 1, 1.0, 1.0);
        c.kernel_timed = Some(KernelTimed {
            source: "gup_test".into(),
            pages: 32768,
            get_us: get_ms.iter().map(|m| vec![m * 1000.0]).collect(),
            put_us: put_ms.iter().map(|m| vec![m * 1000.0]).collect(),
        });
        c.pairs = Default::default();
        c.x_floor.n = 0;
        let mut results = sample::results(vec![c]);
        results.metadata.kernel = kernel.into();
        results.metadata.command_line = vec![
            "/work/main/target/release/pinbench".into(),
            "import".into(),
            "gup-test".into(),
            "a1.log".into(),
        ];
        Run {
            label: "A".into(),
            source: format!("{kernel}.json"),
            results,
        }
    }

    #[test]
    fn three_logs_a_side_make_a_short_block_with_the_change_and_its_interval() {
        let a = imported("6.1.0", &[130.2, 130.9, 130.5], &[31.6, 31.8, 31.7]);
        let b = imported("6.12.19", &[117.2, 117.9, 117.5], &[31.5, 31.9, 31.7]);
        let text = compare(&[a], &[b], false);
        assert!(text.lines().count() <= 25, "{text}");
        assert!(text.lines().all(|l| l.len() <= WIDTH), "{text}");
        assert!(text.contains("Linux 6.1.0 -> 6.12.19"), "{text}");
        let get = text
            .lines()
            .find(|l| l.starts_with("PIN_LONGTERM get:"))
            .expect("get");
        assert!(get.contains("130.5 -> 117.5 ms -10.0% (CI "), "{get}");
        assert!(get.contains("3+3 runs"), "{get}");
        let put = text
            .lines()
            .find(|l| l.starts_with("PIN_LONGTERM put:"))
            .expect("put");
        assert!(put.contains("within noise"), "{put}");
        assert!(
            text.contains("base (1 file): pinbench import gup-test a1.log"),
            "{text}"
        );
        assert!(!text.contains("/work/main"), "{text}");
        let verbose = compare(
            &[imported(
                "6.1.0",
                &[130.2, 130.9, 130.5],
                &[31.6, 31.8, 31.7],
            )],
            &[imported(
                "6.12.19",
                &[117.2, 117.9, 117.5],
                &[31.5, 31.9, 31.7],
            )],
            true,
        );
        assert!(
            verbose.contains("base 130.2 130.9 130.5; new 117.2 117.9 117.5"),
            "{verbose}"
        );
    }

    #[test]
    fn runs_that_agree_exactly_show_their_exact_change_and_zero_has_no_ratio() {
        let a = imported("6.1.0", &[100.0, 100.0, 100.0], &[0.0, 0.0, 0.0]);
        let b = imported("6.1.0", &[200.0, 200.0, 200.0], &[1.0, 1.0, 1.0]);
        let text = compare(&[a], &[b], false);
        assert!(
            text.contains("100.0 -> 200.0 ms +100.0% (CI +100.0..+100.0%"),
            "{text}"
        );
        assert!(
            text.contains("put: 0 -> 1.00 ms (no ratio: a median of 0)"),
            "{text}"
        );
    }

    #[test]
    fn commands_name_no_directory_and_quote_what_a_shell_would_split() {
        let mut a = imported("6.1.0", &[1.0], &[1.0]);
        a.results.metadata.command_line = vec![
            "/usr/local/bin/pinbench".into(),
            "import".into(),
            "/tmp/probe/my log.log".into(),
            "--kernel".into(),
            "it's".into(),
        ];
        assert_eq!(
            command(&a),
            "pinbench import 'my log.log' --kernel 'it'\\''s'"
        );
        a.results.metadata.command_line = ["pinbench", "run", "-o", "a.json", "--quick"]
            .map(String::from)
            .to_vec();
        assert_eq!(command(&a), "pinbench run --quick");
    }

    #[test]
    fn a_report_block_gives_each_figure_with_the_runs_spread() {
        let runs = [
            imported("6.1.0", &[130.2, 130.9, 130.5], &[31.6, 31.8, 31.7]),
            imported("6.1.0", &[129.0], &[31.0]),
        ];
        let text = report(&runs);
        assert!(text.lines().all(|l| l.len() <= WIDTH), "{text}");
        assert!(text.starts_with("pinbench report, Linux 6.1.0:"), "{text}");
        assert!(
            text.contains("PIN_LONGTERM get: 130.3 ms (129.0..130.9, 4 runs)"),
            "{text}"
        );
    }

    #[test]
    fn one_run_a_side_gets_no_verdict() {
        let a = imported("6.1.0", &[130.0], &[31.0]);
        let b = imported("6.1.0", &[100.0], &[31.0]);
        let text = compare(&[a], &[b], false);
        assert!(text.contains("-23.1% (1+1 runs: no verdict)"), "{text}");
        assert!(text.contains("Linux 6.1.0:"), "{text}");
    }

    #[test]
    fn a_cell_busy_on_a_side_is_counted_as_left_out_not_as_missing() {
        let a = imported("6.1.0", &[130.0, 131.0], &[31.0, 31.0]);
        let mut b = imported("6.12.19", &[100.0, 101.0], &[31.0, 31.0]);
        b.results.cells[0].busy = true;
        let text = compare(&[a], &[b], false);
        assert!(
            text.contains("1 cell(s) both sides have left out"),
            "{text}"
        );
        assert!(!text.contains("no cell both sides have"), "{text}");
    }
}
