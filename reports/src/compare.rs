//! `pinbench compare BASE NEW`, the way mmtests' compare-kernels reads:
//! for every cell measured in both runs, the base and new means over the
//! repetitions (arithmetic for ns/page, a time; harmonic for pages/s, a
//! rate), the change in percent, and a mark from Welch's t-test on the
//! per-repetition values, which does not assume the two runs had the same
//! variance. Cells measured in only one run are listed by name. Different
//! hosts, schema versions or an emulated run are warned about at the top,
//! where a reader of a pasted comparison sees them first.

use crate::runs::{subject, Run, Shape};
use crate::stats::{harmonic_mean, mark, mean, welch_p};
use crate::table::{ascii, num, wrap, Group, Table, WIDTH};
use pin_results::Cell;
use std::fmt::Write;

/// Which cell of one run matches which of another.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    shape: Shape,
    placement: String,
    subject: String,
    threads: usize,
}

impl Key {
    fn of(c: &Cell) -> Key {
        Key {
            shape: Shape::of(c),
            placement: c.numa.placement.clone(),
            subject: subject(c),
            threads: c.threads,
        }
    }

    fn section(&self) -> String {
        format!(
            "{}, {} pages per call, memmap {}",
            self.shape.name(),
            self.shape.pages_per_call,
            self.placement
        )
    }

    fn row(&self) -> String {
        format!("{} {}T", self.subject, self.threads)
    }
}

/// The mean, the per-repetition values and the mean's kind for one metric.
fn values(c: &Cell, rate: bool) -> (Option<f64>, Vec<f64>) {
    let xs: Vec<f64> = c
        .repetitions
        .iter()
        .map(|r| if rate { r.pages_per_sec } else { r.ns_per_page })
        .collect();
    let m = if rate { harmonic_mean(&xs) } else { mean(&xs) };
    (m, xs)
}

/// `base -> new` of one metric: base, new, and `+1.2% **`.
fn metric(base: &Cell, new: &Cell, rate: bool) -> [String; 3] {
    let scale = if rate { 1e-6 } else { 1.0 };
    let (b, bx) = values(base, rate);
    let (n, nx) = values(new, rate);
    let change = match (b, n) {
        (Some(b), Some(n)) if b != 0.0 => {
            let sig = mark(welch_p(&bx, &nx));
            format!("{:+.1}% {sig:<2}", (n - b) / b * 100.0)
        }
        _ => "-".into(),
    };
    [
        b.map_or("-".into(), |b| num(b * scale)),
        n.map_or("-".into(), |n| num(n * scale)),
        change,
    ]
}

fn describe(label: &str, run: &Run) -> String {
    let m = &run.results.metadata;
    wrap(
        &format!("{label:<6}"),
        "      ",
        &format!(
            "{}: host {}, {}, {} cores, kernel {}, pinbench {}, started {}",
            run.source, m.host, m.cpu_model, m.cores, m.kernel, m.git_commit, m.start_time
        ),
        WIDTH,
    )
}

/// Warnings that make the comparison weaker evidence.
pub fn warnings(base: &Run, new: &Run) -> Vec<String> {
    let (b, n) = (&base.results, &new.results);
    let mut w = vec![];
    if b.metadata.host != n.metadata.host || b.metadata.cpu_model != n.metadata.cpu_model {
        w.push(format!(
            "different machines (base {} / {}, new {} / {}): changes mix the machine \
             with the software",
            b.metadata.host, b.metadata.cpu_model, n.metadata.host, n.metadata.cpu_model
        ));
    }
    if b.schema_version != n.schema_version {
        w.push(format!(
            "different results schema versions (base {}, new {}): fields may not mean \
             the same",
            b.schema_version, n.schema_version
        ));
    }
    for (label, r) in [("base", b), ("new", n)] {
        if let Some(e) = &r.metadata.emulated {
            w.push(format!(
                "{label} run is EMULATED ({e}): its timings are not performance evidence"
            ));
        }
        if r.partial {
            w.push(format!("{label} run is partial (interrupted)"));
        }
    }
    w
}

