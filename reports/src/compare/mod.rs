//! `pinbench compare`: two sets of runs, base and new (one results file or
//! several per side), set against each other cell by cell on the paired
//! ratios (`x floor`, and `x 1T` for multi-thread cells), never on absolute
//! times, which carry the machine's drift.
//!
//! With several runs per side, each run contributes its median ratio and
//! Welch's t-test is taken over those run-level values, so a verdict
//! reflects run-to-run noise; where the two sides' ranges of run medians
//! overlap (some rerun of one side landed among the other's), or the
//! change is within the typical run's 95% CI half-width, it is "within
//! noise" whatever p says. A side left with one run (one file given, or busy
//! runs set aside) cannot show run-to-run noise: its changes get no
//! verdict (`?`), whatever its per-pair ratios would say.
//! Warnings (other machines, schema versions, emulated or partial runs,
//! runs whose machine fingerprints differ) come first, where a reader of a
//! pasted comparison sees them.

mod warnings;

use warnings::describe;
pub use warnings::warnings;

use crate::legend::{BUSY_WORD as BUSY, WITHIN_NOISE};
use crate::runs::{subject, Run, Shape};
use crate::stats::welch_p;
use crate::table::{ascii, num, wrap, Group, Table, WIDTH};
use pin_results::{Cell, Census, Estimate};
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

/// Which cell of one run matches which of another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

/// A paired ratio of a cell: its estimate and per-pair values.
#[derive(Clone, Copy)]
enum Ratio {
    XFloor,
    Scaling,
}

impl Ratio {
    /// The estimate of `c`.
    fn of(self, (_, c): (&Run, &Cell)) -> Option<Estimate> {
        match self {
            Ratio::XFloor => (c.x_floor.n > 0).then_some(c.x_floor),
            Ratio::Scaling => c.scaling,
        }
    }
}

/// A side's runs, each with its cells by key (built once: a side of large
/// files is looked up once per key, not searched).
type Indexed<'a> = Vec<(&'a Run, HashMap<Key, &'a Cell>)>;

fn index(runs: &[Run]) -> Indexed<'_> {
    runs.iter()
        .map(|r| {
            let mut by_key = HashMap::with_capacity(r.results.cells.len());
            for c in &r.results.cells {
                by_key.entry(Key::of(c)).or_insert(c);
            }
            (r, by_key)
        })
        .collect()
}

/// The cells of `key` in every run of a side that has it, with their run;
/// busy cells only where the side has no other.
fn side<'a>(runs: &Indexed<'a>, key: &Key) -> Vec<(&'a Run, &'a Cell)> {
    let all: Vec<(&Run, &Cell)> = runs
        .iter()
        .filter_map(|(r, by_key)| Some((*r, *by_key.get(key)?)))
        .collect();
    crate::runs::quiet_unless_all_busy(all, |(_, c)| c)
}

/// One ratio's comparison: base, new, change and its mark ([`BUSY`] when a
/// side has only busy cells: its ratio is another machine state's).
/// A side left with one run gets no verdict: its noise between runs is
/// unseen.
fn metric(base: Side, new: Side, ratio: Ratio) -> [String; 4] {
    let b: Vec<Estimate> = base.iter().filter_map(|&rc| ratio.of(rc)).collect();
    let n: Vec<Estimate> = new.iter().filter_map(|&rc| ratio.of(rc)).collect();
    let medians = |s: &[Estimate]| s.iter().map(|e| e.median).collect::<Vec<_>>();
    let (bm, nm) = (medians(&b), medians(&n));
    let (Some(bc), Some(nc)) = (Estimate::of(&bm), Estimate::of(&nm)) else {
        return unpaired(ratio, [(base, &bm), (new, &nm)]);
    };
    let change = nc.median / bc.median - 1.0;
    // No run resolves a change finer than its CI, however close a few runs'
    // medians happen to fall: the typical run's (the median half-width), so
    // that one wild run does not silence every verdict.
    let half_widths: Vec<f64> = b.iter().chain(&n).map(|e| e.half_width()).collect();
    let resolution = Estimate::of(&half_widths).map_or(0.0, |e| e.median);
    // A side of one run cannot show the run-to-run noise any verdict must
    // see (six runs of one build, compared in pairs, gave 15 `*`/`**`
    // over one run's pairs): no test, no verdict.
    let tested = b.len() >= 2 && n.len() >= 2;
    let p = welch_p(&bm, &nm);
    let busy = |s: &[(&Run, &Cell)]| !s.is_empty() && s.iter().all(|(_, c)| c.busy);
    let verdict = if busy(base) || busy(new) {
        BUSY.to_string()
    } else if !tested {
        crate::stats::mark(None).to_string()
    } else if overlap(&bm, &nm) || change.abs() <= resolution {
        WITHIN_NOISE.to_string()
    } else {
        crate::stats::mark(p).to_string()
    };
    [
        num(bc.median),
        num(nc.median),
        format!("{:+.1}%", change * 100.0),
        verdict,
    ]
}

