//! `pinbench kernel`'s own plan: the sweep (threads, placements, slicing;
//! [`crate::harness::sweep`]) crossed with backend × gup flavour × buffer
//! backing (4 KiB pages or THP). Every check of the input happens here,
//! before anything is measured or written; a refusal names the bad value.

use super::backing::Backing;
use super::buffer::UserBuffer;
use super::device::FileDevice;
use super::direct_io::{self, DioMode, DirectIoPath, Source};
use super::gup_test::{GupTestCmd, GupTestPath};
use super::io_uring::IoUringPath;
use super::process_vm::ProcessVmPath;
use super::shim::{ShimMode, ShimPath};
use super::shim_abi::{GUP_TEST_PATH, PIN_SHIM_PATH};
use super::{Backend, PinPath};
use crate::harness::cell::Numa;
use crate::harness::sweep::{sweep, unique, PlanError, Scope, Sweep, SweepOptions};
use crate::machine::mapping::PAGE_SIZE;
use crate::machine::Machine;
use std::path::Path;

/// `pinbench kernel`'s options as given.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Threads, placements and slicing; the memory node is `--buffer-node`.
    pub sweep: SweepOptions,
    /// `--backend` (None: every backend this machine offers).
    pub backends: Option<Vec<String>>,
    /// `--thp` words: buffer backings.
    pub thp: Vec<String>,
    /// `-m/--mib`: buffer per thread.
    pub mib: u64,
    /// `--pages-per-call`.
    pub pages_per_call: usize,
    /// Where direct-io reads from: `--dio-file`, else a scratch file in
    /// this directory.
    pub dio: DioSourceOption,
}

/// Memory-backed block devices direct-io reads by default where present.
const MEMORY_DEVICES: [&str; 2] = ["/dev/nullb0", "/dev/ram0"];

/// `--dio-file` or the scratch directory.
#[derive(Clone, Debug, Default)]
pub struct DioSourceOption {
    /// `--dio-file`.
    pub file: Option<std::path::PathBuf>,
    /// The results file's directory.
    pub scratch_dir: std::path::PathBuf,
}

impl DioSourceOption {
    /// A `--dio-file` that cannot be read or would not pin is bad input;
    /// a default scratch directory on tmpfs or ramfs is why the backend is
    /// skipped (`Ok(Some(why))`).
    pub fn unsuitable(&self) -> Result<Option<String>, PlanError> {
        match (&self.file, self.source()) {
            (Some(f), _) => match direct_io::check_named(f) {
                Some(why) => Err(PlanError::DioFile(f.display().to_string(), why)),
                None => Ok(None),
            },
            (None, Source::Scratch(dir)) => Ok(direct_io::not_pinning_fs(&dir).map(|fs| {
                format!(
                    "the scratch file's directory {} is on {fs}, whose O_DIRECT reads pin nothing (name a file elsewhere with --dio-file)",
                    dir.display()
                )
            })),
            (None, Source::Named(_)) => Ok(None),
        }
    }

    /// The source the backend reads: `--dio-file`, else a memory-backed
    /// block device where one exists (null_blk, brd: the device's own time
    /// is then small), else a scratch file.
    pub fn source(&self) -> Source {
        if let Some(f) = &self.file {
            return Source::Named(f.clone());
        }
        MEMORY_DEVICES
            .iter()
            .map(std::path::Path::new)
            .find(|d| d.exists())
            .map_or_else(
                || Source::Scratch(self.scratch_dir.clone()),
                |d| Source::Named(d.to_path_buf()),
            )
    }
}

/// One kernel cell to run.
#[derive(Clone, Debug)]
pub struct Job {
    /// The backend.
    pub backend: Backend,
    /// Index of the gup flavour in the backend's list.
    pub flavour: usize,
    /// The flavour's name (`pin-fast`, `register-buffers`, ...).
    pub label: &'static str,
    /// Whether the path should take FOLL_PIN pins.
    pub expects_pins: bool,
    /// How the buffers are backed.
    pub backing: Backing,
    /// Threads.
    pub threads: usize,
    /// Threads' CPUs and the buffers' node.
    pub numa: Numa,
    /// Bind buffers to this node (`None`: first touch on the CPU node).
    pub buffer_node: Option<u32>,
}

impl Job {
    /// `backend/flavour thp=on 2T local`, for progress lines.
    pub fn name(&self) -> String {
        format!(
            "{}/{} {} {}T {}",
            self.backend.name(),
            self.label,
            self.backing.name(),
            self.threads,
            self.numa.placement
        )
    }

    /// hugetlb pages the cell may hold at once with `buffer_bytes` per
    /// thread: a buffer per thread, and for `process-vm` its child's too
    /// (a thread maps its buffer, drops it and forks a child that maps its
    /// own, while the other threads may still hold theirs).
    pub fn hugetlb_pages(&self, buffer_bytes: usize) -> u64 {
        let per_buffer = buffer_bytes.div_ceil(self.backing.page_bytes()) as u64;
        let buffers = match self.backend {
            Backend::ProcessVm => 2 * self.threads,
            _ => self.threads,
        };
        buffers as u64 * per_buffer
    }