/// The comparison as plain ASCII text, at most 80 columns.
pub fn compare(base: &Run, new: &Run) -> String {
    let mut out = String::from("pinbench compare\n================\n");
    out.push_str(&describe("base:", base));
    out.push_str(&describe("new:", new));
    for w in warnings(base, new) {
        out.push_str(&wrap("WARNING: ", "         ", &w, WIDTH));
    }
    out.push('\n');
    out.push_str(&wrap(
        "",
        "",
        "ns/page: arithmetic mean over the repetitions (lower is better). \
         Mpages/s: harmonic mean (higher is better). Change: (new - base) / base. \
         Welch's t-test on the per-repetition values: ** p < 0.01, * p < 0.05, \
         blank: not significant, ? fewer than two repetitions. Repetitions within \
         one run do not see run-to-run variation: a significant change of a few \
         percent may be the machine; repeat both runs before calling it.",
        WIDTH,
    ));
    let bcells = &base.results.cells;
    let ncells = &new.results.cells;
    let matched: Vec<(Key, &Cell, &Cell)> = bcells
        .iter()
        .filter_map(|b| {
            let k = Key::of(b);
            ncells.iter().find(|n| Key::of(n) == k).map(|n| (k, b, n))
        })
        .collect();
    let sections = crate::runs::distinct(matched.iter().map(|(k, _, _)| k.section()));
    for section in sections {
        let rows = matched
            .iter()
            .filter(|(k, _, _)| k.section() == section)
            .map(|(k, b, n)| {
                let mut cells = metric(b, n, false).to_vec();
                cells.extend(metric(b, n, true));
                (k.row(), cells)
            })
            .collect();
        let cols = || vec!["base".into(), "new".into(), "change".into()];
        let table = Table {
            row_head: "scheme".into(),
            groups: vec![
                Group {
                    label: "ns/page".into(),
                    columns: cols(),
                    align_left: vec![false, false, true],
                },
                Group {
                    label: "Mpages/s".into(),
                    columns: cols(),
                    align_left: vec![false, false, true],
                },
            ],
            rows,
        };
        out.push('\n');
        out.push_str(&wrap("== ", "   ", &section, WIDTH));
        out.push_str(&table.text());
    }
    for (label, these, other) in [("base", bcells, ncells), ("new", ncells, bcells)] {
        let only: Vec<Key> = these
            .iter()
            .map(Key::of)
            .filter(|k| !other.iter().any(|o| Key::of(o) == *k))
            .collect();
        if only.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "\nOnly in {label} ({} cells, not compared):\n",
            only.len()
        );
        // One line per section, its rows listed.
        for section in crate::runs::distinct(only.iter().map(Key::section)) {
            let rows: Vec<String> = only
                .iter()
                .filter(|k| k.section() == section)
                // Kept whole on a line: `side-tree-locked 2T`.
                .map(|k| k.row().replace(' ', "\u{1}"))
                .collect();
            let line = format!("{section}: {}", rows.join(", "));
            out.push_str(&wrap("  ", "    ", &line, WIDTH).replace('\u{1}', " "));
        }
    }
    ascii(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::{sample, Repetition, Results};

    /// A cell whose repetitions' ns/page are `ns` (pages/s the inverse).
    fn cell(scheme: &str, threads: usize, ns: &[f64]) -> Cell {
        let mut c = sample::cell(scheme, "private", threads, ns[0], 1e9 / ns[0]);
        c.repetitions = ns
            .iter()
            .map(|&n| Repetition {
                ns_per_page: n,
                pages_per_sec: 1e9 / n,
                pages: 1000,
                elapsed_ns: (n * 1000.0) as u64,
            })
            .collect();
        c
    }

    fn run(label: &str, cells: Vec<Cell>) -> Run {
        Run {
            label: label.into(),
            source: format!("{label}.json"),
            results: sample::results(cells),
        }
    }

    fn row<'a>(text: &'a str, name: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{text}"))
    }

    #[test]
    fn a_large_difference_is_significant_and_a_null_one_is_not() {
        let same = [10.0, 10.2, 9.9, 10.1, 10.0];
        let base = run(
            "base",
            vec![
                cell("plain", 1, &same),
                cell("exact", 1, &[20.0, 20.3, 19.8, 20.1, 19.9]),
            ],
        );
        // plain: the same distribution, shuffled; exact: 50% slower.
        let new = run(
            "new",
            vec![
                cell("plain", 1, &[10.1, 10.0, 10.0, 9.9, 10.2]),
                cell("exact", 1, &[30.0, 30.2, 29.9, 30.3, 29.8]),
            ],
        );
        let text = compare(&base, &new);
        assert!(
            text.lines().all(|l| l.len() <= WIDTH && l.is_ascii()),
            "{text}"
        );
        let exact = row(&text, "exact 1T");
        assert!(exact.contains("+50.0% **"), "{exact}");
        // Harmonic mean of the rates: -33.4%, not exactly -1/3.
        assert!(exact.contains("-33.4% **"), "{exact}");
        let plain = row(&text, "plain 1T");
        assert!(plain.contains("+0.0%"), "{plain}");
        assert!(!plain.contains('*'), "{plain}");
        assert!(!text.contains("WARNING"), "{text}");
    }

    #[test]
    fn rates_use_the_harmonic_mean() {
        // 1 and 3 Gpages/s over equal work: 1.5 Gpages/s, not 2.
        let mut b = cell("plain", 1, &[1.0, 1.0 / 3.0]);
        b.repetitions[0].pages_per_sec = 1e9;
        b.repetitions[1].pages_per_sec = 3e9;
        let [base, _, _] = metric(&b, &b, true);
        assert_eq!(base, "1500");
    }

    #[test]
    fn unmatched_cells_are_listed_and_other_hosts_warned_about() {
        let base = run(
            "base",
            vec![cell("plain", 1, &[1.0, 1.1]), cell("flag", 2, &[1.0, 1.1])],
        );
        let mut new = run(
            "new",
            vec![cell("plain", 1, &[1.0, 1.1]), cell("exact", 1, &[2.0])],
        );
        new.results.metadata.host = "other".into();
        new.results.metadata.emulated = Some("qemu-tcg".into());
        let text = compare(&base, &new);
        assert!(text.contains("Only in base (1 cells"), "{text}");
        assert!(text.contains("flag 2T"), "{text}");
        assert!(text.contains("Only in new (1 cells"), "{text}");
        assert!(text.contains("exact 1T"), "{text}");
        assert!(text.contains("WARNING: different machines"), "{text}");
        assert!(text.contains("EMULATED"), "{text}");
        let _: &Results = &new.results;
    }

    #[test]
    fn one_repetition_cannot_be_tested() {
        let base = run("base", vec![cell("plain", 1, &[1.0])]);
        let new = run("new", vec![cell("plain", 1, &[2.0])]);
        let text = compare(&base, &new);
        assert!(row(&text, "plain 1T").contains("+100.0% ?"), "{text}");
    }
}
