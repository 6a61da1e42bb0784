//! Argument parsing and subcommand dispatch. Bad input exits with code 2 and
//! a message naming the bad value, before anything is measured or written;
//! other failures exit with 1, an interrupted run with 130.

use crate::metrics::counters;
use crate::numa::allowed_cpus;
use crate::plan::{self, Machine, Options, PlanError, DEFAULT_MIB, DEFAULT_PAGES_PER_CALL};
use crate::results::{Results, SCHEMA_VERSION};
use crate::runner::{self, Params};
use crate::topology::{Topology, SYSFS_ROOT};
use crate::workloads::WORKLOADS;
use crate::{host, summary};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use pin_schemes::{MemMap, SCHEMES};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

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
    /// Print the summary tables and harness checks of a results file again.
    Summary {
        /// A results file written by `pinbench run`.
        file: PathBuf,
    },
}

/// `pinbench run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Every scheme x every workload at 1 and nproc threads, 30 ms
    /// repetitions: about a minute on 2 cores.
    #[arg(long)]
    pub quick: bool,
    /// Schemes to run, comma-separated (default: all; see `pinbench list`).
    #[arg(long, value_delimiter = ',')]
    pub schemes: Option<Vec<String>>,
    /// Workloads to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Option<Vec<String>>,
    /// Thread counts, comma-separated (default: 1..=CPUs of the CPU node;
    /// with --quick: 1 and that count).
    #[arg(long, value_delimiter = ',')]
    pub threads: Option<Vec<usize>>,
    /// Pages per pin/unpin call, like gup_test's -n.
    #[arg(long, default_value_t = DEFAULT_PAGES_PER_CALL)]
    pub pages_per_call: usize,
    /// Simulated memory per thread, MiB, like gup_test's -m (the memmap
    /// holds 64 bytes per 4 KiB page of it).
    #[arg(short = 'm', long, default_value_t = DEFAULT_MIB)]
    pub mib: u64,
    /// Size each thread's memmap past twice the last-level cache, so memory
    /// latency dominates.
    #[arg(long)]
    pub cold: bool,
    /// Measured repetitions per cell.
    #[arg(long)]
    pub repeat: Option<usize>,
    /// Warm-up repetitions per cell (default 1).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Duration of one repetition, ms (default 200; 30 with --quick).
    #[arg(long)]
    pub rep_ms: Option<u64>,
    /// Put the memmap on this NUMA node (instead of --numa).
    #[arg(long)]
    pub memmap_node: Option<u32>,
    /// Run the threads on this NUMA node's CPUs.
    #[arg(long)]
    pub cpu_node: Option<u32>,
    /// Memmap placements to sweep, comma-separated: local, remote.
    #[arg(long, value_delimiter = ',')]
    pub numa: Option<Vec<String>>,
    /// Results file (default: pinbench-<UTC time>.json).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

/// Bad input found outside the plan (the output path).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

/// Runs the CLI; clap's own usage errors already exit with code 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => list().map(|()| ExitCode::SUCCESS),
        Command::Run(args) => run(args),
        Command::Summary { file } => Results::read(&file)
            .map(|r| {
                print!("{}", summary::render(&r));
                ExitCode::SUCCESS
            })
            .map_err(|e| BadInput(e.to_string()).into()),
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
fn prepare_output(
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

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let start = SystemTime::now();
    let t0 = Instant::now();
    // First, so an early Ctrl-C is already a request to stop, not a kill.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // Relaxed: a lone flag; nothing else is published through it.
        let handler = move || {
            if stop.swap(true, Ordering::Relaxed) {
                std::process::exit(130);
            }
            eprintln!("\npinbench: interrupted, stopping after this cell (Ctrl-C again to abort)");
        };
        if let Err(e) = ctrlc::set_handler(handler) {
            eprintln!("pinbench: cannot catch Ctrl-C ({e}): an interrupted run writes nothing");
        }
    }

    let topology = Topology::read(Path::new(SYSFS_ROOT)).context("reading the NUMA topology")?;
    let machine = Machine {
        topology,
        allowed_cpus: allowed_cpus().context("sched_getaffinity")?,
        mem_available: host::mem_available(),
    };
    let opts = Options {
        quick: args.quick,
        schemes: args.schemes,
        workloads: args.workloads,
        threads: args.threads,
        pages_per_call: args.pages_per_call,
        mib: args.mib,
        cold: args.cold,
        repeat: args.repeat,
        warmup: args.warmup,
        rep_ms: args.rep_ms,
        memmap_node: args.memmap_node,
        cpu_node: args.cpu_node,
        numa: args.numa,
    };
    let plan = plan::plan(&opts, &machine)?;
    let (dest, tmp) = prepare_output(args.output, start)?;

    let mut notes = plan.notes.clone();
    let avail = counters::probe();
    if let Err(e) = &avail.hardware {
        notes.push(format!(
            "hardware perf counters unsupported here (perf_event_open: {e}): cycles, instructions and cache misses recorded as null"
        ));
    }
    if let Err(e) = &avail.software {
        notes.push(format!(
            "software perf counters unavailable ({e}): recorded as null"
        ));
    }
    for n in &notes {
        eprintln!("pinbench: {n}");
    }

    let params = Params {
        warmup: plan.warmup,
        repeat: plan.repeat,
        rep: plan.rep,
        counters: avail,
    };
    let bar = ProgressBar::new(plan.cells.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cells, {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut cells = Vec::with_capacity(plan.cells.len());
    let mut partial = false;
    for spec in &plan.cells {
        // Relaxed: see the handler.
        if stop.load(Ordering::Relaxed) {
            partial = true;
            break;
        }
        bar.set_message(spec.label());
        match runner::run_cell(spec, &params) {
            Ok(cell) => cells.push(cell),
            Err(e) => {
                let line = format!("{}: not measured: {e}", spec.label());
                bar.suspend(|| eprintln!("pinbench: {line}"));
                notes.push(line);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let results = Results {
        schema_version: SCHEMA_VERSION,
        partial,
        metadata: host::metadata(
            &machine.topology,
            machine.mem_available,
            start,
            t0.elapsed().as_secs_f64(),
        ),
        config: plan.config.clone(),
        notes,
        cells,
    };
    results.write(tmp, &dest)?;
    print!("{}", summary::render(&results));
    eprintln!(
        "pinbench: {} cells{} written to {} in {:.1} s",
        results.cells.len(),
        if partial { " (partial)" } else { "" },
        dest.display(),
        results.metadata.duration_s
    );
    Ok(if partial {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
