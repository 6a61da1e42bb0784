//! `shim` backend: pinbench's own batch ioctl of the `pin_shim` module
//! (`/dev/pin_shim`, kmod-shims/pin_shim/pin_shim_abi.h). One ioctl runs
//! `iterations` rounds of get-or-pin then put-or-unpin of a range, each gup
//! call timed alone in the kernel with `ktime_get_ns()`, so the syscall cost
//! is amortised away and the per-call minimum and maximum come back too.
//!
//! One call here = one ioctl of one iteration over `pages_per_call` pages
//! (latency as seen from user space); the kernel's own nanoseconds are kept
//! separately as the in-kernel cost.
//!
//! Besides the kernel's own FOLL_GET and FOLL_PIN (the twins of the models
//! `plain` and `hybrid`), the module carries twins of two alternative
//! designs (ABI version 2): `xarray` and `exact` take pages with FOLL_GET
//! and record each pin in their own structure, built in the kernel.

use super::buffer::UserBuffer;
use super::device::{Device, DeviceRun};
use super::shim_abi::{
    PinShimBatch, PinShimInfo, PIN_SHIM_ABI_VERSION, PIN_SHIM_BATCH, PIN_SHIM_INFO,
    PIN_SHIM_MODE_FAST, PIN_SHIM_MODE_LONGTERM, PIN_SHIM_MODE_PIN, PIN_SHIM_MODE_WRITE,
    PIN_SHIM_TWIN_EXACT, PIN_SHIM_TWIN_NONE, PIN_SHIM_TWIN_XARRAY,
};
use super::PinPath;
use crate::machine::mapping::PAGE_SIZE;
use std::io;

/// Which gup flavour the shim runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShimMode {
    /// FOLL_GET, `get_user_pages_fast()` / `put_page()`.
    Get,
    /// FOLL_PIN, `pin_user_pages_fast()` / `unpin_user_pages()`.
    Pin,
    /// FOLL_PIN | FOLL_LONGTERM, `pin_user_pages_fast()`.
    PinLongterm,
    /// FOLL_GET plus the `xarray` twin's record (an XArray per node).
    Xarray,
    /// FOLL_GET plus the `exact` twin's record (a counter per pfn).
    Exact,
}

impl ShimMode {
    /// All of them, in table order.
    pub const ALL: [ShimMode; 5] = [
        ShimMode::Get,
        ShimMode::Pin,
        ShimMode::PinLongterm,
        ShimMode::Xarray,
        ShimMode::Exact,
    ];

    /// The label in results.
    pub fn name(self) -> &'static str {
        match self {
            ShimMode::Get => "get-fast",
            ShimMode::Pin => "pin-fast",
            ShimMode::PinLongterm => "pin-longterm-fast",
            ShimMode::Xarray => "xarray",
            ShimMode::Exact => "exact",
        }
    }

    /// The module's twin (`PIN_SHIM_TWIN_*`) that records the pins.
    pub fn twin(self) -> u32 {
        match self {
            ShimMode::Xarray => PIN_SHIM_TWIN_XARRAY,
            ShimMode::Exact => PIN_SHIM_TWIN_EXACT,
            _ => PIN_SHIM_TWIN_NONE,
        }
    }

    /// The ABI's mode bits.
    pub fn bits(self, write: bool) -> u32 {
        let base = match self {
            ShimMode::Get | ShimMode::Xarray | ShimMode::Exact => 0,
            ShimMode::Pin => PIN_SHIM_MODE_PIN,
            ShimMode::PinLongterm => PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM,
        };
        base | PIN_SHIM_MODE_FAST | if write { PIN_SHIM_MODE_WRITE } else { 0 }
    }

    /// Whether the kernel should count FOLL_PIN pins for it (the twins
    /// take FOLL_GET references: their counters must not move).
    pub fn pins(self) -> bool {
        matches!(self, ShimMode::Pin | ShimMode::PinLongterm)
    }
}

/// One thread's shim client.
pub struct ShimPath<D: Device> {
    run: DeviceRun<D>,
    mode: ShimMode,
}

