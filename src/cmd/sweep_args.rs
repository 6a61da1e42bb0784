//! What every measuring command (`run`, `kernel`) takes: threads, slicing,
//! placement of the threads, the output file.

use crate::harness::plan::DEFAULT_PAGES_PER_CALL;
use crate::harness::sweep::SweepOptions;
use clap::Args;
use std::path::PathBuf;

/// What every measuring subcommand (`run`, `kernel`) takes: threads,
/// timing, placement of the threads, the output file.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// 1 and nproc threads, 40 rounds per cell in 5 visits: the whole
    /// sweep in under a minute on 2 cores.
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
    /// 0 alone), in alternating order (default 96; 40 with --quick); each
    /// visit's share is rounded up to an even number, whole ABBA blocks.
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Warm-up rounds at the start of each visit of a cell, not recorded (default 2; 1 with --quick).
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Duration of one slice, ms (default 2).
    #[arg(long)]
    pub slice_ms: Option<u64>,
    /// Visits per cell: its rounds are measured in this many parts, one per
    /// pass over all cells, so every cell sees the same mix of the
    /// machine's states (default 8; 5 with --quick).
    #[arg(long)]
    pub visits: Option<usize>,
    /// Further visits, at most, to each cell still short of quiet rounds
    /// after its visits (busy, or its x 1T withheld); each adds the rounds
    /// of a visit (default: half of --visits; 2 with --quick, none started
    /// after 53 s). 0 turns them off.
    #[arg(long)]
    pub revisits: Option<usize>,
    /// Run the threads on this NUMA node's CPUs.
    #[arg(long)]
    pub cpu_node: Option<u32>,
    /// Memory placements to sweep, comma-separated: local, remote.
    #[arg(long, value_delimiter = ',')]
    pub numa: Option<Vec<String>>,
    /// Results file (default: pinbench-<UTC time>.json); `-` for standard
    /// output. An existing file is replaced only with --force.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Replace an existing results file (never with a run that measured
    /// nothing).
    #[arg(long)]
    pub force: bool,
}

impl SweepArgs {
    /// The sweep's options; the command names its memory node's flag.
    pub fn options(&self, memory_node: Option<(&'static str, u32)>) -> SweepOptions {
        SweepOptions {
            quick: self.quick,
            threads: self.threads.clone(),
            pairs: self.pairs,
            warmup: self.warmup,
            slice_ms: self.slice_ms,
            visits: self.visits,
            revisits: self.revisits,
            cpu_node: self.cpu_node,
            numa: self.numa.clone(),
            memory_node,
        }
    }
}
