//! Argument parsing and subcommand dispatch. Bad input exits with code 2 and
//! a message naming the bad value, before anything is measured or written;
//! other failures exit with 1, an interrupted run with 130.

use crate::harness::cell;
use crate::harness::plan::{
    self, Machine, Options, PlanError, DEFAULT_MIB, DEFAULT_PAGES_PER_CALL,
};
use crate::host;
use crate::metrics::counters;
use crate::results::Results;
use crate::session::Session;
use crate::workloads::WORKLOADS;
use clap::{Args, Parser, Subcommand};
use pin_schemes::{MemMap, SCHEMES};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

/// Measures how Linux should track pages pinned for DMA.
#[derive(Parser, Debug)]
#[command(name = "pinbench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List every pin-tracking scheme: what it mirrors, its memory cost, its
    /// exactness and how many pins one page accepts; then every workload.
    List,
    /// Run schemes x workloads x thread counts and write a results file.
    Run(RunArgs),
    /// Measure the running kernel's own pin/unpin paths (io_uring,
    /// process_vm_readv, gup_test, the pin_shim module) with the same
    /// runner, with /proc/vmstat's FOLL_PIN counters as proof; or --probe.
    Kernel(crate::kernel_cmd::KernelArgs),
    /// Print the summary tables and harness checks of a results file again;
    /// of several runs of the same shape, each cell's run-to-run spread.
    Summary {
        /// Results files written by `pinbench run` or `pinbench kernel`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Plots (SVG, PNG), report.txt for mailing lists and report.md from
    /// one or more results files.
    Report(crate::report_cmd::ReportArgs),
    /// Compare two results files cell by cell: means, change, Welch's t-test.
    Compare(crate::report_cmd::CompareArgs),
}

/// `pinbench run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Schemes to run, comma-separated (default: all; see `pinbench list`).
    #[arg(long, value_delimiter = ',')]
    pub schemes: Option<Vec<String>>,
    /// Workloads to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Option<Vec<String>>,
    /// Simulated memory per thread, MiB, like gup_test's -m (the memmap
    /// holds 64 bytes per 4 KiB page of it).
    #[arg(short = 'm', long, default_value_t = DEFAULT_MIB)]
    pub mib: u64,
    /// Size each thread's memmap past twice the last-level cache, so memory
    /// latency dominates.
    #[arg(long)]
    pub cold: bool,
    /// Put the memmap on this NUMA node (instead of --numa).
    #[arg(long)]
    pub memmap_node: Option<u32>,
}

/// What every measuring subcommand (`run`, `kernel`) takes: threads,
/// timing, placement of the threads, the output file.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// 1 and nproc threads, 40 rounds per cell: the whole sweep in under
    /// a minute on 2 cores.
    #[arg(long)]
    pub quick: bool,
    /// Thread counts, comma-separated (default: 1..=CPUs of the CPU node;
    /// with --quick: 1 and that count).
    #[arg(long, value_delimiter = ',')]
    pub threads: Option<Vec<usize>>,
    /// Pages per pin/unpin call, like gup_test's -n.
    #[arg(long, default_value_t = DEFAULT_PAGES_PER_CALL)]
    pub pages_per_call: usize,
    /// Measured rounds per cell: each a slice of the subject and one of the
    /// floor over the same pages (and, with several threads, one of thread
    /// 0 alone), in alternating order (default 100; 40 with --quick).
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Warm-up rounds per cell, not recorded (default 2).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Duration of one slice, ms (default 2).
    #[arg(long)]
    pub slice_ms: Option<u64>,
    /// Run the threads on this NUMA node's CPUs.
    #[arg(long)]
    pub cpu_node: Option<u32>,
    /// Memory placements to sweep, comma-separated: local, remote.
    #[arg(long, value_delimiter = ',')]
    pub numa: Option<Vec<String>>,
    /// Results file (default: pinbench-<UTC time>.json).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