/// A side's cells of one key, with their runs.
type Side<'a, 'b> = &'a [(&'b Run, &'b Cell)];

/// One ratio's comparison where a side has no value: [`BUSY`] for a side
/// whose every x 1T was withheld (too few quiet solo slices), with the
/// verdict [`BUSY`]; `-` for one that has no such ratio.
fn unpaired(ratio: Ratio, sides: [(Side, &Vec<f64>); 2]) -> [String; 4] {
    let withheld = |s: Side| {
        matches!(ratio, Ratio::Scaling)
            && !s.is_empty()
            && s.iter().all(|(_, c)| c.scaling_withheld)
    };
    let shown = |(s, medians): (Side, &Vec<f64>)| {
        if withheld(s) {
            BUSY.to_string()
        } else {
            Estimate::of(medians).map_or("-".into(), |e| num(e.median))
        }
    };
    let any = sides.iter().any(|(s, _)| withheld(s));
    [
        shown(sides[0]),
        shown(sides[1]),
        "-".into(),
        if any { BUSY.into() } else { String::new() },
    ]
}

/// Whether the ranges of two sides' run medians overlap: a new run inside
/// the base runs' range (or the other way round) is a rerun's result.
fn overlap(base: &[f64], new: &[f64]) -> bool {
    let range = |xs: &[f64]| {
        xs.iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            })
    };
    let ((bl, bh), (nl, nh)) = (range(base), range(new));
    nl <= bh && bl <= nh
}

/// max/min - 1 of positive values; 0 for fewer than two.
pub fn spread(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::MIN, f64::max);
    let min = xs.iter().copied().fold(f64::MAX, f64::min);
    if xs.len() < 2 || min <= 0.0 {
        return 0.0;
    }
    max / min - 1.0
}

/// The comparison as plain ASCII text, at most 80 columns.
pub fn compare(base: &[Run], new: &[Run]) -> String {
    let mut out = String::from("pinbench compare\n================\n");
    for r in base {
        out.push_str(&describe("base:", r));
    }
    for r in new {
        out.push_str(&describe("new:", r));
    }
    for w in warnings(base, new) {
        out.push_str(&wrap("WARNING: ", "         ", &w, WIDTH));
    }
    out.push('\n');
    out.push_str(&wrap("", "", &legend(base.len(), new.len()), WIDTH));
    let (bi, ni) = (index(base), index(new));
    let keys: Vec<(String, Key)> = crate::runs::distinct(
        base.iter()
            .flat_map(|r| r.results.cells.iter())
            .filter(|c| c.kernel_timed.is_none())
            .map(Key::of)
            .filter(|k| ni.iter().any(|(_, by_key)| by_key.contains_key(k))),
    )
    .into_iter()
    .map(|k| (k.section(), k))
    .collect();
    for section in crate::runs::distinct(keys.iter().map(|(s, _)| s.clone())) {
        out.push('\n');
        out.push_str(&wrap("== ", "   ", &section, WIDTH));
        let these = keys.iter().filter(|(s, _)| *s == section).map(|(_, k)| k);
        out.push_str(&section_table(&bi, &ni, these).text());
    }
    let timed = crate::email::timed_lines(base, new);
    if !timed.is_empty() {
        out.push('\n');
        out.push_str(&wrap(
            "== ",
            "   ",
            "timed by the kernel itself (gup_test logs, each a run): median of the \
             runs, new vs base, and the 95% interval of the change by Welch's t",
            WIDTH,
        ));
        out.push_str(&timed);
    }
    out.push_str(&census_changes(&bi, &ni, keys.iter().map(|(_, k)| k)));
    out.push_str(&unmatched(base, new));
    ascii(&out)
}