impl<D: Device> ShimPath<D> {
    /// A client of `dev` in `mode` over `buf`; a twin needs a module of ABI
    /// version 2 or later, and says so if the loaded one is older.
    pub fn new(
        mut dev: D,
        mode: ShimMode,
        buf: UserBuffer,
        pages_per_call: usize,
        write: bool,
    ) -> io::Result<Self> {
        if mode.twin() != PIN_SHIM_TWIN_NONE {
            let mut info = PinShimInfo::default();
            dev.ioctl(PIN_SHIM_INFO, (&mut info as *mut PinShimInfo).cast())?;
            if info.abi_version < 2 || mode.twin() >= info.nr_twins {
                return Err(io::Error::other(format!(
                    "the loaded pin_shim speaks ABI version {}, without the {} twin; load the module built from kmod-shims/pin_shim (version {PIN_SHIM_ABI_VERSION})",
                    info.abi_version,
                    mode.name()
                )));
            }
        }
        Ok(Self {
            run: DeviceRun::new(dev, buf, pages_per_call, write),
            mode,
        })
    }
}

impl<D: Device> PinPath for ShimPath<D> {
    fn pages_per_call(&self) -> usize {
        self.run.pages()
    }

    fn call(&mut self, i: usize) -> io::Result<()> {
        let (addr, len) = self.run.chunk(i);
        let mut batch = PinShimBatch {
            addr: addr as u64,
            size: len as u64,
            nr_pages_per_call: (len / PAGE_SIZE) as u32,
            mode: self.mode.bits(self.run.write),
            twin: self.mode.twin(),
            iterations: 1,
            ..PinShimBatch::default()
        };
        self.run.ioctl(PIN_SHIM_BATCH, &mut batch)?;
        self.run.kernel_ns += batch.get_ns + batch.put_ns;
        Ok(())
    }

    fn kernel_ns(&self) -> Option<u64> {
        Some(self.run.kernel_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(Vec<PinShimBatch>, u32);

    impl Device for &mut Fake {
        fn ioctl(&mut self, request: u32, arg: *mut libc::c_void) -> io::Result<()> {
            if request == PIN_SHIM_INFO {
                // SAFETY: ShimPath passes a PinShimInfo with PIN_SHIM_INFO.
                let info = unsafe { &mut *(arg as *mut PinShimInfo) };
                info.abi_version = self.1;
                info.nr_twins = if self.1 >= 2 { 3 } else { 0 };
                return Ok(());
            }
            assert_eq!(request, PIN_SHIM_BATCH);
            // SAFETY: ShimPath passes a PinShimBatch.
            let b = unsafe { &mut *(arg as *mut PinShimBatch) };
            self.0.push(*b);
            b.get_ns = 100;
            b.put_ns = 50;
            Ok(())
        }
    }

    #[test]
    fn modes_map_to_the_abi_bits() {
        let mut fake = Fake(Vec::new(), 2);
        let buf = UserBuffer::new(8 * PAGE_SIZE, false).expect("buffer");
        let mut path = ShimPath::new(&mut fake, ShimMode::PinLongterm, buf, 8, true).expect("path");
        path.call(0).expect("call");
        assert_eq!(path.kernel_ns(), Some(150));
        drop(path);
        let b = fake.0[0];
        assert_eq!(
            b.mode,
            PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM | PIN_SHIM_MODE_FAST | PIN_SHIM_MODE_WRITE
        );
        assert_eq!((b.nr_pages_per_call, b.iterations, b.twin), (8, 1, 0));
        assert_eq!(ShimMode::Get.bits(false), PIN_SHIM_MODE_FAST);
    }

    #[test]
    fn twins_take_foll_get_and_name_their_twin() {
        let mut fake = Fake(Vec::new(), 2);
        let buf = UserBuffer::new(4 * PAGE_SIZE, false).expect("buffer");
        let mut path = ShimPath::new(&mut fake, ShimMode::Xarray, buf, 4, false).expect("path");
        path.call(0).expect("call");
        drop(path);
        assert_eq!((fake.0[0].mode, fake.0[0].twin), (PIN_SHIM_MODE_FAST, 1));
        assert!(!ShimMode::Exact.pins() && ShimMode::Exact.twin() == PIN_SHIM_TWIN_EXACT);
    }

    #[test]
    fn a_version_1_module_is_refused_for_twins_by_name() {
        let mut fake = Fake(Vec::new(), 1);
        let buf = UserBuffer::new(4 * PAGE_SIZE, false).expect("buffer");
        let err = ShimPath::new(&mut fake, ShimMode::Exact, buf, 4, false)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("ABI version 1"), "{err}");
        // The kernel's own modes still run on it.
        let buf = UserBuffer::new(4 * PAGE_SIZE, false).expect("buffer");
        assert!(ShimPath::new(&mut fake, ShimMode::Pin, buf, 4, false).is_ok());
    }
}
