//! The user/kernel ABI of the `pin_shim` module, mirrored from
//! `kmod-shims/pin_shim/pin_shim_abi.h`, the one header that the module and
//! its C test programs include.
//!
//! Two files, two ABIs:
//! - `/sys/kernel/debug/gup_test`: the kernel's own gup_test ABI
//!   ([`GupTest`], [`GUP_FAST_BENCHMARK`] ...), byte for byte as in the
//!   kernel's `mm/gup_test.h`. A kernel built with `CONFIG_GUP_TEST`
//!   serves it itself; on any other kernel the module serves it.
//! - `/dev/pin_shim`: pinbench's batch ABI ([`PinShimBatch`] ...): one
//!   ioctl gets or pins a range in calls of `nr_pages_per_call` pages, then
//!   puts or unpins it, `iterations` times, and returns the nanoseconds spent
//!   inside the kernel's gup calls with the per-call extremes, so the syscall
//!   cost is amortised away.
//!
//! Request numbers are computed as the C `_IO`/`_IOR`/`_IOW`/`_IOWR` macros
//! compute them (the asm-generic encoding of x86, arm64 and riscv), from the
//! size of the mirrored struct, so a field added on one side and not the
//! other changes the number and the module refuses the call. The tests check
//! every size, offset and request number twice: against constants written
//! down here, and against a C program compiled from the header itself.
//!
//! Cast a request to `libc::Ioctl` when calling `libc::ioctl`.

// The whole ABI is mirrored, including requests no backend sends (the dump
// test, the long-term test range): the mirror is checked against the header
// as a whole.
#![allow(dead_code)]

/// The kernel's gup_test file (CONFIG_GUP_TEST, or the module).
pub const GUP_TEST_PATH: &str = "/sys/kernel/debug/gup_test";
/// The module's batch device.
pub const PIN_SHIM_PATH: &str = "/dev/pin_shim";