    /// A thread's path over its buffer: what the backend and flavour name.
    pub fn path(
        &self,
        buf: UserBuffer,
        pages_per_call: usize,
        write: bool,
        dio: &Source,
    ) -> std::io::Result<Box<dyn PinPath>> {
        Ok(match self.backend {
            Backend::GupTest => Box::new(GupTestPath::new(
                FileDevice::open(Path::new(GUP_TEST_PATH))?,
                GupTestCmd::ALL[self.flavour],
                buf,
                pages_per_call,
                write,
            )),
            Backend::Shim => Box::new(ShimPath::new(
                FileDevice::open(Path::new(PIN_SHIM_PATH))?,
                ShimMode::ALL[self.flavour],
                buf,
                pages_per_call,
                write,
            )?),
            Backend::IoUring => Box::new(IoUringPath::new(buf, pages_per_call)?),
            Backend::ProcessVm => {
                let bytes = buf.bytes();
                drop(buf);
                Box::new(ProcessVmPath::new(bytes, self.backing, pages_per_call)?)
            }
            Backend::DirectIo => Box::new(DirectIoPath::new(
                buf,
                dio,
                DioMode::ALL[self.flavour],
                pages_per_call,
            )?),
        })
    }
}

/// The validated kernel run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Cells in run order.
    pub jobs: Vec<Job>,
    /// Threads, placements, slicing, and notes on what was left out.
    pub sweep: Sweep,
    /// Bytes of each thread's buffer.
    pub buffer_bytes: usize,
    /// The options after defaults, for the results file.
    pub config: pin_results::Config,
}

/// The flavours one backend measures: (label, expects FOLL_PIN pins).
pub fn flavours(b: Backend) -> Vec<(&'static str, bool)> {
    match b {
        Backend::GupTest => GupTestCmd::ALL
            .iter()
            .map(|c| (c.name(), c.pins()))
            .collect(),
        Backend::Shim => ShimMode::ALL.iter().map(|m| (m.name(), m.pins())).collect(),
        Backend::IoUring => vec![("register-buffers", true)],
        Backend::ProcessVm => vec![("readv", true)],
        Backend::DirectIo => DioMode::ALL.iter().map(|m| (m.name(), true)).collect(),
    }
}

/// Why a backend cannot run here, or `None` if it can.
pub fn missing(b: Backend) -> Option<&'static str> {
    match b {
        Backend::GupTest if !Path::new(GUP_TEST_PATH).exists() => Some(
            "no /sys/kernel/debug/gup_test (see pinbench kernel --probe; load kmod-shims/pin_shim)",
        ),
        Backend::Shim if !Path::new(PIN_SHIM_PATH).exists() => {
            Some("no /dev/pin_shim (load kmod-shims/pin_shim; see pinbench kernel --probe)")
        }
        Backend::IoUring if ::io_uring::IoUring::new(2).is_err() => {
            Some("io_uring_setup fails here (see pinbench kernel --probe)")
        }
        _ => None,
    }
}

/// The backends asked for (each known, available and given once), or every
/// available one with a note for each left out.
fn backends(
    opts: &Options,
    available: impl Fn(Backend) -> Option<&'static str>,
    notes: &mut Vec<String>,
) -> Result<Vec<Backend>, PlanError> {
    let Some(list) = &opts.backends else {
        return Ok(Backend::ALL
            .into_iter()
            .filter(|&b| match available(b) {
                Some(why) => {
                    notes.push(format!("{} backend skipped: {why}", b.name()));
                    false
                }
                None => true,
            })
            .collect());
    };
    unique("--backend", list, String::clone)?;
    list.iter()
        .map(|word| {
            let b = Backend::parse(word).ok_or_else(|| {
                PlanError::Backend(
                    word.clone(),
                    "unknown (known: gup-test, shim, io-uring, process-vm, direct-io)",
                )
            })?;
            match available(b) {
                Some(why) => Err(PlanError::Backend(word.clone(), why)),
                None => Ok(b),
            }
        })
        .collect()
}

/// The `--thp` words as buffer backings.
fn backings(words: &[String]) -> Result<Vec<Backing>, PlanError> {
    unique("--thp", words, String::clone)?;
    words
        .iter()
        .map(|w| Backing::parse(w).ok_or_else(|| PlanError::Thp(w.to_string())))
        .collect()
}

