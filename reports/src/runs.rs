//! The inputs of a report and the names the report gives their cells.
//! Everything is ordered by first appearance in the files, never by a
//! hash, so the same input gives the same output byte for byte.

use pin_results::{Cell, Results, MODEL};

/// One results file in a report.
#[derive(Clone, Debug)]
pub struct Run {
    /// `A`, `B`, ...: how tables and plots refer to it.
    pub label: String,
    /// The path it was read from, as given.
    pub source: String,
    /// Its contents.
    pub results: Results,
}

impl Run {
    /// Labels `inputs` (path, results) `A`, `B`, ... in order.
    pub fn label_all(inputs: Vec<(String, Results)>) -> Vec<Run> {
        inputs
            .into_iter()
            .enumerate()
            .map(|(i, (source, results))| Run {
                label: label(i),
                source,
                results,
            })
            .collect()
    }

    /// `host, CPU, kernel` for plot titles.
    pub fn machine(&self) -> String {
        let m = &self.results.metadata;
        format!(
            "{}: {}, {} cores, {} NUMA node{}, Linux {}",
            m.host,
            m.cpu_model,
            m.cores,
            m.numa_nodes.len(),
            if m.numa_nodes.len() == 1 { "" } else { "s" },
            m.kernel
        )
    }
}

fn label(i: usize) -> String {
    let letter = char::from(b'A' + (i % 26) as u8);
    if i < 26 {
        letter.to_string()
    } else {
        format!("{letter}{}", i / 26)
    }
}

/// Runs of one machine and kernel whose subjects do not overlap (a
/// `pinbench run` file and a `pinbench kernel` file, say) become one run
/// labelled with both labels (`A+B`), so tables and plots show the real
/// kernel's paths next to the model's schemes, and a kernel cell is set
/// against that machine's floor. A run that repeats another's subjects
/// (the same schemes from another commit) stays apart.
pub fn merge_same_machine(runs: &[Run]) -> Vec<Run> {
    let machine = |r: &Run| {
        let m = &r.results.metadata;
        (
            m.host.clone(),
            m.cpu_model.clone(),
            m.kernel.clone(),
            m.numa_nodes.len(),
            m.emulated.clone(),
        )
    };
    let names = |r: &Run| distinct(r.results.cells.iter().map(subject));
    let mut groups: Vec<Run> = vec![];
    for r in runs {
        let mine = names(r);
        let joinable =
            |g: &&mut Run| machine(g) == machine(r) && !names(g).iter().any(|s| mine.contains(s));
        match groups.iter_mut().find(joinable) {
            Some(g) => {
                g.label = format!("{}+{}", g.label, r.label);
                g.source = format!("{}, {}", g.source, r.source);
                g.results.cells.extend(r.results.cells.iter().cloned());
            }
            None => groups.push(r.clone()),
        }
    }
    groups
}

/// What a row is: a scheme of the model, or a real-kernel path labelled
/// with its backend (`pin-fast [gup-test]`, `pin-fast [gup-test, THP]`).
pub fn subject(c: &Cell) -> String {
    if c.backend == MODEL {
        c.subject.clone()
    } else if c.kernel.as_ref().is_some_and(|k| k.thp) {
        format!("{} [{}, THP]", c.subject, c.backend)
    } else if let Some(k) = c
        .kernel
        .as_ref()
        .filter(|k| k.backing.starts_with("hugetlb"))
    {
        format!("{} [{}, {}]", c.subject, c.backend, k.backing)
    } else {
        format!("{} [{}]", c.subject, c.backend)
    }
}

/// True for the harness's calibration cell (`noop`).
pub fn is_calibration(c: &Cell) -> bool {
    c.backend == MODEL && c.subject == "noop"
}

/// One cell's measurements across runs, without the busy ones (too few
/// rounds on a quiet machine) unless every one is busy: a busy cell's
/// ratios are another machine state's.
pub fn quiet_unless_all_busy<T>(cells: Vec<T>, cell: impl Fn(&T) -> &Cell) -> Vec<T> {
    if cells.iter().all(|t| cell(t).busy) {
        return cells;
    }
    cells.into_iter().filter(|t| !cell(t).busy).collect()
}

/// Which table a cell belongs to: its workload and the shape of its calls.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Workload.
    pub workload: String,
    /// Folio order.
    pub folio_order: u8,
    /// Pages per call.
    pub pages_per_call: usize,
}

impl Shape {
    /// The shape of `c`.
    pub fn of(c: &Cell) -> Shape {
        Shape {
            workload: c.workload.clone(),
            folio_order: c.folio_order,
            pages_per_call: c.pages_per_call,
        }
    }

    /// True if `c` has this shape.
    pub fn holds(&self, c: &Cell) -> bool {
        c.workload == self.workload
            && c.folio_order == self.folio_order
            && c.pages_per_call == self.pages_per_call
    }

    /// `huge, order 9` style name; `private` for order 0.
    pub fn name(&self) -> String {
        if self.folio_order == 0 {
            self.workload.clone()
        } else {
            format!("{}, order {}", self.workload, self.folio_order)
        }
    }

    /// `huge/9` style short name; `private` for order 0.
    pub fn short(&self) -> String {
        if self.folio_order == 0 {
            self.workload.clone()
        } else {
            format!("{}/{}", self.workload, self.folio_order)
        }
    }

    /// A file-name-safe form of [`Shape::name`].
    pub fn slug(&self) -> String {
        let mut s = if self.folio_order == 0 {
            self.workload.clone()
        } else {
            format!("{}-order{}", self.workload, self.folio_order)
        };
        s.retain(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        s
    }

    /// What the workload's pages per second count, in millions.
    pub fn rate_unit(&self) -> &'static str {
        match self.workload.as_str() {
            "mixed" | "refstorm" => "million maybe_dma_pinned queries per second",
            "overflow" => "million refused pins per second",
            _ => "million pages pinned and unpinned per second",
        }
    }