const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = 8;
const IOC_SIZESHIFT: u32 = 16;
const IOC_DIRSHIFT: u32 = 30;
const IOC_SIZEBITS: u32 = 14;
const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`; a size that does not fit the 14-bit field
/// fails the build.
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(size < 1 << IOC_SIZEBITS, "ioctl argument too large");
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | ((ty as u32) << IOC_TYPESHIFT)
        | ((nr as u32) << IOC_NRSHIFT)
}

/// `_IO(type, nr)`: no argument.
pub const fn io(ty: u8, nr: u8) -> u32 {
    ioc(IOC_NONE, ty, nr, 0)
}

/// `_IOR(type, nr, T)`: the kernel writes a `T`.
pub const fn ior<T>(ty: u8, nr: u8) -> u32 {
    ioc(IOC_READ, ty, nr, std::mem::size_of::<T>())
}

/// `_IOW(type, nr, T)`: the kernel reads a `T`.
pub const fn iow<T>(ty: u8, nr: u8) -> u32 {
    ioc(IOC_WRITE, ty, nr, std::mem::size_of::<T>())
}

/// `_IOWR(type, nr, T)`: the kernel reads and writes back a `T`.
pub const fn iowr<T>(ty: u8, nr: u8) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, std::mem::size_of::<T>())
}

// ---- /sys/kernel/debug/gup_test: mm/gup_test.h -------------------------

/// Entries of [`GupTest::which_pages`].
pub const GUP_TEST_MAX_PAGES_TO_DUMP: usize = 8;
/// `DUMP_USER_PAGES_TEST`: take the pages with FOLL_PIN, not FOLL_GET.
pub const GUP_TEST_FLAG_DUMP_PAGES_USE_PIN: u32 = 0x1;
/// `FOLL_WRITE`, the one FOLL_* value the selftest passes (it has been 0x01
/// in every kernel; the others are kernel-internal and move).
pub const FOLL_WRITE: u32 = 0x01;

/// `struct gup_test`: the benchmarks get (or pin) `[addr, addr + size)` in
/// calls of `nr_pages_per_call` pages, put (or unpin) it all, and return the
/// two durations in microseconds. A range that cannot be taken whole is not
/// an error: `size` comes back as the bytes that were.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GupTest {
    /// Out: time of the get/pin phase, µs.
    pub get_delta_usec: u64,
    /// Out: time of the put/unpin phase, µs.
    pub put_delta_usec: u64,
    /// In: start of the range.
    pub addr: u64,
    /// In: bytes; out: bytes actually taken.
    pub size: u64,
    /// Pages per get/pin call.
    pub nr_pages_per_call: u32,
    /// The running kernel's FOLL_* flags ([`FOLL_WRITE`]).
    pub gup_flags: u32,
    /// `GUP_TEST_FLAG_*`.
    pub test_flags: u32,
    /// `DUMP_USER_PAGES_TEST`: 1-based page numbers to dump, 0 for none.
    pub which_pages: [u32; GUP_TEST_MAX_PAGES_TO_DUMP],
}

/// `PIN_LONGTERM_TEST_START` flag: pin for writing.
pub const PIN_LONGTERM_TEST_FLAG_USE_WRITE: u32 = 1;
/// `PIN_LONGTERM_TEST_START` flag: use `pin_user_pages_fast()`.
pub const PIN_LONGTERM_TEST_FLAG_USE_FAST: u32 = 2;

/// `struct pin_longterm_test`: a range pinned FOLL_LONGTERM from
/// `PIN_LONGTERM_TEST_START` until `PIN_LONGTERM_TEST_STOP` or close.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinLongtermTest {
    /// Start of the range.
    pub addr: u64,
    /// Bytes.
    pub size: u64,
    /// `PIN_LONGTERM_TEST_FLAG_*`.
    pub flags: u32,
}

/// FOLL_GET through `get_user_pages_fast()`.
pub const GUP_FAST_BENCHMARK: u32 = iowr::<GupTest>(b'g', 1);
/// FOLL_PIN through `pin_user_pages_fast()`.
pub const PIN_FAST_BENCHMARK: u32 = iowr::<GupTest>(b'g', 2);
/// FOLL_PIN | FOLL_LONGTERM through `pin_user_pages()` under mmap_lock.
pub const PIN_LONGTERM_BENCHMARK: u32 = iowr::<GupTest>(b'g', 3);
/// FOLL_GET through `get_user_pages()` under mmap_lock.
pub const GUP_BASIC_TEST: u32 = iowr::<GupTest>(b'g', 4);
/// FOLL_PIN through `pin_user_pages()` under mmap_lock.
pub const PIN_BASIC_TEST: u32 = iowr::<GupTest>(b'g', 5);
/// Takes the range and `dump_page()`s the pages in `which_pages`.
pub const DUMP_USER_PAGES_TEST: u32 = iowr::<GupTest>(b'g', 6);
/// Pins a [`PinLongtermTest`] range until STOP or close.
pub const PIN_LONGTERM_TEST_START: u32 = iow::<PinLongtermTest>(b'g', 7);
/// Unpins the long-term test range.
pub const PIN_LONGTERM_TEST_STOP: u32 = io(b'g', 8);
/// Copies the pinned pages to the user address (a `u64`) passed.
pub const PIN_LONGTERM_TEST_READ: u32 = iow::<u64>(b'g', 9);

// ---- /dev/pin_shim: pinbench's batch ABI --------------------------------

/// [`PinShimInfo::abi_version`] of this mirror.
pub const PIN_SHIM_ABI_VERSION: u32 = 2;
/// The ioctl type byte of `/dev/pin_shim`.
pub const PIN_SHIM_IOC_MAGIC: u8 = 0xB6;

/// Mode bit: FOLL_PIN (`pin_user_pages*`, `unpin_user_pages`); without it
/// FOLL_GET (`get_user_pages*`, `put_page`).
pub const PIN_SHIM_MODE_PIN: u32 = 1 << 0;
/// Mode bit: FOLL_LONGTERM; only with [`PIN_SHIM_MODE_PIN`].
pub const PIN_SHIM_MODE_LONGTERM: u32 = 1 << 1;
/// Mode bit: the `*_fast()` entry points, no mmap_lock; without it the
/// slow path under `mmap_read_lock()`, taken once per call.
pub const PIN_SHIM_MODE_FAST: u32 = 1 << 2;
/// Mode bit: FOLL_WRITE.
pub const PIN_SHIM_MODE_WRITE: u32 = 1 << 3;
/// Every known mode bit; any other is -EINVAL.
pub const PIN_SHIM_MODE_ALL: u32 = 0xf;

/// Pages per range (8 GiB of 4 KiB pages).
pub const PIN_SHIM_MAX_PAGES: u32 = 1 << 21;
/// Iterations per batch.
pub const PIN_SHIM_MAX_ITERATIONS: u32 = 1 << 20;
/// Ranges held per open file.
pub const PIN_SHIM_MAX_HOLDS: u32 = 64;
/// Pages held per open file.
pub const PIN_SHIM_MAX_HELD_PAGES: u32 = 1 << 21;

/// `struct pin_shim_info`: the module's ABI version and limits.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinShimInfo {
    /// [`PIN_SHIM_ABI_VERSION`].
    pub abi_version: u32,
    /// The kernel's page size.
    pub page_size: u32,
    /// [`PIN_SHIM_MAX_PAGES`].
    pub max_pages: u32,
    /// [`PIN_SHIM_MAX_ITERATIONS`].
    pub max_iterations: u32,
    /// [`PIN_SHIM_MAX_HOLDS`].
    pub max_holds: u32,
    /// [`PIN_SHIM_MAX_HELD_PAGES`].
    pub max_held_pages: u32,
    /// 1 if the module serves `/sys/kernel/debug/gup_test`.
    pub gup_test: u32,
    /// [`PIN_SHIM_NR_TWINS`] (0 from ABI version 1).
    pub nr_twins: u32,
    /// 0.
    pub reserved2: [u64; 4],
}

/// `struct pin_shim_batch`: `iterations` times, get or pin the range in
/// calls of `nr_pages_per_call` pages, then put or unpin it in calls of the
/// same size; every call timed alone with `ktime_get_ns()`. A range that
/// cannot be taken whole fails the call (-EFAULT or the kernel's error) and
/// leaves nothing taken.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinShimBatch {
    /// In: page-aligned start.
    pub addr: u64,
    /// In: bytes, page aligned, 1..=[`PIN_SHIM_MAX_PAGES`] pages.
    pub size: u64,
    /// In: 1..=[`PIN_SHIM_MAX_PAGES`].
    pub nr_pages_per_call: u32,
    /// In: `PIN_SHIM_MODE_*`.
    pub mode: u32,
    /// In: 1..=[`PIN_SHIM_MAX_ITERATIONS`].
    pub iterations: u32,
    /// In: `PIN_SHIM_TWIN_*` (version 1: reserved, 0).
    pub twin: u32,
    /// Out: sum of the get/pin calls, ns.
    pub get_ns: u64,
    /// Out: sum of the put/unpin calls, ns.
    pub put_ns: u64,
    /// Out: fastest get/pin call, ns.
    pub get_min_ns: u64,
    /// Out: slowest get/pin call, ns.
    pub get_max_ns: u64,
    /// Out: fastest put/unpin call, ns.
    pub put_min_ns: u64,
    /// Out: slowest put/unpin call, ns.
    pub put_max_ns: u64,
    /// Out: get/pin calls made (as many put/unpin calls).
    pub nr_calls: u64,
    /// Out: pages taken over all iterations.
    pub nr_pages: u64,
    /// Out, PIN modes or a twin: pages `maybe_dma_pinned` denied right
    /// after the pin (a bug if not 0).
    pub nr_not_dma_pinned: u64,
    /// Out: 1 when a twin's record found no memory (the call then fails
    /// with -ENOMEM, nothing taken).
    pub nr_alloc_failures: u64,
    /// In: 0; out: 0.
    pub reserved2: [u64; 2],
}

/// `struct pin_shim_hold`: get or pin a range and keep it until
/// `PIN_SHIM_UNHOLD` or until the file is released (process exit included).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinShimHold {
    /// In: page-aligned start.
    pub addr: u64,
    /// In: bytes, page aligned.
    pub size: u64,
    /// In: `PIN_SHIM_MODE_*`.
    pub mode: u32,
    /// In: `PIN_SHIM_TWIN_*` (version 1: reserved, 0).
    pub twin: u32,
    /// Out: pages this file now holds.
    pub held_pages: u64,
}

/// Twin: none, the kernel's own FOLL_GET or FOLL_PIN as the mode says.
pub const PIN_SHIM_TWIN_NONE: u32 = 0;
/// Twin: an XArray per node keyed by the folio's pfn, a value entry
/// counting its pins.
pub const PIN_SHIM_TWIN_XARRAY: u32 = 1;
/// Twin: a 32-bit counter per pfn in a `vzalloc_node()` array per node.
pub const PIN_SHIM_TWIN_EXACT: u32 = 2;
/// Twins the module knows, `NONE` included.
pub const PIN_SHIM_NR_TWINS: u32 = 3;

/// `struct pin_shim_lookup`: `iterations` timed passes asking a twin's
/// `maybe_dma_pinned` about every page the file holds.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinShimLookup {
    /// In: `PIN_SHIM_TWIN_*`.
    pub twin: u32,
    /// In: 1..=[`PIN_SHIM_MAX_ITERATIONS`].
    pub iterations: u32,
    /// Out: all passes, ns.
    pub lookup_ns: u64,
    /// Out: lookups made.
    pub nr_pages: u64,
    /// Out: of those, answered pinned.
    pub nr_pinned: u64,
    /// In: 0; out: 0.
    pub reserved: [u64; 2],
}

/// `struct pin_shim_twin_stats`: what a twin holds now, module-wide.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinShimTwinStats {
    /// In: [`PIN_SHIM_TWIN_XARRAY`] or [`PIN_SHIM_TWIN_EXACT`].
    pub twin: u32,
    /// In: 0.
    pub reserved: u32,
    /// Out: bytes of the twin's own structure.
    pub tracking_bytes: u64,
    /// Out: folios recorded as pinned (one record each).
    pub nr_entries: u64,
    /// Out: xarray: `xa_node`s in its trees; exact: 0.
    pub nr_nodes: u64,
    /// Out: pins failed for want of memory since the module was loaded.
    pub alloc_failures: u64,
    /// Out: exact: pfns its arrays cover (its bytes do not grow with
    /// pins); xarray: 0.
    pub pfns_covered: u64,
    /// In: 0; out: 0.
    pub reserved2: [u64; 1],
}

/// Reads the module's [`PinShimInfo`].
pub const PIN_SHIM_INFO: u32 = ior::<PinShimInfo>(PIN_SHIM_IOC_MAGIC, 0);
/// Runs a [`PinShimBatch`].
pub const PIN_SHIM_BATCH: u32 = iowr::<PinShimBatch>(PIN_SHIM_IOC_MAGIC, 1);
/// Takes and keeps a [`PinShimHold`] range.
pub const PIN_SHIM_HOLD: u32 = iowr::<PinShimHold>(PIN_SHIM_IOC_MAGIC, 2);
/// Gives back every range this file holds.
pub const PIN_SHIM_UNHOLD: u32 = io(PIN_SHIM_IOC_MAGIC, 3);
/// Runs a [`PinShimLookup`].
pub const PIN_SHIM_LOOKUP: u32 = iowr::<PinShimLookup>(PIN_SHIM_IOC_MAGIC, 4);
/// Reads a twin's [`PinShimTwinStats`].
pub const PIN_SHIM_TWIN_STATS: u32 = iowr::<PinShimTwinStats>(PIN_SHIM_IOC_MAGIC, 5);

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    macro_rules! off {
        ($c:literal, $t:ty, $f:ident) => {
            (
                concat!("offsetof(struct ", $c, ", ", stringify!($f), ")"),
                offset_of!($t, $f) as u64,
            )
        };
    }
    macro_rules! size {
        ($c:literal, $t:ty) => {
            (concat!("sizeof(struct ", $c, ")"), size_of::<$t>() as u64)
        };
    }
    macro_rules! val {
        ($n:ident) => {
            (stringify!($n), $n as u64)
        };
    }

    /// Every number the ABI fixes, named by the C expression that yields
    /// it, with the value the Rust mirror gives.
    fn abi_table() -> Vec<(&'static str, u64)> {
        [layouts(), constants()].concat()
    }

    /// The structs' sizes and offsets.
    fn layouts() -> Vec<(&'static str, u64)> {
        vec![
            size!("gup_test", GupTest),
            off!("gup_test", GupTest, get_delta_usec),
            off!("gup_test", GupTest, put_delta_usec),
            off!("gup_test", GupTest, addr),
            off!("gup_test", GupTest, size),
            off!("gup_test", GupTest, nr_pages_per_call),
            off!("gup_test", GupTest, gup_flags),
            off!("gup_test", GupTest, test_flags),
            off!("gup_test", GupTest, which_pages),
            size!("pin_longterm_test", PinLongtermTest),
            off!("pin_longterm_test", PinLongtermTest, addr),
            off!("pin_longterm_test", PinLongtermTest, size),
            off!("pin_longterm_test", PinLongtermTest, flags),
            size!("pin_shim_info", PinShimInfo),
            off!("pin_shim_info", PinShimInfo, abi_version),
            off!("pin_shim_info", PinShimInfo, page_size),
            off!("pin_shim_info", PinShimInfo, max_pages),
            off!("pin_shim_info", PinShimInfo, max_iterations),
            off!("pin_shim_info", PinShimInfo, max_holds),
            off!("pin_shim_info", PinShimInfo, max_held_pages),
            off!("pin_shim_info", PinShimInfo, gup_test),
            off!("pin_shim_info", PinShimInfo, nr_twins),
            off!("pin_shim_info", PinShimInfo, reserved2),
            size!("pin_shim_batch", PinShimBatch),
            off!("pin_shim_batch", PinShimBatch, addr),
            off!("pin_shim_batch", PinShimBatch, size),
            off!("pin_shim_batch", PinShimBatch, nr_pages_per_call),
            off!("pin_shim_batch", PinShimBatch, mode),
            off!("pin_shim_batch", PinShimBatch, iterations),
            off!("pin_shim_batch", PinShimBatch, twin),
            off!("pin_shim_batch", PinShimBatch, get_ns),
            off!("pin_shim_batch", PinShimBatch, put_ns),
            off!("pin_shim_batch", PinShimBatch, get_min_ns),
            off!("pin_shim_batch", PinShimBatch, get_max_ns),
            off!("pin_shim_batch", PinShimBatch, put_min_ns),
            off!("pin_shim_batch", PinShimBatch, put_max_ns),
            off!("pin_shim_batch", PinShimBatch, nr_calls),
            off!("pin_shim_batch", PinShimBatch, nr_pages),
            off!("pin_shim_batch", PinShimBatch, nr_not_dma_pinned),
            off!("pin_shim_batch", PinShimBatch, nr_alloc_failures),
            off!("pin_shim_batch", PinShimBatch, reserved2),
            size!("pin_shim_hold", PinShimHold),
            off!("pin_shim_hold", PinShimHold, addr),
            off!("pin_shim_hold", PinShimHold, size),
            off!("pin_shim_hold", PinShimHold, mode),
            off!("pin_shim_hold", PinShimHold, twin),
            off!("pin_shim_hold", PinShimHold, held_pages),
            size!("pin_shim_lookup", PinShimLookup),
            off!("pin_shim_lookup", PinShimLookup, twin),
            off!("pin_shim_lookup", PinShimLookup, iterations),
            off!("pin_shim_lookup", PinShimLookup, lookup_ns),
            off!("pin_shim_lookup", PinShimLookup, nr_pages),
            off!("pin_shim_lookup", PinShimLookup, nr_pinned),
            off!("pin_shim_lookup", PinShimLookup, reserved),
            size!("pin_shim_twin_stats", PinShimTwinStats),
            off!("pin_shim_twin_stats", PinShimTwinStats, twin),
            off!("pin_shim_twin_stats", PinShimTwinStats, reserved),
            off!("pin_shim_twin_stats", PinShimTwinStats, tracking_bytes),
            off!("pin_shim_twin_stats", PinShimTwinStats, nr_entries),
            off!("pin_shim_twin_stats", PinShimTwinStats, nr_nodes),
            off!("pin_shim_twin_stats", PinShimTwinStats, alloc_failures),
            off!("pin_shim_twin_stats", PinShimTwinStats, pfns_covered),
            off!("pin_shim_twin_stats", PinShimTwinStats, reserved2),
        ]
    }

    /// The constants.
    fn constants() -> Vec<(&'static str, u64)> {
        vec![
            val!(GUP_TEST_MAX_PAGES_TO_DUMP),
            val!(GUP_TEST_FLAG_DUMP_PAGES_USE_PIN),
            val!(PIN_LONGTERM_TEST_FLAG_USE_WRITE),
            val!(PIN_LONGTERM_TEST_FLAG_USE_FAST),
            val!(GUP_FAST_BENCHMARK),
            val!(PIN_FAST_BENCHMARK),
            val!(PIN_LONGTERM_BENCHMARK),
            val!(GUP_BASIC_TEST),
            val!(PIN_BASIC_TEST),
            val!(DUMP_USER_PAGES_TEST),
            val!(PIN_LONGTERM_TEST_START),
            val!(PIN_LONGTERM_TEST_STOP),
            val!(PIN_LONGTERM_TEST_READ),
            val!(PIN_SHIM_ABI_VERSION),
            val!(PIN_SHIM_IOC_MAGIC),
            val!(PIN_SHIM_MODE_PIN),
            val!(PIN_SHIM_MODE_LONGTERM),
            val!(PIN_SHIM_MODE_FAST),
            val!(PIN_SHIM_MODE_WRITE),
            val!(PIN_SHIM_MODE_ALL),
            val!(PIN_SHIM_MAX_PAGES),
            val!(PIN_SHIM_MAX_ITERATIONS),
            val!(PIN_SHIM_MAX_HOLDS),
            val!(PIN_SHIM_MAX_HELD_PAGES),
            val!(PIN_SHIM_INFO),
            val!(PIN_SHIM_BATCH),
            val!(PIN_SHIM_HOLD),
            val!(PIN_SHIM_UNHOLD),
            val!(PIN_SHIM_LOOKUP),
            val!(PIN_SHIM_TWIN_STATS),
            val!(PIN_SHIM_TWIN_NONE),
            val!(PIN_SHIM_TWIN_XARRAY),
            val!(PIN_SHIM_TWIN_EXACT),
            val!(PIN_SHIM_NR_TWINS),
        ]
    }

    #[test]
    fn gup_test_layout_is_mm_gup_test_h() {
        // mm/gup_test.h on x86_64: 4 u64, 3 u32, 8 u32, padded to 8.
        assert_eq!(size_of::<GupTest>(), 80);
        assert_eq!(offset_of!(GupTest, addr), 16);
        assert_eq!(offset_of!(GupTest, size), 24);
        assert_eq!(offset_of!(GupTest, nr_pages_per_call), 32);
        assert_eq!(offset_of!(GupTest, gup_flags), 36);
        assert_eq!(offset_of!(GupTest, test_flags), 40);
        assert_eq!(offset_of!(GupTest, which_pages), 44);
        assert_eq!(size_of::<PinLongtermTest>(), 24);
        assert_eq!(offset_of!(PinLongtermTest, flags), 16);
    }

    #[test]
    fn gup_test_request_numbers_are_the_kernels() {
        // As the kernel's _IOWR('g', n, struct gup_test) etc. evaluate.
        assert_eq!(GUP_FAST_BENCHMARK, 0xc050_6701);
        assert_eq!(PIN_FAST_BENCHMARK, 0xc050_6702);
        assert_eq!(PIN_LONGTERM_BENCHMARK, 0xc050_6703);
        assert_eq!(GUP_BASIC_TEST, 0xc050_6704);
        assert_eq!(PIN_BASIC_TEST, 0xc050_6705);
        assert_eq!(DUMP_USER_PAGES_TEST, 0xc050_6706);
        assert_eq!(PIN_LONGTERM_TEST_START, 0x4018_6707);
        assert_eq!(PIN_LONGTERM_TEST_STOP, 0x0000_6708);
        assert_eq!(PIN_LONGTERM_TEST_READ, 0x4008_6709);
    }

    #[test]
    fn pin_shim_layout_and_requests() {
        assert_eq!(size_of::<PinShimInfo>(), 64);
        assert_eq!(offset_of!(PinShimInfo, reserved2), 32);
        assert_eq!(size_of::<PinShimBatch>(), 128);
        assert_eq!(offset_of!(PinShimBatch, mode), 20);
        assert_eq!(offset_of!(PinShimBatch, iterations), 24);
        assert_eq!(offset_of!(PinShimBatch, get_ns), 32);
        assert_eq!(offset_of!(PinShimBatch, twin), 28);
        assert_eq!(offset_of!(PinShimBatch, nr_not_dma_pinned), 96);
        assert_eq!(offset_of!(PinShimBatch, nr_alloc_failures), 104);
        assert_eq!(offset_of!(PinShimBatch, reserved2), 112);
        assert_eq!(size_of::<PinShimHold>(), 32);
        assert_eq!(offset_of!(PinShimHold, held_pages), 24);
        assert_eq!(PIN_SHIM_INFO, 0x8040_b600);
        assert_eq!(PIN_SHIM_BATCH, 0xc080_b601);
        assert_eq!(PIN_SHIM_HOLD, 0xc020_b602);
        assert_eq!(PIN_SHIM_UNHOLD, 0x0000_b603);
        // Version 2 changed no size or offset of version 1's structs.
        assert_eq!(offset_of!(PinShimHold, twin), 20);
        assert_eq!(size_of::<PinShimLookup>(), 48);
        assert_eq!(size_of::<PinShimTwinStats>(), 56);
        assert_eq!(PIN_SHIM_LOOKUP, 0xc030_b604);
        assert_eq!(PIN_SHIM_TWIN_STATS, 0xc038_b605);
    }

    #[test]
    fn ioc_encodes_like_asm_generic() {
        assert_eq!(io(b'g', 8), (b'g' as u32) << 8 | 8);
        assert_eq!(ior::<u64>(1, 2), 2 << 30 | 8 << 16 | 1 << 8 | 2);
        assert_eq!(iow::<u32>(1, 2), 1 << 30 | 4 << 16 | 1 << 8 | 2);
        assert_eq!(iowr::<[u8; 16383]>(0xff, 0xff), 0xffff_ffff);
    }

    /// Compiles a C program against the header that prints every entry of
    /// [`abi_table`] as the C compiler sees it, and compares.
    #[test]
    fn c_header_agrees_with_the_mirror() {
        use std::process::Command;

        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        if Command::new(&cc).arg("--version").output().is_err() {
            eprintln!("skipped: no C compiler `{cc}` to compile pin_shim_abi.h with");
            return;
        }
        let header_dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kmod-shims/pin_shim");
        let dir = std::env::temp_dir().join(format!("pinbench-shim-abi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let table = abi_table();
        let mut prog = String::from(
            "#include <stddef.h>\n#include <stdio.h>\n#include \"pin_shim_abi.h\"\nint main(void)\n{\n",
        );
        for (expr, _) in &table {
            prog.push_str(&format!(
                "\tprintf(\"%s=%llu\\n\", \"{expr}\", (unsigned long long)({expr}));\n"
            ));
        }
        prog.push_str("\treturn 0;\n}\n");
        let src = dir.join("abi.c");
        let exe = dir.join("abi");
        std::fs::write(&src, prog).unwrap();
        let built = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Werror", "-I"])
            .arg(&header_dir)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{cc} could not compile pin_shim_abi.h:\n{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let out = Command::new(&exe).output().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let out = String::from_utf8(out.stdout).unwrap();
        let c: Vec<(&str, u64)> = out
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        assert_eq!(c.len(), table.len());
        for ((expr, rust), (c_expr, c_val)) in table.iter().zip(c) {
            assert_eq!(*expr, c_expr);
            assert_eq!(*rust, c_val, "{expr}: Rust {rust:#x}, C {c_val:#x}");
        }
    }
}