impl SweepArgs {
    /// The plan's options: these, plus what the subcommand decides.
    pub fn options(
        &self,
        schemes: Option<Vec<String>>,
        workloads: Option<Vec<String>>,
        mib: u64,
        cold: bool,
        memmap_node: Option<u32>,
    ) -> Options {
        Options {
            quick: self.quick,
            schemes,
            workloads,
            threads: self.threads.clone(),
            pages_per_call: self.pages_per_call,
            mib,
            cold,
            pairs: self.pairs,
            warmup: self.warmup,
            slice_ms: self.slice_ms,
            memmap_node,
            cpu_node: self.cpu_node,
            numa: self.numa.clone(),
        }
    }
}

/// Bad input found outside the plan (the output path).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadInput(pub(crate) String);

/// Runs the CLI; clap's own usage errors already exit with code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => list().map(|()| ExitCode::SUCCESS),
        Command::Run(args) => run(args),
        Command::Kernel(args) => crate::kernel_cmd::kernel(args),
        Command::Report(args) => crate::report_cmd::report(args),
        Command::Compare(args) => crate::report_cmd::compare(args),
        Command::Summary { files } => summary(&files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pinbench: {e:#}");
            let bad =
                e.downcast_ref::<PlanError>().is_some() || e.downcast_ref::<BadInput>().is_some();
            ExitCode::from(if bad { 2 } else { 1 })
        }
    }
}

fn list() -> anyhow::Result<()> {
    // One small memmap to ask each scheme its fixed properties.
    let memmap = Arc::new(MemMap::with_pages(64)?);
    println!(
        "{:<18} {:>9} {:<11} {:>13}  mirrors",
        "scheme", "B/page", "exactness", "max pins/page"
    );
    for info in SCHEMES {
        let scheme = (info.build)(Arc::clone(&memmap));
        println!(
            "{:<18} {:>9} {:<11} {:>13}  {}",
            info.name,
            scheme.bytes_per_page(),
            scheme.exactness().as_str(),
            scheme.max_pins_per_page(),
            info.mirrors
        );
    }
    println!("\n{:<18} measures", "workload");
    for w in WORKLOADS {
        println!("{:<18} {}", w.name(), w.description());
    }
    Ok(())
}

/// Checks the output path and opens the temporary file the results will be
/// written to and renamed from. Nothing existing is touched.
pub(crate) fn prepare_output(
    given: Option<PathBuf>,
    start: SystemTime,
) -> Result<(PathBuf, tempfile::NamedTempFile), BadInput> {
    let dest = given.unwrap_or_else(|| {
        let stamp: String = host::rfc3339(start)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        PathBuf::from(format!("pinbench-{stamp}.json"))
    });
    if dest.is_dir() {
        return Err(BadInput(format!("-o {}: is a directory", dest.display())));
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".pinbench-")
        .suffix(".json.tmp")
        .tempfile_in(&dir)
        .map_err(|e| {
            BadInput(format!(
                "-o {}: cannot write in {}: {e}",
                dest.display(),
                dir.display()
            ))
        })?;
    Ok((dest, tmp))
}

/// `pinbench summary FILE...`: one file's tables, or several files' spread.
fn summary(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let runs = files
        .iter()
        .map(|p| {
            Results::read(p)
                .map(|r| (p.display().to_string(), r))
                .map_err(|e| BadInput(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match runs.as_slice() {
        [(_, r)] => print!("{}", pin_reports::summary::render(r)),
        _ => print!(
            "{}",
            pin_reports::summary::across(&pin_reports::Run::label_all(runs))
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let session = Session::begin();
    let machine = Machine::this_host()?;
    let opts = args.sweep.options(
        args.schemes,
        args.workloads,
        args.mib,
        args.cold,
        args.memmap_node,
    );
    let plan = plan::plan(&opts, &machine)?;
    let (dest, tmp) = prepare_output(args.sweep.output.clone(), session.start)?;

    let avail = counters::probe();
    let mut notes = plan.notes.clone();
    notes.extend(Session::perf_notes(&avail));
    Session::say(&notes);
    let params = plan.params(avail);
    let measured = session.run_cells(
        &plan.cells,
        |spec| spec.label(),
        |spec| cell::run_cell(spec, &params).map_err(|e| e.to_string()),
        &mut notes,
    );
    session.finish(
        &machine.topology,
        machine.mem_available,
        plan.config.clone(),
        notes,
        measured,
        &dest,
        tmp,
    )
}