    /// What one "page" of `ns_per_page` is in this workload.
    pub fn unit(&self) -> &'static str {
        match self.workload.as_str() {
            "mixed" | "refstorm" => "one maybe_dma_pinned query",
            "overflow" => "one refused pin",
            _ => "one page pinned and unpinned",
        }
    }
}

/// How the note of [`judge_together`] starts.
pub const ANOTHER_STATE: &str = "another machine state";

/// Judges every run's rounds against the quietest floor that any run of
/// the same machine (host and CPU) found for the same work, its
/// one-thread rounds against the quietest throughput probe of the runs of
/// the same machine and build (commit and profile), and its handoff
/// probes by the runs' usual median handoff for the same thread count
/// where its own sat far from it: a run that never saw the machine
/// quiet (or whose threads sat in another placement on the host most of
/// the run) cannot tell from its own rounds, but beside the others its
/// yardstick stands out. Such a run's cells become busy where
/// too few of their rounds pass, and a note on the run says why.
pub fn judge_together(runs: &mut [Run]) {
    let machine = |r: &Results| (r.metadata.host.clone(), r.metadata.cpu_model.clone());
    let best: Vec<_> = runs
        .iter()
        .map(|r| {
            let m = machine(&r.results);
            let same = || runs.iter().map(|o| &o.results).filter(|o| machine(o) == m);
            let build = |o: &Results| (o.metadata.git_commit.clone(), o.metadata.debug_build);
            let b = build(&r.results);
            pin_results::derive::Quietest::of(same(), same().filter(|o| build(o) == b))
        })
        .collect();
    for (r, quietest) in runs.iter_mut().zip(best) {
        let j = r.results.judge_against(&quietest);
        let mut what: Vec<String> = j
            .floors
            .iter()
            .map(|(w, over)| {
                format!(
                    "quiet floor {} {}T {} pages/call +{:.0}%",
                    w.workload,
                    w.threads,
                    w.pages_per_call,
                    over * 100.0
                )
            })
            .collect();
        what.extend(
            j.handoffs
                .iter()
                .map(|(t, off)| format!("handoff probe {t}T {:+.0}%", off * 100.0)),
        );
        what.extend(
            j.throughputs
                .iter()
                .map(|(t, over)| format!("throughput probe {t}T +{:.0}%", over * 100.0)),
        );
        if what.is_empty() {
            continue;
        }
        r.results.notes.push(format!(
            "{ANOTHER_STATE} than the runs given: its yardsticks stood apart from \
             theirs ({}), so its rounds were judged by theirs, and {} more of its \
             cells are busy",
            what.join(", "),
            j.busy
        ));
    }
}

/// `items` without repeats, in order of first appearance.
pub fn distinct<T: std::hash::Hash + Eq + Clone>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

/// Every cell of every run, with its run.
pub fn all_cells(runs: &[Run]) -> impl Iterator<Item = (&Run, &Cell)> {
    runs.iter()
        .flat_map(|r| r.results.cells.iter().map(move |c| (r, c)))
}

/// The table shapes of `runs`, in order of first appearance.
pub fn shapes(runs: &[Run]) -> Vec<Shape> {
    distinct(all_cells(runs).map(|(_, c)| Shape::of(c)))
}

/// The subjects of `runs` (model schemes, then kernel paths), in order
/// of first appearance.
pub fn subjects<'a>(cells: impl Iterator<Item = &'a Cell>) -> Vec<String> {
    let cells: Vec<&Cell> = cells.collect();
    let model = cells.iter().filter(|c| c.backend == MODEL);
    let kernel = cells.iter().filter(|c| c.backend != MODEL);
    distinct(model.chain(kernel).map(|c| subject(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample;

    #[test]
    fn kernel_cells_are_named_by_backend_after_the_model() {
        let cells = [
            sample::kernel_cell("gup-test", "pin-fast", 1, 1.0, 1.0),
            sample::cell("plain", "private", 1, 1.0, 1.0),
            sample::cell("plain", "private", 2, 1.0, 1.0),
        ];
        assert_eq!(
            subjects(cells.iter()),
            vec!["plain".to_string(), "pin-fast [gup-test]".to_string()]
        );
    }

    #[test]
    fn runs_of_one_machine_with_other_subjects_merge() {
        let r = sample::results(vec![
            sample::cell("plain", "private", 1, 2.0, 1.0),
            sample::cell("plain", "private", 2, 3.0, 1.0),
        ]);
        let run = &Run::label_all(vec![("r.json".into(), r)])[0];
        assert_eq!(label(1), "B");
        let mut kernel = run.clone();
        kernel.label = "B".into();
        kernel.results.cells = vec![sample::kernel_cell(
            "io-uring",
            "register-buffers",
            2,
            50.0,
            1.0,
        )];
        let mut again = run.clone();
        again.label = "C".into();
        let merged = merge_same_machine(&[run.clone(), kernel.clone(), again]);
        assert_eq!(merged.len(), 2, "C repeats A's subjects");
        assert_eq!(merged[0].label, "A+B");
        assert_eq!(merged[0].results.cells.len(), 3);
        kernel.results.metadata.kernel = "6.1".into();
        assert_eq!(
            merge_same_machine(&[run.clone(), kernel]).len(),
            2,
            "another kernel"
        );
        let huge = Shape {
            workload: "huge".into(),
            folio_order: 9,
            pages_per_call: 512,
        };
        assert_eq!(huge.slug(), "huge-order9");
    }
}