/// Checks `opts` against `machine` (`available` says why a backend cannot
/// run here) and lists the jobs.
pub fn plan(
    opts: &Options,
    machine: &Machine,
    available: impl Fn(Backend) -> Option<&'static str>,
) -> Result<Plan, PlanError> {
    let mut notes = Vec::new();
    let backends = backends(opts, available, &mut notes)?;
    let backings = backings(&opts.thp)?;
    if opts.mib == 0 {
        return Err(PlanError::Zero("-m/--mib"));
    }
    if opts.pages_per_call == 0 {
        return Err(PlanError::Zero("--pages-per-call"));
    }
    let mut backends = backends;
    if backends.contains(&Backend::DirectIo) {
        if let Some(why) = opts.dio.unsuitable()? {
            backends.retain(|&b| b != Backend::DirectIo);
            notes.push(format!("direct-io backend skipped: {why}"));
        }
    }
    let mut sweep = sweep(&opts.sweep, machine)?;
    sweep.notes.splice(0..0, notes);
    let buffer_bytes = usize::try_from(opts.mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let batch_bytes = opts
        .pages_per_call
        .saturating_mul(PAGE_SIZE)
        .min(buffer_bytes);
    if backends.contains(&Backend::IoUring) && batch_bytes > IoUringPath::MAX_BUFFER {
        return Err(PlanError::IoUringBuffer(
            opts.pages_per_call,
            IoUringPath::MAX_BUFFER / PAGE_SIZE,
        ));
    }
    let max_threads = sweep.threads.iter().copied().max().unwrap_or(1) as u64;
    let need = max_threads.saturating_mul(opts.mib << 20);
    if let Some(avail) = machine.mem_available.filter(|&a| need > a / 2) {
        return Err(PlanError::Memory(
            format!("-m/--mib {} (half of MemAvailable at most)", opts.mib),
            need >> 20,
            avail >> 20,
        ));
    }
    let mut jobs = Vec::new();
    for numa in &sweep.placements {
        for &threads in &sweep.threads {
            for &backend in &backends {
                for (flavour, (label, expects_pins)) in flavours(backend).into_iter().enumerate() {
                    for &backing in &backings {
                        jobs.push(Job {
                            backend,
                            flavour,
                            label,
                            expects_pins,
                            backing,
                            threads,
                            numa: numa.clone(),
                            buffer_node: (opts.sweep.memory_node.is_some()
                                || opts.sweep.numa.is_some())
                            .then_some(numa.memmap_node),
                        });
                    }
                }
            }
        }
    }
    let config = sweep.config(
        opts.sweep.quick,
        Scope {
            schemes: backends.iter().map(|b| b.name().to_string()).collect(),
            workloads: vec!["private".into()],
            pages_per_call: opts.pages_per_call,
            mib: opts.mib,
            pages_per_thread: buffer_bytes / PAGE_SIZE,
            cold: false,
        },
    );
    Ok(Plan {
        jobs,
        sweep,
        buffer_bytes,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine::two_node_fixture()
    }

    fn opts() -> Options {
        Options {
            thp: vec!["off".into(), "on".into()],
            mib: 8,
            pages_per_call: 512,
            ..Options::default()
        }
    }

    #[test]
    fn the_sweep_crosses_backends_flavours_and_backings() {
        let p = plan(&opts(), &machine(), |b| {
            (b == Backend::GupTest).then_some("absent here")
        })
        .expect("plan");
        // threads 1 and 2; shim 3 flavours, io-uring 1, process-vm 1,
        // direct-io 2; 2 backings.
        assert_eq!(
            p.jobs.len(),
            2 * (ShimMode::ALL.len() + 2 + DioMode::ALL.len()) * 2
        );
        assert!(
            p.sweep.notes[0].contains("gup-test backend skipped"),
            "{:?}",
            p.sweep.notes
        );
        assert!(p.jobs.iter().all(|j| j.buffer_node.is_none()));
        assert_eq!(
            p.config.schemes,
            ["shim", "io-uring", "process-vm", "direct-io"]
        );
    }

    #[test]
    fn bad_input_is_refused_by_its_own_flag() {
        let m = machine();
        let bad = |o: Options| plan(&o, &m, |_| None).expect_err("bad input").to_string();
        let buffer_node = Options {
            sweep: SweepOptions {
                memory_node: Some(("--buffer-node", 5)),
                ..SweepOptions::default()
            },
            ..opts()
        };
        assert!(bad(buffer_node).contains("--buffer-node 5"));
        let twice = Options {
            backends: Some(vec!["io-uring".into(), "io-uring".into()]),
            ..opts()
        };
        assert!(bad(twice).contains("--backend 'io-uring' given twice"));
        let unknown = Options {
            backends: Some(vec!["dma".into()]),
            ..opts()
        };
        assert!(bad(unknown).contains("--backend 'dma': unknown"));
        let thp = Options {
            thp: vec!["maybe".into()],
            ..opts()
        };
        assert!(bad(thp).contains("--thp 'maybe'"));
        let huge = Options {
            mib: 1 << 30,
            ..opts()
        };
        assert!(bad(huge).contains("-m/--mib 1073741824"));
        let too_big_a_batch = Options {
            backends: Some(vec!["io-uring".into()]),
            mib: 2048,
            pages_per_call: 1 << 19,
            ..opts()
        };
        assert!(bad(too_big_a_batch).contains("io_uring registers at most 1 GiB"));
    }
}
