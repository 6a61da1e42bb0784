//! Real-kernel backends: the same cells as the model, measured on the
//! running kernel's own pin/unpin paths, with the kernel's FOLL_PIN counters
//! (/proc/vmstat) as ground truth that pins were taken and all released.
//!
//! Each backend is one file and implements [`PinPath`]: one call pins and
//! unpins a run of a user buffer. The runner owns threads, placement,
//! clocks and sampling, exactly as for the model's workloads.

pub mod backing;
pub mod buffer;
pub mod cell;
pub mod device;
pub mod direct_io;
pub mod effects;
pub mod gup_test;
pub mod hugetlb_pool;
pub mod io_uring;
pub mod plan;
pub mod probe;
pub mod process_vm;
pub mod shim;
pub mod shim_abi;
pub mod twin;
pub mod vmstat;

use std::io;

/// One thread's way of making the kernel pin and unpin user pages.
pub trait PinPath: Send {
    /// Pages pinned (and unpinned) by one call.
    fn pages_per_call(&self) -> usize;
    /// Call number `i`: pins and unpins the `i`-th run of the buffer.
    fn call(&mut self, i: usize) -> io::Result<()>;
    /// Nanoseconds the kernel itself measured inside its gup calls so far,
    /// where the ABI reports them (gup_test, pin_shim).
    fn kernel_ns(&self) -> Option<u64> {
        None
    }
}

/// The backends `--backend` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The kernel's gup_test debugfs ABI (CONFIG_GUP_TEST or the pin_shim module).
    GupTest,
    /// pinbench's own batch ioctl of the pin_shim module.
    Shim,
    /// io_uring buffer registration (FOLL_PIN | FOLL_LONGTERM).
    IoUring,
    /// process_vm_readv (pin_user_pages_remote + a copy).
    ProcessVm,
    /// O_DIRECT reads (iov_iter_extract_pages + the device's time).
    DirectIo,
}

impl Backend {
    /// Every backend, in table order.
    pub const ALL: [Backend; 5] = [
        Backend::GupTest,
        Backend::Shim,
        Backend::IoUring,
        Backend::ProcessVm,
        Backend::DirectIo,
    ];

    /// The name used on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            Backend::GupTest => "gup-test",
            Backend::Shim => "shim",
            Backend::IoUring => "io-uring",
            Backend::ProcessVm => "process-vm",
            Backend::DirectIo => "direct-io",
        }
    }

    /// Parses a `--backend` word.
    pub fn parse(word: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == word)
    }
}
