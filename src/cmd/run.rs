//! `pinbench run`: every scheme x workload x thread count of the plan,
//! each cell paired with its floor, into one results file.

use super::sweep_args::SweepArgs;
use crate::harness::plan::{self, Options, DEFAULT_MIB};
use crate::harness::session::{Record, Session};
use crate::harness::{cell, census};
use crate::machine::Machine;
use crate::metrics::counters;
use clap::Args;
use pin_schemes::{HasPinnedWrite, OnAllocFail};
use std::num::NonZeroU32;
use std::process::ExitCode;

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
    /// How each FOLL_PIN call writes MMF_HAS_PINNED on the mm all threads
    /// share: test-then-set (v5.14 on, 292648ac5cf1) or always (the
    /// unconditional write of v5.9-v5.13, which bounced that cache line).
    #[arg(long, default_value = "test-then-set", value_parser = parse_has_pinned_write)]
    pub has_pinned_write: HasPinnedWrite,
    /// failslab for the side trees' node allocations: every N-th allocation
    /// that cannot sleep (GFP_NOWAIT, GFP_ATOMIC) fails, as with
    /// /sys/kernel/debug/failslab/interval=N and ignore-gfp-wait=Y.
    #[arg(long, value_name = "N")]
    pub failslab: Option<NonZeroU32>,
    /// What gup does when a pin cannot be recorded for want of memory:
    /// slow-path (gup-fast hands the rest of the call to the slow path,
    /// which reserves memory with GFP_KERNEL first) or fail (-ENOMEM).
    #[arg(long, requires = "failslab", default_value = "slow-path", value_parser = parse_on_alloc_fail)]
    pub on_alloc_fail: OnAllocFail,
}

fn parse_on_alloc_fail(word: &str) -> Result<OnAllocFail, String> {
    match word {
        "fail" => Ok(OnAllocFail::Fail),
        "slow-path" => Ok(OnAllocFail::SlowPath),
        _ => Err(format!("{word:?} is not one of: fail, slow-path")),
    }
}

fn parse_has_pinned_write(word: &str) -> Result<HasPinnedWrite, String> {
    HasPinnedWrite::from_word(word)
        .ok_or_else(|| format!("{word:?} is not one of: test-then-set, always"))
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let session = Session::begin();
    let machine = Machine::this_host()?;
    let opts = Options {
        sweep: args
            .sweep
            .options(args.memmap_node.map(|n| ("--memmap-node", n))),
        schemes: args.schemes,
        workloads: args.workloads,
        pages_per_call: args.sweep.pages_per_call,
        mib: args.mib,
        cold: args.cold,
        has_pinned_write: args.has_pinned_write,
        failslab: args.failslab,
        on_alloc_fail: args.on_alloc_fail,
    };
    let plan = plan::plan(&opts, &machine)?;
    let mut record = Record::open(
        args.sweep.output.clone(),
        args.sweep.force,
        session.start,
        &machine,
        plan.config.clone(),
    )?;

    let avail = counters::probe();
    let mut notes = plan.sweep.notes.clone();
    notes.extend(Session::perf_notes(&avail));
    Session::say(&notes);
    let params = plan.sweep.params(avail);
    let mut censuses = census::Censuses::default();
    let measured = session.run_cells(
        &plan.cells,
        plan.sweep.visits(),
        |spec| spec.label(),
        |spec| {
            let mut visit = cell::run_cell(spec, &params).map_err(|e| e.to_string())?;
            censuses
                .attach(spec, &mut visit)
                .map_err(|e| e.to_string())?;
            Ok(visit)
        },
        &mut notes,
        &mut record,
    );
    Ok(session.finish(record, notes, measured))
}
