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

use super::backing::Backing;
use super::buffer::UserBuffer;
use super::device::FileDevice;
use super::io_uring::IoUringPath;
use super::plan::Job;
use super::shim::ShimMode;
use super::shim_abi::{PIN_SHIM_PATH, PIN_SHIM_TWIN_NONE};
use super::twin::census;
use super::vmstat::{self, FollPin};
use super::Backend;
use super::PinPath;
use crate::harness::calibration::Floor;
use crate::harness::paired::{run_paired, Params, Shape, ThreadOutcome};
use crate::harness::record::{record, Labels, Memory, Visit};
use pin_results::{KernelCell, NumaPlacement, TwinCensus};
use pin_schemes::MemMap;
use pin_workloads::Idle;
use pin_workloads::{Slot, Tally, Worker, Workload};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Builds one thread's path over a fresh buffer.
pub type MakePath<'a> = dyn Fn(UserBuffer) -> io::Result<Box<dyn PinPath>> + Sync + 'a;

/// A kernel cell to run.
pub struct KernelSpec<'a> {
    /// Backend, flavour, backing, threads and placement.
    pub job: &'a Job,
    /// Bytes of each thread's buffer.
    pub buffer_bytes: usize,
    /// Pages per call asked for (a path may take fewer).
    pub pages_per_call: usize,
    /// Builds a thread's path over its buffer.
    pub make: &'a MakePath<'a>,
}

/// Why a kernel cell failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelCellError {
    /// A worker thread panicked or could not be started.
    #[error("{0}: {1}")]
    Threads(String, crate::harness::paired::ThreadsFailed),
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

/// The floor's memmap for `spec`: one `struct page` per page of every
/// buffer, walked with the same batch size.
fn floor_memmap(spec: &KernelSpec<'_>) -> Result<(MemMap, pin_workloads::Layout), KernelCellError> {
    let per_thread = (spec.buffer_bytes / crate::machine::mapping::PAGE_SIZE).max(1);
    let layout = Workload::Private.layout(0, per_thread, spec.pages_per_call.min(per_thread));
    // Built as a model cell's is (bound to its node, so that NUMA
    // balancing's scanner leaves it alone too).
    let numa = &spec.job.numa;
    let (memmap, _) = crate::machine::numa::build_memmap(
        layout.nr_pages(spec.job.threads),
        numa.memmap_node,
        &numa.memmap_cpus,
        |_| Ok(()),
    )
    .map_err(|e| KernelCellError::Path(format!("the floor's memmap: {e}")))?;
    Ok((memmap, layout))
}

/// One thread's kernel worker: its buffer (bound where asked), its path.
fn worker<'a>(spec: &KernelSpec<'_>, shared: &'a Shared) -> Box<dyn Worker + 'a> {
    let setup = || -> io::Result<Box<dyn PinPath>> {
        let buf = UserBuffer::with_backing(spec.buffer_bytes, spec.job.backing)?;
        if let Some(node) = spec.job.buffer_node {
            if buf.bind(node)? != Some(node) {
                // Relaxed: a count read after the join.
                shared.node_mismatch.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            // Where first touch put it, out of NUMA balancing's scan.
            buf.keep_in_place()?;
        }
        // Relaxed: a total read after the join.
        shared
            .thp_bytes
            .fetch_add(buf.thp_bytes().unwrap_or(0), Ordering::Relaxed);
        (spec.make)(buf)
    };
    let ppc = spec.pages_per_call.max(1) as u64;
    match setup() {
        Ok(path) => Box::new(KernelWorker {
            pages_per_call: (path.pages_per_call() as u64).min(ppc).max(1),
            path,
            i: 0,
            pages: 0,
            failed: false,
            shared,
        }),
        Err(e) => {
            shared.fail(e);
            Box::new(Idle)
        }
    }
}

/// What the FOLL_PIN counters said of a visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PinCount {
    /// Pins taken and released over the visit, system-wide.
    delta: FollPin,
    /// Another process pinned or unpinned in the idle windows around it,
    /// so `delta` is not this visit's alone.
    foreign: bool,
}

