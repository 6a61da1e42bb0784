//! `pinbench import gup-test LOG...`: the kernel's own gup_test logs as a
//! results file (`crate::import`).

use super::input::BadInput;
use crate::harness::output::{Destination, Saved};
use crate::import::{cells, gup_test_log, kernel_of};
use crate::machine::host;
use clap::{Args, Subcommand};
use pin_results::{Config, Metadata, NumaNode, Results, Thp, SCHEMA_VERSION};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

/// `pinbench import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub what: Import,
}

/// What to import.
#[derive(Subcommand, Debug)]
pub enum Import {
    /// Output of the kernel's tools/testing/selftests/mm/gup_test (its
    /// '*_BENCHMARK: Time: get:N put:N us' lines): each LOG one run, its
    /// repeats (-r) the run's values.
    GupTest(GupTestArgs),
}

/// `pinbench import gup-test`.
#[derive(Args, Debug)]
pub struct GupTestArgs {
    /// gup_test logs, one per run of it.
    #[arg(required = true)]
    pub logs: Vec<PathBuf>,
    /// The kernel the logs were made on (default: the one they name in a
    /// 'uname -a' or /proc/version line).
    #[arg(long)]
    pub kernel: Option<String>,
    /// Results file (default: pinbench-<UTC time>.json); `-` for standard
    /// output. An existing file is replaced only with --force.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Replace an existing results file.
    #[arg(long)]
    pub force: bool,
}

/// Runs `pinbench import`.
pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let Import::GupTest(args) = args.what;
    let start = SystemTime::now();
    check_paths(&args.logs, args.output.as_deref())?;
    let logs = args
        .logs
        .iter()
        .map(|p| gup_test_log::read(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BadInput(e.to_string()))?;
    let kernel = kernel_of(&logs, args.kernel.as_deref()).map_err(|e| BadInput(e.to_string()))?;
    let out = Destination::open(args.output, args.force, start)?;
    let cells = cells(&logs, crate::machine::mapping::PAGE_SIZE as u64);
    let results = Results {
        schema_version: SCHEMA_VERSION,
        partial: false,
        metadata: metadata(kernel, start),
        config: config(&cells),
        notes: notes(&logs),
        fingerprint: None,
        quiet_floor_ns: vec![],
        quiet_probe_ns: vec![],
        quiet_throughput_ns: vec![],
        contention_probe_ns: vec![],
        handoff_probe_ns: vec![],
        cells,
        effects: None,
    };
    results
        .check()
        .map_err(|why| BadInput(format!("the logs hold values no run gives: {why}")))?;
    let n = results.cells.len();
    match out.commit(&results) {
        Some(Saved::AsAsked(p)) => eprintln!("pinbench: {n} cells written to {}", p.display()),
        Some(Saved::Stdout) => eprintln!("pinbench: {n} cells written to standard output"),
        Some(Saved::Elsewhere(p, why, _)) => {
            eprintln!(
                "pinbench: {why}: the {n} cells were saved to {}",
                p.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        Some(Saved::Lost(why)) => {
            eprintln!("pinbench: {why}: the {n} cells could not be saved");
            return Ok(ExitCode::FAILURE);
        }
        None => return Ok(ExitCode::FAILURE),
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses a log given twice (it would count as two runs) and an output
/// that is one of the logs (`--force` would replace it).
fn check_paths(logs: &[PathBuf], output: Option<&std::path::Path>) -> Result<(), BadInput> {
    let same = |a: &std::path::Path, b: &std::path::Path| match (a.canonicalize(), b.canonicalize())
    {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    for (i, log) in logs.iter().enumerate() {
        if let Some(first) = logs[..i].iter().find(|o| same(o, log)) {
            return Err(BadInput(format!(
                "{} is {} again: give each log once (each is a run)",
                log.display(),
                first.display()
            )));
        }
        if output.is_some_and(|o| same(o, log)) {
            return Err(BadInput(format!(
                "-o {}: that is one of the logs",
                log.display()
            )));
        }
    }
    Ok(())
}

/// The results' notes: where the cells came from, and what was assumed.
fn notes(logs: &[gup_test_log::Log]) -> Vec<String> {
    let mut notes = vec![format!(
        "imported from {} gup_test log(s): {}; the kernel timed each half itself, \
         with no floor beside it, so these cells have no x floor",
        logs.len(),
        logs.iter()
            .map(|l| l.path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for l in logs.iter().filter(|l| l.defaulted) {
        notes.push(format!(
            "{}: benchmark lines before any line naming gup_test with its options: \
             gup_test's defaults assumed (-m 128, -n 1, -j 1)",
            l.path.display()
        ));
    }
    notes
}

/// What is known of the machine the logs came from: its kernel only.
fn metadata(kernel: String, start: SystemTime) -> Metadata {
    let unknown = || "unknown (imported)".to_string();
    Metadata {
        host: unknown(),
        kernel,
        cpu_model: unknown(),
        cores: 0,
        numa_nodes: vec![NumaNode {
            id: 0,
            cpus: vec![],
        }],
        numa_distance: vec![],
        llc_bytes: None,
        mem_available_bytes: None,
        thp: Thp {
            enabled: None,
            defrag: None,
        },
        pinbench_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: env!("PINBENCH_GIT_COMMIT").to_string(),
        command_line: std::env::args().collect(),
        start_time: host::rfc3339(start),
        duration_s: 0.0,
        emulated: host::emulated(),
        kernel_version: None,
        debug_build: cfg!(debug_assertions),
    }
}

/// The options the imported cells share, as far as a config can say.
fn config(cells: &[pin_results::Cell]) -> Config {
    let mut threads: Vec<usize> = cells.iter().map(|c| c.threads).collect();
    threads.sort_unstable();
    threads.dedup();
    let first = cells.first();
    Config {
        quick: false,
        schemes: vec![],
        workloads: vec![],
        threads,
        pages_per_call: first.map_or(1, |c| c.pages_per_call),
        mib: first
            .and_then(|c| c.kernel.as_ref())
            .map_or(0, |k| k.buffer_bytes >> 20),
        pages_per_thread: 0,
        cold: false,
        pairs: 0,
        warmup: 0,
        slice_ms: 0,
        visits: 0,
        revisits: 0,
        numa: vec![],
        has_pinned_write: None,
        vmstat_threshold: Default::default(),
        failslab: None,
        on_alloc_fail: None,
    }
}
