//! Runs one real-kernel cell with the model's paired runner: same threads
//! bound to CPUs, same slices at a barrier, same latency histogram and
//! counters, and around it the kernel's FOLL_PIN accounting. The kernel
//! path's slices alternate with slices of the userspace floor over a memmap
//! of as many pages as the buffers, so its `x floor` cancels the machine's
//! drift as a model cell's does.
//!
//! Each thread builds its own buffer and path on its own CPU (first touch,
//! or `mbind` to the buffer node), so the pins and the memory they cover
//! are where the cell says they are.

use super::buffer::UserBuffer;
use super::vmstat::{self, FollPin};
use super::PinPath;
use crate::harness::calibration::Floor;
use crate::harness::cell::{CellSpec, RunError};
use crate::harness::paired::{run_paired, Params, Shape};
use crate::harness::record::{record, Memory};
use crate::results::{Cell, KernelCell};
use crate::workloads::{Slot, Tally, Worker, Workload};
use pin_schemes::MemMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Builds one thread's path over a fresh buffer.
pub type MakePath<'a> = dyn Fn(UserBuffer) -> io::Result<Box<dyn PinPath>> + Sync + 'a;

/// A kernel cell to run.
pub struct KernelSpec<'a> {
    /// Threads, placement and batch size, as for model cells; `subject`
    /// is `Subject::Kernel(flavour)`.
    pub cell: CellSpec,
    /// The backend's name for the `backend` field.
    pub backend: &'static str,
    /// Bytes of each thread's buffer.
    pub buffer_bytes: usize,
    /// Back buffers with THP.
    pub thp: bool,
    /// Whether the path should take FOLL_PIN pins.
    pub expects_pins: bool,
    /// Bind buffers to this node (`None`: first touch on the CPU node).
    pub buffer_node: Option<u32>,
    /// Builds a thread's path over its buffer.
    pub make: &'a MakePath<'a>,
}

/// Why a kernel cell failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelCellError {
    /// The runner failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A thread's setup or a call failed.
    #[error("{0}")]
    Path(String),
}

/// Totals the threads report back.
#[derive(Default)]
struct Shared {
    error: Mutex<Option<String>>,
    kernel_ns: AtomicU64,
    kernel_ns_seen: AtomicU64,
    pages: AtomicU64,
    thp_bytes: AtomicU64,
    node_mismatch: AtomicU64,
}

impl Shared {
    fn fail(&self, e: impl std::fmt::Display) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert_with(|| e.to_string());
        }
    }
}

struct KernelWorker<'a> {
    path: Box<dyn PinPath>,
    pages_per_call: u64,
    i: usize,
    pages: u64,
    failed: bool,
    shared: &'a Shared,
}

impl Worker for KernelWorker<'_> {
    fn batch(&mut self) -> u64 {
        if self.failed {
            return 0;
        }
        match self.path.call(self.i) {
            Ok(()) => {
                self.i += 1;
                self.pages += self.pages_per_call;
                self.pages_per_call
            }
            Err(e) => {
                self.failed = true;
                self.shared.fail(e);
                0
            }
        }
    }

    fn finish(self: Box<Self>) -> Tally {
        // Relaxed: totals read after the threads are joined.
        if let Some(ns) = self.path.kernel_ns() {
            self.shared.kernel_ns.fetch_add(ns, Ordering::Relaxed);
            self.shared.kernel_ns_seen.fetch_add(1, Ordering::Relaxed);
        }
        self.shared.pages.fetch_add(self.pages, Ordering::Relaxed);
        Tally::default()
    }
}

/// A worker for a thread whose setup failed: does nothing.
struct Idle;

impl Worker for Idle {
    fn batch(&mut self) -> u64 {
        0
    }
    fn finish(self: Box<Self>) -> Tally {
        Tally::default()
    }
}

