//! `report.txt` and `report.md`: a header per run, then the tables of
//! [`crate::tables`], with the plots embedded in the Markdown. No clock is
//! read: the same runs give the same bytes.

use crate::plots::Figure;
use crate::runs::Run;
use crate::table::{ascii, md, wrap, WIDTH};
use crate::tables::{self, Titled};
use std::fmt::Write;

/// Every table of the report, in order (`brief`: report.txt's); runs of
/// one machine with different subjects share columns
/// ([`crate::runs::merge_same_machine`]).
fn all_tables(unmerged: &[Run], brief: bool) -> Vec<Titled> {
    let runs = crate::runs::merge_same_machine(unmerged);
    // report.txt, to be pasted, gives the model at a glance; report.md
    // every workload's table and the page metadata in all.
    let mut t = if brief {
        tables::overview(&runs)
    } else {
        tables::workloads(&runs)
    };
    t.extend(tables::kernel_paths(&runs));
    t.extend(crate::census::tables(&runs));
    t.extend(tables::false_positives(&runs));
    t.extend(tables::memory(&runs));
    if !brief {
        t.extend(tables::metadata(&runs));
    }
    t.extend(crate::calibration::calibration(&runs));
    t.extend(tables::numa(&runs));
    // Each run's own effects, and the model's prices against them.
    t.extend(crate::effects::tables(unmerged));
    t
}

/// What the findings are drawn from.
const FINDINGS_ABOUT: &str = "Timings from judged cells only (not busy, not disturbed, with \
    an interval); a difference is stated only where the two 95% intervals separate. Wrong \
    answers and memory are counted, not timed. The tables below hold every figure.";

/// What the workload tables' columns and marks mean, each said once.
fn legend(runs: &[Run]) -> Vec<String> {
    let mut v = vec![tables::COLUMNS.to_string()];
    v.extend(tables::marks(runs));
    v
}

/// `argv` as one shell line: the program by its name (`pinbench`, never
/// the directory of the machine it ran from), quoting what needs it.
pub fn shell_line(argv: &[String]) -> String {
    let program = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string());
    program
        .iter()
        .chain(argv.iter().skip(1))
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// (name, value) lines describing a run.
fn facts(run: &Run) -> Vec<(&'static str, String)> {
    let r = &run.results;
    let m = &r.metadata;
    let c = &r.config;
    let nodes = m.numa_nodes.len();
    let mut v = vec![
        ("file", run.source.clone()),
        ("host", m.host.clone()),
        (
            "CPU",
            format!(
                "{}, {} cores, {} NUMA node{}",
                m.cpu_model,
                m.cores,
                nodes,
                if nodes == 1 { "" } else { "s" }
            ),
        ),
        ("kernel", m.kernel.clone()),
        (
            "THP",
            format!(
                "enabled={}, defrag={}",
                m.thp.enabled.as_deref().unwrap_or("?"),
                m.thp.defrag.as_deref().unwrap_or("?")
            ),
        ),
        (
            "pinbench",
            format!("{}, commit {}", m.pinbench_version, m.git_commit),
        ),
        ("command", shell_line(&m.command_line)),
        (
            "run",
            format!(
                "{}, {:.1} s, {} cells, {} rounds of {} ms slices per cell in {} visits (+{} \
                 warm-up each; up to {} revisits to cells short of quiet rounds){}",
                m.start_time,
                m.duration_s,
                r.cells.len(),
                pin_results::rounds_per_visit(c.pairs, c.visits) * c.visits,
                c.slice_ms,
                c.visits,
                c.warmup,
                c.revisits,
                if r.partial {
                    "; PARTIAL: interrupted, only finished cells"
                } else {
                    ""
                }
            ),
        ),
    ];
    if r.schema_version != pin_results::SCHEMA_VERSION {
        v.push((
            "schema",
            format!(
                "version {} (this pinbench reads {})",
                r.schema_version,
                pin_results::SCHEMA_VERSION
            ),
        ));
    }
    if let Some(e) = &m.emulated {
        v.push((
            "EMULATED",
            format!("inside {e}: timings are NOT performance evidence"),
        ));
    }
    if m.debug_build {
        v.push((
            "DEBUG",
            "built without --release: its timings do not compare with a release build's".into(),
        ));
    }
    v
}

fn emulated_banner(runs: &[Run]) -> Option<String> {
    let emulated: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            r.results.metadata.emulated.as_ref().map(|e| {
                if runs.len() > 1 {
                    format!("[{}] ({e})", r.label)
                } else {
                    format!("({e})")
                }
            })
        })
        .collect();
    (!emulated.is_empty()).then(|| {
        format!(
            "EMULATED RUN {}: measured inside an emulator. Its timings are \
             functional evidence only, NOT performance evidence.",
            emulated.join(", ")
        )
    })
}