/// The first census of `key` on a side, and whether every run of the side
/// that has one agrees with it.
fn census_of<'a>(runs: &Indexed<'a>, key: &Key) -> Option<(&'a Census, bool)> {
    let all: Vec<&Census> = runs
        .iter()
        .filter_map(|(_, by_key)| by_key.get(key)?.census.as_ref())
        .collect();
    let first = *all.first()?;
    Some((first, all.iter().all(|c| *c == first)))
}

/// What the censuses say changed: counts, so a changed count is a change,
/// with no test and no mark.
fn census_changes<'k>(
    base: &Indexed<'_>,
    new: &Indexed<'_>,
    keys: impl Iterator<Item = &'k Key>,
) -> String {
    let (mut lines, mut same, mut split) = (vec![], 0, vec![]);
    for k in keys {
        let (Some((b, b_agree)), Some((n, n_agree))) = (census_of(base, k), census_of(new, k))
        else {
            continue;
        };
        if !(b_agree && n_agree) {
            split.push(format!("{} {}", k.section(), k.row()));
        }
        let changed = crate::census::changes(b, n);
        if changed.is_empty() {
            same += 1;
        } else {
            lines.push((String::new(), format!("{}, {}:", k.shape.name(), k.row())));
            lines.extend(changed.into_iter().map(|c| ("  ".to_string(), c)));
        }
    }
    if same + lines.len() == 0 {
        return String::new();
    }
    let mut out =
        String::from("\n== Census: counted operations per page (a changed count is a change)\n");
    if lines.is_empty() {
        let _ = writeln!(
            out,
            "No count changed in the {same} cells both sides counted."
        );
    } else {
        let _ = writeln!(out, "{same} cells counted the same; these changed:");
        for (indent, l) in lines {
            out.push_str(&wrap(&indent, "    ", &l, WIDTH));
        }
    }
    for s in split {
        out.push_str(&wrap(
            "WARNING: ",
            "         ",
            &format!("the runs of one side counted {s} differently: different builds or settings"),
            WIDTH,
        ));
    }
    out
}

/// What the columns and marks mean, for this many runs per side.
fn legend(nb: usize, nn: usize) -> String {
    let test = if nb >= 2 && nn >= 2 {
        format!(
            "Welch's t-test over the runs' medians ({nb} base, {nn} new runs): it \
             sees run-to-run noise. {WITHIN_NOISE}: the sides' ranges of run medians \
             overlap, or the change is within the typical run's 95% CI half-width."
        )
    } else {
        format!(
            "? everywhere: one run per side cannot show run-to-run noise, so no change \
             is judged; pass several files per side (--base a b c --new d e f, three or \
             more each) for verdicts. {WITHIN_NOISE} (with several runs): the sides' \
             ranges of run medians overlap, or the change is within the typical run's \
             95% CI half-width."
        )
    };
    format!(
        "x floor: ns/page over the floor's in adjacent slices over the same pages, \
         median (over runs: the median of the runs' medians); x 1T: pages/s of all \
         threads over thread 0 alone. Change: new / base - 1. {test} ** p < 0.01, \
         * p < 0.05, no mark: the sides' ranges do not overlap but p >= 0.05, a \
         change these runs do not establish, ? too few values to test (with several \
         runs a side: fewer than two quiet runs on a side). Busy cells (too few rounds on a quiet machine) are \
         left out where a side has others; {BUSY}: a side has only busy cells, whose \
         ratios are another machine state's."
    )
}

