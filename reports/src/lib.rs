//! `pin-reports`: pure functions from pinbench results files to report
//! files. Nothing here measures, reads a clock or looks at the machine it
//! runs on: the same results give the same bytes.
//!
//! - [`report`] turns one or more runs into `report.txt` (plain ASCII, at
//!   most 80 columns, for a mailing-list thread), `report.md` (the same
//!   tables in Markdown, with the plots embedded) and the plots as SVG and
//!   PNG ([`plots`]). Several runs (hosts, kernels) go side by side in one
//!   report, labelled `[A]`, `[B]`, ...
//! - [`compare::compare`] sets two runs against each other the way
//!   mmtests' compare-kernels does: the mean of each cell in both, the
//!   change, and Welch's t-test over the repetitions for a significance
//!   mark.
//!
//! Trade-offs: tables are built once ([`table::Table`]) and rendered as
//! text or Markdown, so the two files cannot disagree; the text renderer
//! moves column groups that do not fit 80 columns into continuation blocks
//! rather than abbreviating. Plots are drawn twice from the same code, once
//! per backend, rather than converting SVG to PNG, so no rasteriser is
//! needed; the price is a TrueType font at run time ([`plots::font`]).

mod bottom_line;
mod calibration;
pub mod census;
pub mod compare;
pub mod coverage;
mod effects;
pub mod email;
mod error;
pub mod findings;
pub mod legend;
pub mod output;
pub mod plots;
pub mod runs;
pub mod stats;
pub mod summary;
pub mod table;
mod tables;
mod text;
pub mod timed;

pub use error::ReportError;
pub use runs::Run;

/// A report file, rendered in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Its name in the output directory.
    pub name: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Every file of the report on `runs`: `report.txt`, `report.md` and each
/// plot as `.svg` and `.png`. Call [`plots::font::load`] first.
pub fn report(runs: &[Run]) -> Result<Vec<File>, ReportError> {
    // What the kernel timed itself has no ratio to plot or tabulate: it is
    // listed apart in the texts.
    let timed: Vec<String> = timed::lines(runs.iter().flat_map(|r| r.results.cells.iter()));
    let all = runs;
    let runs = &timed::without(runs);
    let figures = plots::render_all(runs)?;
    let mut txt = text::report_txt(runs);
    let mut md = text::report_md(runs, &figures);
    if !timed.is_empty() {
        txt.push_str(
            "
== timed by the kernel itself (imported gup_test logs)
",
        );
        md.push_str(
            "
## Timed by the kernel itself (imported gup_test logs)

",
        );
        for l in &timed {
            txt.push_str(&table::wrap("", "    ", l, table::WIDTH));
            md.push_str(&format!("- {l}\n"));
        }
    }
    let email = email::report(all);
    let mut files = vec![
        File {
            name: "report.txt".into(),
            bytes: txt.into_bytes(),
        },
        File {
            name: "email.txt".into(),
            bytes: email.into_bytes(),
        },
        File {
            name: "report.md".into(),
            bytes: md.into_bytes(),
        },
    ];
    files.extend(figures.into_iter().flat_map(|f| f.files));
    Ok(files)
}
