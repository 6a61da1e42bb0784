//! `shim` backend: pinbench's own batch ioctl of the `pin_shim` module
//! (`/dev/pin_shim`, kmod-shims/pin_shim/pin_shim_abi.h). One ioctl runs
//! `iterations` rounds of get-or-pin then put-or-unpin of a range, each gup
//! call timed alone in the kernel with `ktime_get_ns()`, so the syscall cost
//! is amortised away and the per-call minimum and maximum come back too.
//!
//! One call here = one ioctl of one iteration over `pages_per_call` pages
//! (latency as seen from user space); the kernel's own nanoseconds are kept
//! separately as the in-kernel cost.

use super::buffer::UserBuffer;
use super::device::{Device, DeviceRun};
use super::shim_abi::{
    PinShimBatch, PIN_SHIM_BATCH, PIN_SHIM_MODE_FAST, PIN_SHIM_MODE_LONGTERM, PIN_SHIM_MODE_PIN,
    PIN_SHIM_MODE_WRITE,
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
}

impl ShimMode {
    /// All three, in table order.
    pub const ALL: [ShimMode; 3] = [ShimMode::Get, ShimMode::Pin, ShimMode::PinLongterm];

    /// The label in results.
    pub fn name(self) -> &'static str {
        match self {
            ShimMode::Get => "get-fast",
            ShimMode::Pin => "pin-fast",
            ShimMode::PinLongterm => "pin-longterm-fast",
        }
    }

    /// The ABI's mode bits.
    pub fn bits(self, write: bool) -> u32 {
        let base = match self {
            ShimMode::Get => 0,
            ShimMode::Pin => PIN_SHIM_MODE_PIN,
            ShimMode::PinLongterm => PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM,
        };
        base | PIN_SHIM_MODE_FAST | if write { PIN_SHIM_MODE_WRITE } else { 0 }
    }

    /// Whether the kernel should count FOLL_PIN pins for it.
    pub fn pins(self) -> bool {
        self != ShimMode::Get
    }
}

/// One thread's shim client.
pub struct ShimPath<D: Device> {
    run: DeviceRun<D>,
    mode: ShimMode,
}

impl<D: Device> ShimPath<D> {
    /// A client of `dev` in `mode` over `buf`.
    pub fn new(
        dev: D,
        mode: ShimMode,
        buf: UserBuffer,
        pages_per_call: usize,
        write: bool,
    ) -> Self {
        Self {
            run: DeviceRun::new(dev, buf, pages_per_call, write),
            mode,
        }
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

    struct Fake(Vec<PinShimBatch>);

    impl Device for &mut Fake {
        fn ioctl(&mut self, request: u32, arg: *mut libc::c_void) -> io::Result<()> {
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
        let mut fake = Fake(Vec::new());
        let buf = UserBuffer::new(8 * PAGE_SIZE, false).expect("buffer");
        let mut path = ShimPath::new(&mut fake, ShimMode::PinLongterm, buf, 8, true);
        path.call(0).expect("call");
        assert_eq!(path.kernel_ns(), Some(150));
        drop(path);
        let b = fake.0[0];
        assert_eq!(
            b.mode,
            PIN_SHIM_MODE_PIN | PIN_SHIM_MODE_LONGTERM | PIN_SHIM_MODE_FAST | PIN_SHIM_MODE_WRITE
        );
        assert_eq!((b.nr_pages_per_call, b.iterations, b.reserved), (8, 1, 0));
        assert_eq!(ShimMode::Get.bits(false), PIN_SHIM_MODE_FAST);
    }
}