fn section_table<'k>(
    base: &Indexed<'_>,
    new: &Indexed<'_>,
    keys: impl Iterator<Item = &'k Key>,
) -> Table {
    let rows = keys
        .map(|k| {
            let (b, n) = (side(base, k), side(new, k));
            let mut cells = metric(&b, &n, Ratio::XFloor).to_vec();
            cells.extend(metric(&b, &n, Ratio::Scaling));
            (k.row(), cells)
        })
        .collect();
    let cols = || vec!["base".into(), "new".into(), "change".into(), String::new()];
    let left = || vec![false, false, false, true];
    Table {
        row_head: "subject".into(),
        groups: vec![
            Group {
                label: "x floor".into(),
                columns: cols(),
                align_left: left(),
            },
            Group {
                label: "x 1T".into(),
                columns: cols(),
                align_left: left(),
            },
        ],
        rows,
    }
}

/// Cells of one side that the other side never measured.
fn unmatched(base: &[Run], new: &[Run]) -> String {
    let mut out = String::new();
    let keys = |runs: &[Run]| {
        crate::runs::distinct(
            runs.iter()
                .flat_map(|r| r.results.cells.iter().map(Key::of)),
        )
    };
    let (bk, nk) = (keys(base), keys(new));
    let sets: [HashSet<&Key>; 2] = [bk.iter().collect(), nk.iter().collect()];
    for (label, these, other) in [("base", &bk, &sets[1]), ("new", &nk, &sets[0])] {
        let only: Vec<&Key> = these.iter().filter(|k| !other.contains(k)).collect();
        if only.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "\nOnly in {label} ({} cells, not compared):\n",
            only.len()
        );
        for section in crate::runs::distinct(only.iter().map(|k| k.section())) {
            let rows: Vec<String> = only
                .iter()
                .filter(|k| k.section() == section)
                // Kept whole on a line: `side-tree-sharded 2T`.
                .map(|k| k.row().replace(' ', "\u{1}"))
                .collect();
            let line = format!("{section}: {}", rows.join(", "));
            out.push_str(&wrap("  ", "    ", &line, WIDTH).replace('\u{1}', " "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample;
    use pin_results::Fingerprint;

    /// A cell whose per-pair x floor ratios are `ratios` (floor 10 ns).
    fn cell(scheme: &str, threads: usize, ratios: &[f64]) -> Cell {
        let mut c = sample::cell(scheme, "private", threads, ratios[0] * 10.0, 1e8);
        c.pairs.subject_ns_per_page = ratios.iter().map(|r| r * 10.0).collect();
        c.pairs.floor_ns_per_page = vec![10.0; ratios.len()];
        c.x_floor = Estimate::of(ratios).expect("ratios");
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
    fn one_run_per_side_gives_no_verdict_and_says_how_to_get_one() {
        let same = [1.50, 1.51, 1.49, 1.50, 1.52, 1.48, 1.50];
        let base = [run(
            "b",
            vec![cell("plain", 1, &same), cell("exact", 1, &same)],
        )];
        let slower: Vec<f64> = same.iter().map(|r| r * 1.2).collect();
        let new = [run(
            "n",
            vec![cell("plain", 1, &same), cell("exact", 1, &slower)],
        )];
        let text = compare(&base, &new);
        assert!(
            text.lines().all(|l| l.len() <= WIDTH && l.is_ascii()),
            "{text}"
        );
        assert!(text.contains("? everywhere"), "{text}");
        // 20% over tight pairs: a verdict one run's pairs would give and a
        // rerun can overturn. None is given.
        let exact = row(&text, "exact 1T");
        assert!(exact.contains("+20.0% ?"), "{exact}");
        let plain = row(&text, "plain 1T");
        assert!(plain.contains("+0.0% ?"), "{plain}");
    }

    #[test]
    fn a_changed_count_is_named_exactly_and_an_equal_one_is_not() {
        let same = [1.50, 1.51, 1.49, 1.50, 1.52, 1.48, 1.50];
        let counted = |refcount: u64| {
            let mut c = cell("hybrid", 1, &same);
            c.census = Some(Census {
                pages: 4,
                locked_rmw: [("_refcount".to_string(), refcount)].into_iter().collect(),
                ..Census::default()
            });
            c
        };
        let base = [run("b", vec![counted(12)])];
        let text = compare(&base, &[run("n", vec![counted(16)])]);
        assert!(
            text.contains("0 cells counted the same; these changed:"),
            "{text}"
        );
        assert!(
            text.contains("  locked _refcount: 3 -> 4 per page"),
            "{text}"
        );
        let text = compare(&base, &[run("n", vec![counted(12)])]);
        assert!(text.contains("No count changed in the 1 cells"), "{text}");
    }

    #[test]
    fn separated_runs_the_test_cannot_establish_get_no_mark_and_the_legend_says_so() {
        // Two runs a side, the ranges apart but the runs far apart too:
        // Welch's p is about 0.3, neither within noise nor a change.
        let tight = |m: f64| {
            run(
                "t",
                vec![cell("plain", 1, &[m * 0.999, m, m, m, m, m * 1.001])],
            )
        };
        let text = compare(&[tight(1.00), tight(1.20)], &[tight(1.21), tight(1.45)]);
        let plain = row(&text, "plain 1T");
        // name, threads, base, new, change, then the x 1T columns: no mark.
        let after = plain.split_whitespace().nth(5);
        assert!(plain.contains("+20.9%") && after == Some("-"), "{plain}");
        assert!(text.contains("no mark: the sides' ranges do not"), "{text}");
    }

    #[test]
    fn a_change_inside_a_runs_ci_is_within_noise_however_close_the_runs() {
        // Three runs a side, each side's medians 0.1% apart, 1% between
        // the sides: significant by the runs alone, but each run's CI is
        // +-3%, so no run could resolve it.
        let wide = |m: f64| {
            run(
                "w",
                vec![cell("plain", 1, &[m * 0.97, m, m, m, m, m * 1.03])],
            )
        };
        let b = [wide(1.500), wide(1.501), wide(1.502)];
        let n = [wide(1.515), wide(1.516), wide(1.517)];
        let plain = row(&compare(&b, &n), "plain 1T").to_string();
        assert!(plain.contains("+1.0% ~"), "{plain}");
    }

    #[test]
    fn one_wild_run_does_not_silence_a_change_every_rerun_shows() {
        // --has-pinned-write always at 2 threads, measured here: every new
        // run below every base run, one base run's CI huge. The widest
        // run's CI (186%) had called it within noise; the typical run's
        // does not, and the separated ranges are tested.
        let runs = |ms: &[(f64, f64)]| -> Vec<Run> {
            ms.iter()
                .map(|&(m, w)| {
                    run(
                        "r",
                        vec![cell(
                            "hybrid",
                            1,
                            &[m * (1.0 - w), m, m, m, m, m * (1.0 + w)],
                        )],
                    )
                })
                .collect()
        };
        let b = runs(&[(1.764, 0.2), (1.965, 0.06), (1.972, 0.9)]);
        let n = runs(&[(0.874, 0.1), (1.340, 0.08), (1.458, 0.07)]);
        let hybrid = row(&compare(&b, &n), "hybrid 1T").to_string();
        assert!(hybrid.contains('*') && !hybrid.contains('~'), "{hybrid}");
        // The same base against runs inside its range: within noise.
        let n = runs(&[(1.80, 0.05), (1.90, 0.05), (1.95, 0.05)]);
        let hybrid = row(&compare(&b, &n), "hybrid 1T").to_string();
        assert!(hybrid.contains('~'), "{hybrid}");
    }

    #[test]
    fn busy_cells_are_left_out_and_a_side_of_only_busy_cells_is_marked() {
        let quiet = |m: f64| run("q", vec![cell("plain", 1, &[m; 6])]);
        let mut busy = cell("plain", 1, &[2.0; 6]);
        busy.busy = true;
        let busy = run("busy", vec![busy]);
        let base = [quiet(1.50), quiet(1.51), quiet(1.52)];
        // One busy run of three: left out, the quiet two agree with base.
        let text = compare(&base, &[quiet(1.51), busy.clone(), quiet(1.51)]);
        let plain = row(&text, "plain 1T");
        assert!(plain.contains("+0.0% ~"), "{plain}");
        // Busy runs leave one quiet run a side: a change past its CI is not
        // tested by that run's pairs, which cannot see run-to-run noise.
        let far = |m: f64| {
            run(
                "q",
                vec![cell("plain", 1, &[m * 0.99, m, m, m, m, m * 1.01])],
            )
        };
        let text = compare(
            &[far(1.5), busy.clone(), busy.clone()],
            &[far(1.8), busy.clone(), busy.clone()],
        );
        let plain = row(&text, "plain 1T");
        assert!(plain.contains("+20.0% ?"), "{plain}");
        // Only busy runs: their ratio is shown, and marked, never judged.
        let text = compare(&base, &[busy.clone(), busy]);
        let plain = row(&text, "plain 1T");
        assert!(plain.contains("+32.5% busy"), "{plain}");
    }

    #[test]
    fn a_side_whose_scaling_was_withheld_reads_busy_not_absent() {
        let two = |withheld: bool| {
            let mut c = cell("plain", 2, &[1.5; 6]);
            c.scaling = (!withheld).then(|| Estimate::of(&[1.9; 6])).flatten();
            c.pairs.solo_pages_per_sec = Some(vec![1e8; 6]);
            c.pairs.pages_per_sec = vec![1.9e8; 6];
            c.scaling_withheld = withheld;
            run("r", vec![c])
        };
        let text = compare(&[two(false)], &[two(true)]);
        let plain = row(&text, "plain 2T");
        let cols: Vec<&str> = plain.split_whitespace().collect();
        // x floor compared as ever; x 1T: 1.90 against busy, marked.
        assert_eq!(
            cols[cols.len() - 4..],
            ["1.90", "busy", "-", "busy"],
            "{plain}"
        );
        // Without solo slices at all, x 1T is absent, not busy.
        let mut none = two(false);
        none.results.cells[0].scaling = None;
        let text = compare(std::slice::from_ref(&none), &[none.clone()]);
        assert!(!row(&text, "plain 2T").contains("busy"), "{text}");
    }

    #[test]
    fn a_moved_memory_bound_fingerprint_names_the_cells_that_read_beyond_struct_page() {
        let census = |tracking| pin_results::Census {
            pages: 100,
            lines_read: pin_results::Lines {
                memmap: 100,
                tracking,
            },
            ..pin_results::Census::default()
        };
        let mut tree = cell("xarray", 1, &[4.5; 6]);
        tree.census = Some(census(300));
        let mut bias = cell("bias", 1, &[1.9; 6]);
        bias.census = Some(census(2));
        let a = run("a", vec![tree, bias]);
        let mut b = a.clone();
        b.source = "b.json".into();
        let loads = |median: f64| Estimate {
            median,
            ci_low: median * 0.99,
            ci_high: median * 1.01,
            n: 40,
        };
        let set = |r: &mut Run, m: f64| {
            if let Some(f) = r.results.fingerprint.as_mut() {
                f.loads_start = Some(loads(m));
            }
        };
        let mut a = a;
        set(&mut a, 3.0);
        set(&mut b, 3.0);
        assert!(warnings(std::slice::from_ref(&a), std::slice::from_ref(&b)).is_empty());
        set(&mut b, 3.6);
        let w = warnings(std::slice::from_ref(&a), std::slice::from_ref(&b)).join("\n");
        assert!(w.contains("memory-bound fingerprint"), "{w}");
        assert!(
            w.contains("3.00 to 3.00 in base and 3.60 to 3.60 in new"),
            "{w}"
        );
        assert!(w.contains("xarray private") && !w.contains("bias"), "{w}");
    }

    #[test]
    fn a_run_with_a_higher_quiet_floor_is_judged_by_the_quieter_and_warned_about() {
        let mut a = run("a", vec![cell("plain", 1, &[1.5; 10])]);
        a.results.cells[0].pairs.floor_ns_per_page = vec![6.0; 10];
        a.results.derive_again();
        let mut b = a.clone();
        b.source = "b.json".into();
        let mut same = vec![a.clone(), b.clone()];
        crate::runs::judge_together(&mut same);
        assert!(warnings(&same[..1], &same[1..]).is_empty());
        // b never saw the machine quiet: its floor 8% over a's throughout.
        b.results.cells[0].pairs.floor_ns_per_page = vec![6.48; 10];
        b.results.derive_again();
        assert!(!b.results.cells[0].busy, "alone, it cannot tell");
        let mut both = vec![a, b];
        crate::runs::judge_together(&mut both);
        assert!(!both[0].results.cells[0].busy);
        assert!(both[1].results.cells[0].busy);
        let w = warnings(&both[..1], &both[1..]).join("\n");
        let flat = w.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("new run b.json: another machine state")
                && flat.contains("private 1T 512 pages/call +8%")
                && flat.contains("1 more of its cells are busy"),
            "{w}"
        );
    }

    #[test]
    fn a_file_compared_with_itself_shows_no_change() {
        let r = run(
            "r",
            vec![
                cell("plain", 1, &[1.1, 1.2, 1.3]),
                cell("plain", 2, &[1.2, 1.3]),
            ],
        );
        let text = compare(std::slice::from_ref(&r), std::slice::from_ref(&r));
        for l in text.lines().filter(|l| l.starts_with("plain")) {
            assert!(l.contains("+0.0% ?"), "{l}");
        }
        let three = [r.clone(), r.clone(), r];
        let text = compare(&three, &three);
        for l in text.lines().filter(|l| l.starts_with("plain")) {
            assert!(l.contains("+0.0% ~"), "{l}");
        }
    }

    #[test]
    fn several_runs_per_side_judge_by_run_to_run_spread() {
        // Base runs spread 4% apart; new is 2% up: significant by the
        // pairs of any one run, but within the runs' own spread.
        let b: Vec<Run> = [1.50, 1.53, 1.56]
            .iter()
            .map(|&m| run("b", vec![cell("plain", 1, &[m, m, m, m, m, m])]))
            .collect();
        let n: Vec<Run> = [1.55, 1.56, 1.57]
            .iter()
            .map(|&m| run("n", vec![cell("plain", 1, &[m, m, m, m, m, m])]))
            .collect();
        let text = compare(&b, &n);
        assert!(row(&text, "plain 1T").contains('~'), "{text}");
        let flat = text.replace('\n', " ");
        assert!(
            flat.contains("over the runs' medians (3 base, 3 new runs)"),
            "{text}"
        );
        // 30% up is beyond that spread, and significant.
        let far: Vec<Run> = [1.95, 1.99, 2.03]
            .iter()
            .map(|&m| run("n", vec![cell("plain", 1, &[m, m, m, m, m, m])]))
            .collect();
        let text = compare(&b, &far);
        let plain = row(&text, "plain 1T");
        assert!(
            plain.contains("+30.") && plain.contains('*') && !plain.contains('~'),
            "{plain}"
        );
    }

    #[test]
    fn unmatched_cells_are_listed_and_other_hosts_and_states_warned_about() {
        let base = [run(
            "base",
            vec![cell("plain", 1, &[1.0, 1.1]), cell("flag", 2, &[1.0])],
        )];
        let mut new = run(
            "new",
            vec![cell("plain", 1, &[1.0, 1.1]), cell("exact", 1, &[2.0])],
        );
        new.results.metadata.host = "other\x1b[31m".into();
        new.results.metadata.emulated = Some("qemu-tcg".into());
        new.results.fingerprint = Some(Fingerprint {
            start: Estimate {
                median: 1.30,
                ci_low: 1.29,
                ci_high: 1.31,
                n: 20,
            },
            end: None,
            loads_start: None,
            loads_end: None,
        });
        let text = compare(&base, &[new]);
        assert!(text.contains("Only in base (1 cells"), "{text}");
        assert!(text.contains("flag 2T"), "{text}");
        assert!(text.contains("Only in new (1 cells"), "{text}");
        assert!(text.contains("exact 1T"), "{text}");
        assert!(text.contains("WARNING: different machines"), "{text}");
        assert!(text.contains("EMULATED"), "{text}");
        assert!(text.contains("another machine state"), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn spread_is_max_over_min() {
        assert!((spread(&[1.0, 1.04, 1.02]) - 0.04).abs() < 1e-12);
        assert_eq!(spread(&[1.0]), 0.0);
    }
}