/// The mailing-list report: ASCII, no tabs, at most 80 columns.
pub fn report_txt(runs: &[Run]) -> String {
    let mut out = String::from("pinbench report\n===============\n");
    if let Some(b) = emulated_banner(runs) {
        out.push('\n');
        out.push_str(&wrap("!!! ", "!!! ", &b, WIDTH));
    }
    for run in runs {
        out.push('\n');
        let indent = if runs.len() > 1 {
            let _ = writeln!(out, "[{}]", run.label);
            "  "
        } else {
            ""
        };
        for (k, v) in facts(run) {
            let first = format!("{indent}{:<10}", format!("{k}:"));
            out.push_str(&wrap(&first, &" ".repeat(first.len()), &v, WIDTH));
        }
        for n in &run.results.notes {
            let first = format!("{indent}{:<10}- ", "note:");
            out.push_str(&wrap(&first, &" ".repeat(first.len()), n, WIDTH));
        }
    }
    let merged = crate::runs::merge_same_machine(runs);
    let findings = crate::bottom_line::findings(&merged);
    if !findings.is_empty() {
        out.push_str("\n== Findings\n");
        out.push_str(&wrap("", "", FINDINGS_ABOUT, WIDTH));
        for f in &findings {
            out.push_str(&wrap("- ", "  ", f, WIDTH));
        }
    }
    out.push_str("\n== How to read the tables\n");
    for l in legend(runs) {
        out.push_str(&wrap("", "  ", &l, WIDTH));
    }
    for t in all_tables(runs, true) {
        out.push_str(&titled(&t));
    }
    ascii(&out)
}

/// One titled table as text: heading, what it holds, the table, its
/// footnotes.
pub fn titled(t: &Titled) -> String {
    let mut out = String::from("\n");
    out.push_str(&wrap("== ", "   ", &t.heading, WIDTH));
    out.push_str(&wrap("", "", &t.about, WIDTH));
    out.push('\n');
    out.push_str(&t.table.text());
    for f in &t.footnotes {
        out.push('\n');
        out.push_str(&wrap("", "  ", f, WIDTH));
    }
    out
}

/// The same tables in Markdown, runs side by side in one table of facts,
/// each plot's PNG embedded beside its table (linking the SVG).
pub fn report_md(runs: &[Run], figures: &[Figure]) -> String {
    let mut out = String::from("# pinbench report\n\n");
    if let Some(b) = emulated_banner(runs) {
        let _ = writeln!(out, "> **{}**\n", md(&b));
    }
    let heads: Vec<String> = runs.iter().map(|r| format!("\\[{}\\]", r.label)).collect();
    let _ = writeln!(out, "| | {} |", heads.join(" | "));
    let _ = writeln!(out, "|:---|{}", ":---|".repeat(runs.len()));
    let facts: Vec<Vec<(&str, String)>> = runs.iter().map(facts).collect();
    let mut names: Vec<&str> = vec![];
    for f in &facts {
        for (k, _) in f {
            if !names.contains(k) {
                names.push(k);
            }
        }
    }
    for name in names {
        let vals: Vec<String> = facts
            .iter()
            .map(|f| {
                f.iter()
                    .find(|(k, _)| *k == name)
                    .map_or(String::new(), |(_, v)| md(v))
            })
            .collect();
        let _ = writeln!(out, "| {name} | {} |", vals.join(" | "));
    }
    for run in runs {
        for n in &run.results.notes {
            let _ = writeln!(out, "\n- \\[{}\\] {}", run.label, md(n));
        }
    }
    let findings = crate::bottom_line::findings(&crate::runs::merge_same_machine(runs));
    if !findings.is_empty() {
        let _ = writeln!(out, "\n## Findings\n\n{}\n", md(FINDINGS_ABOUT));
        for f in &findings {
            let _ = writeln!(out, "- {}", md(f));
        }
    }
    out.push_str("\n## How to read the tables\n");
    for l in legend(runs) {
        let _ = write!(out, "\n{}\n", md(&l));
    }
    let mut placed = vec![false; figures.len()];
    for t in all_tables(runs, false) {
        let _ = write!(
            out,
            "\n## {}\n\n{}\n\n{}",
            md(&t.heading),
            md(&t.about),
            t.table.markdown()
        );
        for f in &t.footnotes {
            let _ = write!(out, "\n{}\n", md(f));
        }
        for (i, fig) in figures.iter().enumerate() {
            if fig.section == t.section {
                placed[i] = true;
                embed(&mut out, fig);
            }
        }
    }
    if placed.iter().any(|p| !p) {
        out.push_str("\n## More plots\n");
        for (fig, _) in figures.iter().zip(&placed).filter(|(_, p)| !**p) {
            embed(&mut out, fig);
        }
    }
    out
}

fn embed(out: &mut String, fig: &Figure) {
    let _ = write!(
        out,
        "\n![{}]({}.png)\n\n[SVG]({}.svg)\n",
        md(&fig.title),
        fig.stem,
        fig.stem
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debug_build_s_run_says_so_in_the_header() {
        let mut results = pin_results::sample::results(vec![]);
        let run = |results: &pin_results::Results| Run {
            label: "A".into(),
            source: "r.json".into(),
            results: results.clone(),
        };
        assert!(!report_txt(&[run(&results)]).contains("DEBUG:"));
        results.metadata.debug_build = true;
        let txt = report_txt(&[run(&results)]);
        assert!(txt.contains("DEBUG:    built without --release"), "{txt}");
    }

    #[test]
    fn commands_name_the_program_not_its_directory_and_quote_only_where_needed() {
        let argv: Vec<String> = [
            "/home/dev/pinbench/target/release/pinbench",
            "run",
            "-o",
            "my file.json",
            "it's",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            shell_line(&argv),
            "pinbench run -o 'my file.json' 'it'\\''s'"
        );
    }
}