/// Reads the FOLL_PIN counters, waiting up to `patience` for them to
/// balance (teardown such as io_uring's ring exit runs asynchronously).
pub fn settle(path: &Path, before: FollPin, patience: Duration) -> Option<FollPin> {
    let t0 = Instant::now();
    loop {
        let now = vmstat::read(path).ok().flatten()?;
        let d = before.delta(now);
        if d.balanced() || t0.elapsed() >= patience {
            return Some(d);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `spec` and returns its cell (pins unbalanced is recorded in the cell
/// as `pins_balanced: false`; the caller fails loudly).
pub fn run_kernel_cell(spec: &KernelSpec<'_>, params: &Params) -> Result<Cell, KernelCellError> {
    let vmstat_path = Path::new(vmstat::PROC_VMSTAT);
    let before = vmstat::read(vmstat_path).ok().flatten();
    let shared = Shared::default();
    let ppc = spec.cell.layout.pages_per_call as u64;
    // The floor's memmap: one `struct page` per page of every buffer.
    let per_thread = (spec.buffer_bytes / super::buffer::PAGE).max(1);
    let layout = Workload::Private.layout(
        0,
        per_thread,
        spec.cell.layout.pages_per_call.min(per_thread),
    );
    let memmap = MemMap::with_pages(layout.nr_pages(spec.cell.threads))
        .map_err(|e| KernelCellError::Path(format!("the floor's memmap: {e}")))?;
    let shape = Shape {
        threads: spec.cell.threads,
        cpus: &spec.cell.numa.cpus,
        solo: spec.cell.threads > 1,
    };
    let floor = |index| -> Box<dyn Worker + '_> {
        let slot = Slot {
            index,
            threads: spec.cell.threads,
            layout,
        };
        Box::new(Floor::new(&memmap, &slot))
    };
    let outcomes = run_paired(
        shape,
        params,
        |_index| -> Box<dyn Worker + '_> {
            let setup = || -> io::Result<Box<dyn PinPath>> {
                let buf = UserBuffer::new(spec.buffer_bytes, spec.thp)?;
                if let Some(node) = spec.buffer_node {
                    if buf.bind(node)? != Some(node) {
                        // Relaxed: a count read after the join.
                        shared.node_mismatch.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Relaxed: a total read after the join.
                shared
                    .thp_bytes
                    .fetch_add(buf.thp_bytes().unwrap_or(0), Ordering::Relaxed);
                (spec.make)(buf)
            };
            match setup() {
                Ok(path) => Box::new(KernelWorker {
                    pages_per_call: (path.pages_per_call() as u64).min(ppc.max(1)).max(1),
                    path,
                    i: 0,
                    pages: 0,
                    failed: false,
                    shared: &shared,
                }),
                Err(e) => {
                    shared.fail(e);
                    Box::new(Idle)
                }
            }
        },
        floor,
    )
    .map_err(|_| RunError::Thread(spec.cell.label()))?;
    if let Some(e) = shared.error.lock().ok().and_then(|mut e| e.take()) {
        return Err(KernelCellError::Path(format!("{}: {e}", spec.cell.label())));
    }
    let delta = before.and_then(|b| settle(vmstat_path, b, Duration::from_secs(2)));
    let numa = crate::results::NumaPlacement {
        placement: spec.cell.numa.placement.to_string(),
        cpu_node: spec.cell.numa.cpu_node,
        memmap_node: spec.cell.numa.memmap_node,
        // Relaxed: read after the join.
        memmap_node_verified: (shared.node_mismatch.load(Ordering::Relaxed) == 0)
            .then_some(spec.cell.numa.memmap_node),
        verified_fraction: if shared.node_mismatch.load(Ordering::Relaxed) == 0 {
            1.0
        } else {
            0.0
        },
        method: if spec.buffer_node.is_some() {
            "mbind".into()
        } else {
            "first-touch".into()
        },
    };
    let mut cell = record(&spec.cell, &outcomes, Memory::default(), numa);
    let pages = shared.pages.load(Ordering::Relaxed);
    let kernel_ns = (shared.kernel_ns_seen.load(Ordering::Relaxed) > 0)
        .then(|| shared.kernel_ns.load(Ordering::Relaxed) as f64 / pages.max(1) as f64);
    cell.backend = spec.backend.to_string();
    // THP-backed buffers are order-9 folios, as in the model's `huge/9`.
    cell.folio_order = if spec.thp {
        pin_schemes::HPAGE_PMD_ORDER
    } else {
        0
    };
    cell.kernel = Some(KernelCell {
        thp: spec.thp,
        thp_bytes: Some(shared.thp_bytes.load(Ordering::Relaxed)),
        buffer_bytes: spec.buffer_bytes as u64,
        pins_acquired: delta.map(|d| d.acquired),
        pins_released: delta.map(|d| d.released),
        pins_balanced: delta.map(FollPin::balanced),
        expects_pins: spec.expects_pins,
        in_kernel_ns_per_page: kernel_ns,
    });
    Ok(cell)
}