/// Runs `spec` and returns its cell (pins unbalanced is recorded in the cell
/// as `pins_balanced: false`; the caller fails loudly). The counters are
/// watched in an idle window before the visit and, if it ends unbalanced,
/// after it: activity there is another process's, and the visit's
/// imbalance is then recorded as foreign, not as a leak.
pub fn run_kernel_cell(spec: &KernelSpec<'_>, params: &Params) -> Result<Visit, KernelCellError> {
    let vmstat_path = Path::new(vmstat::PROC_VMSTAT);
    let watched = vmstat::idle_window(vmstat_path);
    let shared = Shared::default();
    let (memmap, layout) = floor_memmap(spec)?;
    let job = spec.job;
    let shape = Shape {
        threads: job.threads,
        cpus: &job.numa.cpus,
        solo: job.threads > 1,
    };
    let floor = |index| -> Box<dyn Worker + '_> {
        let slot = Slot {
            index,
            threads: job.threads,
            layout,
        };
        Box::new(Floor::new(&memmap, &slot))
    };
    let outcomes = run_paired(shape, params, |_| worker(spec, &shared), floor)
        .map_err(|e| KernelCellError::Threads(job.name(), e))?;
    if let Some(e) = shared.error.lock().ok().and_then(|mut e| e.take()) {
        return Err(KernelCellError::Path(format!("{}: {e}", job.name())));
    }
    let count = watched.and_then(|(before, foreign_before)| {
        let delta = settle(vmstat_path, before, Duration::from_secs(2))?;
        let foreign_after =
            !delta.balanced() && vmstat::idle_window(vmstat_path).is_some_and(|(_, moved)| moved);
        Some(PinCount {
            delta,
            // More released than this visit acquired is someone else's too.
            foreign: foreign_before || foreign_after || delta.released > delta.acquired,
        })
    });
    let twin = twin_census(spec)?;
    let kept = kept_census(spec, vmstat_path);
    Ok(cell(spec, &outcomes, &shared, count, twin, kept))
}

/// io-uring: pins the kernel keeps per page of a registered buffer (see
/// `IoUringPath::pins_kept_per_page`), on a fresh buffer backed as the
/// cell's, after the cell; `None` for every other path, and where it
/// could not be read (its absence is no failure of the cell).
fn kept_census(spec: &KernelSpec<'_>, vmstat_path: &Path) -> Option<f64> {
    let job = spec.job;
    if job.backend != Backend::IoUring {
        return None;
    }
    let buf = UserBuffer::with_backing(spec.buffer_bytes, job.backing).ok()?;
    let mut path = IoUringPath::new(buf, spec.pages_per_call).ok()?;
    path.pins_kept_per_page(vmstat_path).ok().flatten()
}

/// A shim twin's census after its cell (see `twin.rs`); `None` for every
/// other path.
fn twin_census(spec: &KernelSpec<'_>) -> Result<Option<TwinCensus>, KernelCellError> {
    let job = spec.job;
    let twin = match job.backend {
        Backend::Shim => ShimMode::ALL[job.flavour].twin(),
        _ => PIN_SHIM_TWIN_NONE,
    };
    if twin == PIN_SHIM_TWIN_NONE {
        return Ok(None);
    }
    let fail = |e: io::Error| KernelCellError::Path(format!("{}: twin census: {e}", job.name()));
    let dev = FileDevice::open(Path::new(PIN_SHIM_PATH)).map_err(fail)?;
    census(dev, twin, spec.buffer_bytes, job.backing)
        .map(Some)
        .map_err(fail)
}

/// The results of a finished kernel visit.
fn cell(
    spec: &KernelSpec<'_>,
    outcomes: &[ThreadOutcome],
    shared: &Shared,
    count: Option<PinCount>,
    twin: Option<TwinCensus>,
    pins_kept_per_page: Option<f64>,
) -> Visit {
    let delta = count.map(|c| c.delta);
    let job = spec.job;
    // Relaxed: read after the join.
    let placed = shared.node_mismatch.load(Ordering::Relaxed) == 0;
    let numa = NumaPlacement {
        placement: job.numa.placement.to_string(),
        cpu_node: job.numa.cpu_node,
        memmap_node: job.numa.memmap_node,
        memmap_node_verified: placed.then_some(job.numa.memmap_node),
        verified_fraction: if placed { 1.0 } else { 0.0 },
        method: if job.buffer_node.is_some() {
            "mbind".into()
        } else {
            "first-touch".into()
        },
    };
    let pages = shared.pages.load(Ordering::Relaxed);
    let kernel_ns = (shared.kernel_ns_seen.load(Ordering::Relaxed) > 0)
        .then(|| shared.kernel_ns.load(Ordering::Relaxed) as f64 / pages.max(1) as f64);
    let labels = Labels {
        subject: job.label,
        backend: job.backend.name(),
        workload: "private",
        threads: job.threads,
        pages_per_call: spec.pages_per_call,
        // THP and hugetlb buffers are large folios, as in the model's `huge`.
        folio_order: job.backing.folio_order(),
    };
    let kernel = KernelCell {
        thp: job.backing == Backing::Thp,
        backing: job.backing.name().to_string(),
        thp_bytes: Some(shared.thp_bytes.load(Ordering::Relaxed)),
        buffer_bytes: spec.buffer_bytes as u64,
        pins_acquired: delta.map(|d| d.acquired),
        pins_released: delta.map(|d| d.released),
        pins_balanced: delta.map(FollPin::balanced),
        foreign_pins: count.is_some_and(|c| c.foreign),
        expects_pins: job.expects_pins,
        in_kernel_ns_per_page: kernel_ns,
        twin,
        pins_kept_per_page,
    };
    record(labels, outcomes, Memory::default(), numa, Some(kernel))
}
